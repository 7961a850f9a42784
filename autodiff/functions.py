"""Differentiable functions on tensors: the primitives of :mod:`autodiff.ops` and compositions of them.

Every function takes Tensors, numpy arrays or Python numbers and returns a
Tensor. A Python number next to a tensor takes the tensor's dtype, so a float32
tensor stays float32. Array things use numpy's names (``axis``, ``keepdims``).
"""

import builtins
import math
import operator

import numpy as np

from . import (
    engine,  # as a module: the engine may still be loading when this module is (import order is free)
    ops,
)
from .errors import opaque as _opaque
from .tensor import Constant, Tensor, _raw, comparison, normalize_index
from .versions import version_counter as _version_counter

_NUMBER = (bool, int, float, np.bool_, np.number)


def as_tensor(x, like=None):
    """``x`` as a Tensor without copying when it already is one; a number takes ``like``'s dtype when it can."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, _NUMBER):
        return constant(x, like)
    return Tensor._wrap(_array(x))


def _array(x):
    """np.asarray(x); what numpy can keep only as Python objects (ragged lists, None, huge ints) becomes an
    object array of ``errors.Opaque``, which the op then refuses by name (see engine.apply)."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError, OverflowError):
        return _opaque(x)
    return _opaque(array) if array.dtype == object else array


_CONSTANTS = {}  # (value, type, dtype char of the tensor next to it) -> Constant
_MAX_CONSTANTS = 4096


def constant(value, like):
    """The number ``value`` as a 0-d tensor of the dtype numpy gives ``like``'s data op ``value``
    (a float32 tensor times 0.5 stays float32). Cached: loops reuse their constants."""
    key = (value, type(value), like._data.dtype.char)
    c = _CONSTANTS.get(key)
    if c is None:
        number = value.item() if isinstance(value, np.generic) else value
        try:
            array = np.asarray(number, dtype=ops.weak_result_type(like._data.dtype, number))
        except OverflowError:  # no numpy number holds it: the op refuses it by name
            return Tensor._wrap(_array(number).astype(object))
        array.flags.writeable = False
        c = Tensor._wrap(array)
        c.__class__ = Constant
        if value != 0 and value == value:  # as dict keys -0.0 == 0.0 and nan != nan: not cached
            if len(_CONSTANTS) >= _MAX_CONSTANTS:
                _CONSTANTS.clear()
            _CONSTANTS[key] = c
    return c


def operand(value, like):
    """``value`` as a Tensor to combine with the tensor ``like`` (the operators' fast path to ``as_tensor``)."""
    try:
        c = _CONSTANTS.get((value, type(value), like._data.dtype.char))
    except TypeError:  # unhashable: a list or an array
        c = None
    return c if c is not None else as_tensor(value, like)


def _operands(x, y):
    if isinstance(x, Tensor):
        return x, (y if isinstance(y, Tensor) else operand(y, x))
    if isinstance(y, Tensor):
        return operand(x, y), y
    return as_tensor(x), as_tensor(y)


def _shares_version(result, x):
    """A result that is a numpy view of ``x`` shares its version counter, so in-place writes through either are seen."""
    if np.may_share_memory(result._data, x._data):
        result._vc = _version_counter(x)
    return result


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _reduction_axis(x, axis, name):
    """``axis`` checked against x: None, an int or a tuple of distinct ints in [−ndim, ndim).

    A 0-d tensor takes 0 or −1 and reduces over nothing (as PyTorch does).
    """
    if axis is None:
        return None
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    bound, seen = builtins.max(x.ndim, 1), set()
    for a in items:
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
        if not -bound <= a < bound:
            raise ValueError(f"{name}: axis {a} is out of bounds for a tensor of shape {x.shape}")
        if a % bound in seen:
            raise ValueError(f"{name}: axis {a % bound} is repeated in {axis!r}")
        seen.add(a % bound)
    if x.ndim == 0:
        return None
    return tuple(int(a) for a in items) if isinstance(axis, (tuple, list)) else int(axis)


