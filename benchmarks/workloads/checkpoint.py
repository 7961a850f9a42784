"""checkpoint: what activation checkpointing saves and costs, on a 20-layer MLP of width 1024.

One SGD step (forward, mean squared error, backward, update with lr 1e-3) of 20 layers
``relu(linear(h, W, b))`` of width 1024, batch 256, float32 (PyTorch's default ``Linear``
initialisation, fixed seed), three ways: plain, ``autodiff.checkpoint`` around every layer, and
around every 5 layers (√20 segments: Chen et al. 2016, "Training Deep Nets with Sublinear Memory
Cost"). autodiff only: tracemalloc, which measures the memory here, does not see PyTorch's allocator.

* Memory, in a pass of its own under ``tracemalloc`` (numpy reports its arrays to it), above what
  was allocated before the step (parameters, data): what the graph holds between forward and
  backward (the activations d2l's "memory" discussion is about), and the peak of forward plus
  backward. The peak includes the gradients of the 21M parameters (80 MB): backward keeps every
  leaf's gradient until its end, so that a failing rule leaves ``.grad`` untouched.
* Time: the whole step, the three variants interleaved round-robin (``timing.interleaved``).
* Check: the three variants' gradients of every parameter agree (relative 1e-6).
"""

import gc
import math
import tracemalloc

import numpy as np

from ..timing import interleaved, row

NAME = "checkpoint"
DESCRIPTION = (
    "SGD step of a 20-layer MLP of width 1024 (ReLU, batch 256, float32): plain, checkpointed per layer / per 5"
)
DEPTH, WIDTH, BATCH, EVERY = 20, 1024, 256, 5
SMOKE_DEPTH, SMOKE_WIDTH, SMOKE_BATCH, SMOKE_EVERY = 4, 16, 4, 2
REPEATS = 5
PEERS = ()
MB = 2**20


def problem(smoke=False, seed=0):
    """Weights, biases, inputs and targets (float32 arrays), PyTorch's Linear initialisation U(±1/√width)."""
    depth, width, batch = (SMOKE_DEPTH, SMOKE_WIDTH, SMOKE_BATCH) if smoke else (DEPTH, WIDTH, BATCH)
    rng = np.random.default_rng(seed)
    bound = 1 / math.sqrt(width)
    weights = [rng.uniform(-bound, bound, (width, width)).astype(np.float32) for _ in range(depth)]
    biases = [rng.uniform(-bound, bound, width).astype(np.float32) for _ in range(depth)]
    x = rng.standard_normal((batch, width)).astype(np.float32)
    y = rng.standard_normal((batch, width)).astype(np.float32)
    return weights, biases, x, y


def variants(smoke=False):
    """{label: checkpoint every how many layers (0: none)}."""
    every = SMOKE_EVERY if smoke else EVERY
    return {"no checkpoint": 0, "checkpoint every layer": 1, f"checkpoint every {every} layers": every}


class Model:
    """The MLP in autodiff: ``forward(every)`` gives the loss, ``step(every)`` trains once."""

    def __init__(self, problem, lr=1e-3):
        import autodiff as ad

        self.ad, self.lr = ad, lr
        weights, biases, x, y = problem
        self.params = [
            (ad.Tensor(w, requires_grad=True), ad.Tensor(b, requires_grad=True)) for w, b in zip(weights, biases)
        ]
        self.x, self.y = ad.Tensor(x), ad.Tensor(y)

    def _segment(self, params):
        ad = self.ad

        def run(h):
            for w, b in params:
                h = ad.relu(ad.linear(h, w, b))
            return h

        return run

    def forward(self, every):
        h, step = self.x, every or len(self.params)
        for i in range(0, len(self.params), step):
            run = self._segment(self.params[i : i + step])
            h = self.ad.checkpoint(run, h) if every else run(h)
        d = h - self.y
        return (d * d).mean()

    def gradients(self, every):
        for w, b in self.params:
            w.grad = b.grad = None
        self.forward(every).backward()
        return [p.grad.data.copy() for pair in self.params for p in pair]

    def step(self, every):
        loss = self.forward(every)
        loss.backward()
        with self.ad.no_grad():
            for pair in self.params:
                for p in pair:
                    p -= self.lr * p.grad
                    p.grad = None
        return loss


def memory(model, every):
    """(MB the graph holds after forward, MB at the peak of forward + backward), above what existed before."""
    for w, b in model.params:
        w.grad = b.grad = None
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss = model.forward(every)
        held = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    for w, b in model.params:
        w.grad = b.grad = None
    return held / MB, peak / MB


def run(ctx):
    model = Model(problem(ctx.smoke))
    kinds = variants(ctx.smoke)
    reference = None
    checks = {}
    for label, every in kinds.items():
        grads = model.gradients(every)
        if reference is None:
            reference = grads
        worst = max(float(np.max(np.abs(g - r)) / (np.max(np.abs(r)) or 1)) for g, r in zip(grads, reference))
        checks[label] = {"max relative difference from no checkpoint": worst, "ok": worst <= 1e-6}
        if worst > 1e-6:
            ctx.log(f"WARNING: {NAME}: {label}'s gradients differ from the plain step's by {worst:.3g}")
    measured = {label: memory(model, every) for label, every in kinds.items()}
    steps = {label: (lambda every=every: model.step(every)) for label, every in kinds.items()}
    timed = interleaved(steps, ctx.reps(REPEATS), warmup=1, min_sample=ctx.min_sample, settle=ctx.settle)
    rows = []
    for what, unit, index in (("graph held after forward", "MB", 0), ("peak of forward + backward", "MB", 1)):
        for label in kinds:
            rows.append(
                row(
                    NAME,
                    f"{what}, {label}",
                    unit,
                    {"autodiff": measured[label][index]},
                    checks={"autodiff": checks[label]},
                )
            )
    for label in kinds:
        t = timed[label]
        rows.append(
            row(
                NAME,
                f"time per step, {label}",
                "s",
                {"autodiff": t["median"]},
                samples={"autodiff": t["samples"]},
                notes={"autodiff": f"{len(t['samples'])} samples of {t['number']} steps"},
                checks={"autodiff": checks[label]},
            )
        )
    return rows
