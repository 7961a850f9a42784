"""numpy's functions on tensors: the right gradient, or a loud refusal (autodiff/numpy_dispatch.py).

* every function numpy dispatches to autodiff gives numpy's values and passes gradcheck and gradgradcheck
  (a table of calls, and Hypothesis over random shapes);
* numpy's keyword arguments are honoured or refused by name;
* every public function of ``numpy`` and ``numpy.linalg``, called on a tensor that requires grad, returns
  Tensors with correct gradients or raises: never a plain array computed from the tensor;
* ``np.asarray(t)`` refuses a tensor that requires grad (as PyTorch's ``numpy()``), ``out=`` too;
* HIPS autograd's tutorial runs with only its imports changed and trains as HIPS autograd does.
"""

import inspect
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff import Tensor, numpy_dispatch

NUMPY_2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
REFUSED = r"has no derivative rule in autodiff|can't record its result for backward|is not implemented in autodiff"


def _values(shape, seed=0, low=0.5, high=2.0):
    """Distinct values of both signs, |x| in [low, high]: away from kinks, ties and the edges of domains."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    magnitudes = low + (high - low) * (np.arange(n) + rng.uniform(0.1, 0.9, n)) / max(n, 1)
    return (rng.permutation(magnitudes) * rng.choice([-1.0, 1.0], n)).reshape(shape)


def _leaf(shape, seed=0, positive=False):
    data = _values(shape, seed)
    return Tensor(np.abs(data) if positive else data, requires_grad=True)


# == the examples of the issue ============================================================================


def test_numpy_functions_on_tensors_keep_the_graph():
    x = np.arange(3.0)
    w = Tensor(np.ones(3), requires_grad=True)
    y = np.dot(x, w)
    assert isinstance(y, Tensor) and y.grad_fn is not None and y.item() == 3.0
    np.testing.assert_allclose(ad.grad(lambda w: np.dot(x, w) ** 2)(np.ones(3)).data, 2 * 3.0 * x)
    total = np.sum(w)  # numpy's sum used to fail: "sum() got an unexpected keyword argument 'out'"
    assert isinstance(total, Tensor) and total.item() == 3.0 and total.requires_grad


# == every dispatched function: numpy's values, first and second derivatives =================================
# (call, shapes of the tensor arguments, domain): the tensors are the arguments the lambda takes.

M, N, V = (3, 3), (3, 4), (3,)
CALLS = [
    ("sum", lambda x: np.sum(x), [N], None),
    ("sum_axis_keepdims", lambda x: np.sum(x, axis=(0, 2), keepdims=True), [(2, 3, 4)], None),
    (
        "sum_where_initial",
        lambda x: np.sum(x, axis=1, where=np.array([True, False, True, True]), initial=0.5),
        [N],
        None,
    ),
    ("prod", lambda x: np.prod(x, axis=0), [N], None),
    ("prod_where_initial", lambda x: np.prod(x, where=np.array([[True], [False], [True]]), initial=2.0), [N], None),
    ("mean", lambda x: np.mean(x, axis=-1), [N], None),
    ("mean_where", lambda x: np.mean(x, axis=1, where=np.array([True, True, False, True])), [N], None),
    ("var", lambda x: np.var(x, axis=1, ddof=1), [N], None),
    ("std", lambda x: np.std(x, keepdims=True), [N], None),
    ("max", lambda x: np.max(x, axis=0), [N], None),
    ("max_initial", lambda x: np.max(x, initial=0.3), [N], None),
    ("amax", lambda x: np.amax(x), [N], None),
    ("min", lambda x: np.min(x, axis=1, keepdims=True), [N], None),
    ("amin", lambda x: np.amin(x, axis=(0, 1)), [N], None),
    ("cumsum", lambda x: np.cumsum(x), [N], None),
    ("cumsum_axis", lambda x: np.cumsum(x, axis=0), [N], None),
    ("dot_vectors", lambda x, y: np.dot(x, y), [V, V], None),
    ("dot_matrices", lambda x, y: np.dot(x, y), [M, N], None),
    ("dot_array_tensor", lambda y: np.dot(_values(M, 3), y), [N], None),
    ("dot_nd", lambda x, y: np.dot(x, y), [(2, 3), (4, 3, 2)], None),
    ("dot_number", lambda x: np.dot(2.5, x), [N], None),
    ("matmul", lambda x, y: np.matmul(x, y), [(2, 3, 3), N], None),
    ("inner", lambda x, y: np.inner(x, y), [N, (2, 4)], None),
    ("outer", lambda x, y: np.outer(x, y), [V, (2, 2)], None),
    ("vdot", lambda x, y: np.vdot(x, y), [N, (4, 3)], None),
    ("tensordot", lambda x, y: np.tensordot(x, y, axes=([0, 1], [1, 0])), [(3, 2, 4), (2, 3)], None),
    ("tensordot_int", lambda x, y: np.tensordot(x, y), [(2, 3, 4), (3, 4)], None),
    ("einsum", lambda x, y: np.einsum("ij,jk->ki", x, y), [M, N], None),
    ("einsum_trace_optimize", lambda x: np.einsum("ii", x, optimize=True), [M], None),
    ("trace", lambda x: np.trace(x, offset=1), [N], None),
    ("diagonal", lambda x: np.diagonal(x, -1, 2, 0), [(3, 2, 4)], None),
    ("diff", lambda x: np.diff(x, n=2, axis=0, append=1.5), [N], None),
    ("transpose", lambda x: np.transpose(x, (2, 0, 1)), [(2, 3, 4)], None),
    ("swapaxes", lambda x: np.swapaxes(x, 0, -1), [(2, 3, 4)], None),
    ("moveaxis", lambda x: np.moveaxis(x, [0, 1], [-1, 0]), [(2, 3, 4)], None),
    ("reshape", lambda x: np.reshape(x, (2, -1)), [N], None),
    ("reshape_copy", lambda x: np.reshape(x, (4, 3), copy=True) if NUMPY_2 else np.reshape(x, (4, 3)), [N], None),
    ("ravel", lambda x: np.ravel(x), [N], None),
    ("squeeze", lambda x: np.squeeze(x, axis=1), [(3, 1, 2)], None),
    ("expand_dims", lambda x: np.expand_dims(x, (0, 2)), [N], None),
    ("broadcast_to", lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)], None),
    ("concatenate", lambda x, y: np.concatenate([x, y, x], axis=1), [M, N], None),
    ("concatenate_flat", lambda x, y: np.concatenate((x, y), axis=None), [M, N], None),
    ("stack", lambda x, y: np.stack([x, y], axis=-1), [N, N], None),
    ("hstack", lambda x, y: np.hstack([x, y]), [M, N], None),
    ("vstack", lambda x, y: np.vstack((x, y)), [(4,), N], None),
    ("column_stack", lambda x, y: np.column_stack([x, y]), [V, M], None),
    ("atleast_1d", lambda x: np.atleast_1d(x), [()], None),
    ("atleast_2d_several", lambda x, y: np.atleast_2d(x, y), [V, ()], None),
    ("atleast_3d", lambda x, y: np.atleast_3d(x, y), [V, N], None),
    ("split", lambda x: np.split(x, 2, axis=1), [N], None),
    ("array_split", lambda x: np.array_split(x, [1, 3]), [(4, 2)], None),
    ("where", lambda x, y: np.where(_values(N, 5) > 0, x, y), [N, (4,)], None),
    ("where_number", lambda x: np.where(_values(N, 5) > 0, x, 0.0), [N], None),
    ("clip", lambda x: np.clip(x, -1.0, 1.2), [N], None),
    ("clip_one_sided", lambda x: np.clip(x, None, 0.8), [N], None),
    ("clip_tensor_bounds", lambda x, lo, hi: np.clip(x, lo, hi + 2.5), [N, (4,), (3, 1)], None),
    ("maximum", lambda x, y: np.maximum(x, y), [N, (4,)], None),
    ("minimum", lambda x, y: np.minimum(x, y), [N, (3, 1)], None),
    ("copy", lambda x: np.copy(x), [N], None),
    ("flip", lambda x: np.flip(x, 0), [N], None),
    ("fliplr", lambda x: np.fliplr(x), [N], None),
    ("flipud", lambda x: np.flipud(x), [N], None),
    ("sort", lambda x: np.sort(x, axis=0), [N], None),
    ("sort_flat", lambda x: np.sort(x, axis=None), [N], None),
    ("take", lambda x: np.take(x, [2, 0, 2], axis=1), [N], None),
    ("take_flat", lambda x: np.take(x, [[0, 5], [11, 5]]), [N], None),
    ("take_along_axis", lambda x: np.take_along_axis(x, np.array([[0, 2, 1, 0]]), axis=0), [N], None),
    ("repeat", lambda x: np.repeat(x, [1, 0, 2], axis=0), [N], None),
    ("tile", lambda x: np.tile(x, (2, 1, 2)), [(2, 3)], None),
    ("roll", lambda x: np.roll(x, (1, -2), axis=(0, 1)), [N], None),
    ("roll_flat", lambda x: np.roll(x, 5), [N], None),
    ("pad", lambda x: np.pad(x, ((1, 0), (2, 1))), [N], None),
    ("pad_value", lambda x: np.pad(x, 1, constant_values=0.5), [N], None),
    ("norm", lambda x: np.linalg.norm(x), [N], None),
    ("norm_matrix", lambda x: np.linalg.norm(x, 1), [N], None),
    ("norm_vector", lambda x: np.linalg.norm(x, 3, axis=0), [N], None),
    ("norm_inf_keepdims", lambda x: np.linalg.norm(x, np.inf, axis=(1, 0), keepdims=True), [N], None),
    ("exp_tanh_log", lambda x: np.log(np.exp(x) + np.tanh(x) ** 2), [N], None),
    ("square_reciprocal", lambda x: np.square(x) + np.reciprocal(x), [N], None),
    ("log2_log10", lambda x: np.log2(x) - np.log10(x), [N], "positive"),
    ("sinh_cosh", lambda x: np.sinh(x) * np.cosh(x), [N], None),
    ("logaddexp", lambda x, y: np.logaddexp(x, y), [N, (4,)], None),
    ("add_reduce", lambda x: np.add.reduce(x, axis=1), [N], None),
    ("multiply_reduce", lambda x: np.multiply.reduce(x), [N], None),
    ("maximum_reduce", lambda x: np.maximum.reduce(x, axis=(0, 1)), [N], None),
    ("add_accumulate", lambda x: np.add.accumulate(x, axis=1), [N], None),
    ("multiply_outer", lambda x, y: np.multiply.outer(x, y), [V, (2,)], None),
    (
        "arithmetic_ufuncs",
        lambda x, y: np.add(x, y) - np.subtract(x, y) * np.multiply(x, y) / np.divide(y, x),
        [N, (4,)],
        None,
    ),
    ("power_absolute", lambda x, y: np.power(np.absolute(x), y) + np.negative(np.sqrt(np.abs(y))), [N, N], None),
    ("elementwise_ufuncs", lambda x: np.log1p(np.abs(x)) + np.sin(x) * np.cos(x) + np.true_divide(x, 3.0), [N], None),
    ("positive", lambda x: np.positive(x) * 2, [N], None),
]
if NUMPY_2:
    CALLS += [
        ("concat", lambda x, y: np.concat([x, y]), [M, M], None),
        ("permute_dims", lambda x: np.permute_dims(x, (1, 0)), [N], None),
        ("matrix_transpose", lambda x: np.matrix_transpose(x), [(2, 3, 4)], None),
        ("astype", lambda x: np.astype(x, np.float64) * 2, [N], None),
        ("vecdot", lambda x, y: np.vecdot(x, y), [N, (2, 1, 4)], None),
        ("linalg.matmul", lambda x, y: np.linalg.matmul(x, y), [M, N], None),
        ("linalg.outer", lambda x, y: np.linalg.outer(x, y), [V, (4,)], None),
        ("linalg.tensordot", lambda x, y: np.linalg.tensordot(x, y, axes=1), [M, N], None),
        ("linalg.vecdot", lambda x, y: np.linalg.vecdot(x, y, axis=0), [N, N], None),
        ("linalg.matrix_transpose", lambda x: np.linalg.matrix_transpose(x), [N], None),
        ("linalg.trace", lambda x: np.linalg.trace(x, offset=-1), [(2, 3, 4)], None),
        ("linalg.diagonal", lambda x: np.linalg.diagonal(x), [(2, 3, 4)], None),
        ("linalg.vector_norm", lambda x: np.linalg.vector_norm(x, axis=(0, 1), ord=1), [N], None),
        ("linalg.matrix_norm", lambda x: np.linalg.matrix_norm(x, ord=-np.inf, keepdims=True), [(2, 3, 4)], None),
    ]


def _inputs(shapes, domain, seed=0):
    return [_leaf(s, seed + i, positive=domain == "positive") for i, s in enumerate(shapes)]


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


@pytest.mark.parametrize("name,call,shapes,domain", CALLS, ids=[c[0] for c in CALLS])
def test_dispatched_functions_give_numpys_values_and_gradients(name, call, shapes, domain):
    inputs = _inputs(shapes, domain)
    result = call(*inputs)
    expected = call(*[x.data for x in inputs])
    assert all(isinstance(r, Tensor) and r.requires_grad for r in _outputs(result)), result
    for got, want in zip(_outputs(result), _outputs(expected)):
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
        assert got.shape == np.shape(want)
    assert ad.gradcheck(call, inputs)


@pytest.mark.parametrize("name,call,shapes,domain", CALLS, ids=[c[0] for c in CALLS])
def test_dispatched_functions_are_twice_differentiable(name, call, shapes, domain):
    assert ad.gradgradcheck(call, _inputs(shapes, domain))


def test_every_dispatched_function_and_ufunc_has_a_case(monkeypatch):
    """A new entry of numpy_dispatch.HANDLED or functions.UFUNCS needs a line in CALLS: some call must reach it."""
    reached = set()

    def recording(key, rule):
        def record(*args, **kwargs):
            reached.add(key)
            return rule(*args, **kwargs)

        return record

    for key, rule in list(numpy_dispatch.HANDLED.items()):
        monkeypatch.setitem(numpy_dispatch.HANDLED, key, recording(key, rule))
    for key, rule in list(numpy_dispatch.UFUNCS.items()):
        monkeypatch.setitem(numpy_dispatch.UFUNCS, key, recording(key, rule))
    for _, call, shapes, domain in CALLS:
        call(*_inputs(shapes, domain))
    not_differentiable = {
        np.full_like,
        np.sign,
        np.less,
        np.less_equal,
        np.greater,
        np.greater_equal,
        np.equal,
        np.not_equal,
    }
    missing = (set(numpy_dispatch.HANDLED) | set(numpy_dispatch.UFUNCS)) - not_differentiable - reached
    assert not missing, missing


def test_the_docs_list_every_dispatched_function():
    page = (Path(__file__).resolve().parent.parent / "docs" / "numpy.md").read_text()
    comparisons = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal"}
    for name, _ in numpy_dispatch.table():
        short = name.replace("numpy.", "np.", 1)
        if name.rsplit(".", 1)[1] not in comparisons | {"sign", "full_like"}:
            assert f"`{short}`" in page, short
    assert "`full_like` (unless its fill value requires grad)" in page
    for function in numpy_dispatch.OUTSIDE_THE_GRAPH:
        assert f"`{function.__name__}`" in page, function.__name__


# == Hypothesis: the dispatched functions over random shapes =================================================

PAIR = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def _real(draw, shape):
    magnitudes = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 3.0)))
    return magnitudes * draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))


def _apart(*arrays):
    values = np.sort(np.concatenate([np.ravel(a) for a in arrays]))
    assume(values.size < 2 or np.diff(values).min() >= 1e-3)


def _broadcast_binary(function):
    def build(draw):
        (sx, sy), _ = draw(PAIR)
        x, y = _real(draw, sx), _real(draw, sy)
        _apart(x, y)
        return function, [x, y]

    return build


def _reduction(function, **fixed):
    def build(draw):
        shape = draw(SHAPE)
        axis = draw(
            st.none()
            | hnp.valid_tuple_axes(len(shape))
            | (st.integers(-len(shape), len(shape) - 1) if shape else st.none())
        )
        keepdims = draw(st.booleans())
        x = _real(draw, shape)
        _apart(x)
        return (lambda t: function(t, axis=axis, keepdims=keepdims, **fixed)), [x]

    return build


def _dot(draw):
    k = draw(st.integers(1, 3))
    a = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (k,)
    if draw(st.booleans()):
        b = (k,)
    else:
        b = draw(hnp.array_shapes(min_dims=0, max_dims=1, max_side=3)) + (k, draw(st.integers(1, 3)))
    return np.dot, [_real(draw, a), _real(draw, b)]


def _where(draw):
    (sc, sx, sy), _ = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    condition = draw(hnp.arrays(bool, sc))
    return (lambda x, y: np.where(condition, x, y)), [_real(draw, sx), _real(draw, sy)]


def _clip(draw):
    (sx, slo, shi), _ = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2, max_side=3))
    x, lo, hi = _real(draw, sx), _real(draw, slo) - 1.0, _real(draw, shi) + 1.0
    _apart(x, lo, hi)
    return (lambda a, b, c: np.clip(a, b, c)), [x, lo, hi]


def _joined(function, new_axis):
    def build(draw):
        shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
        axis = draw(st.integers(-len(shape) - new_axis, len(shape) - 1 + new_axis))
        k = draw(st.integers(1, 3))
        shapes = [shape] * k
        if not new_axis:
            shapes = [
                shape[: axis % len(shape)] + (draw(st.integers(1, 3)),) + shape[axis % len(shape) + 1 :]
                for _ in range(k)
            ]
        return (lambda *xs: function(list(xs), axis=axis)), [_real(draw, s) for s in shapes]

    return build


def _einsum(draw):
    sizes = dict(zip("ijk", draw(st.lists(st.integers(1, 3), min_size=3, max_size=3))))
    letters = st.lists(st.sampled_from("ijk"), max_size=3, unique=True).map("".join)
    operands = draw(st.lists(letters, min_size=1, max_size=3))
    used = sorted(set("".join(operands)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    spec = ",".join(operands) + "->" + output
    return (lambda *xs: np.einsum(spec, *xs)), [_real(draw, tuple(sizes[c] for c in o)) for o in operands]


def _on_a_shape(function):
    """A builder: ``function(draw, shape)`` draws its parameters and returns the call to make."""

    def build(draw):
        shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=3))
        return function(draw, shape), [_real(draw, shape)]

    return build


def _axis_of(draw, shape):
    return draw(st.integers(-len(shape), len(shape) - 1))


def _trace(draw, shape):
    offset = draw(st.integers(-2, 2))
    return lambda x: np.trace(x, offset, 0, -1)


def _cumsum(draw, shape):
    axis = _axis_of(draw, shape)
    return lambda x: np.cumsum(x, axis=axis)


def _sort(draw, shape):
    axis = _axis_of(draw, shape)
    return lambda x: np.sort(x, axis=axis)


def _roll(draw, shape):
    shift, axis = draw(st.integers(-4, 4)), draw(st.integers(0, len(shape) - 1))
    return lambda x: np.roll(x, shift, axis)


def _tile(draw, shape):
    reps = tuple(draw(st.lists(st.integers(1, 2), max_size=4)))
    return lambda x: np.tile(x, reps)


def _norm(draw, shape):
    if draw(st.booleans()):  # a matrix norm
        ord = draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf]))
        axes = tuple(draw(st.permutations(range(len(shape))))[:2])
    else:
        ord = draw(st.sampled_from([None, 1, 2, 3, np.inf, -np.inf]))
        axes = _axis_of(draw, shape)
    keepdims = draw(st.booleans())
    return lambda x: np.linalg.norm(x, ord, axis=axes, keepdims=keepdims)


def _diagonal(draw, shape):
    offset = draw(st.integers(-2, 2))
    axis1, axis2 = draw(st.permutations(range(len(shape))))[:2]
    return lambda x: np.diagonal(x, offset, axis1, axis2)


ANY_SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)


def _any_shape(function, shapes=ANY_SHAPE):
    """A builder for one tensor of a random shape: ``function(draw, shape)`` draws the parameters."""

    def build(draw):
        shape = draw(shapes)
        return function(draw, shape), [_real(draw, shape)]

    return build


NONEMPTY = hnp.array_shapes(min_dims=1, max_dims=3, max_side=3)


def _diff(draw, shape):
    n, axis = draw(st.integers(0, 2)), _axis_of(draw, shape)
    ends = {k: draw(st.floats(-2, 2)) for k in ("prepend", "append") if draw(st.booleans())}
    return lambda x: np.diff(x, n, axis, **ends)


def _transpose(draw, shape):
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return lambda x: np.transpose(x, axes)


def _swapaxes(draw, shape):
    a, b = _axis_of(draw, shape), _axis_of(draw, shape)
    return lambda x: np.swapaxes(x, a, b)


def _moveaxis(draw, shape):
    k = draw(st.integers(1, len(shape)))
    source = draw(st.permutations(range(len(shape))))[:k]
    destination = draw(st.permutations(range(-len(shape), 0)))[:k]
    return lambda x: np.moveaxis(x, source, destination)


def _reshape(draw, shape):
    dims = list(draw(st.permutations(shape)))
    if len(dims) >= 2 and draw(st.booleans()):
        dims[:2] = [dims[0] * dims[1]]
    dims.insert(draw(st.integers(0, len(dims))), 1)
    if draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return lambda x: np.reshape(x, tuple(dims))


def _squeeze(draw, shape):
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = draw(st.none() | st.lists(st.sampled_from(ones), unique=True).map(tuple)) if ones else None
    return lambda x: np.squeeze(x, axis)


def _expand_dims(draw, shape):
    one = st.integers(-len(shape) - 1, len(shape))
    axis = draw(one | hnp.valid_tuple_axes(len(shape) + 2, min_size=2, max_size=2))
    return lambda x: np.expand_dims(x, axis)


def _broadcast_to(draw):
    base = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    (small,), big = draw(hnp.mutually_broadcastable_shapes(num_shapes=1, base_shape=base, max_dims=3, max_side=3))
    return (lambda x: np.broadcast_to(x, big)), [_real(draw, small)]


def _sequence(function, shapes):
    def build(draw):
        arrays = [_real(draw, shape) for shape in draw(shapes)]
        return (lambda *xs: function(list(xs))), arrays

    return build


@st.composite
def _hstack_shapes(draw):
    lengths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    if draw(st.booleans()):
        return [(n,) for n in lengths]
    rows, rest = draw(st.integers(1, 3)), draw(hnp.array_shapes(min_dims=0, max_dims=1, max_side=3))
    return [(rows, n) + rest for n in lengths]


@st.composite
def _vstack_shapes(draw):
    lengths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    rest = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
    return [rest[-1:]] * len(lengths) if draw(st.booleans()) else [(n,) + rest for n in lengths]


@st.composite
def _column_stack_shapes(draw):
    rows = draw(st.integers(1, 3))
    return [(rows,) if draw(st.booleans()) else (rows, draw(st.integers(1, 3))) for _ in range(draw(st.integers(1, 3)))]


def _at_least(function):
    def build(draw):
        arrays = [
            _real(draw, s)
            for s in draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), min_size=1, max_size=3))
        ]
        return function, arrays

    return build


def _split(function, equal):
    def build(draw):
        shape = draw(NONEMPTY)
        axis = _axis_of(draw, shape)
        n = shape[axis]
        if equal:
            sections = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        else:
            sections = draw(st.integers(1, 4) | st.lists(st.integers(0, n), max_size=3).map(sorted))
        return (lambda x: function(x, sections, axis=axis)), [_real(draw, shape)]

    return build


def _flip(draw, shape):
    one = st.integers(-len(shape), len(shape) - 1) if shape else st.none()
    axis = draw(st.none() | hnp.valid_tuple_axes(len(shape)) | one)
    return lambda x: np.flip(x, axis)


def _take(draw, shape):
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    n = math.prod(shape) if axis is None else shape[axis]
    indices = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
    return lambda x: np.take(x, indices, axis=axis)


def _take_along_axis(draw, shape):
    axis = _axis_of(draw, shape)
    index_shape = list(shape)
    index_shape[axis] = draw(st.integers(1, 4))
    indices = draw(hnp.arrays(np.intp, tuple(index_shape), elements=st.integers(-shape[axis], shape[axis] - 1)))
    return lambda x: np.take_along_axis(x, indices, axis)


def _repeat(draw, shape):
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    n = math.prod(shape) if axis is None else shape[axis]
    repeats = draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return lambda x: np.repeat(x, repeats, axis=axis)


def _pad(draw, shape):
    widths = [tuple(draw(st.lists(st.integers(0, 2), min_size=2, max_size=2))) for _ in shape]
    value = draw(st.sampled_from([0, 0.5]))
    return lambda x: np.pad(x, widths, constant_values=value)


def _vdot(draw):
    shape = draw(NONEMPTY)
    other = tuple(draw(st.permutations(shape)))
    return np.vdot, [_real(draw, shape), _real(draw, other)]


def _tensordot(draw):
    summed = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    free_a, free_b = (draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) for _ in range(2))
    order = draw(st.permutations(range(len(summed))))
    axes = len(summed) if draw(st.booleans()) else ([len(free_a) + i for i in order], list(order))
    return (lambda a, b: np.tensordot(a, b, axes)), [_real(draw, free_a + summed), _real(draw, summed + free_b)]


def _matmul(draw):
    (sx, sy), _ = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3))
    return np.matmul, [_real(draw, sx), _real(draw, sy)]


def _ufunc_free(function):
    def build(draw):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
        return function, [_real(draw, shape)]

    return build


PROPERTIES = {
    np.dot: _dot,
    np.inner: lambda draw: (np.inner, [_real(draw, s) for s in _inner_shapes(draw)]),
    np.outer: _broadcast_binary(np.outer),
    np.vdot: _vdot,
    np.tensordot: _tensordot,
    np.matmul: _matmul,
    np.maximum: _broadcast_binary(np.maximum),
    np.minimum: _broadcast_binary(np.minimum),
    np.logaddexp: _broadcast_binary(np.logaddexp),
    np.where: _where,
    np.clip: _clip,
    np.sum: _reduction(np.sum),
    np.prod: _reduction(np.prod),
    np.mean: _reduction(np.mean),
    np.max: _reduction(np.max),
    np.amax: _reduction(np.amax),
    np.min: _reduction(np.min),
    np.amin: _reduction(np.amin),
    np.var: _reduction(np.var),
    np.std: _reduction(np.std),
    np.cumsum: _on_a_shape(_cumsum),
    np.concatenate: _joined(np.concatenate, False),
    np.stack: _joined(np.stack, True),
    np.hstack: _sequence(np.hstack, _hstack_shapes()),
    np.vstack: _sequence(np.vstack, _vstack_shapes()),
    np.column_stack: _sequence(np.column_stack, _column_stack_shapes()),
    np.atleast_1d: _at_least(np.atleast_1d),
    np.atleast_2d: _at_least(np.atleast_2d),
    np.atleast_3d: _at_least(np.atleast_3d),
    np.split: _split(np.split, equal=True),
    np.array_split: _split(np.array_split, equal=False),
    np.einsum: _einsum,
    np.trace: _on_a_shape(_trace),
    np.diagonal: _on_a_shape(_diagonal),
    np.diff: _any_shape(_diff, NONEMPTY),
    np.transpose: _any_shape(_transpose),
    np.swapaxes: _any_shape(_swapaxes, NONEMPTY),
    np.moveaxis: _any_shape(_moveaxis, NONEMPTY),
    np.reshape: _any_shape(_reshape),
    np.ravel: _ufunc_free(np.ravel),
    np.copy: _ufunc_free(np.copy),
    np.squeeze: _any_shape(_squeeze, hnp.array_shapes(min_dims=0, max_dims=4, max_side=2)),
    np.expand_dims: _any_shape(_expand_dims),
    np.broadcast_to: _broadcast_to,
    np.flip: _any_shape(_flip),
    np.fliplr: _on_a_shape(lambda draw, s: np.fliplr),
    np.flipud: _any_shape(lambda draw, s: np.flipud, NONEMPTY),
    np.sort: _on_a_shape(_sort),
    np.take: _any_shape(_take, NONEMPTY),
    np.take_along_axis: _any_shape(_take_along_axis, NONEMPTY),
    np.repeat: _any_shape(_repeat, NONEMPTY),
    np.tile: _on_a_shape(_tile),
    np.roll: _on_a_shape(_roll),
    np.pad: _any_shape(_pad, NONEMPTY),
    np.linalg.norm: _on_a_shape(_norm),
}


def _numpy_2_linalg(name):
    """The builder of a call of numpy 2's ``np.linalg.<name>`` on one tensor, its parameters drawn."""

    def draw_call(draw, shape):
        offset, axis = draw(st.integers(-2, 2)), _axis_of(draw, shape)
        vector_ord, matrix_ord = draw(st.sampled_from([1, 2, 3, np.inf])), draw(st.sampled_from(["fro", 1, -1, np.inf]))
        return {
            "matmul": lambda x: np.linalg.matmul(x, np.swapaxes(x, -1, -2)),
            "tensordot": lambda x: np.linalg.tensordot(x, x, axes=0),
            "vecdot": lambda x: np.linalg.vecdot(x, 2 * x, axis=axis),
            "matrix_transpose": np.linalg.matrix_transpose,
            "trace": lambda x: np.linalg.trace(x, offset=offset),
            "diagonal": lambda x: np.linalg.diagonal(x, offset=offset),
            "vector_norm": lambda x: np.linalg.vector_norm(x, ord=vector_ord),
            "matrix_norm": lambda x: np.linalg.matrix_norm(x, ord=matrix_ord),
        }[name]

    return draw_call


