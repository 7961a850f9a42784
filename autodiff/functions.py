"""Differentiable functions on tensors: the primitives of :mod:`autodiff.ops` and compositions of them.

Every function takes Tensors, numpy arrays or Python numbers and returns a
Tensor. A Python number next to a tensor takes the tensor's dtype, so a float32
tensor stays float32. Array things use numpy's names (``axis``, ``keepdims``).
"""

import builtins
import collections
import math
import operator

import numpy as np

from . import (
    deferred,
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


def pow(input, exponent):
    """xʸ elementwise (``x ** y``).   ∂/∂x = y xʸ⁻¹,  ∂/∂y = xʸ ln x  (taken as 0 where x = 0, as PyTorch does).

    A big float ``x ** 2`` (d2l's penalty ``(w ** 2).sum() / 2``) is made when read, as big products are
    (``autodiff.deferred``): summed whole, it is ⟨x, x⟩, and the square is never made.
    """
    x, y = _operands(input, exponent)
    if x._data.size >= deferred.FROM_ELEMENTS and deferred.squares(x, y):
        return deferred.later(engine.apply2(deferred.LaterSquare, x, y), x, x, y)
    return engine.apply2(ops.Pow, x, y)


def astype(x, dtype):
    """x converted to ``dtype`` (differentiable between float types)."""
    return engine.apply1(ops.Cast, as_tensor(x), dtype=dtype)


# --------------------------------------------------------------------------- reductions
# Reductions take numpy's axis/keepdims or PyTorch's dim/keepdim: the same arguments, spelled two ways.


def _spelling(name, axis, dim, keepdims=False, keepdim=None, default=None):
    """``axis`` and ``keepdims`` given in numpy's spelling or in PyTorch's (``dim``, ``keepdim``), not both."""
    if dim is not None:
        if axis != default:
            raise TypeError(f"{name}: got both axis= and dim= (dim is PyTorch's name for numpy's axis); give one")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError(f"{name}: got both keepdims= and keepdim= (PyTorch's name for it); give one")
        keepdims = keepdim
    return axis, keepdims


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over ``axis`` (int, tuple or None for all)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("sum", axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    return _summed(ops.Sum, x, _reduction_axis(x, axis, "sum"), keepdims)


def _summed(op, x, axis, keepdims):
    """``op`` (Sum or Mean) of x over the checked ``axis``; over every axis of a product not made, such as
    ``(W * W).sum()``, the op reads ⟨W, W⟩ and W * W is never made (``deferred.summand``)."""
    if axis is None and type(x) is deferred.Deferred:
        summand = deferred.summand(x)
        if summand is not None:
            return engine.apply1(op, x, _array=summand, axis=None, keepdims=keepdims)
    return engine.apply1(op, x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Mean over ``axis`` (nan for nothing, as numpy)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("mean", axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    return _summed(ops.Mean, x, _reduction_axis(x, axis, "mean"), keepdims)


def _ddof(name, ddof, correction, unbiased, dim):
    """The ddof of var/std from numpy's ``ddof``, numpy 2's and PyTorch's ``correction`` or PyTorch's ``unbiased``."""
    given = [v for v in (ddof, correction, unbiased) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of ddof=, correction= and unbiased= (they all set the divisor n − ddof)")
    if unbiased is not None:
        return int(bool(unbiased))
    if given:
        return given[0]
    if dim is not None:
        raise TypeError(
            f"{name}: with PyTorch's dim= say which divisor you mean: PyTorch's {name} divides by n − 1 "
            f"(correction=1) and numpy's by n (ddof=0); pass ddof=, correction= or unbiased="
        )
    return 0


def var(x, axis=None, ddof=None, keepdims=False, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """Variance over ``axis``: Σ(x − mean)² / (n − ddof), numpy's default ddof=0 (PyTorch's is 1).

    ``correction`` (numpy 2's and PyTorch's name) is ddof, ``unbiased=True`` is ddof=1. With PyTorch's
    ``dim=`` one of them must be given: a ported ``x.var(dim=0)`` would otherwise divide by n, not n − 1.
    """
    ddof = _ddof("var", ddof, correction, unbiased, dim)
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("var", axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    if x.dtype.kind == "c":
        raise TypeError("var of a complex tensor is not supported (autodiff works with real numbers)")
    axis = _reduction_axis(x, axis, "var")
    d = x - mean(x, axis, keepdims=True)
    return sum(d * d, axis, keepdims) * ops.mean_scale(x.shape, axis, ddof)


def std(x, axis=None, ddof=None, keepdims=False, *, dim=None, keepdim=None, correction=None, unbiased=None):
    """Standard deviation √var over ``axis`` (ddof as in ``var``: numpy's default 0, PyTorch's 1)."""
    ddof = _ddof("std", ddof, correction, unbiased, dim)
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("std", axis, dim, keepdims, keepdim)
    return var(x, axis, ddof, keepdims).sqrt()


_ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
"""What ``max``/``min`` return for PyTorch's ``dim=``: the values and their indices (``torch.return_types.max``)."""


def _extremum(name, op, pick, x, axis, keepdims, dim, keepdim):
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling(name, axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    values = engine.apply1(op, x, axis=_reduction_axis(x, axis, name), keepdims=keepdims)
    if dim is None:
        return values
    if isinstance(dim, (tuple, list)):
        raise TypeError(
            f"{name}: dim= must be one int (PyTorch's {name}(dim=...) gives values and indices along one axis)"
        )
    return _ValuesIndices(values, pick(x, dim, keepdims))


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Maximum over ``axis``; tied maxima share the gradient evenly.

    With PyTorch's ``dim=`` the result is PyTorch's pair ``(values, indices)``.
    """
    return _extremum("max", ops.Max, argmax, x, axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Minimum over ``axis``; tied minima share the gradient evenly.

    With PyTorch's ``dim=`` the result is PyTorch's pair ``(values, indices)``.
    """
    return _extremum("min", ops.Min, argmin, x, axis, keepdims, dim, keepdim)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the maximum (an integer tensor, outside the graph)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("argmax", axis, dim, keepdims, keepdim)
    return Tensor._wrap(np.asarray(np.argmax(_raw(x), axis=axis, keepdims=keepdims)))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the minimum (an integer tensor, outside the graph)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("argmin", axis, dim, keepdims, keepdim)
    return Tensor._wrap(np.asarray(np.argmin(_raw(x), axis=axis, keepdims=keepdims)))


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Product over ``axis``; its gradient is exact where elements are 0."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("prod", axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    return engine.apply1(ops.Prod, x, axis=_reduction_axis(x, axis, "prod"), keepdims=keepdims)


def cumsum(x, axis=None, *, dim=None):
    """Running sums along ``axis`` (numpy's default None: of the flattened tensor)."""
    if dim is not None:
        axis, _ = _spelling("cumsum", axis, dim)
    x = as_tensor(x)
    if axis is None:
        return engine.apply1(ops.Cumsum, reshape(x, (-1,)), axis=0)
    if isinstance(axis, (tuple, list)):
        raise TypeError(f"cumsum: axis must be one int, got {axis!r}")
    axis = _reduction_axis(x, axis, "cumsum")
    if axis is None:  # a 0-d tensor: its own running sum
        return x + 0
    return engine.apply1(ops.Cumsum, x, axis=axis)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """ln Σ eˣ over ``axis``, stable for large and small inputs."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _spelling("logsumexp", axis, dim, keepdims, keepdim)
    x = as_tensor(x)
    return engine.apply1(ops.LogSumExp, x, axis=_reduction_axis(x, axis, "logsumexp"), keepdims=keepdims)


def softmax(x, axis=-1, *, dim=None):
    """e^xᵢ / Σⱼ e^xⱼ along ``axis`` (default: the last), stable for large inputs."""
    if dim is not None:
        axis, _ = _spelling("softmax", axis, dim, default=-1)
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


def log_softmax(x, axis=-1, *, dim=None):
    """xᵢ − ln Σⱼ e^xⱼ along ``axis`` (default: the last), stable for large inputs."""
    if dim is not None:
        axis, _ = _spelling("log_softmax", axis, dim, default=-1)
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
    result = engine.apply1(ops.Transpose, x, axes=axes)
    result._vc = _version_counter(x)  # always a view: in-place writes through either are seen by both
    return result


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


def squeeze(x, axis=None, *, dim=None):
    """x without its length-1 axes (or only those in ``axis``)."""
    if dim is not None:
        axis, _ = _spelling("squeeze", axis, dim)
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


def concatenate(tensors, axis=0, *, dim=None):
    """Tensors joined along an existing axis."""
    if dim is not None:
        axis, _ = _spelling("concatenate", axis, dim, default=0)
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    return engine.apply(ops.Concatenate, *tensors, axis=axis)


def sum_of_squares(tensors):
    """Σ x² over every element of ``tensors`` (a tensor or a list of them), one pass per tensor without
    making the squares: ``sum_of_squares([W1, W2])`` is ‖W1‖² + ‖W2‖² (d2l's weight penalty without λ/2)."""
    tensors = [as_tensor(t) for t in (tensors if isinstance(tensors, (list, tuple)) else [tensors])]
    if not tensors:
        raise ValueError("sum_of_squares needs at least one tensor")
    return engine.apply(ops.SumOfSquares, *tensors)


def stack(tensors, axis=0, *, dim=None):
    """Tensors of one shape joined along a new axis."""
    if dim is not None:
        axis, _ = _spelling("stack", axis, dim, default=0)
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


def cat(tensors, dim=0, *, axis=None):
    """PyTorch's name for ``concatenate``: tensors joined along an existing axis."""
    if axis is not None:
        dim, _ = _spelling("cat", dim, axis, default=0)
    return concatenate(tensors, dim)


def unsqueeze(x, dim):
    """x with a new length-1 axis at ``dim`` (PyTorch's name for ``expand_dims`` with one axis)."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"unsqueeze: dim must be one int, got {dim!r} (expand_dims takes several)")
    return expand_dims(x, dim)


def t(x):
    """The transpose of a matrix; a vector or a number as it is (PyTorch's ``t``)."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but it has {x.ndim}; use transpose or swapaxes")
    return transpose(x)


def _axes_of(x, axis, name):
    """``axis`` (an int or a sequence of ints) as a list of distinct axes in [0, ndim)."""
    items = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    try:
        axes = [operator.index(a) for a in items]
    except TypeError:
        raise TypeError(f"{name}: axes must be ints, got {axis!r}") from None
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for a tensor of shape {x.shape}")
    axes = [a % x.ndim for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return axes


def _permuted(x, order):
    return x if list(order) == list(range(x.ndim)) else transpose(x, tuple(order))


def moveaxis(x, source, destination):
    """x with the axes ``source`` moved to the positions ``destination`` (the others keep their order)."""
    x = as_tensor(x)
    src, dst = _axes_of(x, source, "moveaxis"), _axes_of(x, destination, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, tuple(order))


def flip(x, axis=None):
    """x with the order of its elements reversed along ``axis`` (None: every axis)."""
    x = as_tensor(x)
    axes = range(x.ndim) if axis is None else _axes_of(x, axis, "flip")
    return getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)))


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal xᵢ,ᵢ₊ₒ of the axes ``axis1`` and ``axis2`` (offset o), as the last axis (numpy's and PyTorch's
    layout); a copy, where numpy gives a read-only view."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal needs at least two dimensions, got shape {x.shape}")
    a1, a2 = _axes_of(x, (axis1, axis2), "diagonal")
    rows, cols = x.shape[a1], x.shape[a2]
    offset = operator.index(offset)
    n = builtins.max(0, builtins.min(rows, cols - offset) if offset >= 0 else builtins.min(rows + offset, cols))
    i = np.arange(n)
    moved = _permuted(x, [a for a in range(x.ndim) if a not in (a1, a2)] + [a1, a2])
    return getitem(moved, (Ellipsis, i - builtins.min(offset, 0), i + builtins.max(offset, 0)))


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the diagonal (of ``axis1`` and ``axis2``, shifted by ``offset``)."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diff(x, n=1, axis=-1, prepend=None, append=None):
    """The n-th differences x[i+1] − x[i] along ``axis``, after joining ``prepend`` and ``append`` to x there."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("diff needs a tensor of at least one dimension")
    if operator.index(n) < 0:
        raise ValueError(f"diff: the order n must be non-negative, got {n}")
    (axis,) = _axes_of(x, axis, "diff")
    if n == 0:  # as numpy: x itself, without prepend and append
        return x
    parts = []
    for extra in (prepend, x, append):
        if extra is not None:
            part = as_tensor(extra, x)
            if part.ndim == 0:
                part = broadcast_to(part, x.shape[:axis] + (1,) + x.shape[axis + 1 :])
            parts.append(part)
    if len(parts) > 1:
        x = concatenate(parts, axis)
    lead = (slice(None),) * axis
    for _ in range(n):
        x = getitem(x, lead + (slice(1, None),)) - getitem(x, lead + (slice(None, -1),))
    return x


def atleast_1d(*tensors):
    """Each tensor with at least one axis (a number becomes shape (1,)); one tensor, or a list of them."""
    return _at_least(tensors, lambda x: reshape(x, (1,)) if x.ndim == 0 else x)


def atleast_2d(*tensors):
    """Each tensor with at least two axes: a number is (1, 1), a vector of n is (1, n)."""
    return _at_least(tensors, lambda x: reshape(x, (1,) * (2 - x.ndim) + x.shape) if x.ndim < 2 else x)


def _at_least(tensors, make):
    results = [make(as_tensor(x)) for x in tensors]
    return results[0] if len(results) == 1 else results


def hstack(tensors):
    """Tensors joined along their second axis (the first for vectors)."""
    tensors = [atleast_1d(x) for x in tensors]
    return concatenate(tensors, axis=0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Tensors joined along their first axis, vectors as rows."""
    return concatenate([atleast_2d(x) for x in tensors], axis=0)


# --------------------------------------------------------------------------- products


def dot(a, b):
    """numpy's dot: a·b of vectors, the matrix product of matrices, a * b when either is a number, and for n-d
    operands a sum over the last axis of a and the second-to-last of b (PyTorch's ``dot`` takes only vectors)."""
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 or b.ndim <= 2:
        return a @ b
    return tensordot(a, b, axes=([-1], [-2]))


def inner(a, b):
    """Σₖ a[..., k] b[..., k]: the products summed over the last axis of each (a * b when either is a number)."""
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 and b.ndim == 1:
        return a @ b
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a, b):
    """zᵢⱼ = aᵢ bⱼ of the flattened a and b."""
    a, b = _operands(a, b)
    return reshape(a, (-1, 1)) * reshape(b, (-1,))


def tensordot(a, b, axes=2):
    """Σ a b over the axes ``axes`` = (axes of a, axes of b), or the last n of a with the first n of b for an int n.

    Made of transposes, reshapes and one matrix product.
    """
    a, b = _operands(a, b)
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={axes} for shapes {a.shape} and {b.shape}")
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair (axes of a, axes of b), got {axes!r}") from None
        axes_a, axes_b = _axes_of(a, axes_a, "tensordot"), _axes_of(b, axes_b, "tensordot")
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(
            f"tensordot: shape-mismatch for sum: axes {tuple(axes_a)} of shape {a.shape} and "
            f"{tuple(axes_b)} of shape {b.shape}"
        )
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    k = math.prod(a.shape[i] for i in axes_a)
    left = reshape(_permuted(a, free_a + axes_a), (-1, k))
    right = reshape(_permuted(b, axes_b + free_b), (k, -1))
    return reshape(left @ right, tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def einsum(subscripts, *operands):
    """Products of the operands summed over the letters the output lacks: ``einsum("ij,jk->ik", a, b)`` is a @ b.

    numpy's implicit form ("ij,jk": the output is the letters used once, sorted) works too; a letter repeated
    in one operand takes its diagonal ("ii->" is the trace). The "..." form is not implemented.
    """
    if not isinstance(subscripts, str):
        raise NotImplementedError(
            "einsum: numpy's interleaved form (operand, axes, ...) is not implemented; give the subscripts string"
        )
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise NotImplementedError(
            f"einsum: the '...' form is not implemented in autodiff; write the letters out, got {subscripts!r}"
        )
    inputs, arrow, output = spec.partition("->")
    letters = inputs.split(",")
    if not all(c.isascii() and c.isalpha() for c in inputs.replace(",", "") + output):
        raise ValueError(f"einsum: subscripts are letters, commas and one '->', got {subscripts!r}")
    if len(letters) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} has subscripts for {len(letters)} operands, got {len(operands)}")
    if not arrow:
        output = "".join(sorted(c for c in set(inputs) - {","} if inputs.count(c) == 1))
    tensors = [as_tensor(x) for x in operands]
    for n, (names, x) in enumerate(zip(letters, tensors)):
        if len(names) != x.ndim:
            raise ValueError(f"einsum: operand {n} has shape {x.shape} but subscripts {names!r}")
        while len(set(names)) < len(names):  # a repeated letter: its diagonal, as the last axis
            c = next(c for c in names if names.count(c) > 1)
            i = names.index(c)
            j = names.index(c, i + 1)
            x, names = diagonal(x, 0, i, j), names[:i] + names[i + 1 : j] + names[j + 1 :] + c
        letters[n], tensors[n] = names, x
    return engine.apply(ops.Einsum, *tensors, operands=tuple(letters), output=output)


# --------------------------------------------------------------------------- norms


def _root(s, p):
    """s^(1/p), whose gradient is 0 where s = 0: there x = 0 and 0 is a subgradient of the norm (PyTorch's choice)."""
    zero = s._data == 0
    if not zero.any():
        return s.sqrt() if p == 2 else s ** (1.0 / p)
    safe = where(zero, 1.0, s)
    return where(zero, 0.0, safe.sqrt() if p == 2 else safe ** (1.0 / p))


def _vector_norm(x, p, axis, keepdims):
    if isinstance(p, str):
        raise ValueError(f"norm: invalid norm order {p!r} for vectors")
    if p == math.inf:
        return max(abs(x), axis, keepdims)
    if p == -math.inf:
        return min(abs(x), axis, keepdims)
    if p == 0:  # the count of nonzeros: piecewise constant, outside the graph
        return Tensor._wrap(np.asarray(np.sum(x._data != 0, axis=axis, keepdims=keepdims), dtype=x.dtype))
    if p == 1:
        return sum(abs(x), axis, keepdims)
    if p == 2:
        return _root(sum(x * x, axis, keepdims), 2)
    return _root(sum(abs(x) ** p, axis, keepdims), p)


def _matrix_norm(x, ord, axes, keepdims):
    rows, cols = axes
    if ord in (None, "fro", "f"):
        return _root(sum(x * x, (rows, cols), keepdims), 2)
    if ord in (1, -1, math.inf, -math.inf):
        if ord in (1, -1):  # column sums of |x|, then their largest or smallest
            sums, over = sum(abs(x), rows, True), cols
        else:  # row sums
            sums, over = sum(abs(x), cols, True), rows
        result = (max if ord > 0 else min)(sums, over, True)
        return result if keepdims else reshape(result, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    if ord in (2, -2, "nuc"):
        raise NotImplementedError(
            f"norm: ord={ord!r} of a matrix needs its singular values: not implemented in autodiff"
        )
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


def _linalg_norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm's reading of ``ord`` and ``axis``."""
    x = as_tensor(x)
    if x.dtype.kind not in "fc":
        x = astype(x, np.float64)
    if axis is None:
        if ord is None or (ord in ("fro", "f") and x.ndim == 2) or (ord == 2 and x.ndim == 1):
            result = _root(sum(x * x), 2)
            return reshape(result, (1,) * x.ndim) if keepdims else result
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} needs a vector or a matrix (or axis=), got shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = tuple(_axes_of(x, axis, "norm"))
    if len(axes) == 1:
        return _vector_norm(x, 2 if ord is None else ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis must be one axis (a vector norm) or two (a matrix norm), got {axis!r}")


def norm(x, ord=None, axis=None, keepdims=False, *, p=None, dim=None, keepdim=None):
    """The norm of x: numpy's ``ord``/``axis`` (``np.linalg.norm``) or PyTorch's ``p``/``dim`` (``torch.norm``).

    Vector norms ‖x‖ₚ = (Σ|xᵢ|ᵖ)^(1/p) (p = 2 by default; ∞: max |xᵢ|, −∞: min |xᵢ|, 0: the count of nonzeros);
    matrix norms (``axis`` a pair): "fro" (default), 1 / −1 (largest / smallest column sum of |x|), ∞ / −∞ (row
    sums). With PyTorch's ``p=`` or ``dim=`` every norm is a vector norm over ``dim`` (all elements if None), as
    torch.norm computes it. A number ``ord`` for a tensor of two or more axes without ``axis`` is refused: numpy
    reads it as a matrix norm and PyTorch as a vector norm of all the elements. The gradient at x = 0 is 0.
    """
    torch_spelling = p is not None or dim is not None or keepdim is not None
    if torch_spelling:
        if p is not None and ord is not None:
            raise TypeError("norm: got both ord= (numpy's name) and p= (PyTorch's); give one")
        axis, keepdims = _spelling("norm", axis, dim, keepdims, keepdim)
        p = p if p is not None else ord if ord is not None else "fro"
        x = as_tensor(x)
        if p == "fro":
            p = 2
        if isinstance(p, str):
            raise NotImplementedError(f"norm: p={p!r} needs singular values: not implemented in autodiff")
        return _vector_norm(
            x if x.dtype.kind in "fc" else astype(x, np.float64), p, _reduction_axis(x, axis, "norm"), keepdims
        )
    x = as_tensor(x)
    if axis is None and x.ndim >= 2 and ord is not None and not isinstance(ord, str):
        raise TypeError(
            f"norm: ord={ord!r} of a {x.ndim}-d tensor is a matrix norm in numpy and the vector norm of all the "
            f"elements in PyTorch: write norm(x, {ord!r}, axis=(0, 1)) for numpy's, norm(x, p={ord!r}) for PyTorch's"
        )
    return _linalg_norm(x, ord, axis, keepdims)


# --------------------------------------------------------------------------- elementwise, composed


def square(x):
    """x² = x ⊙ x."""
    x = as_tensor(x)
    return x * x


def reciprocal(x):
    """1 / x."""
    return 1 / as_tensor(x)


def log2(x):
    """log₂ x = ln x / ln 2."""
    return as_tensor(x).log() * (1 / math.log(2))


def log10(x):
    """log₁₀ x = ln x / ln 10."""
    return as_tensor(x).log() * (1 / math.log(10))


def logaddexp(x, y):
    """ln(eˣ + eʸ) = max(x, y) + ln(1 + e^−|x−y|), without overflow. ∂/∂x = σ(x − y)."""
    x, y = _operands(x, y)
    return x.maximum(y) + (-abs(x - y)).exp().log1p()


# --------------------------------------------------------------------------- facts


def numel(x):
    """The number of elements (an int; numpy's ``size``)."""
    return _raw(x).size if isinstance(x, Tensor) else np.size(x)


def is_tensor(obj):
    """Whether ``obj`` is a Tensor (PyTorch's ``is_tensor``)."""
    return isinstance(obj, Tensor)


# --------------------------------------------------------------------------- creation


def tensor(data, requires_grad=False, dtype=None, name=None):
    """A new Tensor holding a copy of ``data`` (PyTorch's ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array):
    """A Tensor sharing memory with ``array``."""
    return Tensor._wrap(np.asarray(array))


def creation_shape(shape, name):
    """The shape of ``name(2, 3)`` or ``name((2, 3))`` (PyTorch takes both; numpy only the tuple) as a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        try:
            operator.index(n)
        except TypeError:
            hint = " (give the dtype by keyword: dtype=...)" if isinstance(n, (type, np.dtype, str)) else ""
            raise TypeError(
                f"{name}: the shape is ints, as {name}(2, 3) or {name}((2, 3)); got {n!r} in {shape!r}{hint}"
            ) from None
    return tuple(int(n) for n in shape)


def zeros(*shape, dtype=np.float64, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(creation_shape(shape, "zeros"), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float64, requires_grad=False):
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(creation_shape(shape, "ones"), dtype=dtype), requires_grad=requires_grad)


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
    if code.co_argcount == 2:  # PyTorch's parameter names: exp(input), matmul(input, other)

        def function(input):
            return engine.apply1(op, as_tensor(input))
    else:
        apply = engine.apply if op.remembers else engine.apply2

        def function(input, other):
            return apply(op, *_operands(input, other))

    function.__name__ = function.__qualname__ = op.function
    function.__doc__, function.__module__ = op.__doc__, __name__
    return function


for _op in ops.CATALOGUE:  # entries with a function not written above
    if _op.function is not None and _op.function not in globals():
        globals()[_op.function] = _made_from(_op)
del _op

COMPOSED_METHODS = (
    "mean",
    "var",
    "std",
    "argmax",
    "argmin",
    "norm",
    "dot",
    "inner",
    "outer",
    "trace",
    "diagonal",
    "diff",
    "flip",
    "moveaxis",
    "swapaxes",
    "expand_dims",
    "unsqueeze",
    "squeeze",
    "flatten",
    "t",
    "square",
    "reciprocal",
    "log2",
    "log10",
    "logaddexp",
)
METHODS = tuple(op.function for op in ops.CATALOGUE if op.method) + COMPOSED_METHODS
"""The functions that are Tensor methods too: ``x.exp()`` is ``autodiff.exp(x)`` (attached by autodiff.methods)."""

UFUNCS = {op.ufunc: globals()[op.function] for op in ops.CATALOGUE if op.ufunc is not None}
"""numpy's ufuncs that ``np.exp(t)``, ``array * t``... dispatch to (``Tensor.__array_ufunc__``)."""
UFUNCS.update(
    {
        np.sign: sign,
        np.square: square,
        np.reciprocal: reciprocal,
        np.log2: log2,
        np.log10: log10,
        np.logaddexp: logaddexp,
    }
)
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
        "collections",
        "math",
        "operator",
        "np",
        "ops",
        "engine",
        "deferred",
        "Tensor",
        "Constant",
        "normalize_index",
        "constant",
        "operand",
        "comparison",
        "creation_shape",
        "UFUNCS",
        "METHODS",
        "COMPOSED_METHODS",
    )
]
