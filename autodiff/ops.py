"""The op catalogue: every primitive operation, its forward and its derivative rule side by side.

An op's ``forward`` takes numpy arrays and returns a numpy array. Its ``vjp``
(vector-Jacobian product) takes the gradient ``g`` of the loss with respect to
the output and returns the gradient with respect to each input, written once
with operators and functions of the namespace ``xp``:

* in an ordinary backward pass ``xp`` is :data:`array_math` and every value is
  a numpy array: no Tensor is created;
* under ``backward(create_graph=True)`` ``xp`` is :mod:`autodiff.functions` and
  every value is a Tensor, so the backward pass is itself recorded and can be
  differentiated again.

A rule may return a gradient with the *output's* shape even where an input was
broadcast: the engine sums it back to the input's shape (one place, not in every
rule). ``x``/``out`` are ``None`` unless the op declares ``saves_inputs`` /
``saves_output``; ``self.needs_input_grad[i]`` tells whether input ``i`` wants a
gradient (a rule may return ``None`` for the ones that don't).

Composite operations (mean, var, stack, ...) are built from these in
:mod:`autodiff.functions`.
"""

import math
from types import SimpleNamespace

import numpy as np

from .grad_mode import _local

ONE, MANY = object(), object()  # what Op._in1 holds for an op of one input, or of any number but one or two


def two_slots(values):
    """A sequence as two slots: ``x, y`` for two values, ``x, ONE`` for one, ``(x, ...), MANY`` for any
    other number, and ``None, MANY`` for None (an op's saved values once released)."""
    if values is None:
        return None, MANY
    n = len(values)
    if n == 2:
        return values[0], values[1]
    if n == 1:
        return values[0], ONE
    return tuple(values), MANY


def from_two_slots(first, second):
    """The tuple (or None) that ``two_slots`` made ``first, second`` of."""
    if second is ONE:
        return (first,)
    if second is MANY:
        return first
    return (first, second)


class Op:
    """One application of an operation: a node of the computation graph (a tensor's ``grad_fn``).

    What tools outside the engine may read: ``name``; ``input_tensors`` (the
    inputs as this op saw them, in order; once a backward has released the op,
    intermediate inputs are placeholders with their name, shape, dtype, history
    and ``.grad`` but no values: their repr says so); ``params`` (its non-tensor arguments:
    axis, shape, index...); ``saved`` / ``saved_output`` (what the rule gets as
    inputs and output: the arrays kept, None for what it does not read; None once released); ``released``; ``scope`` (the
    ``autodiff.scope`` blocks, e.g. module calls, it was recorded in, as
    ``ScopeFrame(name, call)``s, outermost first) and ``scope_names``.

    The engine fills in, when the application is recorded: ``inputs``,
    ``versions`` (the inputs' version counters at that moment),
    ``needs_input_grad``, ``seq`` (creation order) and ``scope``.

    An entry's public surface is declared with it, and the rest of the library is made from it:
    ``function`` names autodiff's function for the op (the entry's ``name`` unless it sets another;
    made by :mod:`autodiff.functions` when ``forward`` takes only arrays, otherwise written there by
    hand to check its arguments),
    ``method`` makes it a Tensor method too, ``ufunc`` is the numpy ufunc that dispatches to it.
    """

    __slots__ = (
        "_in0",  # the inputs, in two slots rather than a tuple (see ``inputs``)
        "_in1",
        "versions",
        "needs_input_grad",
        "seq",
        "scope",
        "_saved0",  # what vjp gets as its inputs, in two slots as the inputs are (see ``saved``)
        "_saved1",
        "saved_output",
        "_output_counter",
        "output_version",
        "released",
        "created_at",
        "__weakref__",
    )

    name = "op"
    saves_inputs = True  # vjp reads the input values
    saves_output = False  # vjp reads the output value
    frees = ()  # further attributes (arrays) forward kept for vjp, freed after backward
    twice_differentiable = True  # False for a rule written with raw numpy: create_graph then refuses it
    remembers = False  # True when ``remember`` keeps more for vjp than the inputs and the output
    checks_rule = True  # the engine checks what vjp returns (count, types); the catalogue's rules are checked by tests
    function = None  # autodiff.<function>: the op's name, for the entries of the catalogue (this module)
    method = False  # Tensor.<function> too
    ufunc = None  # np.<ufunc>(tensor) dispatches to it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:  # an entry of the catalogue
            if "checks_rule" not in cls.__dict__:
                cls.checks_rule = False
            if "function" not in cls.__dict__:
                cls.function = cls.name

    @property
    def inputs(self):
        """The input tensors, in order: the graph's edges (tools read ``input_tensors``).

        Kept in two slots, not a tuple (``_in0, _in1``, see ``two_slots``). A graph then holds one
        object less per op for the cyclic garbage collector to scan, which is a third of its time on
        graphs of Values (benchmarks/, micrograd-demo).
        """
        return from_two_slots(self._in0, self._in1)

    @inputs.setter
    def inputs(self, tensors):
        self._in0, self._in1 = two_slots(tensors)

    @property
    def saved(self):
        """What ``vjp`` gets as its inputs: one array (or None, for an input it does not read) per
        input; None once released. Kept in two slots as ``inputs`` are (``_saved0, _saved1``): no
        tuple per op for the cyclic garbage collector to count."""
        return from_two_slots(self._saved0, self._saved1)

    @saved.setter
    def saved(self, arrays):
        self._saved0, self._saved1 = two_slots(arrays)

    def forward(self, *xs, **params):
        raise NotImplementedError

    def remember(self, *xs, out):
        """Keep what vjp needs beyond the inputs and the output (e.g. where the maximum was).
        Called only when the op is recorded: forwards under no_grad compute nothing for backward."""

    def vjp(self, xp, g, *xs, out):
        raise NotImplementedError

    # -- what the outside world may read (drawing, debugging) -------------------
    @property
    def input_tensors(self):
        """The input tensors as this op saw them (earlier selves of tensors changed in place since)."""
        from .history import graph_inputs

        return graph_inputs(self)

    @property
    def scope_names(self):
        """The names of the scope blocks (module calls) this op was recorded in, outermost first."""
        return tuple(frame.name for frame in self.scope)

    @property
    def params(self):
        """The op's non-tensor arguments (axis, shape, index...), without the arrays saved for backward."""
        names = [
            n
            for cls in reversed(type(self).__mro__)
            if cls is not Op
            for n in cls.__dict__.get("__slots__", ())
            if not n.startswith("_")
        ]
        values = {n: getattr(self, n) for n in names if hasattr(self, n)}
        values.update((k, v) for k, v in getattr(self, "__dict__", {}).items() if not k.startswith("_"))
        return {k: v for k, v in values.items() if not isinstance(v, np.ndarray)}

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