NUMPY_2_LINALG = (
    "matmul",
    "tensordot",
    "vecdot",
    "matrix_transpose",
    "trace",
    "diagonal",
    "vector_norm",
    "matrix_norm",
)


if NUMPY_2:
    PROPERTIES.update(
        {
            np.astype: _ufunc_free(lambda x: np.astype(x, np.float64)),
            np.matrix_transpose: _on_a_shape(lambda draw, s: np.matrix_transpose),
            np.linalg.outer: lambda draw: (
                np.linalg.outer,
                [_real(draw, (draw(st.integers(1, 3)),)) for _ in range(2)],
            ),
        }
    )
    PROPERTIES.update({getattr(np.linalg, name): _on_a_shape(_numpy_2_linalg(name)) for name in NUMPY_2_LINALG})


def _inner_shapes(draw):
    k = draw(st.integers(1, 3))
    return [draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (k,) for _ in range(2)]


PROPERTY_NAMES = {numpy_dispatch._qualified_name(f): f for f in PROPERTIES}


def test_every_dispatched_function_has_a_property_test():
    assert set(numpy_dispatch.HANDLED) - {np.full_like} <= set(PROPERTIES)


@pytest.mark.parametrize("name", sorted(PROPERTY_NAMES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_dispatched_functions_on_random_shapes(name, data):
    function, arrays = PROPERTIES[PROPERTY_NAMES[name]](data.draw)
    _apart(*arrays)  # no ties (max, sort, clip's bounds) and no kinks (norms' |x|) within finite differences
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing is nan, as numpy's
        expected = function(*arrays)
        got = function(*[Tensor(a) for a in arrays])
    for g, e in zip(_outputs(got), _outputs(expected)):
        assert isinstance(g, Tensor) and g.shape == np.shape(e)
        np.testing.assert_allclose(g.data, e, rtol=1e-10, atol=1e-12)
    assume(all(np.all(np.isfinite(e)) for e in _outputs(expected)))
    if name == "numpy.std":  # √ has no derivative where the variance is 0
        assume(np.all(np.asarray(expected) > 1e-3))
    inputs = [Tensor(a, requires_grad=True) for a in arrays]
    assert ad.gradcheck(lambda *xs: tuple(_outputs(function(*xs))), inputs)


# == keyword arguments: honoured, or refused by name =========================================================


def test_keyword_arguments_numpy_passes_are_honoured():
    x = _leaf(N)
    np.testing.assert_allclose(np.sum(x, axis=(0, 1), keepdims=True).data, np.sum(x.data, axis=(0, 1), keepdims=True))
    assert np.sum(x, dtype=np.float32).dtype == np.float32
    assert np.mean(Tensor(np.arange(4))).dtype == np.float64  # numpy's mean of integers is a float
    np.testing.assert_allclose(np.var(x, correction=1).data, np.var(x.data, ddof=1)) if NUMPY_2 else None
    np.testing.assert_allclose(
        np.linalg.norm(x, axis=1, keepdims=True).data, np.linalg.norm(x.data, axis=1, keepdims=True)
    )


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: np.sum(x, out=np.zeros(())), r"numpy.sum\(..., out=...\) can't record its result for backward"),
        (lambda x: np.exp(x, out=np.zeros(N)), r"numpy.exp\(..., out=...\) can't record its result for backward"),
        (
            lambda x: np.max(x, where=x > 0, initial=0.0),
            r"numpy.a?max: where= is not implemented in autodiff's version",
        ),
        (
            lambda x: np.var(x, axis=1, where=np.array([True, True, False, True])),
            r"numpy.var: where= is not implemented",
        ),
        (
            lambda x: np.reshape(x, (4, 3), order="F"),
            r"numpy.reshape: order='F' is not implemented in autodiff's version",
        ),
        (
            lambda x: np.linalg.norm(x, "nuc"),
            r"numpy.linalg.norm: norm: ord='nuc' of a matrix needs its singular values",
        ),
        (lambda x: np.linalg.norm(x, 2), r"numpy.linalg.norm: norm: ord=2 of a matrix needs its singular values"),
        (lambda x: np.pad(x, 1, mode="edge"), r"numpy.pad: only mode='constant' with a number is implemented"),
        (lambda x: np.einsum("...j->...", x), r"numpy.einsum: einsum: the '...' form is not implemented in autodiff"),
        (lambda x: np.exp(x, dtype=np.float32), r"numpy.exp: dtype= is not implemented in autodiff's version"),
        (lambda x: np.full_like(x, x[0, 0]), r"numpy.full_like: a fill_value that requires grad is not implemented"),
    ],
)
def test_keyword_arguments_not_taken_are_refused_by_name_when_a_gradient_is_involved(call, message):
    x = _leaf(N)
    with pytest.raises(TypeError, match=message):
        call(x)
    with ad.no_grad():  # no gradient to lose: numpy's own, the result a Tensor
        expected = call(x.detach().data.copy()) if "out=" not in message else None
        result = call(x)
    assert isinstance(result, Tensor) or "out=" in message
    if expected is not None:
        np.testing.assert_allclose(result.data, expected)
    assert isinstance(call(x.detach()), (Tensor, np.ndarray))


