"""deep-chain: a chain of 1,000,000 scalar ops, forward and backward, each engine in a fresh process.

``y = y * 1.0001 + 0.1`` 500,000 times on a 0-d float64 tensor, then ``y.backward()``.
Reported per engine: the time, whether it finishes, the peak RSS delta (peak
resident memory minus the RSS after imports), and bytes per op at 250,000 and at
1,000,000 ops (equal bytes/op: memory grows linearly with the chain).

The chain is built and walked with Python's cyclic garbage collector on, as a
user runs it (the time it spends in the collector is shown on its own line).
Then the child disables it (``gc.disable()``), drops its references to the chain
and checks that the graph was freed by reference counting alone: for autodiff,
weak references to the root's ``grad_fn`` and to the first intermediate tensor
must be dead (PyTorch's graph nodes take no weak references, so for it only the
RSS is shown), and the RSS left over after ``malloc_trim`` is reported.

micrograd builds its topological order recursively: it is run at 1,000 and
2,000 ops, and the table says where it stops with RecursionError.

The child: ``python -m benchmarks.workloads.deep_chain ENGINE OPS`` prints one JSON line.
"""

import gc
import statistics
import sys
import time
import weakref

from ..timing import emit, peak_rss_bytes, reset_peak_rss, round_robin, row, rss_bytes, run_child

NAME = "deep-chain"
DESCRIPTION = "1,000,000 scalar ops (y * 1.0001 + 0.1), forward+backward, fresh process per engine"
OPS, QUARTER = 1_000_000, 250_000
SMOKE_OPS, SMOKE_QUARTER = 4_000, 1_000
MICROGRAD_OPS = (1_000, 2_000)
SMOKE_MICROGRAD_OPS = (1_000,)
REPEATS = 1  # each 1M-op run takes about a minute for autodiff on a slow core
MB = 2**20


# --------------------------------------------------------------------------- in the child


def autodiff_leaf():
    import autodiff as ad

    return ad.Tensor(1.0, requires_grad=True)  # 0-d float64


def torch_leaf():
    import torch

    return torch.tensor(1.0, dtype=torch.float64, requires_grad=True)


def micrograd_leaf():
    from micrograd.engine import Value

    return Value(1.0)


ENGINES = {"autodiff": autodiff_leaf, "torch": torch_leaf, "micrograd": micrograd_leaf}
PEERS = tuple(ENGINES)[1:]


def _malloc_trim():
    """Ask glibc to hand freed heap memory back to the OS, so RSS shows what is really still in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def child(engine, ops):
    """Build the chain, backward, then drop it with gc disabled; the numbers as a dict."""
    x = ENGINES[engine]()  # imports the engine
    gc.collect()
    gc_seconds, gc_start = [0.0], [0.0]

    def on_gc(phase, info):  # time spent in the cyclic collector while the chain is built and walked
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_start[0]

    gc.callbacks.append(on_gc)
    base = rss_bytes()
    reset_peak_rss()
    start = time.perf_counter()
    y, early = x, None
    for i in range(ops // 2):
        y = y * 1.0001 + 0.1
        if i == 0 and engine == "autodiff":
            early = weakref.ref(y)
    built = time.perf_counter()
    graph = rss_bytes() - base
    try:
        y.backward()
    except RecursionError:
        return {"ops": ops, "error": "RecursionError"}
    end = time.perf_counter()
    gc.callbacks.remove(on_gc)
    gc.disable()  # from here on only reference counting can free the graph
    peak = peak_rss_bytes() - base
    grad = float(x.grad)
    root_fn = weakref.ref(y.grad_fn) if engine == "autodiff" else None
    del y
    dead = None if root_fn is None else (root_fn() is None and early() is None)
    _malloc_trim()
    left = rss_bytes() - base
    return {
        "ops": ops,
        "forward_s": built - start,
        "backward_s": end - built,
        "seconds": end - start,
        "gc_s": gc_seconds[0],
        "graph_bytes": graph,
        "peak_bytes": peak,
        "left_bytes": left,
        "grad": grad,
        "weakrefs_dead": dead,
    }


# --------------------------------------------------------------------------- in the parent


def _freed(r):
    if "left_bytes" not in r:
        return None
    text = f"{r['left_bytes'] / MB:.1f} of {r['peak_bytes'] / MB:,.0f} MB left"
    if r["weakrefs_dead"] is None:  # no weak references to PyTorch's graph nodes: RSS only
        return text
    return f"yes: weakrefs dead, {text}" if r["weakrefs_dead"] else f"NO: weakrefs alive, {text}"


def _micrograd(ctx):
    """'RecursionError at N ops' (or 'finishes N ops'), from child runs at each of MICROGRAD_OPS."""
    for ops in SMOKE_MICROGRAD_OPS if ctx.smoke else MICROGRAD_OPS:
        r = run_child(__name__, "micrograd", ops)
        if "error" in r:
            return f"{r['error']} at {ops:,} ops", r
    return f"finishes {ops:,} ops", r


def run(ctx):
    full, quarter = (SMOKE_OPS, SMOKE_QUARTER) if ctx.smoke else (OPS, QUARTER)
    engines = [e for e in ("autodiff", "torch") if e == "autodiff" or ctx.wants(e)]
    jobs = {}
    for ops in (quarter, full):  # the smaller chain first, interleaving the engines
        for e in engines:
            jobs[(e, ops)] = lambda e=e, ops=ops: run_child(__name__, e, ops)
    results = round_robin(jobs, ctx.reps(REPEATS), settle=ctx.settle)
    for (e, ops), rs in results.items():
        for r in rs:
            if "error" in r:
                ctx.log(f"WARNING: {NAME}: {e} at {ops:,} ops failed: {r['error']}")

    def med(e, ops, key, scale=1.0):
        values = [r[key] * scale for r in results[(e, ops)] if key in r]
        if not values:
            return results[(e, ops)][0].get("error", "failed")
        return statistics.median(values)

    def per_engine(fn):
        return {e: fn(e) for e in engines}

    times = per_engine(lambda e: med(e, full, "seconds"))
    gc_times = per_engine(lambda e: med(e, full, "gc_s"))
    peaks = per_engine(lambda e: med(e, full, "peak_bytes", 1 / MB))
    per_op_q = per_engine(lambda e: med(e, quarter, "peak_bytes", 1 / quarter))
    per_op_f = per_engine(lambda e: med(e, full, "peak_bytes", 1 / full))
    freed = per_engine(lambda e: _freed(results[(e, full)][0]) or results[(e, full)][0].get("error"))
    details = {f"{e} {ops}": rs for (e, ops), rs in results.items()}
    if ctx.wants("micrograd"):
        text, detail = _micrograd(ctx)
        times["micrograd"] = text
        details["micrograd"] = [detail]
    label = f"{full:,} ops"
    return [
        row(NAME, f"time fwd+bwd, {label}", "s", times, samples=details),
        row(NAME, "of which in the cyclic gc", "s", gc_times, ratio=False),
        row(NAME, f"peak RSS delta, {label}", "MB", peaks),
        row(NAME, f"peak bytes/op, {quarter:,} ops", "B", per_op_q),
        row(NAME, f"peak bytes/op, {label}", "B", per_op_f),
        row(NAME, "graph freed after backward, gc disabled", "", freed, ratio=False),
    ]


if __name__ == "__main__":
    engine, ops = sys.argv[1], int(sys.argv[2])
    sys.setrecursionlimit(1000)  # Python's default, whatever the environment says
    emit(child(engine, ops))