# --------------------------------------------------------------------------- helpers


_add_reduce = np.add.reduce  # np.sum without its Python wrapper
_max_reduce = np.maximum.reduce  # np.max without it


def sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added or stretched, giving ``shape``.

    ``x`` may also lack leading length-1 axes of ``shape`` (numpy lets ``a[0] = v`` take a v
    of shape (1, n) for a row of n): they are put back.
    """
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if x.ndim == len(shape) + 1 and x.shape[1:] == shape:  # copies along a new first axis: a bias's gradient
        return _add_reduce(x, axis=0)
    if x.ndim < len(shape):
        x = x.reshape((1,) * (len(shape) - x.ndim) + tuple(x.shape))
        if x.shape == shape:
            return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return _add_reduce(x, axis=axes, keepdims=True).reshape(shape)


def is_basic_index(index):
    """True for indices made of ints, slices, None and Ellipsis: numpy returns a view and never repeats an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


def scatter_add(g, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index``; repeated indices accumulate."""
    out = np.zeros(shape, dtype=g.dtype)
    items = index if isinstance(index, tuple) else (index,)
    if is_basic_index(index) or all(not (isinstance(i, np.ndarray) and i.dtype.kind in "iu") for i in items):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _kept_shape(shape, axis):
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = _axes(shape, axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_shape(shape, axis):
    """The shape a reduction over ``axis`` has without keepdims."""
    if axis is None:
        return ()
    axes = _axes(shape, axis)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def mean_scale(shape, axis, ddof=0):
    """1/(n − ddof), n the number of elements a reduction over ``axis`` (None: all) takes into each result;
    inf when that is ≤ 0, so that a mean over nothing is nan (numpy warns and does the same)."""
    n = (
        math.prod(shape)
        if axis is None
        else math.prod(shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))
    )
    return 1.0 / (n - ddof) if n - ddof > 0 else math.inf


def _axes(shape, axis):
    return {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}


def _matrix_transpose(xp, a):
    return xp.swapaxes(a, -1, -2)


def weak_result_type(dtype, number):
    """The dtype of an array of ``dtype`` combined with the Python number ``number``.

    numpy 2 (NEP 50) and PyTorch let a Python number take the array's dtype when it is of the same
    kind or a lower one (float32 × 0.5 is float32, int8 + 1 is int8, int + 0.5 is float64); numpy 1
    decided from the value and the dimensions, and a 0-d float32 times 0.5 became float64. Written
    out here, so every supported numpy gives the same dtypes.
    """
    kind = dtype.kind
    if isinstance(number, bool) or kind == "O":
        return dtype
    if isinstance(number, int):
        if kind == "b":
            return np.dtype(np.int_)
        if kind in "iu":
            info = np.iinfo(dtype)
            if not info.min <= number <= info.max:
                raise OverflowError(f"Python integer {number} out of bounds for {dtype}")
        return dtype
    if isinstance(number, float):
        return dtype if kind in "fc" else np.dtype(np.float64)
    if isinstance(number, complex):
        if kind == "c":
            return dtype
        return np.dtype(np.complex64) if kind == "f" and dtype.itemsize <= 4 else np.dtype(np.complex128)
    return np.result_type(dtype, number)


def sigmoid(x):
    """σ(x) = 1 / (1 + e⁻ˣ) without overflow."""
    e = np.exp(-np.abs(x))
    one = e.dtype.type(1)  # numpy 1 makes a 0-d float32 next to a Python 1 float64
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _broadcast_to(x, shape):
    """np.broadcast_to, but small results are filled copies: numpy's view costs microseconds to build."""
    if x.shape == shape:
        return x
    if x.size == 1:
        if math.prod(shape) <= 1024:
            out = np.empty(shape, dtype=x.dtype)  # np.full's work without its Python wrapper (half the time)
            out[...] = x.reshape(())
            return out
        view = np.ndarray(shape, x.dtype, x if type(x) is np.ndarray else np.asarray(x), 0, (0,) * len(shape))
        view.flags.writeable = False  # np.broadcast_to's view, built in a fifth of its time
        return view
    return np.broadcast_to(x, shape)


def _expand_dims(x, axis):
    axes = axis if isinstance(axis, tuple) else (axis,)
    ndim = x.ndim + len(axes)
    axes = sorted(a % ndim for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(shape)


# numpy's own functions (np.reshape, np.transpose...) wrap the methods in Python: ~1 µs each.
array_math = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    sin=np.sin,
    cos=np.cos,
    sinh=np.sinh,
    cosh=np.cosh,
    sign=np.sign,
    where=np.where,
    sigmoid=sigmoid,
    reshape=lambda x, shape: x.reshape(shape),
    transpose=lambda x, axes=None: x.transpose(axes),
    swapaxes=lambda x, a, b: x.swapaxes(a, b),
    expand_dims=_expand_dims,
    squeeze=lambda x, axis=None: x.squeeze(axis),
    matmul=np.matmul,
    einsum=np.einsum,
    cumsum=np.cumsum,
    broadcast_to=_broadcast_to,
    sum_to=sum_to,
    scatter_add=scatter_add,
)
"""The namespace rules see in a first-order backward pass: numpy, plus ``sum_to`` and ``scatter_add``."""


INNER_BLOCK = 1 << 16
"""Elements per block of ``inner``: one dot product over this many adds its terms accurately enough."""


def inner(x, y):
    """Σᵢ xᵢyᵢ over every element of two float arrays of one shape and dtype, without making x ⊙ y, about as
    accurate as numpy's pairwise ``np.sum(x * y)`` whatever the BLAS. One ``np.vdot`` adds its terms one
    after another, and its error grows with their number and depends on the BLAS's kernel: with numpy
    2.4's OpenBLAS it is off by 2e-7 of the value over 400 K float32 elements, 7e-6 over 4 M and 2e-4 over
    40 M; with numpy 1.24's, by 2e-6, 5e-5 and 2e-3 (numpy's pairwise sum: 4e-8, 2e-7 and 2e-6). So blocks
    of ``INNER_BLOCK`` elements are dotted apart, as one stacked matrix product (off by 1e-7 or less with
    either), and their sums added in float64. The value may differ from numpy's sum in its last bits."""
    n = x.size
    if n <= INNER_BLOCK or x.dtype.kind != "f" or y.dtype != x.dtype:
        return np.vdot(x, y)
    if not (x.flags.c_contiguous and y.flags.c_contiguous):
        if not (x.flags.f_contiguous and y.flags.f_contiguous):
            return _add_reduce(np.multiply(x, y), axis=None)
        x, y = x.T, y.T
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    blocks = n // INNER_BLOCK
    whole = blocks * INNER_BLOCK
    sums = np.matmul(flat_x[:whole].reshape(blocks, 1, INNER_BLOCK), flat_y[:whole].reshape(blocks, INNER_BLOCK, 1))
    total = _add_reduce(sums.reshape(-1), dtype=np.float64)
    if whole < n:
        total += np.vdot(flat_x[whole:], flat_y[whole:])
    return x.dtype.type(total)


SCALED_FROM = 1 << 16
"""Elements from which a leaf's gradient c·x waits to be added (``Scaled``): below, making it costs less."""


class Scaled:
    """A big leaf's gradient c·x, not made yet: what x ⊙ x under a sum and ``sum_of_squares`` give a leaf
    (d2l's penalty: λW). The walk adds it into the leaf's other gradient in place, a block at a time
    (``accumulation.add_gradient``), where c·x would be an array as large as W, made and then added; or
    makes it (``made()``: the numbers of ``x * c``)."""

    __slots__ = ("x", "c", "shape", "dtype")

    def made(self):
        return self.x * self.c


def _scaled(x, c, tensor):
    """c·x, the gradient of ``tensor``: a ``Scaled`` when x is big, of its dtype, and ``tensor`` a leaf."""
    if type(x) is np.ndarray and x.size >= SCALED_FROM and tensor.grad_fn is None and not _local.state.anomaly:
        if np.result_type(x, c) == x.dtype:
            later = Scaled()
            later.x, later.c, later.shape, later.dtype = x, c, x.shape, x.dtype
            return later
    return x * c


def is_square(x, y):
    """Whether ``x ** y`` is x²: y the 0-d 2 of x's float dtype (as ``functions.operand`` makes it from 2)."""
    return type(y) is np.ndarray and y.ndim == 0 and y.dtype == x.dtype and x.dtype.kind == "f" and y.item() == 2


def _one_number(g):
    """Whether the gradient ``g`` is one number broadcast over many (a sum's backward): x ⊙ x's and x²'s rules
    then give c·x (``_scaled``)."""
    return type(g) is np.ndarray and g.size > 1 and not any(g.strides)


# --------------------------------------------------------------------------- arithmetic


class Add(Op):
    """z = x + y.   ∂L/∂x = g,  ∂L/∂y = g"""

    __slots__ = ()

    name, saves_inputs = "add", False
    ufunc = np.add

    def forward(self, x, y):
        return x + y

    def vjp(self, xp, g, x, y, out):
        return g, g


class Sub(Op):
    """z = x − y.   ∂L/∂x = g,  ∂L/∂y = −g"""

    __slots__ = ()

    name, saves_inputs = "sub", False
    ufunc = np.subtract

    def forward(self, x, y):
        return x - y

    def vjp(self, xp, g, x, y, out):
        return g, -g


class Neg(Op):
    """z = −x.   ∂L/∂x = −g"""

    __slots__ = ()

    name, saves_inputs = "neg", False
    ufunc = np.negative

    def forward(self, x):
        return -x

    def vjp(self, xp, g, x, out):
        return -g


class Mul(Op):
    """z = x ⊙ y.   ∂L/∂x = g ⊙ y,  ∂L/∂y = g ⊙ x"""

    __slots__ = ()

    name = "mul"
    ufunc = np.multiply

    def forward(self, x, y):
        if x is y and type(x) is np.ndarray and x.dtype.kind == "f":  # x ⊙ x (a penalty's W * W): one input
            return np.square(x)  # stream, the same numbers (not for bools: numpy squares those into int8)
        return x * y

    def vjp(self, xp, g, x, y, out):
        nx, ny = self.needs_input_grad
        if nx and ny and self._in0 is self._in1:  # x ⊙ x: ∂L/∂x = 2 g ⊙ x, made once (it is summed anyway)
            if _one_number(g):
                return _scaled(x, 2 * g.flat[0], self._in0), None
            gx = g * x
            if type(gx) is np.ndarray:
                gx += gx
                return gx, None
            return gx + gx, None
        return (g * y if nx else None), (g * x if ny else None)


class Div(Op):
    """z = x / y.   ∂L/∂x = g / y,  ∂L/∂y = −g ⊙ x / y²"""

    __slots__ = ()

    name = "div"
    ufunc = np.true_divide

    def forward(self, x, y):
        return x / y

    def vjp(self, xp, g, x, y, out):
        gx = g / y
        return gx, (-gx * x / y if self.needs_input_grad[1] else None)


class Pow(Op):
    """z = xʸ.   ∂L/∂x = g ⊙ y xʸ⁻¹,  ∂L/∂y = g ⊙ z ln x  (taken as 0 where x = 0, as PyTorch does)"""

    __slots__ = ()

    name, saves_output = "pow", True
    method = True
    ufunc = np.power

    def forward(self, x, y):
        if is_square(x, y):
            return np.square(x)  # what numpy's own x ** 2 runs: twice as fast as its power loop, and exact
        return x**y

    def vjp(self, xp, g, x, y, out):
        nx, ny = self.needs_input_grad
        if nx and not ny and is_square(x, y):
            if _one_number(g):  # (d2l's penalty (w ** 2).sum(): λw)
                return _scaled(x, 2 * g.flat[0], self._in0), None
            return g * (x + x), None  # (2x is exact, so one rounding either way) from two ufunc calls, not four
        gx = g * y * x ** (y - 1) if nx else None
        if not ny:
            return gx, None
        at_zero = x == 0
        return gx, xp.where(at_zero, 0, g * out * xp.log(xp.where(at_zero, 1, x)))


class Matmul(Op):
    """z = x @ y with numpy's rules for 1-d and stacked operands.

    ∂L/∂x = g @ yᵀ,  ∂L/∂y = xᵀ @ g  (a 1-d operand is promoted to a matrix for
    the product and its gradient squeezed back; stacked batch axes are summed
    back by the engine).
    """

    __slots__ = ()

    name = "matmul"
    method = True
    ufunc = np.matmul

    def forward(self, x, y):
        return np.matmul(x, y)

    def vjp(self, xp, g, x, y, out):
        nx, ny = self.needs_input_grad
        if x.ndim == 1 and y.ndim == 1:
            return (g * y if nx else None), (g * x if ny else None)
        if x.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
            g2 = xp.expand_dims(g, -2)
            gx = xp.squeeze(xp.matmul(g2, _matrix_transpose(xp, y)), -2) if nx else None
            gy = xp.matmul(xp.reshape(x, (-1, 1)), g2) if ny else None
            return gx, gy
        if y.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
            g2 = xp.expand_dims(g, -1)
            gx = xp.matmul(g2, xp.reshape(y, (1, -1))) if nx else None
            gy = xp.squeeze(xp.matmul(_matrix_transpose(xp, x), g2), -1) if ny else None
            return gx, gy
        if x.ndim == 2 and y.ndim == 2 and type(g) is np.ndarray:
            # Each gradient in its input's memory order (as PyTorch's mm_mat2_backward): for x @ W.T, the
            # gradient of W.T is computed as (gᵀx)ᵀ, so W's gradient comes out C-ordered like W (an F-ordered
            # one makes W -= lr * W.grad many times slower).
            gx = ((y @ g.T).T if _column_ordered(x) else g @ y.T) if nx else None
            gy = ((g.T @ x).T if _column_ordered(y) else x.T @ g) if ny else None
            return gx, gy
        gx = xp.matmul(g, _matrix_transpose(xp, y)) if nx else None
        gy = xp.matmul(_matrix_transpose(xp, x), g) if ny else None
        return gx, gy


def _column_ordered(a):
    """Whether the matrix ``a`` is stored column by column (a transposed view, such as W.T)."""
    flags = a.flags
    return flags.f_contiguous and not flags.c_contiguous


class Einsum(Op):
    """z = einsum("ij,jk->ik", x, y): products of the operands, summed over the letters the output lacks.

    ∂L/∂xᵢ = einsum of g with the other operands, to xᵢ's letters; along a letter only xᵢ has (summed
    away), every element gets the same gradient. Each operand's letters are distinct here:
    ``autodiff.einsum`` takes the diagonals of repeated ones first.
    """

    __slots__ = ("operands", "output", "sizes")

    name = "einsum"

    def forward(self, *xs, operands=(), output=""):
        self.operands, self.output, self.sizes = operands, output, {}
        for letters, x in zip(operands, xs):
            for c, n in zip(letters, x.shape):
                self.sizes[c] = max(n, self.sizes.get(c, 1))
        return np.einsum(",".join(operands) + "->" + output, *xs)

    def vjp(self, xp, g, *xs, out):
        grads = []
        for i, letters in enumerate(self.operands):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [j for j in range(len(xs)) if j != i]
            known = set(self.output).union(*(self.operands[j] for j in others))
            kept = "".join(c for c in letters if c in known)
            spec = ",".join([self.output] + [self.operands[j] for j in others]) + "->" + kept
            gx = xp.einsum(spec, g, *(xs[j] for j in others))
            if kept != letters:
                gx = xp.reshape(gx, tuple(self.sizes[c] if c in known else 1 for c in letters))
                gx = xp.broadcast_to(gx, tuple(self.sizes[c] for c in letters))
            grads.append(gx)
        return tuple(grads)


class Linear(Op):
    """z = x Wᵀ + b: a layer of neurons (Nielsen's zˡ = wˡaˡ⁻¹ + bˡ, one sample per row of x).

    ∂L/∂x = g W,  ∂L/∂W = gᵀ x (summed over the samples),  ∂L/∂b = Σ g over the samples.
    One op instead of transpose, matmul and add: the weight's gradient comes out in
    the weight's own layout and the bias's without undoing a broadcast.
    """

    __slots__ = ()
    name = "linear"

    def forward(self, x, w, *b):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"x has {x.shape[-1] if x.ndim else 0} features per sample, W of shape {w.shape} "
                f"(out, in) takes {w.shape[1] if w.ndim == 2 else '?'}"
            )
        out = np.matmul(x, w.T)
        if b:
            bias = b[0]
            if out.dtype is bias.dtype or out.dtype == np.result_type(out, bias):
                out += bias
            else:
                out = out + bias
        return out

    def vjp(self, xp, g, x, w, *b, out):
        nx, nw = self.needs_input_grad[:2]
        gx = xp.matmul(g, w) if nx else None
        if g.ndim != 2:  # a batch of any shape: its samples as the rows of a matrix
            g, x = xp.reshape(g, (-1, g.shape[-1])), xp.reshape(x, (-1, x.shape[-1]))
        gw = xp.matmul(g.T, x) if nw else None
        if not b:
            return gx, gw
        return gx, gw, (g.sum(axis=0) if self.needs_input_grad[2] else None)


