"""mlp-raw: one SGD step of an MLP 784-512-256-10 on raw tensors, no penalty (float32, batch 128, lr 0.01).

``h @ W.T + b``, ``relu``, ``cross_entropy`` and ``W -= lr * W.grad`` under ``no_grad``, as the
textbooks write it (no ``nn.MLP``, no optimizer); the baseline of mlp-penalty and
mlp-l2-penalty. The engines' steps are in ``textbook``; the data is mlp-mnist's.
"""

from . import mlp, mlp_mnist, textbook

NAME = "mlp-raw"
DESCRIPTION = "SGD step (lr 0.01) of a raw-tensor MLP 784-512-256-10, ReLU, cross-entropy, batch 128, float32"
PENALTY = None

ENGINES = textbook.engines(PENALTY)  # autodiff first
PEERS = tuple(ENGINES)[1:]


def problem(smoke=False):
    if smoke:
        return textbook.classification(mlp_mnist.SMOKE_SIZES, mlp_mnist.SMOKE_BATCH)
    return textbook.classification(mlp_mnist.SIZES, mlp_mnist.BATCH)


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
