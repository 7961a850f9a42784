"""Differentiable operations defined in user code: ``Function`` (PyTorch's ``torch.autograd.Function``).

A subclass defines two static methods, and is applied with ``apply``::

    class Cube(autodiff.Function):
        @staticmethod
        def forward(ctx, x):              # runs without recording, on Tensors
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):             # g = ∂L/∂output; one gradient per argument of forward
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    y = Cube.apply(x)                     # y.grad_fn: <CubeBackward>

``apply`` runs ``forward`` without recording. When a Tensor argument requires grad (in grad mode),
it records one node, named after the class, whose derivative rule is ``backward``. The node *is*
the ``ctx`` that forward and backward share, as in PyTorch: it is an ``ops.Op`` like every
built-in operation, so the engine, the checks of what rules return, ``create_graph``,
``gradcheck``, anomaly detection and graph drawing treat it as one.

A Function with several differentiable outputs records, besides its node, one small node per
output (drawn as ``Name [k]``): the engine keeps gradients per node, so each output's gradient is
filed with the running backward walk and ``backward`` gets them all at once, zeros for outputs
that received none (PyTorch's ``materialize_grads``).
"""

import functools
import inspect

import numpy as np

from . import anomaly, engine, ops
from .errors import (
    NON_TENSOR_GRADIENT,
    NUMPY_UNDER_CREATE_GRAPH,
    ONCE_DIFFERENTIABLE,
    SAVE_FOR_BACKWARD,
    SAVED_FREED,
    check_gradient,
    gradient_count,
)
from .grad_mode import _local, no_grad
from .history import MODIFIED_INPLACE
from .ops import array_math
from .tensor import Tensor
from .versions import sequence, version_counter

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_NOTHING = np.zeros(0)
_NOTHING.flags.writeable = False
"""The value of the tensor that stands for all outputs of a multi-output Function, and the
gradient each output's node sends it: the real gradients travel through the walk."""


class _SavedOutput:
    """An output saved for backward, kept as its array and version counter: the output tensor
    itself points to the node (its grad_fn), and the node must not point back (no reference cycles)."""

    __slots__ = ("index", "data", "counter", "version")

    def __init__(self, index, tensor):
        self.index, self.data = index, tensor._data
        self.counter = version_counter(tensor)
        self.version = self.counter[0]