# --------------------------------------------------------------------------- elementwise


class Exp(Op):
    """z = eˣ.   ∂L/∂x = g ⊙ z"""

    __slots__ = ()

    name, saves_inputs, saves_output = "exp", False, True
    method = True
    ufunc = np.exp

    def forward(self, x):
        return np.exp(x)

    def vjp(self, xp, g, x, out):
        return g * out


class Log(Op):
    """z = ln x.   ∂L/∂x = g / x"""

    __slots__ = ()

    name = "log"
    method = True
    ufunc = np.log

    def forward(self, x):
        return np.log(x)

    def vjp(self, xp, g, x, out):
        return g / x


class Log1p(Op):
    """z = ln(1 + x), accurate for tiny x.   ∂L/∂x = g / (1 + x)"""

    __slots__ = ()

    name = "log1p"
    method = True
    ufunc = np.log1p

    def forward(self, x):
        return np.log1p(x)

    def vjp(self, xp, g, x, out):
        return g / (1 + x)


class Sqrt(Op):
    """z = √x.   ∂L/∂x = g / (2z)"""

    __slots__ = ()

    name, saves_inputs, saves_output = "sqrt", False, True
    method = True
    ufunc = np.sqrt

    def forward(self, x):
        return np.sqrt(x)

    def vjp(self, xp, g, x, out):
        return g / (2 * out)


