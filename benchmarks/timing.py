"""Shared helpers: interleaved timing, medians, memory readings, child processes, result rows.

Every timed workload hands ``interleaved`` one zero-argument ``step`` per engine
(the setup is done before, untimed). After warm-up, each round times every engine
once, in turn (autodiff, peer 1, peer 2, ..., then again), so a change of machine
load hits them all alike; the table reports the median of the rounds.
"""

import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = "autodiff"


# --------------------------------------------------------------------------- timing

SETTLE = 0.2
"""Seconds of (untimed) sleep after each sample, before the next engine's. After a call, OpenBLAS's
worker threads spin for about 0.1 s (2**28 cycles) and libgomp's for a moment before they sleep;
on a 2-core machine the spinning threads of one engine's pool halve the speed of the next engine
that uses another pool (measured here: PyTorch's mlp-mnist step 4.4 ms after a pause, 10-12 ms
right after numpy's). Pausing lets every engine start on idle cores."""


def interleaved(steps, repeats, warmup=1, min_sample=0.05, caps=None, settle=SETTLE):
    """Median seconds per call of each ``steps[name]()``, timed round-robin.

    ``warmup`` untimed calls each first (at least one). A sample times ``number`` calls in a row,
    ``number`` chosen per engine so that a sample lasts about ``min_sample`` seconds
    (sub-millisecond steps are otherwise below the clock's noise). ``caps`` limits
    the samples of a slow engine (micrograd), which then sits out later rounds.
    Each sample is followed by ``settle`` seconds of sleep (see ``SETTLE``), and, when it times
    more than one call, preceded by one untimed call: the first call after the pause wakes the
    BLAS threads and refills the caches, which a training loop's steps do not pay, and which
    weighs on each engine by 1/``number``, a different share for each (784-512-256-10 step with
    the textbooks' spelling, ``benchmarks/workloads/textbook.py``: the first step after a 0.2 s
    pause took 4.31 ms against 3.20 for the next ones for autodiff, 3.79 against 2.86 for numpy,
    whose samples held 7 and 15 steps).
    Returns {name: {"median": s, "samples": [s, ...], "number": n}}.
    """
    caps = caps or {}
    number = {}
    for name, step in steps.items():
        once = math.inf
        for _ in range(max(warmup, 1)):  # the fastest warm-up call sizes the samples
            start = time.perf_counter()
            step()
            once = min(once, time.perf_counter() - start)
        number[name] = max(1, int(min_sample / once)) if once > 0 else 1
        time.sleep(settle)
    samples = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            if len(samples[name]) >= caps.get(name, repeats):
                continue
            n = number[name]
            if n > 1:
                step()
            start = time.perf_counter()
            for _ in range(n):
                step()
            samples[name].append((time.perf_counter() - start) / n)
            time.sleep(settle)
    return {name: {"median": statistics.median(s), "samples": s, "number": number[name]} for name, s in samples.items()}


def round_robin(jobs, repeats, settle=SETTLE):
    """Run ``jobs[name]()`` (each returns a dict of numbers) in rounds; {name: [result, ...]}.

    For workloads measured whole (a child process, a training run): no warm-up
    inside, the rounds interleave the engines as ``interleaved`` does.
    """
    results = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            results[name].append(job())
            time.sleep(settle)
    return results


# --------------------------------------------------------------------------- memory

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes():
    """Resident set size now (Linux /proc; falls back to the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return peak_rss_bytes()


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); True when it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    """Peak resident set size of this process (since the last ``reset_peak_rss``, where it worked)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


class PeakMemory:
    """``with PeakMemory() as m: ...`` then ``m.delta``: peak RSS during the block minus the RSS before it."""

    def __enter__(self):
        self.base = rss_bytes()
        reset_peak_rss()
        return self

    def __exit__(self, *exc):
        self.delta = max(peak_rss_bytes() - self.base, 0)
        self.after = rss_bytes() - self.base
        return False


# --------------------------------------------------------------------------- child processes

TREE_VAR = "AUTODIFF_BENCH_TREE"  # set by --against: the source tree whose autodiff and nn to measure


def engine_tree():
    """The directory whose ``autodiff`` and ``nn`` children import: this tree unless --against says otherwise."""
    return os.environ.get(TREE_VAR) or ROOT


MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(16 << 20), "MALLOC_TRIM_THRESHOLD_": str(32 << 20)}
"""autodiff.tune_allocator()'s thresholds (autodiff/allocator.py), given to glibc for every benchmark process."""


def child_env(tree=None):
    """The environment for a child: this one, with the engine's tree and then this one first on PYTHONPATH."""
    env = dict(os.environ)
    tree = tree or engine_tree()
    paths = [tree] + ([ROOT] if tree != ROOT else []) + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env[TREE_VAR] = tree
    for key, value in MALLOC_SETTINGS.items():  # see benchmarks/__main__.py
        env.setdefault(key, value)
    return env


def run_child(module, *args, timeout=900, tree=None):
    """Run ``python -m module args...`` in a fresh interpreter; the JSON object it prints last.

    The child runs in the engine's tree (``python -m`` puts the working directory first
    on sys.path). A failure (non-zero exit, timeout) comes back as {"error": "..."}.
    """
    cmd = [sys.executable, "-m", module, *map(str, args)]
    tree = tree or engine_tree()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tree, env=child_env(tree))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {out.returncode}: {tail}"}
    return json.loads(lines[-1])


def emit(result):
    """What a child prints for ``run_child``: one JSON line."""
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- results


def row(workload, metric, unit, values, ratio=True, notes=None, samples=None, checks=None, digits=3):
    """One line of the table: ``values`` is {engine: number or text}, ``autodiff`` first.

    With ``ratio``, each peer gets autodiff / peer (> 1: autodiff takes more time
    or memory than the peer), the ratio of the medians; and, where both have ``samples``
    taken in the same rounds, ``paired``: the median over the rounds of autodiff's sample /
    the peer's sample of that round, which load changing between rounds moves less.
    ``digits``: significant digits in the table.
    """
    engine = values.get(ENGINE)
    ratios = {}
    for name, value in values.items():
        if name == ENGINE:
            continue
        if ratio and _number(engine) and _number(value) and value > 0:
            ratios[name] = engine / value
        else:
            ratios[name] = None
    paired = {}
    ours = (samples or {}).get(ENGINE) or []
    for name in ratios:
        theirs = (samples or {}).get(name) or []
        pairs = [a / b for a, b in zip(ours, theirs) if _number(a) and _number(b) and b > 0]
        paired[name] = statistics.median(pairs) if ratio and ratios[name] is not None and pairs else None
    return {
        "workload": workload,
        "metric": metric,
        "unit": unit,
        "values": values,
        "ratio": ratio,
        "ratios": ratios,
        "paired": paired,
        "notes": notes or {},
        "samples": samples or {},
        "checks": checks or {},
        "digits": digits,
    }


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt(value, digits=3):
    """``digits`` significant digits for numbers, text as is."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if value == 0 or not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"
