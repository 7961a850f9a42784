"""mlp-mnist: one SGD training step of an MLP 784-512-256-10 (ReLU, softmax cross-entropy, batch 128, float32).

Random MNIST-shaped data with a fixed seed (no download). The engines' steps are in ``mlp``.
"""

from . import mlp

NAME = "mlp-mnist"
DESCRIPTION = "SGD step (weight decay 1e-4) of an MLP 784-512-256-10, ReLU, cross-entropy, batch 128, float32"
SIZES, BATCH = (784, 512, 256, 10), 128
SMOKE_SIZES, SMOKE_BATCH = (784, 32, 16, 10), 8

# one function per engine, autodiff first
ENGINES = {
    "autodiff": mlp.autodiff_step,
    "numpy": mlp.numpy_step,  # hand-written backprop
    "torch": mlp.torch_step,
    "autograd": mlp.autograd_step,
    "mygrad": mlp.mygrad_step,
}
PEERS = tuple(ENGINES)[1:]


def problem(smoke=False):
    return mlp.classification(SMOKE_SIZES if smoke else SIZES, SMOKE_BATCH if smoke else BATCH)


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
