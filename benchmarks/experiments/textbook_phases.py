"""Where the time of the textbook MLP step goes: forward, backward and update, autodiff beside numpy.

The mlp-raw, mlp-penalty and mlp-l2-penalty workloads time whole steps of the 784-512-256-10 MLP
written the way the textbooks write it (``benchmarks.workloads.textbook``). This splits the same
steps into their phases, interleaved step by step in one process with the same data and weights:

* autodiff: ``forward`` (the layers, the loss and the penalty, recorded), ``backward``
  (``J.backward()``), ``update`` (``with no_grad(): W -= lr * W.grad; W.grad = None``);
* hand-written numpy: ``forward`` (into buffers allocated once, the penalty by ``np.vdot``) and
  ``backward`` (each layer's gradients, ``+= λW`` for the penalty, then that layer's update in
  place: the program interleaves them), so its backward is compared with autodiff's backward
  plus update;
* autodiff again, whole steps, with the update spelled ``W.grad *= lr; W -= W.grad`` (the same
  numbers, no temporary as large as W): what the textbook spelling's temporary costs;
* autodiff again, whole steps, with every product made at once (``autodiff.deferred.FROM_ELEMENTS``
  and ``autodiff.ops.SCALED_FROM`` out of reach while it runs): what making big products only when
  read (``(W * W).sum()`` as ⟨W, W⟩, ``W -= lr * W.grad`` without ``lr * W.grad``, the penalty's
  gradient λW added into the weight's other gradient without making it) is worth. The last column.

    python -m benchmarks.experiments.textbook_phases [--steps N] [--layers 8,8,8,10 --batch 4] [--smoke]

(``--layers`` and ``--batch``: the same steps on other sizes; on tiny ones, where the arithmetic is
next to nothing, what is left is each program's own work per step, the engine's Python for autodiff)

(both engines in one process, with ``autodiff.tune_allocator()``'s malloc thresholds and the same
BLAS threads) prints the median milliseconds of each phase over ``--steps`` steps (after a warm-up) and the
ratios, for each penalty spelling. Noise moves single phases by several percent from run to run;
the columns are read side by side.
"""

import argparse
import statistics
import sys
import time

import autodiff
import autodiff.deferred
from autodiff import ops

from ..environment import set_threads, threads
from ..workloads import mlp_d2l_penalty, mlp_l2_penalty, mlp_penalty, mlp_raw, textbook

WORKLOADS = (mlp_raw, mlp_penalty, mlp_d2l_penalty, mlp_l2_penalty)  # each: NAME, PENALTY, problem(smoke)
SPELLINGS = {w.NAME: w.PENALTY for w in WORKLOADS}
WARMUP = 20


def problem(workload, smoke=False, layers=None, batch=None):
    """The workload's problem (``mlp.Problem``), or the same on other layer widths or batch size."""
    p = workload.problem(smoke)
    if layers is not None or batch is not None:
        p = textbook.classification(tuple(layers or p.sizes), batch or len(p.X))
    return p


def measure(workload, steps, smoke=False, layers=None, batch=None):
    """{phase: median seconds} for autodiff ("forward", "backward", "update"), numpy ("numpy forward",
    "numpy backward") and autodiff with the update scaling ``.grad`` in place ("step, update in place":
    the whole step) on one of ``WORKLOADS``; ``layers`` (widths, input first) and ``batch``: other sizes
    than the workload's, the same data and weights otherwise."""
    p = problem(workload, smoke, layers, batch)
    forward, backward, update = textbook.autodiff_phases(p, workload.PENALTY)
    np_forward, np_backward = textbook.numpy_phases(p, workload.PENALTY)
    in_place = textbook.autodiff_step(p, workload.PENALTY, update="in place")
    eager_step = textbook.autodiff_step(p, workload.PENALTY)
    clock, deferred = time.perf_counter, autodiff.deferred
    keys = ("forward", "backward", "update", "numpy forward", "numpy backward", "step, update in place")
    keys += ("step, products made at once",)
    times = {k: [] for k in keys}
    for i in range(WARMUP + steps):
        t0 = clock()
        loss = forward()
        t1 = clock()
        backward(loss)
        t2 = clock()
        update()
        t3 = clock()
        _, delta = np_forward()
        t4 = clock()
        np_backward(delta)
        t5 = clock()
        in_place()
        t6 = clock()
        waiting_from, scaled_from = deferred.FROM_ELEMENTS, ops.SCALED_FROM
        deferred.FROM_ELEMENTS = ops.SCALED_FROM = 1 << 62
        try:
            t7 = clock()
            eager_step()
            t8 = clock()
        finally:
            deferred.FROM_ELEMENTS, ops.SCALED_FROM = waiting_from, scaled_from
        if i >= WARMUP:
            for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t8 - t7)):
                times[key].append(seconds)
    return {k: statistics.median(v) for k, v in times.items()}


def _widths(text):
    """Layer widths written as 8,8,8,10: (8, 8, 8, 10)."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer widths are integers separated by commas, got {text!r}") from None
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"at least two positive layer widths, got {text!r}")
    return widths


def _batch(text):
    """A batch size: a positive integer."""
    try:
        batch = int(text)
    except ValueError:
        batch = 0
    if batch < 1:
        raise argparse.ArgumentTypeError(f"the batch size is a positive integer, got {text!r}")
    return batch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--layers", type=_widths, help="layer widths, input first (default: 784,512,256,10)")
    parser.add_argument("--batch", type=_batch, help="examples per step (default: 128)")
    parser.add_argument("--smoke", action="store_true", help="small layers and few steps (a test of this script)")
    args = parser.parse_args(argv)
    set_threads(threads())  # every CPU, or OMP_NUM_THREADS
    autodiff.tune_allocator()  # glibc's thresholds, as the suite gives every engine (one process here: both)
    print(
        "| workload | forward | numpy forward | × | backward + update (update) | numpy backward | × | step × "
        "| step × with the update in place | step × with products made at once |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workload in WORKLOADS:
        name = workload.NAME
        steps = 3 if args.smoke else args.steps
        m = {k: v * 1e3 for k, v in measure(workload, steps, args.smoke, args.layers, args.batch).items()}
        back = m["backward"] + m["update"]
        step, np_step = m["forward"] + back, m["numpy forward"] + m["numpy backward"]
        print(
            f"| {name} | {m['forward']:.3f} | {m['numpy forward']:.3f} | {m['forward'] / m['numpy forward']:.2f} "
            f"| {back:.3f} ({m['update']:.3f}) | {m['numpy backward']:.3f} | {back / m['numpy backward']:.2f} "
            f"| {step / np_step:.2f} | {m['step, update in place'] / np_step:.2f} "
            f"| {m['step, products made at once'] / np_step:.2f} |"
        )
    p = problem(WORKLOADS[0], args.smoke, args.layers, args.batch)
    print(
        f"(layers {','.join(map(str, p.sizes))}, batch {len(p.X)}; milliseconds, medians over the steps; "
        "numpy's backward includes its in-place update; the last columns: autodiff's step with W.grad *= lr; "
        "W -= W.grad instead of W -= lr * W.grad, and with every product made at once)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