class Sin(Op):
    """z = sin x.   ∂L/∂x = g ⊙ cos x"""

    __slots__ = ()

    name = "sin"
    method = True
    ufunc = np.sin

    def forward(self, x):
        return np.sin(x)

    def vjp(self, xp, g, x, out):
        return g * xp.cos(x)


class Cos(Op):
    """z = cos x.   ∂L/∂x = −g ⊙ sin x"""

    __slots__ = ()

    name = "cos"
    method = True
    ufunc = np.cos

    def forward(self, x):
        return np.cos(x)

    def vjp(self, xp, g, x, out):
        return -g * xp.sin(x)


class Sinh(Op):
    """z = sinh x = (eˣ − e⁻ˣ) / 2.   ∂L/∂x = g ⊙ cosh x"""

    __slots__ = ()

    name = "sinh"
    method = True
    ufunc = np.sinh

    def forward(self, x):
        return np.sinh(x)

    def vjp(self, xp, g, x, out):
        return g * xp.cosh(x)


class Cosh(Op):
    """z = cosh x = (eˣ + e⁻ˣ) / 2.   ∂L/∂x = g ⊙ sinh x"""

    __slots__ = ()

    name = "cosh"
    method = True
    ufunc = np.cosh

    def forward(self, x):
        return np.cosh(x)

    def vjp(self, xp, g, x, out):
        return g * xp.sinh(x)


