"""The workloads, one module each; ``WORKLOADS`` maps the names used on the command line to them.

Each module has ``NAME``, ``PEERS`` (the engines it compares autodiff with),
``DESCRIPTION``, and ``run(ctx)``, which returns table rows (``timing.row``).
"""

from dataclasses import dataclass, field

from ..timing import SETTLE


@dataclass
class Context:
    """What a workload run is asked for."""

    smoke: bool = False  # tiny sizes, one repetition
    repeats: int = None  # rounds; None: the workload's default
    peers: frozenset = field(default_factory=frozenset)  # peers to run (installed and selected)
    min_sample: float = 0.05  # seconds a timing sample lasts at least (steps repeat within it)
    settle: float = SETTLE  # seconds of sleep between two engines' samples (see timing.SETTLE)
    log: object = print

    def reps(self, default):
        return 1 if self.smoke else (self.repeats or default)

    def wants(self, peer):
        return peer in self.peers


from . import (  # noqa: E402
    checkpoint,
    deep_chain,
    digits_train,
    memory,
    micrograd_demo,
    mlp_d2l_penalty,
    mlp_l2_penalty,
    mlp_mnist,
    mlp_penalty,
    mlp_raw,
    mlp_small,
    mlp_small_penalty,
    no_grad_forward,
    op_overhead,
)

WORKLOADS = {
    m.NAME: m
    for m in (
        mlp_mnist,
        mlp_small,
        op_overhead,
        deep_chain,
        memory,
        digits_train,
        mlp_raw,
        mlp_penalty,
        mlp_d2l_penalty,
        mlp_l2_penalty,
        mlp_small_penalty,
        micrograd_demo,
        no_grad_forward,
        checkpoint,
    )
}
