"""micrograd-demo: the training step of micrograd's demo notebook, on micrograd and on ``autodiff.Value``.

The notebook (karpathy/micrograd, ``demo.ipynb``), step for step: ``np.random.seed(1337)``,
``random.seed(1337)``, ``X, y = make_moons(n_samples=100, noise=0.1)``, ``y = y*2 - 1``,
``model = MLP(2, [16, 16, 1])`` from ``micrograd.nn``; a step k is the loss over all 100
points, the SVM max-margin loss plus L2 regularisation,

    J = 1/N Σᵢ relu(1 − yᵢ·scoreᵢ) + α Σ p²,   α = 1e-4, over every parameter p,

(with the accuracy the notebook computes alongside), ``model.zero_grad()``,
``J.backward()``, and ``p.data -= lr * p.grad`` with lr = 1 − 0.9 k/100. The inputs are
``list(map(Value, xrow))`` of make_moons' float64 rows, as in the notebook (micrograd's
Values then hold numpy float64 scalars).

Both engines run micrograd's own ``micrograd.nn`` classes (``Neuron``, ``Layer``, ``MLP``,
``zero_grad``) and the notebook's loss; for autodiff, the name ``Value`` that
``micrograd.nn`` imported from ``micrograd.engine`` is pointed at ``autodiff.Value`` before
the model is built (``micrograd.nn.Value = autodiff.Value``), and the notebook's code uses
that same ``Value``. That assignment is the whole adaptation: micrograd's nn.py and the
notebook's loss run unchanged on ``autodiff.Value``.

Each engine runs in a fresh process (micrograd's graph has reference cycles that only the
cyclic garbage collector frees, and the garbage one engine leaves would slow the other),
the processes interleaved round by round. In a process: ``WARMUP`` steps untimed (the
collector's work per step grows over the first steps, as micrograd's garbage accumulates),
then ``STEPS`` steps with the collector on, as the notebook runs them: the mean time per step
and the time in the collector and its full collections (``gc.callbacks``); then ``GC_OFF_STEPS`` steps each with the
collector paused (``gc.collect()`` before each, untimed): the time the ops themselves take.
Every step's loss is compared across the engines (the same weights, the same float64
arithmetic: they agree to round-off).

The child: ``python -m benchmarks.workloads.micrograd_demo ENGINE [--smoke]`` prints one JSON line.
"""

import gc
import random
import statistics
import sys
import time

import numpy as np

from ..environment import available
from ..timing import emit, round_robin, row, run_child

NAME = "micrograd-demo"
DESCRIPTION = "micrograd's demo step (moons, MLP 2-16-16-1, max-margin + L2) on micrograd.nn: Value vs micrograd"
POINTS, SMOKE_POINTS = 100, 10
WARMUP, STEPS, GC_OFF_STEPS = 3, 5, 3
SMOKE_WARMUP, SMOKE_STEPS, SMOKE_GC_OFF_STEPS = 1, 1, 1
ALPHA = 1e-4
REPEATS = 3  # child processes per engine; a micrograd process takes about 15 s
ENGINES = ("autodiff", "micrograd")
PEERS = ENGINES[1:]


# --------------------------------------------------------------------------- in the child


def demo(engine, points):
    """The notebook's setup on ``engine``: its ``step(k)`` returns (J, accuracy) of step k as floats."""
    import micrograd.nn as micrograd_nn
    from sklearn.datasets import make_moons

    if engine == "autodiff":
        import autodiff

        micrograd_nn.Value = autodiff.Value  # micrograd's nn.py builds autodiff Values from here on
    Value = micrograd_nn.Value

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=points, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1
    model = micrograd_nn.MLP(2, [16, 16, 1])  # 2-layer neural network

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]  # svm "max-margin" loss
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())  # L2 regularization
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    def step(k):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        return float(total_loss.data), float(acc)

    return step


