"""no-grad-forward: elementwise maximum, a max over an axis and clip, under ``no_grad``, against numpy.

On 1000×100 float64 tensors that require grad, inside ``with ad.no_grad():`` (a forward pass
that records nothing: evaluation, the update of an optimizer): ``ad.maximum(a, b)``,
``a.max(axis=1)`` and ``ad.clip(a, -0.5, 0.5)`` against ``np.maximum(a, b)``,
``a.max(axis=1)`` and ``np.clip(a, -0.5, 0.5)`` on the same arrays. The time of one call, the
``with`` block included; each result is checked equal to numpy's. One row per op, each op's
two engines interleaved.
"""

import numpy as np

from ..timing import interleaved, row

NAME = "no-grad-forward"
DESCRIPTION = "maximum(a, b), a.max(axis=1), clip(a, -0.5, 0.5) under no_grad, 1000×100 float64, vs numpy"
SHAPE, SMOKE_SHAPE = (1000, 100), (10, 10)
REPEATS = 15
PEERS = ("numpy",)

# metric: (autodiff's call, numpy's call), each on (a, b)
OPS = {
    "maximum(a, b) under no_grad": (lambda ad, a, b: ad.maximum(a, b), lambda a, b: np.maximum(a, b)),
    "a.max(axis=1) under no_grad": (lambda ad, a, b: a.max(axis=1), lambda a, b: a.max(axis=1)),
    "clip(a, -0.5, 0.5) under no_grad": (lambda ad, a, b: ad.clip(a, -0.5, 0.5), lambda a, b: np.clip(a, -0.5, 0.5)),
}


def _arrays(smoke):
    rng = np.random.default_rng(0)
    shape = SMOKE_SHAPE if smoke else SHAPE
    return rng.standard_normal(shape), rng.standard_normal(shape)


def run(ctx):
    import autodiff as ad

    a, b = _arrays(ctx.smoke)
    ta, tb = ad.Tensor(a, requires_grad=True), ad.Tensor(b, requires_grad=True)
    rows = []
    for metric, (ours, theirs) in OPS.items():

        def autodiff_call(ours=ours):
            with ad.no_grad():
                return ours(ad, ta, tb)

        steps = {"autodiff": autodiff_call}
        if ctx.wants("numpy"):
            steps["numpy"] = lambda theirs=theirs: theirs(a, b)
        result, expected = autodiff_call(), theirs(a, b)
        checks = {
            "autodiff": {
                "ok": bool(result.grad_fn is None and np.array_equal(result.data, expected)),
                "recorded": result.grad_fn is not None,
            }
        }
        if not checks["autodiff"]["ok"]:
            ctx.log(f"WARNING: {NAME}: autodiff's {metric} differs from numpy's or was recorded")
        timed = interleaved(steps, ctx.reps(REPEATS), warmup=2, min_sample=ctx.min_sample, settle=ctx.settle)
        rows.append(
            row(
                NAME,
                metric,
                "µs",
                {k: v["median"] * 1e6 for k, v in timed.items()},
                samples={k: [s * 1e6 for s in v["samples"]] for k, v in timed.items()},
                notes={k: f"{len(v['samples'])} samples of {v['number']} calls" for k, v in timed.items()},
                checks=checks,
            )
        )
    return rows