class FunctionCtx(ops.Op):
    """The node one application of a ``Function`` records, and the ``ctx`` its forward and backward get.

    Besides what forward stores on it as attributes (``ctx.scale = 2``), it offers PyTorch's
    ``save_for_backward`` / ``saved_tensors``, ``needs_input_grad`` (one bool per argument of
    forward), ``mark_non_differentiable`` and ``set_materialize_grads``. The attribute names of
    ``ops.Op`` (``inputs``, ``name``, ``seq``...) belong to the engine.
    """

    __slots__ = ("_saved", "_positions", "_kinds", "_outputs", "_gathers", "_non_differentiable", "_materialize")
    __slots__ += ("_twice", "__dict__")  # __dict__: ctx.anything = ...

    fn_class = None  # the Function subclass
    saves_inputs = False  # what backward needs is in ctx.saved_tensors
    frees = ("_saved",)

    # -- what forward calls -------------------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (or None) for ``backward`` (``ctx.saved_tensors``). Changing one in place
        before backward is an error there, as for the values built-in operations save."""
        saved = []
        for i, t in enumerate(tensors):
            if t is None:
                saved.append(None)
            elif isinstance(t, Tensor):
                saved.append((t, t._vc[0]))
            else:
                raise TypeError(SAVE_FOR_BACKWARD.format(index=i, kind=type(t).__name__))
        self._saved = tuple(saved)

    def mark_non_differentiable(self, *tensors):
        """Declare outputs of forward (by identity) that get no gradient (indices, masks): they do
        not require grad, and backward gets zeros for them."""
        self._non_differentiable = self._non_differentiable + tuple(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        """With False, backward gets None instead of zeros for outputs that received no gradient."""
        self._materialize = bool(value)

    # -- what backward reads ----------------------------------------------------------------
    @property
    def saved_tensors(self):
        """The tensors ``save_for_backward`` kept, checked against in-place changes since."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(SAVED_FREED.format(node=repr(self)[1:-1]))
        result = []
        for i, item in enumerate(saved):
            if item is None:
                result.append(None)
                continue
            if type(item) is _SavedOutput:
                t, then, now = self._output_tensor(item), item.version, item.counter[0]
            else:
                t, then = item
                now = t._vc[0]
            if now != then:
                raise RuntimeError(
                    MODIFIED_INPLACE.format(
                        what=f"saved tensor {i}",
                        node=repr(self)[1:-1],
                        shape=t.shape,
                        dtype=t.dtype,
                        now=now,
                        then=then,
                    )
                )
            result.append(t)
        return tuple(result)

    def _output_tensor(self, item):
        """A tensor standing for saved output ``item.index``: under create_graph it has this
        node (or its output's node) as grad_fn, so differentiating backward again reaches it."""
        t = Tensor._wrap(item.data)
        t._vc = item.counter
        if self._twice:
            t.grad_fn = _output_node(self, item.index, _outputs_tensor(self)) if self._gathers else self
            t._requires_grad = True
        return t

    # -- the derivative rule the engine calls ------------------------------------------
    def vjp(self, xp, g, *xs, out):
        """Call ``backward`` with one gradient per output of forward; check what it returns."""
        twice = xp is not array_math
        backward = self.fn_class.backward
        if twice and getattr(backward, "once_differentiable", False):
            raise RuntimeError(ONCE_DIFFERENTIABLE.format(name=self.fn_class.__name__))
        grad_outputs = self._grad_outputs(g, twice)
        self._twice = twice
        try:
            result = backward(self, *grad_outputs)
        finally:
            self._twice = False
        return self._input_gradients(result, twice)

    def _grad_outputs(self, g, twice):
        filed = engine.current_walk().gathered.pop(self, {}) if self._gathers else None
        result = []
        for k, kind in enumerate(self._outputs):
            if kind is None:  # not a tensor: no gradient
                result.append(None)
                continue
            differentiable, shape, dtype = kind
            gk = (g if filed is None else filed.get(k)) if differentiable else None
            if gk is None:
                result.append(Tensor._wrap(np.zeros(shape, dtype)) if self._materialize else None)
            else:
                result.append(gk if twice else Tensor._wrap(gk))
        return result

    def _input_gradients(self, result, twice):
        """What backward returned: one gradient per argument of forward, checked; those of the Tensor
        arguments (``self.inputs``), as arrays (or Tensors under create_graph) for the engine."""
        if type(result) is not tuple:
            result = (result,)
        positions = self._positions
        if len(result) != len(positions):
            raise gradient_count(self, len(result), len(positions))
        grads = []
        for i, (gx, j) in enumerate(zip(result, positions)):
            if j < 0:
                if gx is not None:
                    raise RuntimeError(NON_TENSOR_GRADIENT.format(node=repr(self)[1:-1], index=i, kind=self._kinds[i]))
                continue
            if gx is None:
                grads.append(None)
                continue
            if isinstance(gx, Tensor):
                value = gx if twice else gx._data
            elif twice and isinstance(gx, (np.ndarray, np.generic)):
                raise RuntimeError(NUMPY_UNDER_CREATE_GRAPH.format(node=repr(self)[1:-1], index=i))
            else:
                value = gx
            grads.append(check_gradient(self, i, value, self.inputs[j]._data, Tensor if twice else np.ndarray))
        return tuple(grads)

    @property
    def params(self):
        """What forward stored on ctx that a drawing can show (not tensors or arrays)."""
        return {k: v for k, v in super().params.items() if not isinstance(v, Tensor)}