def test_out_writes_into_plain_arrays_and_tensors_when_no_gradient_is_involved():
    x = _leaf(V)
    buffer = np.zeros(3)
    assert np.exp(x.detach(), out=buffer) is buffer and np.allclose(buffer, np.exp(x.data))
    assert np.sum(x.detach(), out=np.zeros(())).item() == pytest.approx(x.data.sum())
    target = Tensor(np.zeros(3))
    assert np.multiply(x.detach(), 2.0, out=target) is target and np.allclose(target.data, 2 * x.data)
    assert target._version == 1  # written in place: tensors saved for backward would notice
    arr = np.zeros(3)
    arr += x.detach()
    with pytest.raises(TypeError, match=r"numpy.add\(..., out=...\) can't record its result for backward"):
        arr += x
    with ad.no_grad():
        arr += x
    np.testing.assert_allclose(arr, 2 * x.data)


def test_writing_into_a_tensor_saved_for_backward_through_numpy_is_detected():
    x = _leaf(V)
    h = x * 1.0
    y = (h * h).sum()
    with ad.no_grad():
        np.copyto(h, np.zeros(3))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    with pytest.raises(TypeError, match="numpy.copyto has no derivative rule in autodiff"):
        np.copyto(x, np.zeros(3))


# == without a rule: refused when a gradient would be lost, numpy's own otherwise ===============================


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: np.median(x), "numpy.median"),
        (lambda x: np.percentile(x, 40), "numpy.percentile"),
        (lambda x: np.linalg.det(x), "numpy.linalg.det"),
        (lambda x: np.linalg.inv(x), "numpy.linalg.inv"),
        (lambda x: np.round(x, 1), "numpy.round_?|numpy.around"),
        (lambda x: np.floor(x), "numpy.floor"),
        (lambda x: np.interp(x, [0.0, 1.0], [1.0, 3.0]), "numpy.interp"),
        (lambda x: np.add.at(x, [0, 0], 1.0), "numpy.add.at"),
    ],
)
def test_functions_without_a_rule_refuse_instead_of_dropping_gradients(call, name):
    x = _leaf(M)
    with pytest.raises(
        TypeError, match=rf"({name}) has no derivative rule in autodiff, so its result could not carry gradients"
    ):
        call(x)
    expected = call(x.data.copy())
    for inputs in (x.detach(), Tensor(x.data.copy())):  # nothing requires grad: numpy's own, as Tensors
        got = call(inputs)
        if expected is not None:
            assert isinstance(got, Tensor) and not got.requires_grad
            np.testing.assert_allclose(got.data, expected)
    with ad.no_grad():
        got = call(x)
        assert expected is None or isinstance(got, Tensor)


