"""Instruction counts (callgrind) of the engine's hot paths, per tree: an A/B of commits that noise cannot blur.

    python -m benchmarks.instructions 3e1f064 HEAD          # each revision's autodiff and nn
    python -m benchmarks.instructions HEAD . --only chain   # '.': this working tree

Wall time on a shared machine swings by tens of percent between samples of the same code, so a
difference of a few percent between two commits cannot be read off ``python -m benchmarks
--against``. Instructions can: each workload runs under ``valgrind --tool=callgrind`` once N
times and once once (PYTHONHASHSEED=0, one BLAS thread: spinning BLAS threads add instructions),
and the difference / (N - 1) is the cost of one unit, imports and warm-up cancelled. The counts
say nothing of cache misses or memory: a speed claim still needs the timed run beside them.

Needs valgrind (``apt-get install valgrind``). The workloads:

* ``chain``: op-overhead's chain, ``y = y * 1.0001 + 0.1`` 1,000 times on a (8,) float64 tensor,
  forward and backward; per op (of 2,000).
* ``mlp-small``: an ``nn.MLP`` 2-16-16-1 SGD step (weight decay 1e-4, MSE, batch 100, float32).
* ``mlp-mnist``: an ``nn.MLP`` 784-512-256-10 SGD step (cross-entropy, batch 128, float32).
* ``values``: micrograd's neuron on ``autodiff.Value``: a layer of 16 ``relu`` neurons on 16
  inputs (``sum(w*x for ..., Value(0.0)).relu()``), summed; a step as micrograd trains (zero_grad,
  forward, backward, ``p.data -= 0.01 * p.grad``); per op (of 544).
* ``micrograd-demo``, ``micrograd-demo-micrograd``: a step of micrograd's demo (the micrograd-demo
  workload: 100 points, collector on) on ``autodiff.Value`` and on micrograd; per step.
* ``deep-chain``: 40,000 more scalar ops of deep-chain's ``y = y * 1.0001 + 0.1``, forward and
  backward, in one graph (the garbage collector's work grows with the graph, as there).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

from .environment import engine_tree

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = {
    "chain": 2000,
    "mlp-small": 1,
    "mlp-mnist": 1,
    "values": 544,
    "micrograd-demo": 1,
    "micrograd-demo-micrograd": 1,
    "deep-chain": 1,
}  # name: ops per unit
RUNS = 6  # units in the long run; the short run has one
LONG_RUN = {"micrograd-demo": 3, "micrograd-demo-micrograd": 3}  # fewer for the slow ones (micrograd: ~1 min a step)


# --------------------------------------------------------------------------- the child: N units of a workload


def child(name, units):
    """Run ``units`` units of workload ``name`` with whatever ``autodiff`` and ``nn`` import first."""
    import numpy as np

    import autodiff as ad

    if name == "chain":
        x = ad.Tensor(np.linspace(0.5, 1.5, 8), requires_grad=True)
        for _ in range(units):
            y = x
            for _ in range(1000):
                y = y * 1.0001 + 0.1
            y.sum().backward()
            x.grad = None
    elif name in ("mlp-small", "mlp-mnist"):
        import nn
        from nn import functional as F

        rng = np.random.default_rng(0)
        if name == "mlp-small":
            X = ad.Tensor(rng.standard_normal((100, 2)).astype(np.float32))
            y = np.sin(X.data[:, :1]).astype(np.float32)
            model, loss_fn, lr = nn.MLP(2, [16, 16, 1], dtype=np.float32, rng=0), F.mse_loss, 0.05
        else:
            X = ad.Tensor(rng.standard_normal((128, 784)).astype(np.float32))
            y = rng.integers(0, 10, 128)
            model, loss_fn, lr = nn.MLP(784, [512, 256, 10], dtype=np.float32, rng=0), F.cross_entropy, 0.01
        opt = nn.optim.SGD(model.parameters(), lr=lr, weight_decay=1e-4)
        for _ in range(units):
            opt.zero_grad()
            loss_fn(model(X), y).backward()
            opt.step()
    elif name == "values":
        import random

        rnd = random.Random(0)
        w = [[ad.Value(rnd.uniform(-1, 1)) for _ in range(16)] for _ in range(16)]
        params = [wi for row in w for wi in row]
        for _ in range(units):
            x = [ad.Value(rnd.uniform(-1, 1)) for _ in range(16)]
            for p in params:  # micrograd's zero_grad
                p.grad = 0
            sum(sum((wi * xi for wi, xi in zip(row, x)), ad.Value(0.0)).relu() for row in w).backward()
            for p in params:  # and its update
                p.data -= 0.01 * p.grad
    elif name.startswith("micrograd-demo"):
        from .workloads import micrograd_demo

        step = micrograd_demo.demo("micrograd" if name.endswith("-micrograd") else "autodiff", micrograd_demo.POINTS)
        for k in range(units):
            step(k)
    elif name == "deep-chain":
        x = ad.Tensor(np.float64(1.0), requires_grad=True)
        y = x
        for _ in range(units * 20000):
            y = y * 1.0001 + 0.1
        y.backward()
    else:
        raise SystemExit(f"unknown workload {name!r}: one of {', '.join(WORKLOADS)}")


# --------------------------------------------------------------------------- the parent


def _tree(rev, into):
    """A directory whose ``autodiff`` and ``nn`` are those of ``rev`` ('.': this working tree)."""
    if rev == ".":
        return ROOT
    path = os.path.join(into, rev.replace("/", "_"))
    engine_tree(rev, path)
    return path


def count(tree, name, units, scratch):
    """callgrind's instruction count of ``units`` units of ``name`` with ``tree``'s autodiff."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([tree, ROOT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    out = os.path.join(scratch, "callgrind.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    cmd += ["-m", "benchmarks.instructions", "--child", name, str(units)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or not found:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_unit(tree, name, scratch):
    runs = LONG_RUN.get(name, RUNS)
    return (count(tree, name, runs, scratch) - count(tree, name, 1, scratch)) / (runs - 1) / WORKLOADS[name]


def _fmt(n):
    return f"{n / 1e6:.3f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("revs", nargs="*", help="git revisions, or '.' for this working tree")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), help="a workload (repeatable)")
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "UNITS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]))
    if not args.revs:
        parser.error("name at least one revision ('.' for this working tree)")
    names = args.only or list(WORKLOADS)
    with tempfile.TemporaryDirectory(prefix="autodiff-instructions-") as scratch:
        trees = {rev: _tree(rev, scratch) for rev in args.revs}
        rows = {name: {rev: per_unit(tree, name, scratch) for rev, tree in trees.items()} for name in names}
    first = args.revs[0]
    print("| workload (instructions per unit) | " + " | ".join(args.revs) + " |")
    print("| --- |" + " ---: |" * len(args.revs))
    for name, counts in rows.items():
        cells = [_fmt(counts[first])]
        cells += [f"{_fmt(counts[rev])} ({counts[rev] / counts[first] - 1:+.1%})" for rev in args.revs[1:]]
        unit = "per op" if WORKLOADS[name] > 1 else "per 40,000 ops" if name == "deep-chain" else "per step"
        print(f"| {name} ({unit}) | " + " | ".join(cells) + " |")
    return None


if __name__ == "__main__":
    main()