class _OutputNode(ops.Op):
    """The op of output ``index`` of a Function with several differentiable outputs: it files the
    gradient of its output with the running backward walk, for the Function's node to collect."""

    __slots__ = ("index",)
    saves_inputs = False

    def vjp(self, xp, g, *xs, out):
        node = self.inputs[0].grad_fn
        engine.current_walk().gathered.setdefault(node, {})[self.index] = g
        return _NOTHING if xp is array_math else Tensor._wrap(_NOTHING)


def _outputs_tensor(ctx):
    """A tensor standing for all the outputs of ``ctx`` (a Function with several), produced by it."""
    t = Tensor._wrap(_NOTHING)
    t.grad_fn, t._requires_grad, t.name = ctx, True, "outputs"
    return t


def _output_node(ctx, index, hidden):
    node = type(ctx)._output_class()
    node.index = index
    node.inputs, node.versions, node.needs_input_grad = (hidden,), (0,), (True,)
    node.seq, node.scope, node.released = next(sequence), ctx.scope, False
    node.saved, node.saved_output = (None,), None  # what vjp gets for its input: nothing
    return node


def node_class(cls):
    """The node class of Function ``cls``, named after it (repr ``<NameBackward>``), made once."""
    made = cls.__dict__.get("_node_class")
    if made is None:
        attrs = {"__slots__": (), "name": cls.__name__, "__module__": cls.__module__}
        made = type(cls.__name__, (FunctionCtx,), dict(attrs, fn_class=cls))
        made._output_class = type(cls.__name__, (_OutputNode,), attrs)
        cls._node_class = made
    return made


def new_ctx(cls, needs_input_grad):
    """A fresh ``ctx`` for an application of Function ``cls``."""
    ctx = node_class(cls)()
    ctx._saved, ctx._non_differentiable, ctx._materialize, ctx._twice = (), (), True, False
    ctx.needs_input_grad = needs_input_grad
    return ctx


def _as_output(o):
    return Tensor._wrap(o) if type(o) is np.ndarray else o


def connect(ctx, args, out, foreign=()):
    """Record ``ctx`` as the grad_fn of the differentiable tensors of ``out`` (forward's result) with
    the Tensors among ``args`` as its inputs; returns ``out`` as the caller gets it.

    Outputs that are inputs, repeated or already in a graph become new tensors sharing their data
    (an output must be made by this node). Tensors whose id is in ``foreign`` are returned as they
    are and get no gradient. Saved outputs are turned into ``_SavedOutput``.
    """
    single = type(out) is not tuple
    outs = [_as_output(o) for o in ((out,) if single else out)]
    inputs = tuple(a for a in args if isinstance(a, Tensor))
    input_ids = {id(a) for a in inputs}
    marked = set(ctx._non_differentiable)
    kinds, differentiable, made, seen = [], [], {}, set()
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor) or id(o) in foreign:
            kinds.append(None)
            continue
        if id(o) in marked or o.dtype.kind != "f":
            kinds.append((False, o.shape, o.dtype))
            continue
        original = o
        if id(o) in input_ids or id(o) in seen or o.grad_fn is not None or o._requires_grad:
            o = outs[k] = Tensor._wrap(o._data)
            o._vc = version_counter(original)
        if id(original) not in input_ids:
            made.setdefault(id(original), k)
        seen.add(id(original))
        kinds.append((True, o.shape, o.dtype))
        differentiable.append(k)
    if not differentiable:
        return outs[0] if single else tuple(outs)

    state = _local.state
    ctx.inputs = inputs
    ctx.versions = tuple([t._vc[0] for t in inputs])
    ctx.seq, ctx.scope, ctx.released = next(sequence), state.scope, False
    ctx.saved, ctx.saved_output = (None,) * len(inputs), None  # backward reads ctx.saved_tensors instead
    ctx._positions = tuple(_positions(args))
    ctx._kinds = tuple("Tensor" if isinstance(a, Tensor) else type(a).__name__ for a in args)
    ctx._outputs, ctx._gathers = tuple(kinds), len(differentiable) > 1
    ctx._saved = tuple(
        _SavedOutput(made[id(item[0])], outs[made[id(item[0])]]) if item is not None and id(item[0]) in made else item
        for item in ctx._saved
    )
    if state.anomaly:
        ctx.created_at = anomaly.user_stack()
    if ctx._gathers:
        hidden = _outputs_tensor(ctx)
        for k in differentiable:
            outs[k].grad_fn, outs[k]._requires_grad = _output_node(ctx, k, hidden), True
    else:
        o = outs[differentiable[0]]
        o.grad_fn, o._requires_grad = ctx, True
    return outs[0] if single else tuple(outs)


