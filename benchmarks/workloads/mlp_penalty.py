"""mlp-penalty: mlp-raw's step with the weight penalty in the loss, written out: J = L + λ/2 Σ ‖W‖².

d2l's s = λ/2 (‖W1‖² + ‖W2‖²), J = L + s (eqs. 5.3.5–5.3.6), as
``loss + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum() + (W3 * W3).sum())``, λ = 1e-4, over the
weights only. The numpy peer adds λW to each weight's gradient by hand; PyTorch has the same
explicit penalty in its loss. The engines' steps are in ``textbook``.
"""

from . import mlp, mlp_raw, textbook

NAME = "mlp-penalty"
DESCRIPTION = "mlp-raw with J = L + λ/2 Σ (W * W).sum() in the loss, λ = 1e-4"
PENALTY = "explicit"

ENGINES = textbook.engines(PENALTY)  # autodiff first
PEERS = tuple(ENGINES)[1:]
problem = mlp_raw.problem


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
