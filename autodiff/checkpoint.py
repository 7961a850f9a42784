"""Activation checkpointing: trade compute for memory (PyTorch's ``torch.utils.checkpoint``, non-reentrant).

``checkpoint(fn, *args)`` returns what ``fn(*args)`` returns, but the graph keeps one node for the
whole call instead of every intermediate value ``fn`` computed: the node holds the tensors ``fn``
read from outside (its arguments, and the parameters or other tensors it uses) and, in backward,
runs ``fn`` again with recording on and backpropagates through that fresh graph. Checkpointing
every layer of a deep network keeps one tensor per layer alive between forward and backward
instead of all of them, for the price of a second forward pass (d2l, "Memory", and Chen et al.
2016, "Training Deep Nets with Sublinear Memory Cost").

How the node finds what ``fn`` reads: the first call runs with recording on, the tensors that
require grad and that the segment's graph reaches without having made them are read off that
graph, and the graph is let go as soon as the call returns (so its intermediates live only while
``fn`` runs). PyTorch records the graph too and packs its saved tensors away instead.

``fn`` must compute the same thing twice: random numbers drawn inside it are drawn again in
backward (it is the caller's business to make them repeat); shapes that differ are an error.
"""

from . import engine
from .function import Function, connect, new_ctx, node_class
from .grad_mode import enable_grad, is_grad_enabled
from .history import graph_inputs
from .tensor import Tensor
from .versions import sequence

__all__ = ["checkpoint"]


def checkpoint(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, recorded as one node that recomputes ``fn`` in backward instead of keeping its intermediates.

    Gradients are those of the plain call, for the arguments and for every tensor ``fn`` reads
    (a module's parameters). Outside grad mode it is the plain call.

    >>> h = x
    >>> for layer in model.layers:
    ...     h = autodiff.checkpoint(layer, h)   # keeps each layer's input, not its insides
    """
    if not is_grad_enabled():
        return fn(*args, **kwargs)
    start = next(sequence)
    out = fn(*args, **kwargs)
    outs = out if type(out) is tuple else (out,)
    made = [o for o in outs if isinstance(o, Tensor) and o.grad_fn is not None and o.grad_fn.seq > start]
    if not made:  # nothing fn computed is differentiable: there is no graph to drop
        return out
    boundary = _boundary(made, start, args, kwargs)
    ctx = new_ctx(Checkpoint, (True,) * len(boundary))
    ctx.save_for_backward(*boundary)
    ctx._fn, ctx._args, ctx._kwargs = fn, args, kwargs
    ctx._shapes = tuple(o.shape if isinstance(o, Tensor) else None for o in outs)
    foreign = {id(o) for o in outs if isinstance(o, Tensor) and not any(o is m for m in made)}
    return connect(ctx, boundary, out, foreign)


def _boundary(outputs, start, args, kwargs):
    """The tensors that require grad which the segment's graph (ops created after ``start``) reads
    without having made them: the Tensor arguments first, then what ``fn`` read from elsewhere."""
    found = {}
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor) and a._requires_grad:
            found.setdefault(id(a), a)
    stack = list({id(o.grad_fn): o.grad_fn for o in outputs}.values())
    seen = {id(node) for node in stack}
    while stack:
        for t in graph_inputs(stack.pop()):
            if not t._requires_grad:
                continue
            up = t.grad_fn
            if up is None or up.seq < start:
                found.setdefault(id(t), t)
            elif id(up) not in seen:
                seen.add(id(up))
                stack.append(up)
    return list(found.values())


class Checkpoint(Function):
    """The node ``checkpoint`` records: its inputs are what the segment read, its backward recomputes it."""

    @staticmethod
    def forward(ctx, *args):
        raise TypeError("Checkpoint is recorded by autodiff.checkpoint(fn, *args); it has no apply of its own")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Run the segment again with recording on, and backpropagate ``grad_outputs`` through it
        to the tensors it read (only through the new graph: the walk stops at ops older than it)."""
        boundary = ctx.saved_tensors  # version-checked: the recomputation must see the same values
        twice = ctx._twice
        start = next(sequence)
        with enable_grad():
            out = ctx._fn(*ctx._args, **ctx._kwargs)
        outs = out if type(out) is tuple else (out,)
        shapes = tuple(o.shape if isinstance(o, Tensor) else None for o in outs)
        if shapes != ctx._shapes:
            raise RuntimeError(
                f"checkpoint: recomputing {getattr(ctx._fn, '__name__', 'fn')} in backward gave outputs of shapes "
                f"{shapes}, the forward pass gave {ctx._shapes}: the checkpointed function must compute the "
                "same thing twice"
            )
        roots, root_grads = [], []
        for o, g, kind in zip(outs, grad_outputs, ctx._outputs):
            if kind is not None and kind[0] and g is not None and o.grad_fn is not None and o.grad_fn.seq > start:
                roots.append(o)
                root_grads.append(g if twice else g._data)
        if not roots:
            return (None,) * len(boundary)
        found = engine.run_backward(roots, root_grads, twice, twice, capture=list(boundary), since=start)
        return tuple(found)


node_class(Checkpoint).frees = ("_saved", "_fn", "_args", "_kwargs")  # released with the saved tensors