def _positions(args):
    """For each argument of forward: its index among the Tensor arguments (the node's inputs), or −1."""
    n = 0
    for a in args:
        if isinstance(a, Tensor):
            yield n
            n += 1
        else:
            yield -1


def _bind(cls, args, kwargs):
    """Keyword arguments of ``apply`` bound to forward's parameters: the positional ones join ``args``
    (backward returns a gradient for each), keyword-only ones stay keywords (no gradient)."""
    forward = cls.forward
    takes_ctx = cls.setup_context is Function.setup_context
    bound = inspect.signature(forward).bind(*(((None,) if takes_ctx else ()) + args), **kwargs)
    bound.apply_defaults()
    return bound.args[1 if takes_ctx else 0 :], bound.kwargs


class Function:
    """Base class of differentiable operations written in user code (PyTorch's ``torch.autograd.Function``).

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods and are applied as ``MyFunction.apply(*args)``:

    * ``forward`` gets the arguments as given (Tensors stay Tensors) and runs without recording;
      it returns a Tensor (numpy arrays become Tensors) or a tuple of them. Its floating-point
      outputs require grad when a Tensor argument does, with a ``grad_fn`` named after the class.
    * ``backward`` gets one Tensor per output of forward, ∂L/∂output (zeros for outputs that
      got no gradient and for non-differentiable ones), and returns one gradient per argument of
      forward: None for non-Tensors and for inputs that need none (``ctx.needs_input_grad``). A
      gradient may have the shape of a broadcast of its input: it is summed back. A wrong count,
      a shape that cannot be summed back or something that is not numbers is an error naming the
      Function, the argument's index and the shapes, and nothing is stored into any ``.grad``.
    * Under ``create_graph=True`` backward runs with recording on, so a backward written with
      autodiff operations can be differentiated again (``gradgradcheck`` passes); decorate one
      written with raw numpy with ``@once_differentiable``.

    PyTorch's newer style works too: ``forward(*args)`` without ctx, plus
    ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        """The operation's value, computed from the arguments (recording is off)."""
        raise NotImplementedError("a Function subclass defines forward(ctx, *args) as a @staticmethod")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """One gradient per argument of forward, from one ∂L/∂output per output of forward."""
        raise NotImplementedError("a Function subclass defines backward(ctx, *grad_outputs) as a @staticmethod")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Newer PyTorch style: fill ``ctx`` here, and define ``forward(*args)`` without ctx."""

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and record the application for backward when a Tensor argument requires grad."""
        if kwargs:
            args, kwargs = _bind(cls, args, kwargs)
        enabled = _local.state.enabled
        ctx = new_ctx(cls, tuple([enabled and isinstance(a, Tensor) and a._requires_grad for a in args]))
        with no_grad():
            if cls.setup_context is Function.setup_context:
                out = cls.forward(ctx, *args, **kwargs)
            else:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
        if True not in ctx.needs_input_grad:
            return _as_output(out) if type(out) is not tuple else tuple(_as_output(o) for o in out)
        return connect(ctx, args, out)


def once_differentiable(backward):
    """Decorator for a ``backward`` that cannot be differentiated again (e.g. written with numpy):
    ``create_graph=True`` through it is then an error naming the Function, not silently wrong
    second derivatives (PyTorch's ``torch.autograd.function.once_differentiable``).

    Put it under ``@staticmethod``.
    """

    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with no_grad():
            return backward(ctx, *grad_outputs)

    wrapper.once_differentiable = True
    return wrapper