def test_the_refusal_says_what_to_do():
    x = _leaf(M)
    with pytest.raises(TypeError) as refused:
        np.median(x)
    assert "call .detach() first if you want a constant" in str(refused.value)
    assert "autodiff.no_grad()" in str(refused.value)


def test_numpys_own_results_are_tensors_throughout():
    x = Tensor(_values(M))
    u, s, vh = np.linalg.svd(x)
    assert all(isinstance(t, Tensor) for t in (u, s, vh))
    assert type(np.linalg.svd(x)) is type(np.linalg.svd(x.data))  # numpy 2's SVDResult stays one
    median = np.median(x)
    assert isinstance(median, Tensor) and median.shape == () and median.item() == np.median(x.data)
    assert np.shape(x) == (3, 3) and np.ndim(x) == 2 and np.size(x) == 9  # Python objects stay as numpy gives them
    assert np.allclose(x, x) is True or np.allclose(x, x) == np.True_
    view = np.real(x)
    assert isinstance(view, Tensor)


def test_results_that_cannot_carry_a_gradient_are_computed_on_tensors_that_require_grad():
    x = _leaf(N)
    for result in (np.argmax(x), np.argsort(x, axis=1), np.nonzero(x > 0)[0], np.isnan(x), np.isclose(x, x)):
        assert isinstance(result, Tensor) and not result.requires_grad and result.dtype.kind in "biu"
    zeros = np.zeros_like(x)
    assert isinstance(zeros, Tensor) and not zeros.requires_grad and zeros.shape == x.shape
    assert np.shape(x) == N and np.count_nonzero(x) == 12
    indices = np.where(x > 0)  # numpy's one-argument where: nonzero
    assert all(isinstance(i, Tensor) for i in indices)
    np.testing.assert_array_equal(indices[0].data, np.where(x.data > 0)[0])


