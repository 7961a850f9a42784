"""Benchmarks: autodiff against its peers, every workload in one run, as medians and ratios.

    python -m benchmarks                        # every workload, every peer (installs missing peers)
    python -m benchmarks mlp-mnist op-overhead  # a subset
    python -m benchmarks --smoke                # tiny sizes, one repetition (the tests use it)
    python -m benchmarks --json out/bench.json  # also write the numbers to a file
    python -m benchmarks --against HEAD~3       # this tree's autodiff against an earlier commit's

(``python benchmarks/run.py`` and ``make bench`` are the same.) Peers: a hand-written
numpy backprop, PyTorch (CPU), HIPS autograd, MyGrad, micrograd and scikit-learn
(the ``bench`` extra of pyproject.toml; missing ones are pip-installed first).
In a workload the engines take turns, round-robin (autodiff, peer 1, peer 2, ...,
repeated) after a warm-up, so load changes on the machine hit them alike, with a
0.2 s pause between turns so that one engine's still-spinning BLAS/OpenMP threads do
not slow the next (timing.SETTLE); the table gives medians and the ratio autodiff / peer (> 1: autodiff takes that many times
the peer's time or memory; < 1: it takes less). Every library gets the same number
of BLAS/OpenMP threads (--threads, default: every CPU), set through
OMP/OPENBLAS/MKL_NUM_THREADS, threadpoolctl and torch.set_num_threads.

Workloads:
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import environment  # noqa: E402
from benchmarks.timing import ENGINE, ROOT, SETTLE, child_env, fmt  # noqa: E402
from benchmarks.workloads import WORKLOADS, Context  # noqa: E402

RATIO = "autodiff / peer: > 1 means autodiff takes more time (or memory) than the peer"


def parse_args(argv):
    doc = __doc__ + "".join(f"  {name:13s} {m.DESCRIPTION}\n" for name, m in WORKLOADS.items())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "workloads", nargs="*", metavar="workload", help=f"one or more of {', '.join(WORKLOADS)} (default: all)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        metavar="N",
        help="timed rounds per workload (default: each workload's own, e.g. 15 for the "
        "step workloads, 5 for digits-train (one seed each), 3 for memory, 1 for deep-chain)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repetition, no installing: peers that are missing are skipped",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results (and the machine) to FILE")
    parser.add_argument(
        "--peers",
        metavar="LIST",
        help="comma-separated peers to run (default: all; 'none': autodiff only): "
        + ", ".join(p for p in environment.PEER_MODULES),
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        default=os.cpu_count() or 1,
        help="BLAS/OpenMP threads for every engine (default: %(default)s, every CPU)",
    )
    parser.add_argument("--no-install", action="store_true", help="do not pip-install missing peers")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="compare this tree's autodiff with the one at git revision REV instead of the peers",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="with --against: child runs per tree, alternating (default 3)",
    )
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    args.workloads = args.workloads or list(WORKLOADS)
    if args.peers is None:
        args.peers = set(environment.PEER_MODULES)
    else:
        args.peers = {p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"}
        bad = args.peers - set(environment.PEER_MODULES)
        if bad:
            parser.error(f"unknown peer(s) {', '.join(sorted(bad))}; choose from {', '.join(environment.PEER_MODULES)}")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


# --------------------------------------------------------------------------- output


def table(rows, ratio_name="autodiff / peer", engine=ENGINE, peer="peer"):
    """Markdown: one line per workload, metric and peer (a line with no peer when there is none)."""
    lines = [
        f"| workload | metric | unit | {engine} | {peer} | {peer}'s | {ratio_name} | paired |",
        "| --- | --- | --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        digits = r.get("digits", 3)
        engine = fmt(r["values"].get(ENGINE), digits)
        peers = [(k, v) for k, v in r["values"].items() if k != ENGINE] or [("—", None)]
        for peer, value in peers:
            ratio, paired = r["ratios"].get(peer), r.get("paired", {}).get(peer)
            lines.append(
                f"| {r['workload']} | {r['metric']} | {r['unit']} | {engine} | {peer} | "
                f"{fmt(value, digits)} | {'' if ratio is None else f'{ratio:.2f}'} | "
                f"{'' if paired is None else f'{paired:.2f}'} |"
            )
    return "\n".join(lines)


def describe(machine):
    versions = ", ".join(
        f"{k} {machine[k]}"
        for k in ("python", "numpy", "torch", "autograd", "mygrad", "micrograd", "scikit-learn")
        if machine.get(k)
    )
    lines = [
        f"machine: {machine['cpu']}, {machine['cores']} cores"
        + (f"; autodiff from {machine['autodiff_from']}" if machine.get("autodiff_from") else ""),
        f"versions: {versions}",
        f"threads: {machine['threads']} for every engine (OMP/OPENBLAS/MKL_NUM_THREADS, threadpoolctl, "
        f"torch.set_num_threads); BLAS: {'; '.join(machine['blas'])}"
        + (f"; torch intra-op threads: {machine['torch_threads']}" if "torch_threads" in machine else ""),
        f"malloc: {machine.get('malloc', 'glibc defaults')}",
        f"date: {machine['date']}"
        + (
            f"; load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in machine['load_average'])}"
            if machine.get("load_average")
            else ""
        ),
    ]
    return "\n".join(lines)


def _clean(value):
    """JSON-safe: non-finite floats become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(path, rows, machine, args, mode="peers", argv=None):
    """The rows, the machine and the settings as JSON, with the command that made them and the commit it ran."""
    report = {
        "command": " ".join(
            ["python -m benchmarks"] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]
        ),
        "commit": environment.revision(),
        "mode": mode,
        "ratio": RATIO,
        "machine": machine,
        "settings": {
            "workloads": args.workloads,
            "repeats": args.repeats,
            "smoke": args.smoke,
            "threads": args.threads,
            "peers": sorted(args.peers),
            "against": args.against,
        },
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(_clean(report), f, indent=1)