class Tanh(Op):
    """z = tanh x.   ∂L/∂x = g ⊙ (1 − z²)"""

    __slots__ = ()

    name, saves_inputs, saves_output = "tanh", False, True
    method = True
    ufunc = np.tanh

    def forward(self, x):
        return np.tanh(x)

    def vjp(self, xp, g, x, out):
        return g * (1 - out * out)


class Sigmoid(Op):
    """z = σ(x) = 1 / (1 + e⁻ˣ).   ∂L/∂x = g ⊙ z (1 − z)"""

    __slots__ = ()

    name, saves_inputs, saves_output = "sigmoid", False, True
    method = True

    def forward(self, x):
        return sigmoid(x)

    def vjp(self, xp, g, x, out):
        return g * out * (1 - out)


class Softplus(Op):
    """z = ln(1 + eˣ), computed without overflow or loss in the tails.   ∂L/∂x = g ⊙ σ(x)"""

    __slots__ = ()

    name = "softplus"
    method = True

    def forward(self, x):
        return np.logaddexp(x.dtype.type(0), x)

    def vjp(self, xp, g, x, out):
        return g * xp.sigmoid(x)


class Relu(Op):
    """z = max(x, 0).   ∂L/∂x = g ⊙ [x > 0]  (relu'(0) = 0)"""

    __slots__ = ()

    name = "relu"
    method = True

    def forward(self, x):
        return np.maximum(x, x.dtype.type(0))

    def vjp(self, xp, g, x, out):
        if type(g) is np.ndarray:  # [x > 0] in g's dtype, times g in place: twice as fast as numpy's bool × float
            mask = (x > 0).astype(g.dtype)
            mask *= g
            return mask
        return g * (x > 0)


class Abs(Op):
    """z = |x|.   ∂L/∂x = g ⊙ sign x  (abs'(0) = 0)"""

    __slots__ = ()

    name = "abs"
    method = True
    ufunc = np.absolute

    def forward(self, x):
        return np.abs(x)

    def vjp(self, xp, g, x, out):
        return g * xp.sign(x)