# == np.asarray, .numpy() and the tensors that require grad =====================================================


def test_converting_a_tensor_that_requires_grad_to_an_array_is_refused():
    x = _leaf(V)
    for convert in (np.asarray, np.array, np.ascontiguousarray, lambda t: np.array([t[0], t[1]])):
        with pytest.raises(RuntimeError, match="Can't convert a Tensor that requires grad to a numpy array"):
            convert(x)
    with pytest.raises(
        RuntimeError,
        match=r"Can't call numpy\(\) on Tensor that requires grad. Use tensor.detach\(\).numpy\(\) instead",
    ):
        x.numpy()
    with pytest.raises(RuntimeError, match="to join tensors into one, use autodiff.stack"):
        Tensor([x[0], x[1]])
    y = x * 2
    with pytest.raises(RuntimeError, match="Can't convert a Tensor that requires grad"):
        np.asarray(y)


def test_tensors_without_grad_detach_data_and_no_grad_convert_as_before():
    x = _leaf(V)
    assert np.asarray(x.detach()) is x.data and x.detach().numpy() is x.data and x.data is x._data
    plain = Tensor(x.data.copy())
    assert np.asarray(plain) is plain.data and plain.numpy() is plain.data
    with ad.no_grad():
        assert np.asarray(x) is x.data and x.numpy() is x.data
    assert float(x[0]) == x.data[0] and x[0].item() == x.data[0] and x.tolist() == x.data.tolist()


