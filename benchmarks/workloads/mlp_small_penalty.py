"""mlp-small-penalty: one SGD step of a raw-tensor MLP 2-16-16-1 (MSE, batch 100, float32) with the penalty.

mlp-small's data and initial weights, written as the textbooks write it: ``h @ W.T + b``,
``relu``, ``((h - y) ** 2).mean()``, J = L + λ/2 Σ (W * W).sum() (λ = 1e-4), ``W -= lr * W.grad``
under ``no_grad`` (lr 0.01). Tiny matrices: the time is each engine's overhead per op. The
engines' steps are in ``textbook``.
"""

from . import mlp, mlp_small, textbook

NAME = "mlp-small-penalty"
DESCRIPTION = "SGD step (lr 0.01) of a raw-tensor MLP 2-16-16-1, ReLU, MSE, J = L + λ/2 Σ (W * W).sum(), batch 100"
PENALTY = "explicit"

ENGINES = textbook.engines(PENALTY)  # autodiff first
PEERS = tuple(ENGINES)[1:]


def problem(smoke=False):
    if smoke:
        return textbook.regression(mlp_small.SMOKE_SIZES, mlp_small.SMOKE_BATCH)
    return textbook.regression(mlp_small.SIZES, mlp_small.BATCH)


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