# --------------------------------------------------------------------------- arithmetic


# --------------------------------------------------------------------------- elementwise


def sign(x):
    """−1, 0 or +1 elementwise. Piecewise constant, so outside the graph (its gradient is 0)."""
    return Tensor._wrap(np.sign(_raw(x)))


def clip(x, min=None, max=None):
    """x limited to [min, max] (numbers; None for no bound). The gradient passes inside the closed interval."""
    for what, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, _NUMBER):
            raise TypeError(f"clip: {what} must be a number or None, got {type(bound).__name__}")
    return engine.apply1(ops.Clip, as_tensor(x), lo=min, hi=max)


def where(condition, x, y):
    """x where ``condition`` holds, else y (broadcasting). The condition is not differentiated."""
    try:  # a copy: changing the condition later must not change a gradient
        cond = np.array(_raw(condition), dtype=bool)
    except (ValueError, TypeError) as error:
        raise TypeError(f"where: the condition must be booleans, got {type(condition).__name__} ({error})") from None
    return engine.apply(ops.Where, *_operands(x, y), cond=cond)


def astype(x, dtype):
    """x converted to ``dtype`` (differentiable between float types)."""
    return engine.apply1(ops.Cast, as_tensor(x), dtype=dtype)


# --------------------------------------------------------------------------- reductions


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    x = as_tensor(x)
    return engine.apply1(ops.Sum, x, axis=_reduction_axis(x, axis, "sum"), keepdims=keepdims)


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in axes)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (nan for nothing, as numpy)."""
    x = as_tensor(x)
    axis = _reduction_axis(x, axis, "mean")
    return sum(x, axis, keepdims) * _reciprocal(_count(x.shape, axis))


def _reciprocal(n):
    """1/n, and inf for n ≤ 0, so that a sum over nothing becomes nan (numpy warns and does the same)."""
    return 1.0 / n if n > 0 else math.inf


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over ``axis``: Σ(x − mean)² / (n − ddof). numpy's default ddof=0 (PyTorch's is 1)."""
    x = as_tensor(x)
    if x.dtype.kind == "c":
        raise TypeError("var of a complex tensor is not supported (autodiff works with real numbers)")
    axis = _reduction_axis(x, axis, "var")
    d = x - mean(x, axis, keepdims=True)
    return sum(d * d, axis, keepdims) * _reciprocal(_count(x.shape, axis) - ddof)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    x = as_tensor(x)
    return engine.apply1(ops.Max, x, axis=_reduction_axis(x, axis, "max"), keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    x = as_tensor(x)
    return engine.apply1(ops.Min, x, axis=_reduction_axis(x, axis, "min"), keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (an integer tensor, outside the graph)."""
    return Tensor._wrap(np.asarray(np.argmax(_raw(x), axis=axis, keepdims=keepdims)))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (an integer tensor, outside the graph)."""
    return Tensor._wrap(np.asarray(np.argmin(_raw(x), axis=axis, keepdims=keepdims)))


def logsumexp(x, axis=None, keepdims=False):
    """ln Σ eˣ over ``axis``, stable for large and small inputs."""
    x = as_tensor(x)
    return engine.apply1(ops.LogSumExp, x, axis=_reduction_axis(x, axis, "logsumexp"), keepdims=keepdims)


def softmax(x, axis=-1):
    """e^xᵢ / Σⱼ e^xⱼ along ``axis`` (default: the last), stable for large inputs."""
    return engine.apply1(ops.Softmax, as_tensor(x), axis=axis)


def linear(x, weight, bias=None):
    """x Wᵀ + b for x of shape (..., in), W of shape (out, in) and b of shape (out,), as one op."""
    x, weight = as_tensor(x), as_tensor(weight)
    if bias is None:
        return engine.apply(ops.Linear, x, weight)
    return engine.apply(ops.Linear, x, weight, as_tensor(bias))


def cross_entropy(logits, labels, reduction="none"):
    """−log softmax(logits)[label] per row, for logits (N, C) and integer labels (N,) in [0, C);
    ``reduction="mean"`` or ``"sum"`` reduces the rows inside the op (one node, no extra ops).

    The labels are not checked here (``nn.functional.cross_entropy`` checks them).
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return engine.apply1(ops.CrossEntropy, as_tensor(logits), labels=np.asarray(labels), reduction=reduction)


def log_softmax(x, axis=-1):
    """xᵢ − ln Σⱼ e^xⱼ along ``axis`` (default: the last), stable for large inputs."""
    return engine.apply1(ops.LogSoftmax, as_tensor(x), axis=axis)


# --------------------------------------------------------------------------- shape


def reshape(x, shape):
    """x with a new shape (one axis may be -1)."""
    x = as_tensor(x)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return _shares_version(engine.apply1(ops.Reshape, x, shape=shape), x)


def transpose(x, axes=None):
    """x with its axes permuted (reversed when ``axes`` is None)."""
    x = as_tensor(x)
    return _shares_version(engine.apply1(ops.Transpose, x, axes=axes), x)


def swapaxes(x, axis1, axis2):
    """x with two axes exchanged."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    try:
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    except (IndexError, TypeError) as error:
        raise (ValueError if isinstance(error, IndexError) else TypeError)(
            f"swapaxes of shape {x.shape}: axes {axis1!r} and {axis2!r} must be ints in [{-x.ndim}, {x.ndim})"
        ) from None
    return transpose(x, axes)


def _dummy(shape):
    return np.broadcast_to(np.empty((), dtype=bool), shape)


def expand_dims(x, axis):
    """x with new length-1 axes inserted at ``axis``."""
    x = as_tensor(x)
    try:
        shape = np.expand_dims(_dummy(x.shape), _axis(axis)).shape
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        kind = ValueError if isinstance(error, OverflowError) else type(error)
        raise kind(f"expand_dims of shape {x.shape} at axis {axis!r}: {error}") from None
    return reshape(x, shape)


def squeeze(x, axis=None):
    """x without its length-1 axes (or only those in ``axis``)."""
    x = as_tensor(x)
    try:
        shape = np.squeeze(_dummy(x.shape), _axis(axis)).shape
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        kind = ValueError if isinstance(error, OverflowError) else type(error)
        raise kind(f"squeeze of shape {x.shape} at axis {axis!r}: {error}") from None
    return reshape(x, shape)


def flatten(x):
    """x as a 1-d tensor."""
    return reshape(x, (-1,))


def broadcast_to(x, shape):
    """x broadcast to ``shape`` (a read-only view)."""
    x = as_tensor(x)
    return _shares_version(engine.apply1(ops.BroadcastTo, x, shape=_shape(shape, "broadcast_to")), x)


def _shape(shape, name):
    try:
        return tuple(operator.index(n) for n in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except TypeError:
        raise TypeError(f"{name}: shape must be an int or a tuple of ints, got {shape!r}") from None


def sum_to(x, shape):
    """x summed down to ``shape``: what undoes broadcasting."""
    x = as_tensor(x)
    if x.shape == tuple(shape):
        return x
    return engine.apply1(ops.SumTo, x, shape=tuple(shape))


def getitem(x, index):
    """x[index] for ints, slices, None, Ellipsis, boolean masks and integer arrays."""
    x, index = as_tensor(x), normalize_index(index)
    result = engine.apply1(ops.GetItem, x, index=index)
    return _shares_version(result, x) if ops.is_basic_index(index) else result


def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    return engine.apply1(ops.ScatterAdd, as_tensor(g), index=normalize_index(index), shape=tuple(shape))


def setitem(x, index, value):
    """A copy of x with ``[index] = value``: the out-of-place form of ``x[index] = value``."""
    x = as_tensor(x)
    value = as_tensor(value, x)
    return engine.apply(ops.SetItem, x, value, index=normalize_index(index))


def concatenate(tensors, axis=0):
    """Tensors joined along an existing axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    return engine.apply(ops.Concatenate, *tensors, axis=axis)


def stack(tensors, axis=0):
    """Tensors of one shape joined along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = tensors[0].ndim
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"stack: axis must be an int, got {axis!r}") from None
    if not -ndim - 1 <= axis <= ndim:
        raise ValueError(f"stack: axis {axis} is out of bounds for tensors of shape {tensors[0].shape}")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


# --------------------------------------------------------------------------- creation


def tensor(data, requires_grad=False, dtype=None, name=None):
    """A new Tensor holding a copy of ``data`` (PyTorch's ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array):
    """A Tensor sharing memory with ``array``."""
    return Tensor._wrap(np.asarray(array))


def zeros(shape, dtype=np.float64, requires_grad=False):
    """A tensor of zeros."""
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(shape, dtype=np.float64, requires_grad=False):
    """A tensor of ones."""
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def full(shape, fill_value, dtype=np.float64, requires_grad=False):
    """A tensor filled with ``fill_value``."""
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False):
    """Zeros with x's shape (and dtype unless given)."""
    return Tensor(np.zeros_like(_raw(x), dtype=dtype), requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    """Ones with x's shape (and dtype unless given)."""
    return Tensor(np.ones_like(_raw(x), dtype=dtype), requires_grad=requires_grad)


def arange(*args, dtype=None, requires_grad=False):
    """Evenly spaced values, as ``np.arange``."""
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)


def linspace(start, stop, num=50, dtype=None, requires_grad=False):
    """``num`` evenly spaced values from start to stop, as ``np.linspace``."""
    return Tensor(np.linspace(start, stop, num, dtype=dtype), requires_grad=requires_grad)


def eye(n, m=None, dtype=np.float64, requires_grad=False):
    """The identity matrix."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


# --------------------------------------------------------------------------- made from the catalogue


def _made_from(op):
    """autodiff's function for a catalogue entry whose forward takes only arrays: f(x) or f(x, y)."""
    code = op.forward.__code__
    if op.forward.__defaults__ or code.co_flags & 0x0C or code.co_argcount not in (2, 3):
        raise TypeError(f"ops.{op.__name__} takes parameters: write autodiff.functions.{op.function} by hand")
    if code.co_argcount == 2:

        def function(x):
            return engine.apply1(op, as_tensor(x))
    else:

        def function(x, y):
            return engine.apply2(op, *_operands(x, y))

    function.__name__ = function.__qualname__ = op.function
    function.__doc__, function.__module__ = op.__doc__, __name__
    return function


for _op in ops.CATALOGUE:  # entries with a function not written above
    if _op.function is not None and _op.function not in globals():
        globals()[_op.function] = _made_from(_op)
del _op

COMPOSED_METHODS = ("mean", "var", "argmax", "argmin", "swapaxes", "expand_dims", "squeeze", "flatten")
METHODS = tuple(op.function for op in ops.CATALOGUE if op.method) + COMPOSED_METHODS
"""The functions that are Tensor methods too: ``x.exp()`` is ``autodiff.exp(x)`` (attached by autodiff.methods)."""

UFUNCS = {op.ufunc: globals()[op.function] for op in ops.CATALOGUE if op.ufunc is not None}
"""numpy's ufuncs that ``np.exp(t)``, ``array * t``... dispatch to (``Tensor.__array_ufunc__``)."""
UFUNCS[np.sign] = sign
UFUNCS.update(
    {u: comparison(u) for u in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)}
)

__all__ = [
    name
    for name in dir()
    if not name.startswith("_")
    and name
    not in (
        "builtins",
        "math",
        "operator",
        "np",
        "ops",
        "engine",
        "Tensor",
        "Constant",
        "normalize_index",
        "constant",
        "operand",
        "comparison",
        "UFUNCS",
        "METHODS",
        "COMPOSED_METHODS",
    )
]
