"""mlp-l2-penalty: mlp-penalty's J with the penalty spelled ``nn.functional.l2_penalty(weights, λ)``.

``l2_penalty(params, lam)`` is λ/2 · Σ ‖W‖²_F (gradient λW), so J is mlp-penalty's and the
peers are its: numpy adding λW by hand, PyTorch with the explicit ``(W * W).sum()`` penalty
(it has no ``l2_penalty``). The loss check compares J across the engines. The engines' steps
are in ``textbook``.
"""

from . import mlp, mlp_raw, textbook

NAME = "mlp-l2-penalty"
DESCRIPTION = "mlp-raw with J = L + nn.functional.l2_penalty(weights, 1e-4) (= λ/2 Σ ‖W‖²)"
PENALTY = "l2_penalty"

ENGINES = textbook.engines(PENALTY)  # autodiff first
PEERS = tuple(ENGINES)[1:]
problem = mlp_raw.problem


def run(ctx):
    return mlp.time_steps(ctx, NAME, problem(ctx.smoke), ENGINES)
