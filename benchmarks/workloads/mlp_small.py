"""mlp-small: one SGD training step of an MLP 2-16-16-1 (ReLU, mean squared error, batch 100, float32).

Tiny matrices: the time is the engines' overhead per op, not arithmetic. micrograd
joins here (one Value per number, float64), timed over fewer rounds as it is slow.
The engines' steps are in ``mlp``.
"""

from . import mlp

NAME = "mlp-small"
DESCRIPTION = "SGD step (weight decay 1e-4) of an MLP 2-16-16-1, ReLU, MSE, batch 100, float32"
SIZES, BATCH = (2, 16, 16, 1), 100
SMOKE_SIZES, SMOKE_BATCH = (2, 4, 4, 1), 5
MICROGRAD_SAMPLES = 3

# one function per engine, autodiff first
ENGINES = {
    "autodiff": mlp.autodiff_step,
    "numpy": mlp.numpy_step,  # hand-written backprop
    "torch": mlp.torch_step,
    "autograd": mlp.autograd_step,
    "mygrad": mlp.mygrad_step,
    "micrograd": mlp.micrograd_step,
}
PEERS = tuple(ENGINES)[1:]


def problem(smoke=False):
    return mlp.regression(SMOKE_SIZES if smoke else SIZES, SMOKE_BATCH if smoke else BATCH)


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES, caps={"micrograd": MICROGRAD_SAMPLES})
