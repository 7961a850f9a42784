"""mlp-d2l-penalty: mlp-raw's step with the weight penalty in the loss as d2l's own code writes it.

d2l's ``l2_penalty(w) = (w ** 2).sum() / 2`` and ``l = loss(net(X), y) + lambd * l2_penalty(w)``
(weight decay from scratch), here over the three weights: J = L + λ Σ (W ** 2).sum() / 2, λ = 1e-4.
The same J as mlp-penalty's, spelled with ``**``; PyTorch spells it the same way, the numpy peer
adds λW to each weight's gradient by hand. The engines' steps are in ``textbook``.
"""

from . import mlp, mlp_raw, textbook

NAME = "mlp-d2l-penalty"
DESCRIPTION = "mlp-raw with J = L + λ Σ (W ** 2).sum() / 2 in the loss (d2l's code), λ = 1e-4"
PENALTY = "d2l"

ENGINES = textbook.engines(PENALTY)  # autodiff first
PEERS = tuple(ENGINES)[1:]
problem = mlp_raw.problem


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
