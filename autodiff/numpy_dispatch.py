"""numpy's functions on tensors: ``np.dot(x, w)``, ``np.sum(t)``, ``np.linalg.norm(t)``, ``np.exp(t)``.

numpy hands a call that involves a Tensor to ``Tensor.__array_function__`` (NEP 18: its functions) or
``Tensor.__array_ufunc__`` (its ufuncs), both here. Every call ends in one of three ways:

* **a rule**: ``HANDLED`` (functions) and ``UFUNCS`` (ufuncs) map numpy's function to autodiff's
  differentiable one, which takes numpy's arguments by numpy's names and returns a Tensor. An argument it
  does not take (``np.sum(t, where=m)`` is taken, ``np.linalg.norm(t, "nuc")`` is not) is refused by name
  when a gradient is involved, and otherwise left to numpy's own (below);
* **outside the graph**: ``OUTSIDE_THE_GRAPH`` are functions whose results cannot carry a gradient
  (integers, booleans, shapes: ``argmax``, ``nonzero``, ``isclose``; values that do not depend on the
  tensor's: ``zeros_like``): numpy's own, on tensors that may require grad too;
* **numpy's own**, for everything else: on the tensors' data, with every numeric array or numpy number in the
  result made a Tensor (``out=`` given a Tensor returns that Tensor). It runs only when no gradient can be
  lost: under ``no_grad`` or when no tensor in the call requires grad. Otherwise the call raises TypeError
  naming the function and what to do (``detach()`` it, or use autodiff's function), never a silently
  constant result. The same holds for ``out=``, which cannot record a result for backward.

``Tensor.__array__`` (``np.asarray(t)``, and libraries that convert) refuses the same way (autodiff/tensor.py).
"""

import builtins
import operator

import numpy as np

from . import deferred
from . import functions as F
from .errors import NUMERIC_KINDS
from .grad_mode import is_grad_enabled
from .tensor import Tensor, _raw
from .versions import bump_version

_NoValue = getattr(np, "_NoValue", object())  # numpy's "not given" for keepdims, initial, where...
_SEQUENCE = type(np.atleast_1d(0, 0))  # what atleast_1d of several gives: a list on numpy 1, a tuple on numpy 2


class _OutGiven(Exception):
    """``out=`` was given: numpy's own writes it, when no gradient is involved."""


def _given(value):
    return value is not None and value is not _NoValue


def _flag(value):
    return False if value is _NoValue else value


def _no_out(out):
    if out is not None:
        raise _OutGiven


def _not_taken(**arguments):
    """Refuse the arguments given (not None, not numpy's "no value") that autodiff's version does not take."""
    for name, value in arguments.items():
        if _given(value):
            raise NotImplementedError(f"{name}= is not implemented in autodiff's version")


def _in_dtype(a, dtype):
    x = F.as_tensor(a)
    return x if dtype is None or np.dtype(dtype) == x.dtype else F.astype(x, dtype)


def _mask(where):
    return where is not _NoValue and where is not None and where is not True


# -- the entry points ---------------------------------------------------------------------------------


def array_function(self, func, types, args, kwargs):
    """``Tensor.__array_function__``: numpy's function ``func`` called with tensors among ``args``/``kwargs``."""
    for kind in types:
        if not issubclass(kind, (Tensor, np.ndarray)):
            return NotImplemented  # another array library's type is involved: numpy tries it, or refuses
    rule = HANDLED.get(func)
    if rule is not None:
        try:
            return rule(*args, **kwargs)
        except NotImplementedError as unsupported:
            return numpy_own(func, args, kwargs, str(unsupported))
        except _OutGiven:
            return numpy_own(func, args, kwargs, "out")
    if func in OUTSIDE_THE_GRAPH:
        return _as_tensors(func(*_data(args), **_data(kwargs)), args, kwargs)
    return numpy_own(func, args, kwargs)