# == every public function of numpy and numpy.linalg ==============================================================
# Each is called on tensors that require grad with arguments numpy takes (a table for the functions that
# need more than one array, generic ones otherwise). Where numpy computes a result from plain arrays, the
# call on tensors must either return Tensors with numpy's values and correct gradients (gradcheck), or
# Tensors that carry no gradient by nature (integers, booleans, shapes, values that don't depend on the
# tensors'), or raise: never a plain array or numpy number computed from the tensors.

A, B, C = "A", "B", "C"  # placeholders: (3, 3) tensors (or arrays) of distinct values of both signs
P = "P"  # (3, 3) positive
H = "H"  # (3, 3) symmetric positive definite
U = "U"  # (3,)
INDEX, S = np.array([[0, 2, 1], [1, 1, 0], [2, 0, 0]]), np.array([0.3, 0.9, 1.7])  # indices, sorted values
MASK = np.array([[True, False, True], [False, True, True], [True, True, False]])
GENERIC = [(A,), (A, B), (U,), (A, 1), (A, 0), ([A, B],), (U, U), (P,), (A, 2), (H,)]
ARGUMENTS = {
    "einsum": [("ij,jk->ik", A, B), ("ii->i", A)],
    "where": [(MASK, A, B)],
    "clip": [(A, -1.0, 1.0), (A, B, 1.5)],
    "insert": [(U, 1, 5.0)],
    "delete": [(U, 1)],
    "append": [(U, U)],
    "put": [(A, [0], 1.0)],
    "place": [(A, MASK, 1.0)],
    "putmask": [(A, MASK, B)],
    "copyto": [(A, B)],
    "fill_diagonal": [(A, 1.0)],
    "put_along_axis": [(A, INDEX, 1.0, 1)],
    "interp": [(U, S, U)],
    "polyfit": [(U, U, 1)],
    "polyval": [(U, U)],
    "take": [(A, [0, 2])],
    "take_along_axis": [(A, INDEX, 1)],
    "choose": [(INDEX, [A, B, C])],
    "select": [([MASK], [A])],
    "piecewise": [(U, [S > 1], [1.0, 0.0])],
    "split": [(A, 3)],
    "array_split": [(A, 2)],
    "hsplit": [(A, 3)],
    "vsplit": [(A, 3)],
    "dsplit": [("W", 2)],
    "pad": [(A, 1)],
    "tile": [(A, 2)],
    "repeat": [(A, 2)],
    "roll": [(A, 1)],
    "resize": [(A, (2, 2))],
    "reshape": [(A, (9,))],
    "broadcast_to": [(U, (2, 3))],
    "swapaxes": [(A, 0, 1)],
    "moveaxis": [(A, 0, 1)],
    "rollaxis": [(A, 1)],
    "expand_dims": [(A, 0)],
    "searchsorted": [(S, U)],
    "digitize": [(U, S)],
    "lexsort": [((U, U),)],
    "partition": [(U, 1)],
    "argpartition": [(U, 1)],
    "percentile": [(A, 50)],
    "nanpercentile": [(A, 50)],
    "quantile": [(A, 0.5)],
    "nanquantile": [(A, 0.5)],
    "histogram2d": [(U, U)],
    "compress": [([True, False, True], A)],
    "extract": [(MASK, A)],
    "apply_along_axis": [(np.sum, 0, A)],
    "apply_over_axes": [(np.sum, A, [0])],
    "full_like": [(A, 2.0)],
    "kron": [(A, B)],
    "cross": [(U, U)],
    "convolve": [(U, U)],
    "correlate": [(U, U)],
    "polyadd": [(U, U)],
    "polysub": [(U, U)],
    "polymul": [(U, U)],
    "polydiv": [(U, U)],
    "linspace": [(U, U)],
    "geomspace": [(P, P)],
    "logspace": [(U, U)],
    "isin": [(A, U)],
    "in1d": [(U, U)],
    "intersect1d": [(U, U)],
    "union1d": [(U, U)],
    "setdiff1d": [(U, U)],
    "setxor1d": [(U, U)],
    "tensordot": [(A, B)],
    "solve": [(A, U)],
    "lstsq": [(A, U)],
    "matrix_power": [(A, 2)],
    "multi_dot": [([A, B, C],)],
    "tensorsolve": [(A, U)],
    "vecdot": [(A, B)],
    "outer": [(U, U)],
    "average": [(A,), (A, 0, B)],
    "astype": [(A, np.float64)],
    "einsum_path": [("ij,jk->ik", A, B)],
}
SKIPPED = {  # not computations on arrays: files, printing, global settings, the test runner, decorators
    "save", "savez", "savez_compressed", "savetxt", "load", "loadtxt", "genfromtxt", "fromfile", "fromregex",
    "recfromcsv", "recfromtxt", "tofile", "memmap", "test", "info", "show_config", "show_runtime", "who", "source",
    "lookfor", "disp", "set_printoptions", "printoptions", "seterr", "seterrcall", "seterrobj", "setbufsize",
    "set_numeric_ops", "set_string_function", "add_docstring", "add_newdoc", "add_newdoc_ufunc", "deprecate",
    "deprecate_with_doc", "safe_eval", "get_include",
}  # fmt: skip
EXPLICIT = {
    "fromiter": "iterates the tensor and converts each element with float(), as t.item() does: explicit",
}