class Maximum(Op):
    """z = max(x, y) elementwise.   g goes to the larger input; at ties each gets g/2."""

    __slots__ = ("share",)

    name, saves_inputs, frees, remembers = "maximum", False, ("share",), True
    pick, choose = staticmethod(np.greater), staticmethod(np.maximum)
    method = True
    ufunc = np.maximum

    def forward(self, x, y):
        return self.choose(x, y)

    def remember(self, x, y, out):
        self.share = np.where(x == y, 0.5, self.pick(x, y)).astype(out.dtype)  # x's share of g: 1 if it wins, ½ at ties

    def vjp(self, xp, g, x, y, out):
        return g * self.share, g * (1 - self.share)


class Minimum(Maximum):
    """z = min(x, y) elementwise.   g goes to the smaller input; at ties each gets g/2."""

    __slots__ = ()

    name = "minimum"
    pick, choose = staticmethod(np.less), staticmethod(np.minimum)
    method = True
    ufunc = np.minimum


class Clip(Op):
    """z = min(max(x, lo), hi).   ∂L/∂x = g inside the closed interval [lo, hi], 0 outside."""

    __slots__ = ("lo", "hi", "inside")

    name, saves_inputs, frees, remembers = "clip", False, ("inside",), True
    method = True

    def forward(self, x, lo=None, hi=None):
        lo, hi = (b if b is None else np.asarray(b, dtype=weak_result_type(x.dtype, b)) for b in (lo, hi))
        self.lo, self.hi = lo, hi
        if lo is None and hi is None:
            return x.copy()
        return np.clip(x, lo, hi)

    def remember(self, x, out):
        lo, hi = self.lo, self.hi
        inside = (x >= lo) if lo is not None else np.ones(x.shape, dtype=bool)
        if hi is not None:
            inside &= x <= hi
        self.inside = inside

    def vjp(self, xp, g, x, out):
        return g * self.inside


class Where(Op):
    """z = x where cond else y.   ∂L/∂x = g ⊙ cond,  ∂L/∂y = g ⊙ ¬cond"""

    __slots__ = ("cond",)

    name, saves_inputs, frees = "where", False, ("cond",)

    def forward(self, x, y, cond=None):
        self.cond = cond
        return np.where(cond, x, y)

    def vjp(self, xp, g, x, y, out):
        return xp.where(self.cond, g, 0), xp.where(self.cond, 0, g)


class Cast(Op):
    """z = x converted to another dtype.   ∂L/∂x = g (the engine casts it back to x's dtype)."""

    __slots__ = ("dtype",)

    name, saves_inputs = "astype", False
    method = True

    def forward(self, x, dtype=None):
        self.dtype = np.dtype(dtype)
        return x.astype(self.dtype)

    def vjp(self, xp, g, x, out):
        return g


# --------------------------------------------------------------------------- reductions


class Sum(Op):
    """z = Σ x over ``axis``.   ∂L/∂x = g broadcast back over the summed axes."""

    __slots__ = ("axis", "keepdims", "input_shape")

    name, saves_inputs = "sum", False
    method = True

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims, self.input_shape = axis, keepdims, x.shape
        return _add_reduce(x, axis=axis, keepdims=keepdims)

    def vjp(self, xp, g, x, out):
        if self.axis is not None and not self.keepdims:  # (a sum of everything broadcasts as it is)
            g = xp.reshape(g, _kept_shape(self.input_shape, self.axis))
        return xp.broadcast_to(g, self.input_shape)


class Mean(Sum):
    """z = Σ x / n over ``axis``, n the number of elements averaged.   ∂L/∂x = g/n broadcast back over them.

    One op, not a sum and a product: a loss's ``mean()`` is one node of the graph (as in PyTorch).
    """

    __slots__ = ("scale",)

    name = "mean"
    method = True

    def forward(self, x, axis=None, keepdims=False):
        total = super().forward(x, axis, keepdims)
        scale = mean_scale(x.shape, axis)
        self.scale = np.asarray(scale, dtype=weak_result_type(total.dtype, scale))[()]
        return np.multiply(total, self.scale)

    def vjp(self, xp, g, x, out):
        return super().vjp(xp, g * self.scale, x, out)


class Max(Op):
    """z = max x over ``axis``.   g goes to the maximal elements, shared evenly at ties."""

    __slots__ = ("axis", "keepdims", "input_shape", "share")

    name, saves_inputs, frees, remembers = "max", False, ("share",), True
    reduce = staticmethod(_max_reduce)  # np.max without its Python wrapper
    method = True

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims, self.input_shape = axis, keepdims, x.shape
        return self.reduce(x, axis=axis, keepdims=keepdims)

    def remember(self, x, out):
        winners = x == (out if self.keepdims else out.reshape(_kept_shape(x.shape, self.axis)))
        self.share = (winners / winners.sum(axis=self.axis, keepdims=True)).astype(out.dtype)

    def vjp(self, xp, g, x, out):
        return xp.reshape(g, _kept_shape(self.input_shape, self.axis)) * self.share


class Min(Max):
    """z = min x over ``axis``.   g goes to the minimal elements, shared evenly at ties."""

    __slots__ = ()

    name = "min"
    reduce = staticmethod(np.minimum.reduce)  # np.min without its Python wrapper
    method = True
    ufunc = None


def _reduced_last(shape, axis):
    """The permutation that moves the reduced ``axis`` (None: all) to the end, and how many axes that is."""
    reduced = sorted(_axes(shape, axis)) if axis is not None else list(range(len(shape)))
    return [i for i in range(len(shape)) if i not in reduced] + reduced, len(reduced)


