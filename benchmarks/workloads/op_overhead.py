"""op-overhead: microseconds per op, forward plus backward, of a chain of tiny elementwise ops.

``y = y * 1.0001 + 0.1`` 1,000 times on a float64 tensor of shape (8,) that requires
grad, then ``y.sum().backward()``: 2,000 recorded ops (plus the sum), so the time
per chain / 2,000 is the cost of recording an op and of walking it backwards,
the arithmetic on 8 numbers being negligible. Each engine's gradient is checked
against the exact 1.0001¹⁰⁰⁰.
"""

import numpy as np

from ..environment import torch_threads
from ..timing import interleaved, row

NAME = "op-overhead"
DESCRIPTION = "forward+backward per op, chain of 1,000 × (y * 1.0001 + 0.1) on a (8,) float64 tensor"
ITERATIONS, SMOKE_ITERATIONS = 1000, 20
REPEATS = 15


def _x():
    return np.linspace(0.5, 1.5, 8)


def autodiff_chain(n):
    import autodiff as ad

    x = ad.Tensor(_x(), requires_grad=True)

    def run():
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0.1
        y.sum().backward()
        grad, x.grad = x.grad, None
        return grad

    return run


def torch_chain(n):
    import torch

    torch_threads(torch)
    x = torch.tensor(_x(), requires_grad=True)

    def run():
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0.1
        y.sum().backward()
        grad, x.grad = x.grad, None
        return grad

    return run


def autograd_chain(n):
    import autograd
    import autograd.numpy as anp

    def f(y):
        for _ in range(n):
            y = y * 1.0001 + 0.1
        return anp.sum(y)

    gradient, x = autograd.grad(f), _x()
    return lambda: gradient(x)


def mygrad_chain(n):
    import mygrad as mg

    x = mg.tensor(_x())

    def run():
        y = x
        for _ in range(n):
            y = y * 1.0001 + 0.1
        y.sum().backward()  # MyGrad replaces (does not accumulate) .grad on each backward
        return x.grad

    return run


# one function per engine, autodiff first
ENGINES = {"autodiff": autodiff_chain, "torch": torch_chain, "autograd": autograd_chain, "mygrad": mygrad_chain}
PEERS = tuple(ENGINES)[1:]


def run(ctx):
    n = SMOKE_ITERATIONS if ctx.smoke else ITERATIONS
    chains = {name: make(n) for name, make in ENGINES.items() if name == "autodiff" or ctx.wants(name)}
    checks = {}
    for name, chain in chains.items():
        grad = np.asarray(chain(), dtype=np.float64)
        checks[name] = {"grad": float(grad[0]), "ok": bool(np.allclose(grad, 1.0001**n, rtol=1e-9))}
        if not checks[name]["ok"]:
            ctx.log(f"WARNING: {NAME}: {name}'s gradient {grad[0]} is not 1.0001**{n} = {1.0001**n}")
    timed = interleaved(
        chains, ctx.reps(REPEATS), warmup=1 if ctx.smoke else 2, min_sample=ctx.min_sample, settle=ctx.settle
    )
    per_op = 1e6 / (2 * n)
    return [
        row(
            NAME,
            "time per op (fwd+bwd)",
            "µs",
            {k: v["median"] * per_op for k, v in timed.items()},
            samples={k: [s * per_op for s in v["samples"]] for k, v in timed.items()},
            notes={k: f"{len(v['samples'])} samples of {v['number']} chains of {2 * n} ops" for k, v in timed.items()},
            checks=checks,
        )
    ]
