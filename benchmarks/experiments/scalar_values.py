"""A measured design, not part of the library: a lean scalar path on the catalogue's rules.

The micrograd-demo workload puts micrograd's own ``nn.py`` on ``autodiff.Value`` and times a
step against micrograd's. ``Value`` is a 0-d Tensor, recorded and walked by the engine's general
machinery (versions for in-place checks, retained gradients, released ops...); since this module
was written its arithmetic runs on numpy's scalars as ``Scalar``'s does, and the distance between
the two is the general machinery (docs/performance.md). This module measures how fast the same demo
runs when scalars take a lean path instead, still through the catalogue's ``Op`` classes (each
op's ``forward`` and ``vjp`` from ``autodiff.ops``; no second rule set):

* ``Scalar`` holds a numpy float64 scalar (``a * b`` on two of them is about 40 ns, on two 0-d
  arrays about 300 ns);
* an operation makes the result and one catalogue op (two objects for the cyclic garbage
  collector, as the engine's ops now are), the op's inputs in its two slots;
* ``backward`` runs the ops from a heap by creation order, as the engine does, and every Scalar
  keeps its gradient (micrograd's semantics); the rules read their inputs' current ``data``
  (micrograd's closures do the same), nothing is saved.

It does only what the demo needs (``+ - * /``, negation, ``relu``), no mixing with Tensors, no
drawing, no hooks, no ``create_graph``: the measure of what such a path costs, for deciding
whether ``Value`` should be built this way.

    python -m benchmarks.experiments.scalar_values [--rounds N] [--smoke]

runs micrograd's demo (``benchmarks.workloads.micrograd_demo``: warm-up, then steps with the
collector on, then with it paused) on micrograd, on ``autodiff.Value`` and on ``Scalar``, each
in a fresh process, interleaved round by round, and prints the medians and the ratios to
micrograd, after checking that the three give the same losses.
"""

import argparse
import heapq
import itertools
import statistics
import sys

import numpy as np

from autodiff import ops
from autodiff.ops import array_math

from ..timing import emit, run_child
from ..workloads import micrograd_demo

_creation = itertools.count(1)
_float64 = np.float64
_BOTH, _FIRST = (True, True), (True,)


class Scalar:
    """One number that records the operations it takes part in (micrograd's ``Value`` interface)."""

    __slots__ = ("data", "grad", "op", "seq")
    __array_ufunc__ = None  # np.int64(2) * s: numpy defers to Scalar.__rmul__

    def __init__(self, data, op=None):
        self.data, self.grad, self.op, self.seq = _float64(data), 0.0, op, next(_creation)

    def __add__(self, other):
        return _binary(ops.Add, self, _scalar(other))

    def __radd__(self, other):
        return _binary(ops.Add, _scalar(other), self)

    def __sub__(self, other):
        return _binary(ops.Sub, self, _scalar(other))

    def __rsub__(self, other):
        return _binary(ops.Sub, _scalar(other), self)

    def __mul__(self, other):
        return _binary(ops.Mul, self, _scalar(other))

    def __rmul__(self, other):
        return _binary(ops.Mul, _scalar(other), self)

    def __truediv__(self, other):
        return _binary(ops.Div, self, _scalar(other))

    def __neg__(self):
        return _unary(ops.Neg, self)

    def relu(self):
        return _unary(ops.Relu, self)

    def backward(self):
        """Every Scalar in the graph gets ∂self/∂it in ``.grad`` (added to what it had, as in micrograd)."""
        grads, ready = {self: _float64(1.0)}, [(-self.seq, self)]
        while ready:
            s = heapq.heappop(ready)[1]
            g = grads.pop(s)
            s.grad = s.grad + g
            op = s.op
            if op is None:
                continue
            x, y = op._in0, op._in1
            if y is ops.ONE:
                inputs, input_grads = (x,), (op.vjp(array_math, g, x.data, out=s.data),)
            else:
                inputs, input_grads = (x, y), op.vjp(array_math, g, x.data, y.data, out=s.data)
            for t, gt in zip(inputs, input_grads):
                if gt is None:
                    continue
                if t in grads:
                    grads[t] = grads[t] + gt
                else:
                    grads[t] = gt
                    heapq.heappush(ready, (-t.seq, t))


def _scalar(value):
    return value if type(value) is Scalar else Scalar(value)


def _binary(op_cls, x, y):
    op = op_cls()
    op._in0, op._in1, op.needs_input_grad = x, y, _BOTH
    return Scalar(op.forward(x.data, y.data), op)


def _unary(op_cls, x):
    op = op_cls()
    op._in0, op._in1, op.needs_input_grad = x, ops.ONE, _FIRST
    return Scalar(op.forward(x.data), op)


# --------------------------------------------------------------------------- the measurement

ENGINES = ("micrograd", "autodiff", "scalar")


def child(engine, smoke=False):
    """micrograd-demo's child on ``engine``: "scalar" runs micrograd's nn.py on Scalar."""
    if engine == "scalar":
        import micrograd.nn

        micrograd.nn.Value = Scalar  # the demo's "micrograd" engine then builds Scalars
        engine = "micrograd"
    return micrograd_demo.child(engine, smoke)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="10 points, one step of each kind")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        emit(child(args.child, args.smoke))
        return 0
    extra = ["--smoke"] if args.smoke else []
    results = {e: [] for e in ENGINES}
    for _ in range(args.rounds):
        for e in ENGINES:
            results[e].append(run_child("benchmarks.experiments.scalar_values", "--child", e, *extra))
    for e, rs in results.items():
        for r in rs:
            if "error" in r:
                print(f"{e} failed: {r['error']}", file=sys.stderr)
                return 1
    reference = results["micrograd"][0]["losses"]
    for e, rs in results.items():
        if not np.allclose(rs[0]["losses"], reference, rtol=1e-4, atol=1e-6):
            print(f"{e}'s losses {rs[0]['losses']} differ from micrograd's {reference}", file=sys.stderr)
            return 1
    print(f"micrograd's demo step, median of {args.rounds} processes each (losses agree across the three):")
    print(f"{'engine':10} {'gc on':>9} {'of it, gc':>10} {'gc paused':>10} {'gc on / micrograd':>18}")
    mg = statistics.median(r["seconds"] for r in results["micrograd"])
    for e, rs in results.items():
        on, gc_s, off = (statistics.median(r[k] for r in rs) for k in ("seconds", "gc_s", "gc_off_seconds"))
        print(f"{e:10} {on:8.3f}s {gc_s:9.3f}s {off:9.3f}s {on / mg:18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