def _products_of_others(xp, x, axis):
    """For each element xᵢ, the product of the other elements of its reduction Πⱼ≠ᵢ xⱼ (exact where x has zeros)."""
    perm, k = _reduced_last(x.shape, axis)
    moved = xp.transpose(x, tuple(perm))
    kept = tuple(moved.shape[: moved.ndim - k])
    n = math.prod(moved.shape[moved.ndim - k :])
    flat = xp.reshape(moved, kept + (n,))
    if type(x) is np.ndarray:  # exclusive running products from the left and from the right
        ones = np.ones(kept + (min(n, 1),), dtype=x.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        others = left * right
    else:  # create_graph: the same numbers from recorded ops (row i: the elements with xᵢ replaced by 1)
        square = xp.broadcast_to(xp.expand_dims(flat, -2), kept + (n, n))
        others = xp.prod(xp.where(np.eye(n, dtype=bool), 1, square), axis=-1)
    return xp.transpose(xp.reshape(others, moved.shape), tuple(np.argsort(perm)))


class Prod(Op):
    """z = Π x over ``axis``.   ∂L/∂xᵢ = g ⊙ Πⱼ≠ᵢ xⱼ (the product of the others, so exact where some x are 0)."""

    __slots__ = ("axis", "keepdims", "input_shape")

    name = "prod"
    method = True

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims, self.input_shape = axis, keepdims, x.shape
        return np.prod(x, axis=axis, keepdims=keepdims)

    def vjp(self, xp, g, x, out):
        return xp.reshape(g, _kept_shape(self.input_shape, self.axis)) * _products_of_others(xp, x, self.axis)


class Cumsum(Op):
    """zᵢ = Σⱼ≤ᵢ xⱼ along ``axis``.   ∂L/∂xᵢ = Σⱼ≥ᵢ gⱼ: the running sums of g taken from the other end."""

    __slots__ = ("axis",)

    name, saves_inputs = "cumsum", False
    method = True

    def forward(self, x, axis=0):
        self.axis = axis
        return np.cumsum(x, axis=axis)

    def vjp(self, xp, g, x, out):
        backwards = (slice(None),) * (self.axis % g.ndim) + (slice(None, None, -1),)
        return xp.cumsum(g[backwards], axis=self.axis)[backwards]


class LogSumExp(Op):
    """z = ln Σ eˣ over ``axis`` (shifted by the max, so finite for x = ±1000).   ∂L/∂x = g ⊙ e^(x − z)"""

    __slots__ = ("axis", "keepdims", "input_shape")

    name, saves_output = "logsumexp", True
    method = True

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims, self.input_shape = axis, keepdims, x.shape
        shift = _max_reduce(x, axis=axis, keepdims=True)
        shift = np.where(np.isfinite(shift), shift, shift.dtype.type(0))
        out = np.log(_add_reduce(np.exp(x - shift), axis=axis, keepdims=True)) + shift
        return out if keepdims else out.reshape(_reduced_shape(x.shape, axis))

    def vjp(self, xp, g, x, out):
        kept = _kept_shape(self.input_shape, self.axis)
        return xp.reshape(g, kept) * xp.exp(x - xp.reshape(out, kept))


class Softmax(Op):
    """zᵢ = e^xᵢ / Σⱼ e^xⱼ along ``axis``.   ∂L/∂x = z ⊙ (g − Σ g ⊙ z)"""

    __slots__ = ("axis",)

    name, saves_inputs, saves_output = "softmax", False, True
    method = True

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - _max_reduce(x, axis=axis, keepdims=True))
        return e / _add_reduce(e, axis=axis, keepdims=True)

    def vjp(self, xp, g, x, out):
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Op):
    """zᵢ = xᵢ − ln Σⱼ e^xⱼ along ``axis``.   ∂L/∂x = g − e^z Σ g"""

    __slots__ = ("axis",)

    name, saves_inputs, saves_output = "log_softmax", False, True
    method = True

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - _max_reduce(x, axis=axis, keepdims=True)
        return shifted - np.log(_add_reduce(np.exp(shifted), axis=axis, keepdims=True))

    def vjp(self, xp, g, x, out):
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Op):
    """zₙ = −log softmax(xₙ)[yₙ] = ln Σⱼ e^xₙⱼ − xₙ,yₙ per row n, for integer labels y;
    with ``reduction`` "mean" or "sum", z = s Σₙ zₙ (s = 1/N or 1).

    ∂L/∂xₙ = gₙ (softmax(xₙ) − onehot(yₙ)), where gₙ = s g when reduced: the softmax
    computed forward is kept, so backward is one multiply (Nielsen's δᴸ = aᴸ − y for
    softmax with log-likelihood), and the mean costs no ops of its own.
    """

    __slots__ = ("labels", "reduction", "probs")
    name, frees = "cross_entropy", ("probs",)

    def forward(self, x, labels=None, reduction="none"):
        self.labels, self.reduction = labels, reduction
        shifted = x - _max_reduce(x, axis=-1, keepdims=True)  # (np.max and np.sum are these, behind a wrapper)
        e = np.exp(shifted)
        total = _add_reduce(e, axis=-1, keepdims=True)
        rows = np.arange(len(x))
        out = np.log(total[:, 0]) - shifted[rows, labels]
        e /= total
        self.probs = e
        if reduction == "none":
            return out
        return _add_reduce(out) * out.dtype.type(self._scale())

    def _scale(self):
        """s: ∂z/∂zₙ for every n (the mean of nothing is nan, as numpy's)."""
        if self.reduction == "sum":
            return 1.0
        n = len(self.labels)
        return 1.0 / n if n else math.inf

    def vjp(self, xp, g, x, out):
        rows = np.arange(len(self.labels))
        if self.reduction != "none":
            g = g * g.dtype.type(self._scale())  # the same gₙ for every sample
        per_sample = xp.reshape(g, (-1, 1)) if g.ndim else g  # broadcasts over the classes
        if type(x) is np.ndarray:  # first order: the softmax kept from forward
            gx = self.probs * per_sample
            gx[rows, self.labels] -= g
            return gx
        onehot = np.zeros(x.shape, dtype=x.dtype)
        onehot[rows, self.labels] = 1
        return per_sample * (xp.softmax(x, axis=-1) - onehot)


# --------------------------------------------------------------------------- shape