def array_ufunc(self, ufunc, method, *inputs, out=None, **kwargs):
    """``Tensor.__array_ufunc__``: ``np.exp(t)``, ``array * t``, ``np.add.reduce(t)``... dispatch to the
    differentiable op; ufuncs without a rule refuse to drop gradients silently."""
    if out is not None:
        return numpy_own(ufunc, inputs, dict(kwargs, out=out), "out", method)
    if method == "__call__":
        fn = UFUNCS.get(ufunc)
        if fn is not None and not kwargs:
            return fn(*inputs)
        if ufunc in _BOOLEAN_UFUNCS:  # isnan, isfinite, logical_and...: booleans carry no gradient
            return _as_tensors(ufunc(*_data(inputs), **_data(kwargs)), inputs, kwargs)
    else:
        rule = _ufunc_method(ufunc, method)
        if rule is not None:
            try:
                return rule(*inputs, **kwargs)
            except NotImplementedError as unsupported:
                return numpy_own(ufunc, inputs, kwargs, str(unsupported), method)
    why = ", ".join(f"{name}=" for name in kwargs) or None
    return numpy_own(ufunc, inputs, kwargs, why and f"{why} is not implemented in autodiff's version", method)


def numpy_own(func, args, kwargs, why=None, method="__call__"):
    """numpy's own ``func`` on the tensors' data, the result's arrays made Tensors; refused (TypeError) when a
    tensor in the call requires grad and gradients are recorded. ``why``: the argument autodiff's version
    does not take ("out" for out=), if that is why numpy's own is called."""
    if is_grad_enabled() and _requires_grad((args, kwargs)):
        raise TypeError(refusal(func, why, method))
    call = func if method == "__call__" else getattr(func, method)
    if deferred.waiting:  # numpy may write into the arrays (out=, np.copyto): products waiting read them first
        deferred.settle()
    result = call(*_data(args), **_data(kwargs))
    written = _WRITES_INTO.get(func) if method == "__call__" else "a" if method == "at" else None
    if written is not None:  # np.copyto(t, ...), np.add.at(t, ...): t's data changed in place
        target = args[0] if args else kwargs.get(written)
        if isinstance(target, Tensor):
            bump_version(target)
    return _as_tensors(result, args, kwargs)


def refusal(func, why=None, method="__call__"):
    """The message of a numpy function refused on a tensor that requires grad."""
    name = _qualified_name(func) + ("" if method == "__call__" else f".{method}")
    short = getattr(func, "__name__", "")
    if why == "out":
        return (
            f"{name}(..., out=...) can't record its result for backward, and a tensor in the call requires grad: "
            "use the returned tensor instead of out=, or call .detach() first if you want a constant"
        )
    if why:
        return (
            f"{name}: {why}, and numpy's own can't carry gradients (a tensor in the call requires grad); "
            "call .detach() on the tensor first if you want a constant, or compute it under autodiff.no_grad()"
        )
    ours = f"use autodiff.{short}, or " if short in F.__all__ and method == "__call__" else ""
    return (
        f"{name} has no derivative rule in autodiff, so its result could not carry gradients; {ours}"
        "call .detach() first if you want a constant (or compute it under autodiff.no_grad())"
    )


def _qualified_name(func):
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy.linalg"):
        module = "numpy.linalg"
    elif module.startswith("numpy") and module.count(".") and not module.startswith(("numpy.fft", "numpy.random")):
        module = "numpy"
    return f"{module}.{getattr(func, '__name__', repr(func))}"


# -- tensors in and out of numpy's own ------------------------------------------------------------------


def _requires_grad(obj):
    if isinstance(obj, Tensor):
        return obj._requires_grad
    if isinstance(obj, (tuple, list)):
        return builtins.any(_requires_grad(o) for o in obj)
    if isinstance(obj, dict):
        return builtins.any(_requires_grad(o) for o in obj.values())
    return False