def child(engine, smoke=False):
    """Warm-up, timed steps with the collector on, then with it paused; the numbers as a dict."""
    points = SMOKE_POINTS if smoke else POINTS
    warmup, steps, off_steps = (
        (SMOKE_WARMUP, SMOKE_STEPS, SMOKE_GC_OFF_STEPS) if smoke else (WARMUP, STEPS, GC_OFF_STEPS)
    )
    step = demo(engine, points)
    gc.collect()
    losses, k = [], 0
    for k in range(warmup):
        losses.append(step(k)[0])

    gc_seconds, gc_start, full = [0.0], [0.0], [0]

    def on_gc(phase, info):
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_start[0]
            full[0] += info["generation"] == 2

    gc.callbacks.append(on_gc)
    start = time.perf_counter()
    for k in range(warmup, warmup + steps):
        loss, accuracy = step(k)
        losses.append(loss)
    seconds = (time.perf_counter() - start) / steps
    gc.callbacks.remove(on_gc)

    off = []
    for k in range(warmup + steps, warmup + steps + off_steps):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        loss, accuracy = step(k)
        off.append(time.perf_counter() - start)
        gc.enable()
        losses.append(loss)
    return {
        "seconds": seconds,
        "gc_s": gc_seconds[0] / steps,
        "full_collections": full[0] / steps,
        "gc_off_seconds": statistics.mean(off),
        "losses": losses,
        "accuracy": accuracy,
        "points": points,
        "steps": [warmup, steps, off_steps],
    }


# --------------------------------------------------------------------------- in the parent


def check_losses(results, rtol=1e-4, atol=1e-6):
    """{engine: {"losses": [...], "ok": bool}}: each engine's losses, step by step, against autodiff's."""
    first = {e: next((r for r in rs if "losses" in r), None) for e, rs in results.items()}
    ref = first["autodiff"]["losses"] if first.get("autodiff") else None
    checks = {}
    for e, r in first.items():
        if r is None:
            continue
        ok = (
            ref is not None
            and len(r["losses"]) == len(ref)
            and bool(np.allclose(r["losses"], ref, rtol=rtol, atol=atol))
        )
        checks[e] = {"losses": r["losses"], "accuracy": r["accuracy"], "ok": ok}
    return checks


def run(ctx):
    missing = [m for m in ("micrograd", "sklearn") if not available(m)]
    if missing:  # the demo runs on micrograd's nn.py and scikit-learn's moons, whatever the engine
        text = f"needs {' and '.join(missing)} (not installed)"
        ctx.log(f"WARNING: {NAME}: {text}")
        return [row(NAME, "time per step (gc on)", "s", {"autodiff": text})]
    engines = [e for e in ENGINES if e == "autodiff" or ctx.wants(e)]
    extra = ["--smoke"] if ctx.smoke else []
    jobs = {e: (lambda e=e: run_child(__name__, e, *extra)) for e in engines}
    results = round_robin(jobs, ctx.reps(REPEATS), settle=ctx.settle)
    for e, rs in results.items():
        for r in rs:
            if "error" in r:
                ctx.log(f"WARNING: {NAME}: {e} failed: {r['error']}")
    checks = check_losses(results)
    for e, check in checks.items():
        if not check["ok"]:
            ctx.log(f"WARNING: {NAME}: {e}'s losses {check['losses']} differ from autodiff's")

    def med(key):
        values = {}
        for e, rs in results.items():
            got = [r[key] for r in rs if key in r]
            values[e] = statistics.median(got) if got else rs[0].get("error", "failed")
        return values

    def samples(key):
        return {e: [r.get(key) for r in rs] for e, rs in results.items()}

    first = next((r for r in results["autodiff"] if "steps" in r), {})
    warmup, steps, off_steps = first.get("steps", (WARMUP, STEPS, GC_OFF_STEPS))
    notes = {
        e: f"{len(rs)} processes, each: {warmup} steps of warm-up, then the mean of {steps}"
        for e, rs in results.items()
    }
    return [
        row(NAME, "time per step (gc on)", "s", med("seconds"), samples=samples("seconds"), notes=notes, checks=checks),
        row(NAME, "of which in the cyclic gc", "s", med("gc_s"), ratio=False, samples=samples("gc_s")),
        row(
            NAME,
            "full collections of the cyclic gc per step",
            "",
            med("full_collections"),
            ratio=False,
            samples=samples("full_collections"),
        ),
        row(
            NAME,
            "time per step, gc paused",
            "s",
            med("gc_off_seconds"),
            samples=samples("gc_off_seconds"),
            notes={e: f"mean of {off_steps} steps, gc.collect() before each, untimed" for e in results},
        ),
    ]


if __name__ == "__main__":
    emit(child(sys.argv[1], smoke="--smoke" in sys.argv[2:]))