class Reshape(Op):
    """z = x with a new shape.   ∂L/∂x = g reshaped to x's shape."""

    __slots__ = ("input_shape", "shape")

    name, saves_inputs = "reshape", False
    method = True

    def forward(self, x, shape=None):
        self.input_shape, self.shape = x.shape, shape
        return x.reshape(shape)

    def vjp(self, xp, g, x, out):
        return xp.reshape(g, self.input_shape)


class Transpose(Op):
    """z = x with its axes permuted.   ∂L/∂x = g with the inverse permutation."""

    __slots__ = ("axes",)

    name, saves_inputs = "transpose", False
    method = True

    def forward(self, x, axes=None):
        if axes is not None and not all(isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"axes must be ints, got {axes!r}")
        if axes is not None and sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(f"axes {tuple(axes)!r} are not a permutation of the {x.ndim} axes")
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
        return x.transpose(self.axes)

    def vjp(self, xp, g, x, out):
        axes = self.axes  # the inverse permutation: where each axis went (of two axes, the permutation itself)
        return xp.transpose(g, axes if len(axes) <= 2 else tuple(sorted(range(len(axes)), key=axes.__getitem__)))


class BroadcastTo(Op):
    """z = x broadcast to ``shape``.   ∂L/∂x = g summed over the broadcast axes."""

    __slots__ = ("input_shape", "shape")

    name, saves_inputs = "broadcast_to", False
    method = True

    def forward(self, x, shape=None):
        self.input_shape, self.shape = x.shape, shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"cannot broadcast a tensor of shape {x.shape} to shape {shape}") from None

    def vjp(self, xp, g, x, out):
        return xp.sum_to(g, self.input_shape)


class SumTo(Op):
    """z = x summed down to ``shape`` (undoes broadcasting).   ∂L/∂x = g broadcast back to x's shape."""

    __slots__ = ("input_shape", "shape")

    name, saves_inputs = "sum_to", False
    method = True

    def forward(self, x, shape=None):
        self.input_shape, self.shape = x.shape, shape
        return sum_to(x, shape)

    def vjp(self, xp, g, x, out):
        extra = len(self.shape) - len(self.input_shape)
        if extra > 0:  # sum_to put back leading length-1 axes: take them off again
            g = xp.reshape(g, tuple(self.shape[extra:]))
        return xp.broadcast_to(g, self.input_shape)


class GetItem(Op):
    """z = x[index].   ∂L/∂x = zeros with g added at index (repeated indices accumulate)."""

    __slots__ = ("index", "input_shape")

    name, saves_inputs, frees = "getitem", False, ("index",)

    def forward(self, x, index=None):
        self.index, self.input_shape = index, x.shape
        return x[index]

    def vjp(self, xp, g, x, out):
        return xp.scatter_add(g, self.index, self.input_shape)


class ScatterAdd(Op):
    """z = zeros(shape) with x added at index.   ∂L/∂x = g[index]"""

    __slots__ = ("index",)

    name, saves_inputs, frees = "scatter_add", False, ("index",)

    def forward(self, x, index=None, shape=None):
        self.index = index
        return scatter_add(x, index, shape)

    def vjp(self, xp, g, x, out):
        return g[self.index]


class SetItem(Op):
    """z = x with z[index] = v.   ∂L/∂x = g with zeros at index,  ∂L/∂v = g[index]

    With repeated integer indices only the last write of each element survives (as in
    numpy), so only the entries of v that were written get a gradient.
    """

    __slots__ = ("index", "keep", "written")

    name, saves_inputs, frees, remembers = "setitem", False, ("index", "keep", "written"), True

    def forward(self, x, v, index=None):
        self.index = index
        out = x.copy()
        out[index] = v
        return out

    def remember(self, x, v, out):
        index = self.index
        self.keep = np.ones(x.shape, dtype=out.dtype)
        self.keep[index] = 0
        self.written = None
        if not is_basic_index(index):
            region = out[index].shape
            ids = np.arange(math.prod(region)).reshape(region)
            owner = np.full(x.shape, -1)
            owner[index] = ids  # the same assignment as above: the same element wins
            written = owner[index] == ids
            if not written.all():
                self.written = written

    def vjp(self, xp, g, x, v, out):
        gv = g[self.index]
        return g * self.keep, (gv if self.written is None else gv * self.written)


class Concatenate(Op):
    """z = [x₁, x₂, …] joined along ``axis``.   ∂L/∂xᵢ = the slice of g that xᵢ filled."""

    __slots__ = ("axis", "bounds")

    name, saves_inputs = "concatenate", False

    def forward(self, *xs, axis=0):
        if xs[0].ndim == 0:
            raise ValueError("zero-dimensional tensors cannot be concatenated (stack them instead)")
        self.axis = axis % xs[0].ndim
        self.bounds = np.cumsum([0] + [x.shape[self.axis] for x in xs])
        return np.concatenate(xs, axis=self.axis)

    def vjp(self, xp, g, *xs, out):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (slice(a, b),)] for a, b in zip(self.bounds[:-1], self.bounds[1:]))


class SumOfSquares(Op):
    """z = Σᵢ Σ xᵢ² over every element of every input, one pass each (no squares made).   ∂L/∂xᵢ = 2 g xᵢ"""

    __slots__ = ()

    name = "sum_of_squares"

    def forward(self, *xs):
        dtype = np.result_type(*xs)
        return np.asarray(sum(inner(x, x) for x in xs), dtype=dtype)

    def vjp(self, xp, g, *xs, out):
        twice = g + g
        return tuple(
            _scaled(x, twice, t) if needed else None for x, t, needed in zip(xs, self.inputs, self.needs_input_grad)
        )


CATALOGUE = tuple(
    entry for entry in list(globals().values()) if isinstance(entry, type) and issubclass(entry, Op) and entry is not Op
)
"""Every op, in the order of this file: what autodiff.functions, autodiff.methods and the docs are made from."""
