"""What a graph keeps once backward has released it: its structure, for drawing, not its arrays.

After ``backward()`` (without ``retain_graph``) every op frees what it saved, and ops point at
placeholders (``FreedTensor``) instead of their big intermediate inputs, so those arrays are
freed unless you hold the tensors, while the graph can still be walked and drawn, as in PyTorch.
"""

from .deferred import stand_in, without_memory
from .tensor import Tensor
from .versions import version_counter

_new = object.__new__

FREE_FROM_BYTES = 1 << 16
"""Smaller intermediates stay with the graph until it is dropped: making a placeholder takes a few µs,
about what numpy takes to compute an array of 64 KiB, and would free little (at 4 KiB, placeholders
were 5% of the step of an MLP 2-16-16-1 with batch 100)."""


class FreedTensor(Tensor):
    """What a released graph keeps of an intermediate tensor whose values backward freed.

    It has the tensor's name, shape, dtype, history (``grad_fn``) and retained
    ``.grad``, so the graph can still be walked and drawn, but no data.
    """

    __slots__ = ()
    _freed = True

    @property
    def data(self):
        raise RuntimeError(
            "the values of this intermediate tensor were freed by backward(); "
            "call backward(retain_graph=True) to keep them"
        )


def placeholder(tensor):
    """The one FreedTensor that stands for ``tensor`` in released ops."""
    kept = tensor._released_as
    if kept is None:
        kept = _new(FreedTensor)
        kept._data, kept._vc = without_memory(stand_in(tensor)), version_counter(tensor)
        kept.grad_fn, kept.name, kept._grad = tensor.grad_fn, tensor.name, tensor._grad_tensor()
        kept._requires_grad, kept._retains_grad, kept._history, kept._released_as = True, False, None, None
        tensor._released_as = kept
    return kept


def let_go_of_intermediates(nodes):
    """Point the released ``nodes`` at placeholders of their big intermediate inputs."""
    for node in nodes:
        node.inputs = tuple(
            [
                placeholder(t)
                if t.grad_fn is not None and not t._freed and stand_in(t).nbytes >= FREE_FROM_BYTES
                else t
                for t in node.inputs
            ]
        )