def _public(module):
    for name in sorted(dir(module)):
        value = getattr(module, name)
        if name.startswith("_") or inspect.isclass(value) or inspect.ismodule(value) or not callable(value):
            continue
        yield name, value


EVERY_FUNCTION = [(f"numpy.{n}", f) for n, f in _public(np)] + [(f"numpy.linalg.{n}", f) for n, f in _public(np.linalg)]


def _arguments(args, make):
    def value(a):
        if isinstance(a, str) and a in SHAPES:
            return make(a)
        if isinstance(a, list):
            return [value(v) for v in a]
        if isinstance(a, tuple):
            return tuple(value(v) for v in a)
        return a

    return [value(a) for a in args]


SHAPES = {A: (3, 3), B: (3, 3), C: (3, 3), P: (3, 3), H: (3, 3), U: (3,), "W": (2, 3, 4)}


def _maker(kind):
    seeds = {A: 1, B: 2, C: 3, P: 4, H: 5, U: 6, "W": 7}

    def make(name):
        data = _values(SHAPES[name], seeds[name])
        data = np.abs(data) if name == P else data @ data.T + 3 * np.eye(3) if name == H else data
        return Tensor(data, requires_grad=True) if kind == "tensor" else data

    return make


def _leaves(result):
    if isinstance(result, (tuple, list)):
        for r in result:
            yield from _leaves(r)
    else:
        yield result


