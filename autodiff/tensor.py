"""The Tensor: a numpy array that remembers the operation that produced it."""

import math
import warnings

import numpy as np

from .errors import NUMERIC_KINDS, describe
from .grad_mode import differentiating_rule, is_grad_enabled
from .versions import UNCHANGED, bump_version, version_counter

_new = object.__new__

_autograd = None  # autodiff.autograd, which builds on this module: it puts itself here when imported
_deferred = None  # autodiff.deferred (products made when read), which puts itself here too

NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during backward(). If you indeed want the gradient for a "
    "non-leaf Tensor, call .retain_grad() on it before backward."
)

NO_ARRAY_OF_GRAD = (
    "Can't convert a Tensor that requires grad to a numpy array: the array could not carry its "
    "gradient, which would be lost without a word. Use tensor.detach() for its values (np.asarray("
    "t.detach())), autodiff's functions (or numpy's that dispatch to them) to compute with it, or "
    "autodiff.no_grad() when no gradient is wanted; to join tensors into one, use autodiff.stack."
)


class _Size(int):
    """``Tensor.size``: numpy's number of elements, an int; called, PyTorch's ``size()`` (the shape, a tuple)
    and ``size(dim)`` (the length of one axis)."""

    def __new__(cls, shape):
        size = super().__new__(cls, math.prod(shape))
        size._shape = shape
        return size

    def __call__(self, dim=None):
        if dim is None:
            return self._shape
        try:
            return self._shape[dim]
        except (IndexError, TypeError):
            raise IndexError(f"size(dim): dim {dim!r} is out of range for a tensor of shape {self._shape}") from None

    def __reduce__(self):  # pickled and copied as the plain int
        return int, (int(self),)


_SIZES = {}  # shape -> _Size: a program uses few shapes


def _size_of(shape):
    size = _SIZES.get(shape)
    if size is None:
        if len(_SIZES) >= 1024:
            _SIZES.clear()
        size = _SIZES[shape] = _Size(shape)
    return size


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def numeric_array(data, dtype=None, copy=False):
    """``data`` as a numpy array of numbers, or a TypeError naming what it is.

    Strings, bytes, dates, None, objects and ragged nested lists are refused (numpy
    would make str or object arrays of them, or fail with its own words).
    """
    if dtype is not None:
        dtype = np.dtype(dtype)  # TypeError "data type 'foo' not understood" for nonsense
        if dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"a Tensor holds numbers: dtype {dtype} is not a numeric dtype")
    try:  # the dtype is applied after the check: np.array("1.5", dtype=float) would parse text
        array = np.array(data) if copy else np.asarray(data)
    except (ValueError, TypeError, OverflowError) as error:
        raise TypeError(
            f"cannot make a Tensor of {type(data).__name__}: give numbers, nested lists of numbers "
            f"(every row of one length), numpy arrays or Tensors ({error})"
        ) from None
    if array.dtype.kind not in NUMERIC_KINDS:
        what = type(data).__name__
        inner = describe(array)
        raise TypeError(
            f"cannot make a Tensor of {what}: give numbers, nested lists of numbers, numpy arrays or "
            f"Tensors{'' if inner == what else f' (it holds {inner})'}"
        )
    if dtype is not None and array.dtype != dtype:
        try:
            array = array.astype(dtype, copy=False)
        except (ValueError, TypeError, OverflowError) as error:
            raise TypeError(f"cannot make a Tensor of {type(data).__name__} with dtype {dtype}: {error}") from None
    return array


def normalize_index(index):
    """An index numpy understands, with Tensors and lists turned into arrays."""
    items = index if isinstance(index, tuple) else (index,)
    items = tuple(_index_item(i) for i in items)
    return items if isinstance(index, tuple) else items[0]


def _index_item(item):
    """A copy of an array-like index item (changing the caller's array later must not change a
    gradient); what numpy can't make an array of is left for the op to refuse by name."""
    if isinstance(item, (Tensor, list, np.ndarray)):
        try:
            return np.array(_raw(item))
        except (ValueError, TypeError):
            return item
    return item


def comparison(ufunc):
    def compare(a, b):
        return Tensor._wrap(np.asarray(ufunc(_raw(a), _raw(b))))

    compare.__name__ = ufunc.__name__
    return compare


