"""Gradient hooks: functions that see, or replace, a tensor's gradient during backward (PyTorch's
``Tensor.register_hook``).

``t.register_hook(fn)`` returns a handle; ``handle.remove()`` takes the hook away. During backward
``fn(grad)`` gets ∂L/∂t as a Tensor once it is complete (summed over every path) and returns None
to keep it or a Tensor of t's shape to replace it: for an intermediate tensor before the gradient
flows on to what produced t, for a leaf before it is added into ``t.grad``. Several hooks on one
tensor run in the order they were registered, each getting what the previous one returned.

A hook belongs to t's value when it was registered: after a recorded in-place change of t it
still sees the gradient of the old value (as in PyTorch). A tensor holds its hooks, and this
registry points to them weakly, keyed by the tensor's id: a backward pass looks at the registry
once, finds it empty, and pays nothing more; and a hook that refers to its own tensor (``h``'s hook
printing ``h.shape``) is a cycle the garbage collector frees with the tensor, not a tensor kept
alive by a module's dict.
"""

import itertools
import weakref

import numpy as np

from .collector import track_graph
from .tensor import Tensor

registry = {}
"""id(tensor) -> weak reference to its _Hooks, for the living tensors that have hooks. Empty: backward
does nothing for hooks."""

_order = itertools.count()  # hooks run in registration order, also across tensors sharing an op


class RemovableHandle:
    """What registering a hook returns: ``handle.remove()`` unregisters it (PyTorch's
    ``torch.utils.hooks.RemovableHandle``). Also a context manager that removes the hook on exit."""

    __slots__ = ("hooks", "id", "_emptied")

    def __init__(self, hooks, key, emptied=None):
        self.hooks, self.id, self._emptied = hooks, key, emptied

    def remove(self):
        """Unregister the hook (again: nothing happens)."""
        if self.hooks.pop(self.id, None) is not None and not self.hooks and self._emptied is not None:
            self._emptied()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle {self.id}{'' if self.id in self.hooks else ' (removed)'}>"


class _Hooks:
    """One tensor's hooks (``tensor._hooks``): {order: (fn, weak reference to the op the tensor's value came
    from, or None)}, in ``registry`` while there are some."""

    __slots__ = ("ref", "fns", "key", "entry", "__weakref__")

    def __init__(self, tensor):
        self.key = key = id(tensor)
        self.fns = {}
        self.entry = entry = weakref.ref(self, lambda entry: _unregister(key, entry))  # dies with the tensor
        self.ref = weakref.ref(tensor, lambda _: _unregister(key, entry))  # (or before it, a handle kept)
        registry[key] = entry

    def emptied(self):
        _unregister(self.key, self.entry)


def _unregister(key, entry):
    if registry.get(key) is entry:  # (the id may be another tensor's by now)
        del registry[key]


def register_hook(self, hook):
    """Call ``hook(grad)`` with ∂L/∂self during every backward pass that reaches this tensor.

    ``hook`` returns None (the gradient flows on unchanged) or a replacement: a Tensor (or
    array) of this tensor's shape. On a leaf the hook runs before the gradient is added into
    ``.grad``; on an intermediate before the gradient flows on to what produced it, so a
    replacement changes every gradient downstream. The grad a hook gets is read-only (return
    a new tensor instead of changing it in place). Returns a handle: ``handle.remove()``.

    >>> h = x * 2
    >>> handle = h.register_hook(lambda g: g.clip(-1, 1))   # clip the gradient in flight
    """
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if not callable(hook):
        raise TypeError(f"register_hook needs a function of the gradient, got {type(hook).__name__}")
    entry = getattr(self, "_hooks", None)
    if entry is None:
        entry = self._hooks = _Hooks(self)
        track_graph([self])  # a Value's chain may be off the collector's list: a hook on it may close a cycle
    elif registry.get(entry.key) is not entry.entry:  # every hook was removed: in the registry again
        registry[entry.key] = entry.entry
    node = self.grad_fn
    key = next(_order)
    entry.fns[key] = (hook, None if node is None else weakref.ref(node))
    return RemovableHandle(entry.fns, key, entry.emptied)


def for_walk(since=0):
    """The hooks a backward walk runs: ({op: [hook, ...]} for intermediates, keyed by the op whose
    output gradient they see, and {id(leaf): (leaf, [hook, ...])}), each list in registration order.

    A walk restricted to the ops created after ``since`` (``autodiff.checkpoint``'s recomputation,
    which runs inside another walk) runs only the hooks of the tensors it made itself: the
    enclosing walk runs the others, once.
    """
    nodes, leaves = {}, {}
    for ref in list(registry.values()):
        entry = ref()
        tensor = None if entry is None else entry.ref()
        if tensor is None:
            continue
        for key, (fn, node_ref) in entry.fns.items():
            if node_ref is None:
                if not since:
                    leaves.setdefault(id(tensor), (tensor, []))[1].append((key, fn))
                continue
            node = node_ref()
            if node is not None and node.seq > since:
                nodes.setdefault(node, []).append((key, fn))
    return (
        {node: _in_order(pairs) for node, pairs in nodes.items()},
        {key: (tensor, _in_order(pairs)) for key, (tensor, pairs) in leaves.items()},
    )


def _in_order(pairs):
    return [fn for _, fn in sorted(pairs, key=_first)]


def _first(pair):
    return pair[0]


def run(fns, g, create_graph):
    """``g`` passed through the hooks ``fns`` in order; each may return a replacement of g's shape."""
    for fn in fns:
        if create_graph:
            result = fn(g)
        else:
            view = g.view()
            view.flags.writeable = False  # g may be shared with other paths of the graph
            result = fn(Tensor._wrap(view))
        if result is not None:
            g = _replacement(fn, result, g, create_graph)
    return g


def _replacement(fn, result, g, create_graph):
    """What a hook returned, checked to stand for ``g``: same shape, cast to g's dtype."""
    name = getattr(fn, "__name__", type(fn).__name__)
    if isinstance(result, Tensor):
        value = result._data
    elif isinstance(result, (np.ndarray, np.generic)):
        value = np.asarray(result)
    else:
        raise TypeError(
            f"hook '{name}' returned {type(result).__name__}: a hook returns None (keep the gradient) or a "
            f"Tensor of the gradient's shape {tuple(g.shape)}"
        )
    if value.dtype.kind not in "biuf":
        raise TypeError(f"hook '{name}' returned dtype {value.dtype}: gradients are real numbers")
    if value.shape != tuple(g.shape):
        raise RuntimeError(
            f"hook '{name}' has changed the size of value: the gradient has shape {tuple(g.shape)}, "
            f"the hook returned shape {value.shape}"
        )
    if not create_graph:
        return value if value.dtype == g.dtype else value.astype(g.dtype)
    if not isinstance(result, Tensor):
        result = Tensor._wrap(value)
    return result if result.dtype == g.dtype else result.astype(g.dtype)


Tensor.register_hook = register_hook