# --------------------------------------------------------------------------- modes


def warn_if_busy(args):
    """Timings mean little when other processes hold the cores that the BLAS threads need."""
    if not hasattr(os, "getloadavg") or args.smoke:
        return
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > max(cores - args.threads, 0) + 1.0:
        print(
            f"WARNING: load average {load:.2f} on {cores} cores before the run: other processes compete "
            f"with the {args.threads} BLAS threads per engine, timings will be slow and noisy "
            "(wait for an idle machine, or compare with --threads 1)",
            file=sys.stderr,
        )


def run_peers(args):
    if not (args.smoke or args.no_install):
        tried, ok = environment.ensure_peers()
        if tried and not ok:
            print(
                "WARNING: pip could not install every peer; those missing are reported as 'not installed'",
                file=sys.stderr,
            )
    installed = {p for p in args.peers if environment.available(p)}
    warn_if_busy(args)
    rows = []
    for name in args.workloads:
        module = WORKLOADS[name]
        ctx = Context(
            smoke=args.smoke,
            repeats=args.repeats,
            peers=frozenset(installed),
            min_sample=0.0 if args.smoke else 0.05,
            settle=0.0 if args.smoke else SETTLE,
            log=lambda m: print(m, file=sys.stderr),
        )
        print(f"running {name}...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        new = module.run(ctx)
        missing = [p for p in module.PEERS if p in args.peers and p not in installed]
        for p in missing:  # asked for but not there: say so on the workload's first line
            new[0]["values"][p] = "not installed"
            new[0]["ratios"][p] = None
        for r in new:
            r["seconds"] = time.perf_counter() - start
        rows += new
    return rows


def _median(values):
    values = sorted(v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool))
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def run_against(args):
    """This tree's autodiff and REV's, each in child runs of this script (autodiff only), alternating."""
    with tempfile.TemporaryDirectory(prefix="autodiff-bench-") as old:
        environment.engine_tree(args.against, old)
        trees = {"this tree": ROOT, args.against: old}
        runs = {label: [] for label in trees}
        sources = {}
        for i in range(args.rounds):
            for label, tree in trees.items():
                out = os.path.join(old, f"round{i}-{len(runs[label])}.json")
                cmd = [
                    sys.executable,
                    "-m",
                    "benchmarks",
                    *args.workloads,
                    "--peers",
                    "none",
                    "--no-install",
                    "--json",
                    out,
                    "--threads",
                    str(args.threads),
                ]
                cmd += ["--smoke"] if args.smoke else []
                cmd += ["--repeats", str(args.repeats)] if args.repeats else []
                print(f"round {i + 1}/{args.rounds}: {label}...", file=sys.stderr, flush=True)
                done = subprocess.run(cmd, cwd=tree, env=child_env(tree), stdout=subprocess.DEVNULL)
                if done.returncode == 0 and os.path.exists(out):
                    with open(out) as f:
                        report = json.load(f)
                    runs[label].append(report["rows"])
                    sources[label] = report["machine"].get("autodiff_from")
                else:
                    print(f"WARNING: the run of {label} failed (exit {done.returncode})", file=sys.stderr)
    rows = []
    base = runs["this tree"][0] if runs["this tree"] else []
    for i, r in enumerate(base):
        values = {}
        for label, results in runs.items():
            samples = [rs[i]["values"].get(ENGINE) for rs in results if i < len(rs)]
            values[label] = _median(samples) if _median(samples) is not None else (samples[0] if samples else None)
        ours, theirs = values["this tree"], values[args.against]
        ratio = None
        if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs and r.get("ratio"):
            ratio = ours / theirs
        rows.append(
            {
                "workload": r["workload"],
                "metric": r["metric"],
                "unit": r["unit"],
                "values": {ENGINE: ours, args.against: theirs},
                "ratios": {args.against: ratio},
                "ratio": r.get("ratio"),
                "samples": {
                    label: [rs[i]["values"].get(ENGINE) for rs in results if i < len(rs)]
                    for label, results in runs.items()
                },
            }
        )
    for label, source in sources.items():
        print(f"{label}: autodiff imported from {source}", file=sys.stderr)
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    environment.set_threads(args.threads)
    if args.against:
        rows = run_against(args)
        print(table(rows, ratio_name=f"this tree / {args.against}", engine="this tree", peer="revision"))
        print(f"\n(ratio: this tree's autodiff / {args.against}'s: > 1 means this tree takes more)")
    else:
        rows = run_peers(args)
        print(table(rows))
        print(
            f"\n(ratio: {RATIO}; the ratio of the medians. paired: the median of the same ratio "
            "taken round by round, sample against sample)"
        )
    machine = environment.machine()
    print(describe(machine))
    if args.json:
        write_json(args.json, rows, machine, args, mode="against" if args.against else "peers", argv=argv)
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main()