class Tensor:
    """An n-d array (numpy inside; a scalar is a 0-d tensor) that records operations for backward.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([2., 4.])

    Python numbers and lists become numpy arrays as ``np.array`` makes them
    (floats: float64); ``dtype=`` chooses another. Only floating-point tensors can
    require grad. The data is copied; ``autodiff.from_numpy`` shares it instead.
    """

    __slots__ = (
        "_data",
        "_vc",
        "grad_fn",
        "name",
        "_requires_grad",
        "_grad",
        "_retains_grad",
        "_history",
        "_born",
        "_released_as",
        "_hooks",
        "__weakref__",
    )
    # grad_fn: the recorded op that produced this tensor (None for leaves), PyTorch's ``grad_fn``.
    # name: a label for graph drawings and repr.
    # _vc: the version counter, a one-element list shared with views (UNCHANGED until needed).
    # _history: {version: earlier self} once a recorded in-place op replaced this tensor's value.
    # _born: (set with _history) the creation number of the op that first produced this tensor.
    # _released_as: the FreedTensor that released ops keep in place of this intermediate.
    # _hooks: its gradient hooks (autodiff.hooks), set by register_hook only: read with getattr(t, "_hooks", None).
    # _grad: the Tensor ``.grad`` returns; or, as backward stores a retained gradient, the bare array
    #   (or numpy scalar), wrapped on first read (a graph of Values retains every gradient: one object fewer per node
    #   for the cyclic garbage collector to scan; internal readers use ``_grad_tensor``).
    _freed = False  # True for a FreedTensor
    _scalar_grad = None  # a numpy scalar type that is always of this tensor's shape and dtype (Value: np.float64)

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        array = numeric_array(_raw(data), dtype=dtype, copy=True)
        self._data = array
        self._vc = UNCHANGED
        self.grad_fn = self._grad = self._history = self._released_as = None
        self._requires_grad = self._retains_grad = False
        self.name = name
        if requires_grad:
            self.requires_grad = True

    def __getstate__(self):
        """The slots, for copy and pickle, but the hooks: a copy starts without any. A shallow copy shares
        the array, so it must share the version counter too: the counter becomes a list first (UNCHANGED is
        per tensor)."""
        version_counter(self)
        slots = {
            name: getattr(self, name)
            for cls in type(self).__mro__
            for name in getattr(cls, "__slots__", ())
            if name not in ("__weakref__", "__dict__", "_hooks") and hasattr(self, name)
        }
        return getattr(self, "__dict__", None) or None, slots

    @staticmethod
    def _wrap(array):
        """A Tensor around ``array`` as is (no copy, no checks): how operations make their results."""
        t = _new(Tensor)
        t._data = array
        t._vc = UNCHANGED
        t.grad_fn = t.name = t._grad = t._history = t._released_as = None
        t._requires_grad = t._retains_grad = False
        return t

    # -- data and gradient -------------------------------------------------------------
    @property
    def data(self):
        """The numpy array. Writing into it directly is invisible to autodiff, like PyTorch's ``.data``."""
        if _deferred.waiting:
            _deferred.settle(self._data)
        return self._data

    @data.setter
    def data(self, value):
        array = value if type(value) is np.ndarray else np.asarray(_raw(value))
        if self._requires_grad and array.dtype.kind != "f":
            raise TypeError(f"a tensor that requires grad needs floating-point data, got {array.dtype}")
        self._data = array
        bump_version(self)

    @property
    def _version(self):
        """How many in-place changes this tensor's data has seen (PyTorch's ``_version``)."""
        return self._vc[0]

    @property
    def requires_grad(self):
        """Whether operations on this tensor are recorded so gradients can flow back to it."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self.grad_fn is not None:
            if flag:
                return
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed tensor in a subgraph that doesn't require differentiation, use "
                "y = x.detach()."
            )
        if flag and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self._data.dtype}; "
                "pass dtype=np.float64 (or write 2.0 instead of 2)"
            )
        self._requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self (PyTorch's spelling)."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """∂L/∂self after ``L.backward()``: a Tensor, or None. Kept for leaves and for tensors that ``retain_grad()``."""
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return self._grad_tensor()

    def _grad_tensor(self):
        """``.grad`` without the non-leaf warning: None or a Tensor (a bare stored gradient wrapped now)."""
        g = self._grad
        if g is not None and not isinstance(g, Tensor):
            g = self._grad = Tensor._wrap(np.asarray(g))
        return g

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            array = np.asarray(value, dtype=self.dtype)
            value = Tensor._wrap(np.full(self.shape, array) if array.ndim == 0 else array.copy())
        if value.shape != self.shape:
            raise ValueError(f"assigned grad has shape {value.shape}, but the tensor has shape {self.shape}")
        if value.grad_fn is not None:  # a recorded gradient can close a cycle: the collector must see its ops
            from .collector import track_graph

            track_graph((value,))
        self._grad = value

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor too (e.g. to inspect δ = ∂C/∂z of a layer)."""
        if self.grad_fn is not None:
            self._retains_grad = True
        return self

    @property
    def is_leaf(self):
        """True unless the tensor was produced by a recorded operation."""
        return self.grad_fn is None

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate ∂self/∂leaf into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is ∂L/∂self to start from; it may be omitted for a single-element
        tensor (it is then 1). ``retain_graph`` keeps the saved values for another
        backward (default: ``create_graph``); ``create_graph`` records the backward
        pass so the gradients can be differentiated again.
        """
        _autograd.tensor_backward(self, gradient, retain_graph, create_graph)

    def detach(self):
        """The same data (shared, as in PyTorch) outside the graph: no history, no grad."""
        t = Tensor._wrap(self._data)
        t._vc = version_counter(self)
        return t

    # -- array facts -----------------------------------------------------------------
    shape = property(lambda self: self._data.shape, doc="Tuple of axis lengths.")
    ndim = property(lambda self: self._data.ndim, doc="Number of axes.")
    dtype = property(lambda self: self._data.dtype, doc="numpy dtype of the data.")

    @property
    def size(self):
        """Number of elements, as numpy's ``a.size``; called, PyTorch's ``size()`` (the shape) and ``size(dim)``."""
        return _size_of(self._data.shape)

    def numel(self):
        """Number of elements (PyTorch's name for ``size``)."""
        return self._data.size

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self._data.item()

    def numpy(self):
        """The numpy array (shared, not a copy). Refused, as in PyTorch, for a tensor that requires grad while
        gradients are recorded: ``detach().numpy()`` says the gradient is not wanted."""
        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead "
                "(or call it under autodiff.no_grad())."
            )
        if _deferred.waiting:
            _deferred.settle(self._data)
        return self._data

    def tolist(self):
        """The values as nested Python lists of numbers (a number for a 0-d tensor)."""
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        """What ``np.asarray(t)`` and libraries that convert (matplotlib, scipy) get: the data. Refused for a
        tensor that requires grad while gradients are recorded, because the array cannot carry its gradient."""
        if self._requires_grad:
            rule = differentiating_rule()
            if rule is not None:
                raise RuntimeError(
                    f"second derivatives of {rule.name} are not implemented: its derivative rule turned a "
                    "Tensor into a numpy array under create_graph=True, which would silently drop the "
                    "second-order terms. Write the rule with xp functions and operators, or set "
                    "twice_differentiable = False on the op."
                )
            if is_grad_enabled():
                raise RuntimeError(NO_ARRAY_OF_GRAD)
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        if _deferred.waiting:
            _deferred.settle(self._data)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    def __bool__(self):
        return bool(self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be used as an index, got {self.dtype}")
        return int(self._data)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape}")
        return repr(self)

    __hash__ = object.__hash__

    def __repr__(self):
        prefix = f"{type(self).__name__}("
        if self._freed:
            body = f"<values freed by backward>, shape={self.shape}"
        else:
            body = np.array2string(self._data, separator=", ", prefix=prefix, threshold=100)
        extras = []
        if self.dtype.name not in ("float64", "int64", "bool"):
            extras.append(f"dtype={self.dtype.name}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return prefix + ", ".join([body] + extras) + ")"

    # Comparisons give boolean tensors outside the graph.
    __lt__ = comparison(np.less)
    __le__ = comparison(np.less_equal)
    __gt__ = comparison(np.greater)
    __ge__ = comparison(np.greater_equal)
    __eq__ = comparison(np.equal)
    __ne__ = comparison(np.not_equal)

    # The operators (+, *, @, [], +=, ...), the op methods (x.exp(), x.sum(), ...) and numpy's
    # dispatch (np.exp(x)) are attached by autodiff.methods; tensor.pyi lists them all.


class Constant(Tensor):
    """A number that met a tensor in an operation (the 2 of ``x * 2``), as a read-only 0-d tensor.

    ``autodiff.functions.constant`` caches them: every op that used the same
    number next to the same dtype shares one. Drawings show one per use.
    """

    __slots__ = ()

    @property
    def requires_grad(self):
        return False

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag:
            raise RuntimeError("a constant an operation created cannot require grad; make the number a Tensor")