def _check(qualified, function, args):
    """One function on one argument list: what it did, or an AssertionError saying what went wrong."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = function(*_arguments(args, _maker("array")))
        except Exception:
            return None  # numpy refuses these arguments: try the next ones
        if any(
            isinstance(e, (np.ndarray, np.generic)) and e.dtype.kind == "f" and not np.all(np.isfinite(e))
            for e in _leaves(expected)
        ):
            return None  # outside the function's domain (a log of negative numbers): try the next ones
        tensors = {}

        def make(name):
            tensors.setdefault(name, _maker("tensor")(name))
            return tensors[name]

        try:
            result = function(*_arguments(args, make))
        except Exception as error:
            if re.search(REFUSED, str(error)) or "Can't convert a Tensor that requires grad" in str(error):
                return "refused"
            return f"raised {type(error).__name__}: {error}"
    leaves = list(_leaves(result))
    for leaf in leaves:
        assert not isinstance(leaf, (np.ndarray, np.generic)), (
            f"{qualified} returned {type(leaf).__name__} computed from tensors"
        )
    if not any(isinstance(leaf, Tensor) for leaf in leaves):
        return "other"  # shapes, bools (allclose), None (in-place writes refused above)
    for got, want in zip(leaves, _leaves(expected)):
        if isinstance(got, Tensor) and function is not np.empty_like:  # its values are whatever memory held
            np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12, err_msg=qualified)
    if not any(isinstance(leaf, Tensor) and leaf.requires_grad for leaf in leaves):
        constant = numpy_dispatch.OUTSIDE_THE_GRAPH | {np.full_like, np.sign}  # values that carry no gradient
        assert all(leaf.dtype.kind in "biu" or function in constant for leaf in leaves if isinstance(leaf, Tensor)), (
            qualified
        )
        return "outside the graph"
    names = sorted(tensors)

    def again(*ts):
        return function(*_arguments(args, lambda name: ts[names.index(name)]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = lambda *ts: tuple(leaf for leaf in _leaves(again(*ts)) if isinstance(leaf, Tensor))
        assert ad.gradcheck(outputs, [tensors[n] for n in names]), qualified
    return "differentiated"


def test_every_public_numpy_function_gives_tensors_with_gradients_or_refuses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing here should write files; if something did, not into the tree
    outcomes = {}
    for qualified, function in EVERY_FUNCTION:
        name = qualified.rsplit(".", 1)[1]
        if name in SKIPPED or name in EXPLICIT:
            continue
        for args in ARGUMENTS.get(name, []) + GENERIC:
            outcome = _check(qualified, function, args)
            if outcome is not None:
                outcomes[qualified] = outcome
                break
        else:
            outcomes[qualified] = "numpy takes none of the arguments tried"
    differentiated = {q for q, o in outcomes.items() if o == "differentiated"}
    dispatched = {numpy_dispatch._qualified_name(f) for f in numpy_dispatch.HANDLED} - {"numpy.full_like"}
    assert dispatched <= differentiated, dispatched - differentiated
    assert len([o for o in outcomes.values() if o == "refused"]) > 150  # each by name, with what to do
    protocol = {q for q, f in EVERY_FUNCTION if isinstance(f, np.ufunc) or hasattr(f, "_implementation")}
    other_errors = {q: o for q, o in outcomes.items() if o.startswith("raised")}
    assert not set(other_errors) & protocol, other_errors  # numpy's dispatch reaches autodiff: refused by name
    assert not list(tmp_path.iterdir())


def test_functions_outside_the_table_write_nothing_into_tensors_that_require_grad():
    x = _leaf(M)
    before = x.data.copy()
    for call in (lambda: np.put(x, [0], 5.0), lambda: np.fill_diagonal(x, 0.0), lambda: np.copyto(x, 1.0)):
        with pytest.raises(TypeError, match="has no derivative rule in autodiff"):
            call()
    np.testing.assert_array_equal(x.data, before)


# == HIPS autograd's tutorial: logistic regression with plain numpy ==============================================
# Written from the tutorial's description (github.com/HIPS/autograd, docs/tutorial.md): predictions are the
# logistic sigmoid, written 0.5 (tanh(x/2) + 1), of np.dot(inputs, weights); the training loss is the negative
# log-likelihood of the labels, -np.sum(np.log(label probabilities)); 100 steps of gradient descent with
# step 0.01 on the tutorial's four examples of three features. Only the import of grad differs.

TUTORIAL_INPUTS = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
TUTORIAL_TARGETS = np.array([True, True, False, True])


def _train_logistic_regression(np, grad, steps=100, step_size=0.01):
    def sigmoid(x):
        return 0.5 * (np.tanh(x / 2.0) + 1)

    def logistic_predictions(weights, inputs):
        return sigmoid(np.dot(inputs, weights))

    def training_loss(weights):
        predictions = logistic_predictions(weights, TUTORIAL_INPUTS)
        label_probabilities = predictions * TUTORIAL_TARGETS + (1 - predictions) * (1 - TUTORIAL_TARGETS)
        return -np.sum(np.log(label_probabilities))

    gradient = grad(training_loss)
    weights = np.array([0.0, 0.0, 0.0])
    initial = float(training_loss(weights))
    for _ in range(steps):
        weights -= gradient(weights) * step_size
    return initial, float(training_loss(weights)), np.array(weights)


def test_hips_autograds_tutorial_trains_with_plain_numpy():
    initial, trained, weights = _train_logistic_regression(np, ad.grad)
    assert initial == pytest.approx(4 * math.log(2), abs=1e-12)  # w = 0: every prediction is 1/2
    assert type(weights) is np.ndarray  # numpy's weights stay numpy's: w -= gradient * 0.01 writes into them
    w, t = np.zeros(3), TUTORIAL_TARGETS
    for _ in range(100):  # the same descent by hand: ∂L/∂w = Xᵀ(p − t) for the logistic log-likelihood
        p = 1 / (1 + np.exp(-TUTORIAL_INPUTS @ w))
        w = w - 0.01 * TUTORIAL_INPUTS.T @ (p - t)
    p = 1 / (1 + np.exp(-TUTORIAL_INPUTS @ w))
    np.testing.assert_allclose(weights, w, rtol=1e-10)
    assert trained == pytest.approx(-np.sum(np.log(np.where(t, p, 1 - p))), rel=1e-10)
    assert trained < initial / 2


def test_hips_autograds_tutorial_reaches_hips_autograds_loss():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp

    ours = _train_logistic_regression(np, ad.grad)
    theirs = _train_logistic_regression(anp, autograd.grad)
    assert ours[0] == pytest.approx(theirs[0], abs=1e-12)
    assert ours[1] == pytest.approx(theirs[1], abs=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-9, atol=1e-12)