def _data(obj):
    """``obj`` with every Tensor in it (in tuples, lists and dicts) replaced by its array."""
    if isinstance(obj, Tensor):
        return obj._data
    if type(obj) in (tuple, list):
        return type(obj)(_data(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _data(v) for k, v in obj.items()}
    return obj


def _tensors(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


def _as_tensors(result, args, kwargs):
    """numpy's result with its numeric arrays and numpy numbers made Tensors: an array that is a tensor's data
    (written through out=) is that tensor, a view of a tensor's data shares its version counter."""
    if isinstance(result, np.ndarray):
        sources = list(_tensors((args, kwargs)))
        for t in sources:
            if result is t._data:
                bump_version(t)
                return t
        if builtins.any(result is a for a in _arrays((args, kwargs))):  # a plain array written through out=
            return result
        if result.dtype.kind not in NUMERIC_KINDS:
            return result
        wrapped = Tensor._wrap(result)
        for t in sources:
            if np.may_share_memory(result, t._data):
                return F._shares_version(wrapped, t)
        return wrapped
    if isinstance(result, np.generic):
        return Tensor._wrap(np.asarray(result)) if result.dtype.kind in NUMERIC_KINDS else result
    if type(result) in (tuple, list):
        return type(result)(_as_tensors(r, args, kwargs) for r in result)
    if isinstance(result, tuple) and hasattr(result, "_fields"):  # a named tuple: np.linalg.svd's SVDResult
        return type(result)(*(_as_tensors(r, args, kwargs) for r in result))
    return result


# -- the rules: numpy's signatures, autodiff's differentiable functions -------------------------------------


def _sum(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    _no_out(out)
    x = _in_dtype(a, dtype)
    if _mask(where):
        x = F.where(where, x, 0)
    total = F.sum(x, axis, _flag(keepdims))
    return F.add(total, initial) if _given(initial) else total


def _prod(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    _no_out(out)
    x = _in_dtype(a, dtype)
    if _mask(where):
        x = F.where(where, x, 1)
    product = F.prod(x, axis, _flag(keepdims))
    return F.mul(product, initial) if _given(initial) else product


def _mean(a, axis=None, dtype=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    _no_out(out)
    x = _in_dtype(a, dtype)
    if not _mask(where):
        return F.mean(x, axis, _flag(keepdims))
    mask = np.broadcast_to(np.asarray(_raw(where), dtype=bool), x.shape)
    count = np.sum(mask, axis=F._axis(axis), keepdims=_flag(keepdims))
    return F.div(
        F.sum(F.where(mask, x, 0), axis, _flag(keepdims)), count.astype(x.dtype if x.dtype.kind == "f" else float)
    )


def _var_or_std(function):
    def rule(
        a,
        axis=None,
        dtype=None,
        out=None,
        ddof=0,
        keepdims=_NoValue,
        *,
        where=_NoValue,
        mean=_NoValue,
        correction=_NoValue,
    ):
        _no_out(out)
        _not_taken(mean=mean, where=None if not _mask(where) else where)
        if _given(correction):
            if ddof != 0:
                raise ValueError(f"{function.__name__}: ddof and correction can't both be given")
            ddof = correction
        return function(_in_dtype(a, dtype), axis, ddof, _flag(keepdims))

    return rule


def _extremum(function, combine):
    def rule(a, axis=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
        _no_out(out)
        _not_taken(where=None if not _mask(where) else where)
        x = F.as_tensor(a)
        if _given(initial) and x.size == 0:
            raise NotImplementedError("initial= of an empty reduction is not implemented in autodiff's version")
        result = function(x, axis, _flag(keepdims))
        return combine(result, initial) if _given(initial) else result

    return rule


def _cumsum(a, axis=None, dtype=None, out=None):
    _no_out(out)
    return F.cumsum(_in_dtype(a, dtype), axis)


def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out(out)
    return F.trace(_in_dtype(a, dtype), offset, axis1, axis2)


def _diff(a, n=1, axis=-1, prepend=_NoValue, append=_NoValue):
    return F.diff(a, n, axis, prepend if _given(prepend) else None, append if _given(append) else None)


def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise NotImplementedError(f"order={order!r} is not implemented in autodiff's version (only 'C')")
    if copy is False:
        raise NotImplementedError("copy=False is not implemented in autodiff's version")
    if shape is None and newshape is None:
        raise TypeError("reshape() missing the shape")
    result = F.reshape(a, newshape if shape is None else shape)
    return F.add(result, 0) if copy else result


def _ravel(a, order="C"):
    if order not in ("C", "K", "A"):
        raise NotImplementedError(f"order={order!r} is not implemented in autodiff's version")
    return F.reshape(a, (-1,))


def _copy(a, order="K", subok=False):
    return F.add(F.as_tensor(a), 0)


def _astype(x, dtype, /, *, copy=True, device=None):
    _not_taken(device=device)
    return F.astype(x, dtype)


def _joined(function):
    def rule(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
        _no_out(out)
        _not_taken(casting=None if casting == "same_kind" else casting)
        tensors = [_in_dtype(x, dtype) for x in arrays]
        if axis is None and function is F.concatenate:
            tensors, axis = [F.reshape(x, (-1,)) for x in tensors], 0
        return function(tensors, axis)

    return rule


def _stacked(function):
    def rule(tup, *, dtype=None, casting="same_kind"):
        _not_taken(casting=None if casting == "same_kind" else casting)
        return function([_in_dtype(x, dtype) for x in tup])

    return rule


def _column_stack(tup):
    columns = []
    for x in tup:
        x = F.as_tensor(x)
        columns.append(F.reshape(x, (-1, 1)) if x.ndim < 2 else x)
    return F.concatenate(columns, axis=1)


def _at_least(function):
    def rule(*arys):
        result = function(*arys)
        return result if len(arys) == 1 else _SEQUENCE(result)

    return rule


def _atleast_3d(*arys):
    def three(x):
        x = F.as_tensor(x)
        shape = {0: (1, 1, 1), 1: (1,) + x.shape + (1,), 2: x.shape + (1,)}.get(x.ndim, x.shape)
        return F.reshape(x, shape)

    results = [three(x) for x in arys]
    return results[0] if len(results) == 1 else _SEQUENCE(results)


def _where(condition, x=_NoValue, y=_NoValue, /):
    if not _given(x) and not _given(y):
        return tuple(Tensor._wrap(i) for i in np.nonzero(_raw(condition)))
    if not (_given(x) and _given(y)):
        raise ValueError("where: either both or neither of x and y should be given")
    return F.where(condition, x, y)


def _clip(a, a_min=_NoValue, a_max=_NoValue, out=None, *, min=_NoValue, max=_NoValue, **kwargs):
    _no_out(out)
    _not_taken(**{name: value for name, value in kwargs.items()})
    lo = a_min if _given(a_min) else min if _given(min) else None
    hi = a_max if _given(a_max) else max if _given(max) else None
    x = F.as_tensor(a)
    numbers = (int, float, np.number)
    if (lo is None or isinstance(lo, numbers)) and (hi is None or isinstance(hi, numbers)):
        return F.clip(x, lo, hi)
    # bounds that are arrays or tensors: the gradient goes to x inside [lo, hi], to a bound where it is taken
    result = x
    if lo is not None:
        result = F.where(np.less(x._data, _raw(lo)), lo, result)
    if hi is not None:
        result = F.where(np.greater(result._data, _raw(hi)), hi, result)
    return result


def _dot(a, b, out=None):
    _no_out(out)
    return F.dot(a, b)


def _outer(a, b, out=None):
    _no_out(out)
    return F.outer(a, b)


def _vdot(a, b, /):
    return F.matmul(F.reshape(a, (-1,)), F.reshape(b, (-1,)))


def _linalg_outer(x1, x2, /):
    if F.as_tensor(x1).ndim != 1 or F.as_tensor(x2).ndim != 1:
        raise ValueError("numpy.linalg.outer: the inputs must be one-dimensional")
    return F.outer(x1, x2)


def _matrix_transpose(x, /):
    x = F.as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least two dimensions, got shape {x.shape}")
    return F.swapaxes(x, -1, -2)


def _einsum(*operands, out=None, optimize=False, **kwargs):
    _no_out(out)  # optimize only chooses the order of the products: the result is the same
    _not_taken(**kwargs)
    if not operands:
        raise TypeError("einsum: no subscripts given")
    return F.einsum(operands[0], *operands[1:])


def _float_tensor(x):
    x = F.as_tensor(x)
    return x if x.dtype.kind in "fc" else F.astype(x, np.float64)


def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    x = _float_tensor(x)
    return F._vector_norm(x, ord, F._reduction_axis(x, axis, "vector_norm"), keepdims)


def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    x = _float_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm needs at least two dimensions, got shape {x.shape}")
    return F._matrix_norm(x, ord, (x.ndim - 2, x.ndim - 1), keepdims)


def _split_points(n, indices_or_sections, equal):
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % sections:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, sections)
        return list(np.cumsum([0] + extra * [each + 1] + (sections - extra) * [each]))
    return [0] + [operator.index(i) for i in indices_or_sections] + [n]


def _splitter(equal):
    def rule(ary, indices_or_sections, axis=0):
        x = F.as_tensor(ary)
        (axis,) = F._axes_of(x, axis, "split")
        points = _split_points(x.shape[axis], indices_or_sections, equal)
        lead = (slice(None),) * axis
        return [F.getitem(x, lead + (slice(a, b),)) for a, b in zip(points[:-1], points[1:])]

    return rule


def _full_like(a, fill_value, *args, **kwargs):
    if isinstance(fill_value, Tensor) and fill_value._requires_grad:
        raise NotImplementedError("a fill_value that requires grad is not implemented in autodiff's version")
    return _as_tensors(np.full_like(_raw(a), _raw(fill_value), *args, **kwargs), (), {})  # a's values don't matter


def _take_along(x, index, axis):
    """The elements of x at ``index`` along ``axis`` (np.take_along_axis): one gather, as an indexing op."""
    shape = list(x.shape)
    shape[axis] = index.shape[axis]
    shape = np.broadcast_shapes(tuple(shape), index.shape)
    grids = np.indices(shape, sparse=True)
    return F.getitem(x, tuple(np.broadcast_to(index, shape) if i == axis else g for i, g in enumerate(grids)))


def _sort(a, axis=-1, kind=None, order=None, *, stable=None, descending=_NoValue):
    _not_taken(order=order, descending=None if descending in (_NoValue, False) else descending)
    x = F.as_tensor(a)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    if x.ndim == 0:
        raise ValueError("sort: a 0-d tensor has no axis to sort along")
    (axis,) = F._axes_of(x, axis, "sort")
    return _take_along(x, np.argsort(x._data, axis=axis, kind="stable"), axis)


def _take_along_axis(arr, indices, axis=-1):
    x = F.as_tensor(arr)
    index = np.asarray(_raw(indices))
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = F._axes_of(x, axis, "take_along_axis")
    if index.ndim != x.ndim or index.dtype.kind not in "iu":
        raise ValueError("take_along_axis: indices must be integers with as many dimensions as the tensor")
    return _take_along(x, index, axis)


def _take(a, indices, axis=None, out=None, mode="raise"):
    _no_out(out)
    _not_taken(mode=None if mode == "raise" else mode)
    x = F.as_tensor(a)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = F._axes_of(x, axis, "take")
    return F.getitem(x, (slice(None),) * axis + (np.asarray(_raw(indices)),))


def _repeat(a, repeats, axis=None):
    x = F.as_tensor(a)
    if axis is None:
        x, axis = F.reshape(x, (-1,)), 0
    (axis,) = F._axes_of(x, axis, "repeat")
    index = np.repeat(np.arange(x.shape[axis]), _raw(repeats))
    return F.getitem(x, (slice(None),) * axis + (index,))


def _tile(A, reps):
    x = F.as_tensor(A)
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)
    ndim = builtins.max(x.ndim, len(reps))
    shape = (1,) * (ndim - x.ndim) + x.shape
    reps = (1,) * (ndim - len(reps)) + tuple(operator.index(r) for r in reps)
    interleaved = F.reshape(x, tuple(n for s in shape for n in (1, s)))
    spread = F.broadcast_to(interleaved, tuple(n for r, s in zip(reps, shape) for n in (r, s)))
    return F.reshape(spread, tuple(r * s for r, s in zip(reps, shape)))


def _roll(a, shift, axis=None):
    x = F.as_tensor(a)
    if axis is None:
        return F.reshape(_roll(F.reshape(x, (-1,)), shift, 0), x.shape)
    for s, ax in zip(*np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))):
        (ax,) = F._axes_of(x, int(ax), "roll")
        x = F.getitem(x, (slice(None),) * ax + (np.roll(np.arange(x.shape[ax]), int(s)),))
    return x


def _pad(array, pad_width, mode="constant", *, constant_values=0, **kwargs):
    _not_taken(**kwargs)
    if mode != "constant" or not isinstance(constant_values, (int, float, np.number)):
        raise NotImplementedError("only mode='constant' with a number is implemented in autodiff's version")
    x = F.as_tensor(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    shape = tuple(int(n + lo + hi) for n, (lo, hi) in zip(x.shape, widths))
    inside = tuple(slice(int(lo), int(lo) + n) for n, (lo, _) in zip(x.shape, widths))
    return F.setitem(Tensor._wrap(np.full(shape, constant_values, dtype=x.dtype)), inside, x)


def _flipped(axis):
    def rule(m):
        x = F.as_tensor(m)
        if x.ndim <= axis:
            raise ValueError(f"the tensor must have at least {axis + 1} dimensions, got shape {x.shape}")
        return F.flip(x, axis)

    return rule


HANDLED = {
    np.sum: _sum,
    np.prod: _prod,
    np.mean: _mean,
    np.var: _var_or_std(F.var),
    np.std: _var_or_std(F.std),
    np.max: _extremum(F.max, F.maximum),
    np.amax: _extremum(F.max, F.maximum),
    np.min: _extremum(F.min, F.minimum),
    np.amin: _extremum(F.min, F.minimum),
    np.cumsum: _cumsum,
    np.dot: _dot,
    np.inner: F.inner,
    np.outer: _outer,
    np.vdot: _vdot,
    np.tensordot: F.tensordot,
    np.einsum: _einsum,
    np.trace: _trace,
    np.diagonal: F.diagonal,
    np.diff: _diff,
    np.transpose: F.transpose,
    np.swapaxes: F.swapaxes,
    np.moveaxis: F.moveaxis,
    np.reshape: _reshape,
    np.ravel: _ravel,
    np.squeeze: F.squeeze,
    np.expand_dims: F.expand_dims,
    np.broadcast_to: lambda array, shape, subok=False: F.broadcast_to(array, shape),
    np.concatenate: _joined(F.concatenate),
    np.stack: _joined(F.stack),
    np.hstack: _stacked(F.hstack),
    np.vstack: _stacked(F.vstack),
    np.column_stack: _column_stack,
    np.atleast_1d: _at_least(F.atleast_1d),
    np.atleast_2d: _at_least(F.atleast_2d),
    np.atleast_3d: _atleast_3d,
    np.split: _splitter(equal=True),
    np.array_split: _splitter(equal=False),
    np.where: _where,
    np.clip: _clip,
    np.copy: _copy,
    np.flip: F.flip,
    np.fliplr: _flipped(1),
    np.flipud: _flipped(0),
    np.sort: _sort,
    np.take: _take,
    np.take_along_axis: _take_along_axis,
    np.repeat: _repeat,
    np.tile: _tile,
    np.roll: _roll,
    np.pad: _pad,
    np.full_like: _full_like,
    np.linalg.norm: F._linalg_norm,
}
"""numpy's functions that dispatch to autodiff's differentiable ones, taking numpy's arguments."""

for _name, _rule in [  # numpy 2's additions
    ("concat", _joined(F.concatenate)),
    ("permute_dims", F.transpose),
    ("matrix_transpose", _matrix_transpose),
    ("astype", _astype),
]:
    if hasattr(np, _name):
        HANDLED[getattr(np, _name)] = _rule
for _name, _rule in [
    ("matmul", lambda x1, x2, /: F.matmul(x1, x2)),
    ("outer", _linalg_outer),
    ("tensordot", lambda x1, x2, /, *, axes=2: F.tensordot(x1, x2, axes)),
    ("vecdot", lambda x1, x2, /, *, axis=-1: F.sum(F.mul(x1, x2), axis)),
    ("matrix_transpose", _matrix_transpose),
    ("trace", lambda x, /, *, offset=0, dtype=None: F.trace(_in_dtype(x, dtype), offset, -2, -1)),
    ("diagonal", lambda x, /, *, offset=0: F.diagonal(x, offset, -2, -1)),
    ("vector_norm", _vector_norm),
    ("matrix_norm", _matrix_norm),
]:
    if hasattr(np.linalg, _name):
        HANDLED[getattr(np.linalg, _name)] = _rule
del _name, _rule

OUTSIDE_THE_GRAPH = {
    getattr(np, name)
    for name in (
        "argmax argmin argsort argwhere nonzero flatnonzero count_nonzero searchsorted digitize "
        "shape ndim size isclose allclose array_equal array_equiv isreal iscomplex isrealobj iscomplexobj "
        "isneginf isposinf zeros_like ones_like empty_like may_share_memory shares_memory"
    ).split()
    if hasattr(np, name)
}
"""numpy's functions whose results carry no gradient (integers, booleans, shapes, values that do not depend on
the tensor's): numpy's own, on tensors that require grad too, with the results as Tensors outside the graph."""


def _positive(x):
    return F.as_tensor(x) + 0


def _vecdot(x1, x2):
    x1, x2 = F._operands(x1, x2)
    return F.sum(x1 * x2, axis=-1)


UFUNCS = {**F.UFUNCS, np.positive: _positive}
if hasattr(np, "vecdot"):  # numpy 2
    UFUNCS[np.vecdot] = _vecdot
"""numpy's ufuncs with a rule: the catalogue's (``functions.UFUNCS``) and two compositions."""

_BOOLEAN_UFUNCS = {
    u for u in vars(np).values() if isinstance(u, np.ufunc) and u.types and all(t.endswith("->?") for t in u.types)
} | {np.logical_and, np.logical_or, np.logical_xor, np.logical_not}
"""Ufuncs that give booleans (isnan, isfinite, signbit, logical_and...): outside the graph."""

_WRITES_INTO = {
    getattr(np, function): argument
    for function, argument in [
        ("copyto", "dst"),
        ("put", "a"),
        ("place", "arr"),
        ("putmask", "a"),
        ("fill_diagonal", "a"),
        ("put_along_axis", "arr"),
    ]
}
"""numpy's functions that write into an argument (the first; by its name when given by keyword)."""


# -- ufunc methods: np.add.reduce(t), np.multiply.outer(a, t)... ---------------------------------------------


def _ufunc_method(ufunc, method):
    if method == "outer":
        fn = UFUNCS.get(ufunc)
        if fn is None or ufunc.nin != 2:
            return None

        def outer(a, b, **kwargs):
            _not_taken(**kwargs)
            a, b = F.as_tensor(a), F.as_tensor(b)
            return fn(F.reshape(a, a.shape + (1,) * b.ndim), b)

        return outer
    reduction = _REDUCTIONS.get((ufunc, method))
    if reduction is None:
        return None

    def reduce(array, axis=0, dtype=None, out=None, keepdims=False, initial=_NoValue, where=True):
        _no_out(out)
        _not_taken(initial=initial, where=None if where is True else where)
        x = _in_dtype(array, dtype)
        return reduction(x, axis) if method == "accumulate" else reduction(x, axis, keepdims)

    return reduce


_REDUCTIONS = {
    (np.add, "reduce"): F.sum,
    (np.multiply, "reduce"): F.prod,
    (np.maximum, "reduce"): F.max,
    (np.minimum, "reduce"): F.min,
    (np.add, "accumulate"): F.cumsum,
}


def table():
    """(numpy's name, autodiff's rule) for every dispatched function and ufunc, for the docs and the tests."""
    rows = [(_qualified_name(f), getattr(rule, "__name__", "")) for f, rule in HANDLED.items()]
    rows += [(_qualified_name(u), fn.__name__) for u, fn in UFUNCS.items()]
    return sorted(rows)


__all__ = ["array_function", "array_ufunc", "numpy_own", "refusal", "HANDLED", "UFUNCS", "OUTSIDE_THE_GRAPH", "table"]
