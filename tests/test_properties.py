"""Property tests: every broadcastable pair of shapes, with side effects checked (as MyGrad does)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff as ad
from autodiff import Tensor

BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "maximum": ad.maximum,
    "pow": lambda x, y: abs(x) ** y,
}

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _data(draw, shape):
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.5, 2.0)))
    signs = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0])))
    return values * signs


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(BINARY)), shapes=shape_pairs)
def test_binary_ops_on_broadcast_shapes(data, name, shapes):
    fn = BINARY[name]
    (sx, sy), _ = shapes
    xd, yd = _data(data.draw, sx), _data(data.draw, sy)
    if name == "maximum":  # finite differences are meaningless within eps of the kink x = y
        assume(np.all(np.abs(np.subtract(xd, yd)) > 1e-3))
    x, y = Tensor(xd, requires_grad=True), Tensor(yd, requires_grad=True)
    out = fn(x, y)
    if name == "pow":  # numpy's scalar pow (libm) and its array loop (SIMD on some CPUs) may differ by an ulp
        np.testing.assert_allclose(out.data, np.abs(xd) ** yd, rtol=1e-15, atol=0)
    else:
        np.testing.assert_array_equal(out.data, np.maximum(xd, yd) if name == "maximum" else fn(xd, yd))
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(g)
    # side effects: inputs unchanged, gradients have the inputs' shapes and share memory with nothing
    np.testing.assert_array_equal(x.data, xd)
    np.testing.assert_array_equal(y.data, yd)
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    for a, b in [(x.grad, y.grad), (x.grad, x), (y.grad, y), (x.grad, out), (y.grad, out)]:
        assert not np.shares_memory(a.data, b.data)
    assert out.grad_fn.released
    assert ad.gradcheck(fn, (Tensor(xd, requires_grad=True), Tensor(yd, requires_grad=True)))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_reductions_over_random_axes(data, shape):
    axis = data.draw(
        st.one_of(
            st.none(),
            st.integers(-len(shape), len(shape) - 1),
            st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple),
        )
    )
    keepdims = data.draw(st.booleans())
    xd = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3)))
    for name in ("sum", "mean", "logsumexp"):
        x = Tensor(xd, requires_grad=True)
        out = getattr(x, name)(axis=axis, keepdims=keepdims)
        reference = {"sum": np.sum, "mean": np.mean}.get(name)
        if reference is not None:
            np.testing.assert_allclose(out.data, reference(xd, axis=axis, keepdims=keepdims))
        assert ad.gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3))
def test_matmul_on_random_shapes(data, shapes):
    (sx, sy), _ = shapes
    xd = data.draw(hnp.arrays(np.float64, sx, elements=st.floats(-2, 2)))
    yd = data.draw(hnp.arrays(np.float64, sy, elements=st.floats(-2, 2)))
    x, y = Tensor(xd, requires_grad=True), Tensor(yd, requires_grad=True)
    np.testing.assert_allclose((x @ y).data, xd @ yd)
    assert ad.gradcheck(lambda a, b: a @ b, (x, y))


# == every differentiable op, one table ================================================================
#
# One hypothesis test per op (parametrized over the table below) with ``max_examples=PER_OP``:
# random shapes (``mutually_broadcastable_shapes`` for operands, ``array_shapes`` otherwise),
# random axes, random values of both signs including tiny ones (magnitudes 1e-3 to 3). Each
# example checks the value against numpy, the whole Jacobian against central finite
# differences in float64 (``ad.gradcheck``), and the side effects of backward: inputs keep their data and
# version, no two ``.grad``s share memory with each other, an input or the output, and every
# op of the graph has released what it saved.
#
# Restrictions, where finite differences are meaningless (all others take any value above):
#   log, sqrt, pow's base: positive (their domain; the base of x**y for fractional y)
#   abs, relu: |x| >= 1e-3 by the value strategy (the kink at 0)
#   maximum, minimum: |x - y| >= 1e-3 (the kink at x = y)
#   clip: |x - bound| >= 1e-3 (the kinks at the bounds)
#   max, min reductions: distinct values at least 1e-3 apart (ties share the gradient)
#   var with ddof=1: only where each reduction counts >= 2 elements (else 0/0)
#   astype: float32 round trip, checked with eps=1e-2 (float32 rounding hides smaller steps)
#   setitem: no repeated integer indices (a known bug, see tests/test_inplace_attacks.py)

PER_OP = 50

SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
NONEMPTY_SHAPE = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
PAIR = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
MAGNITUDE = st.one_of(st.floats(1e-3, 1e-2), st.floats(0.1, 3.0))


def real(draw, shape):
    """Values of both signs, |x| in [1e-3, 3], tiny ones included."""
    mags = draw(hnp.arrays(np.float64, shape, elements=MAGNITUDE))
    return np.asarray(mags * draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))))


def positive(draw, shape):
    return draw(hnp.arrays(np.float64, shape, elements=MAGNITUDE))


def distinct(draw, shape):
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3), unique=True))
    gaps = np.diff(np.sort(values.ravel()))
    assume(gaps.size == 0 or gaps.min() >= 1e-3)
    return values


def axes(draw, ndim, allow_tuple=True):
    """None, an int (possibly negative) or a tuple of distinct axes (possibly negative, possibly empty)."""
    options = [st.none()]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim))
    return draw(st.one_of(*options))


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in (axis if isinstance(axis, tuple) else (axis,))]))


def _binary(fn, ref, left=real, right=real, apart=False):
    def build(draw):
        (sx, sy), _ = draw(PAIR)
        x, y = left(draw, sx), right(draw, sy)
        if apart:
            assume(np.all(np.abs(np.subtract(x, y)) >= 1e-3))
        return fn, ref, [x, y], {}

    return build


def _unary(fn, ref, values=real, **check):
    def build(draw):
        return fn, ref, [values(draw, draw(SHAPE))], check

    return build


def _reduction(name, values=real):
    ref = {
        "sum": np.sum,
        "mean": np.mean,
        "max": np.max,
        "min": np.min,
        "logsumexp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    }

    def build(draw):
        shape = draw(SHAPE)
        axis, keepdims = axes(draw, len(shape)), draw(st.booleans())
        if name == "var":
            ddof = draw(st.sampled_from([0, 1])) if _count(shape, axis) >= 2 else 0
            return (
                lambda x: ad.var(x, axis=axis, ddof=ddof, keepdims=keepdims),
                lambda x: np.var(x, axis=axis, ddof=ddof, keepdims=keepdims),
                [values(draw, shape)],
                {},
            )
        return (
            lambda x: getattr(ad, name)(x, axis=axis, keepdims=keepdims),
            lambda x: ref[name](x, axis=axis, keepdims=keepdims),
            [values(draw, shape)],
            {},
        )

    return build


def _softmax(name):
    def build(draw):
        shape = draw(NONEMPTY_SHAPE)
        axis = draw(st.integers(-len(shape), len(shape) - 1))

        def ref(x):
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            s = e / e.sum(axis=axis, keepdims=True)
            return s if name == "softmax" else np.log(s)

        return lambda x: getattr(ad, name)(x, axis=axis), ref, [real(draw, shape)], {}

    return build


def _where(draw):
    (sc, sx, sy), _ = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    cond = draw(hnp.arrays(bool, sc))
    return (lambda x, y: ad.where(cond, x, y), lambda x, y: np.where(cond, x, y), [real(draw, sx), real(draw, sy)], {})


def _matmul(draw):
    (sx, sy), _ = draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3))
    return ad.matmul, np.matmul, [real(draw, sx), real(draw, sy)], {}


def _linear(draw):
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 3)]))
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    bias = draw(st.booleans())
    inputs = [real(draw, batch + (n_in,)), real(draw, (n_out, n_in))] + ([real(draw, (n_out,))] if bias else [])
    return ad.linear, lambda x, w, *b: x @ w.T + (b[0] if b else 0), inputs, {}


def _cross_entropy(draw):
    n, classes = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    labels = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))

    def ref_rows(x):
        shifted = x - x.max(axis=1, keepdims=True)
        return np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(n), labels]

    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    reduce = {"none": lambda rows: rows, "mean": np.mean, "sum": np.sum}[reduction]
    return (
        lambda x: ad.cross_entropy(x, labels, reduction),
        lambda x: reduce(ref_rows(x)),
        [real(draw, (n, classes))],
        {},
    )


def _clip(draw):
    shape = draw(SHAPE)
    lo = draw(st.one_of(st.none(), st.floats(-2, 1)))
    hi = draw(st.one_of(st.none(), st.floats(-1, 2).filter(lambda h: lo is None or h > lo)))
    x = real(draw, shape)
    for bound in (lo, hi):
        assume(bound is None or np.all(np.abs(x - bound) >= 1e-3))
    return (lambda t: ad.clip(t, lo, hi), lambda a: a if lo is None and hi is None else np.clip(a, lo, hi), [x], {})


def _reshape(draw):
    shape = draw(SHAPE)
    dims = list(draw(st.permutations(shape)))
    if len(dims) >= 2 and draw(st.booleans()):  # merge two neighbours
        i = draw(st.integers(0, len(dims) - 2))
        dims[i : i + 2] = [dims[i] * dims[i + 1]]
    for _ in range(draw(st.integers(0, 2))):  # insert length-1 axes
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    new = tuple(dims)
    return lambda x: x.reshape(new), lambda a: a.reshape(new), [real(draw, shape)], {}


def _transpose(draw):
    shape = draw(SHAPE)
    perm = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    if perm is not None and draw(st.booleans()):
        perm = tuple(p - len(shape) for p in perm)  # negative axes
    return lambda x: ad.transpose(x, perm), lambda a: np.transpose(a, perm), [real(draw, shape)], {}


def _swapaxes(draw):
    shape = draw(NONEMPTY_SHAPE)
    a, b = (draw(st.integers(-len(shape), len(shape) - 1)) for _ in range(2))
    return lambda x: x.swapaxes(a, b), lambda x: np.swapaxes(x, a, b), [real(draw, shape)], {}


def _expand_dims(draw):
    shape = draw(SHAPE)
    n = draw(st.integers(1, 2))
    axis = draw(hnp.valid_tuple_axes(len(shape) + n, min_size=n, max_size=n))
    axis = axis[0] if n == 1 and draw(st.booleans()) else axis
    return lambda x: ad.expand_dims(x, axis), lambda a: np.expand_dims(a, axis), [real(draw, shape)], {}


def _squeeze(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = draw(st.none() | st.lists(st.sampled_from(ones), unique=True).map(tuple) if ones else st.none())
    return lambda x: x.squeeze(axis=axis), lambda a: np.squeeze(a, axis=axis), [real(draw, shape)], {}


def _flatten(draw):
    return lambda x: x.flatten(), lambda a: a.reshape(-1), [real(draw, draw(SHAPE))], {}


def _broadcast_to(draw):
    base = draw(SHAPE)
    (s_in,), s_out = draw(hnp.mutually_broadcastable_shapes(num_shapes=1, base_shape=base, max_dims=3, max_side=3))
    return (lambda x: ad.broadcast_to(x, s_out), lambda a: np.broadcast_to(a, s_out), [real(draw, s_in)], {})


def _sum_to(draw):
    base = draw(SHAPE)
    (small,), big = draw(hnp.mutually_broadcastable_shapes(num_shapes=1, base_shape=base, max_dims=3, max_side=3))
    from autodiff.ops import sum_to

    return lambda x: ad.sum_to(x, small), lambda a: sum_to(a, small), [real(draw, big)], {}


def _index(draw, shape, unique=False):
    """A basic index, an integer-array index (repeats unless unique) or a boolean mask."""
    kind = draw(st.sampled_from(["basic", "integer", "mask"]))
    if kind == "basic" or not shape:
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    if kind == "integer":
        if unique:
            n = shape[0]
            return np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=n, unique_by=lambda i: i % n)))
        return draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=3)))
    return draw(hnp.arrays(bool, shape[: draw(st.integers(1, len(shape)))]))


def _getitem(draw):
    shape = draw(SHAPE)
    index = _index(draw, shape)
    return lambda x: x[index], lambda a: a[index], [real(draw, shape)], {}


def _setitem(draw):
    shape = draw(SHAPE)
    index = _index(draw, shape, unique=True)
    target = np.empty(shape)[index].shape
    value_shape = tuple(draw(st.sampled_from([1, n])) for n in target[draw(st.integers(0, len(target))) :])

    def ref(x, v):
        out = x.copy()
        out[index] = v
        return out

    return lambda x, v: ad.setitem(x, index, v), ref, [real(draw, shape), real(draw, value_shape)], {}


def _scatter_add(draw):
    n = draw(st.integers(1, 4))
    index = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
    rest = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))

    def ref(x):
        out = np.zeros((n,) + rest)
        np.add.at(out, index, x)
        return out

    return lambda x: ad.scatter_add(x, index, (n,) + rest), ref, [real(draw, index.shape + rest)], {}


def _concatenate(draw):
    shape = draw(NONEMPTY_SHAPE)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    k = draw(st.integers(1, 3))
    shapes = [
        shape[: axis % len(shape)] + (draw(st.integers(1, 3)),) + shape[axis % len(shape) + 1 :] for _ in range(k)
    ]
    return (
        lambda *xs: ad.concatenate(list(xs), axis=axis),
        lambda *xs: np.concatenate(xs, axis=axis),
        [real(draw, s) for s in shapes],
        {},
    )


def _stack(draw):
    shape = draw(SHAPE)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    k = draw(st.integers(1, 3))
    return (
        lambda *xs: ad.stack(list(xs), axis=axis),
        lambda *xs: np.stack(xs, axis=axis),
        [real(draw, shape) for _ in range(k)],
        {},
    )


def _sum_of_squares(draw):
    shapes = [draw(SHAPE) for _ in range(draw(st.integers(1, 3)))]
    return (
        lambda *xs: ad.sum_of_squares(list(xs)),
        lambda *xs: sum(np.sum(x * x) for x in xs),
        [real(draw, s) for s in shapes],
        {},
    )


def _prod(draw):
    shape = draw(SHAPE)
    axis, keepdims = axes(draw, len(shape)), draw(st.booleans())
    values = real(draw, shape)
    if values.size and draw(st.booleans()):  # zeros: the gradient is the product of the others, not out / x
        values.flat[draw(st.integers(0, values.size - 1))] = 0.0
    return (
        lambda x: ad.prod(x, axis=axis, keepdims=keepdims),
        lambda a: np.prod(a, axis=axis, keepdims=keepdims),
        [values],
        {},
    )


def _cumsum(draw):
    shape = draw(SHAPE)
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    return lambda x: ad.cumsum(x, axis=axis), lambda a: np.cumsum(a, axis=axis), [real(draw, shape)], {}


def _std(draw):
    shape = draw(SHAPE)
    axis, keepdims = axes(draw, len(shape)), draw(st.booleans())
    ddof = draw(st.sampled_from([0, 1])) if _count(shape, axis) >= 2 else 0
    values = real(draw, shape)
    assume(np.all(np.var(values, axis=axis, ddof=ddof) > 1e-4))  # √ has no derivative at 0
    return (
        lambda x: ad.std(x, axis=axis, ddof=ddof, keepdims=keepdims),
        lambda a: np.std(a, axis=axis, ddof=ddof, keepdims=keepdims),
        [values],
        {},
    )


def _norm(draw):
    shape = draw(NONEMPTY_SHAPE)
    keepdims = draw(st.booleans())
    if len(shape) >= 2 and draw(st.booleans()):  # a matrix norm over two axes
        pair = tuple(draw(st.permutations(range(len(shape))))[:2])
        ord = draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf]))
        values = distinct(draw, shape)
        assume(np.all(np.abs(values) >= 1e-3))  # |x| has no derivative at 0
        return (
            lambda x: ad.norm(x, ord, axis=pair, keepdims=keepdims),
            lambda a: np.linalg.norm(a, ord, axis=pair, keepdims=keepdims),
            [values],
            {},
        )
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    ord = draw(st.sampled_from([None, 1, 2, 3, 0.5, np.inf, -np.inf]))
    values = distinct(draw, shape)
    assume(np.all(np.abs(values) >= 1e-3))  # |x| has no derivative at 0
    return (
        lambda x: ad.norm(x, ord, axis=axis, keepdims=keepdims),
        lambda a: np.linalg.norm(a, ord, axis=axis, keepdims=keepdims),
        [values],
        {},
    )


def _two_operands(function, reference, shapes):
    def build(draw):
        sx, sy = draw(shapes)
        return function, reference, [real(draw, sx), real(draw, sy)], {}

    return build


@st.composite
def _dot_shapes(draw):
    """Shapes numpy's dot takes: a number with anything, vectors, matrices, and n-d (last axis of a, second-to-last of b)."""
    k = draw(st.integers(1, 3))
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    kind = draw(st.sampled_from(["number", "vector", "nd"]))
    if kind == "number":
        return (), draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    if kind == "vector":
        return lead + (k,), (k,)
    return lead + (k,), draw(hnp.array_shapes(min_dims=0, max_dims=1, max_side=3)) + (k, draw(st.integers(1, 3)))


@st.composite
def _inner_shapes(draw):
    k = draw(st.integers(1, 3))
    return (
        draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (k,),
        draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) + (k,),
    )


def _tensordot(draw):
    summed = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    free_a, free_b = (draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) for _ in range(2))
    a_shape, b_shape = free_a + summed, summed + free_b
    if draw(st.booleans()):
        axes = len(summed)
    else:  # explicit axes, in a shuffled order
        order = draw(st.permutations(range(len(summed))))
        axes = ([len(free_a) + i for i in order], list(order))
    return (
        lambda a, b: ad.tensordot(a, b, axes),
        lambda a, b: np.tensordot(a, b, axes),
        [real(draw, a_shape), real(draw, b_shape)],
        {},
    )


def _einsum(draw):
    sizes = dict(zip("ijkl", draw(st.lists(st.integers(1, 3), min_size=4, max_size=4))))
    operands = draw(
        st.lists(st.lists(st.sampled_from("ijkl"), max_size=3, unique=True).map("".join), min_size=1, max_size=3)
    )
    used = sorted(set("".join(operands)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    spec = ",".join(operands) + "->" + output
    arrays = [real(draw, tuple(sizes[c] for c in letters)) for letters in operands]
    return lambda *xs: ad.einsum(spec, *xs), lambda *xs: np.einsum(spec, *xs), arrays, {}


def _trace_or_diagonal(name):
    def build(draw):
        shape = draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=3))
        axis1, axis2 = draw(st.permutations(range(len(shape))))[:2]
        offset = draw(st.integers(-2, 2))
        fn = getattr(ad, name)
        reference = getattr(np, name)
        return (
            lambda x: fn(x, offset, axis1, axis2),
            lambda a: reference(a, offset, axis1, axis2),
            [real(draw, shape)],
            {},
        )

    return build


def _diff(draw):
    shape = draw(NONEMPTY_SHAPE)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = draw(st.integers(0, 3))
    prepend = draw(st.none() | st.floats(-2, 2))
    kw = {} if prepend is None else {"prepend": prepend}
    return lambda x: ad.diff(x, n, axis, **kw), lambda a: np.diff(a, n, axis, **kw), [real(draw, shape)], {}


def _moveaxis(draw):
    shape = draw(NONEMPTY_SHAPE)
    k = draw(st.integers(1, len(shape)))
    source = draw(st.permutations(range(len(shape))))[:k]
    destination = draw(st.permutations(range(-len(shape), 0)))[:k]
    return (
        lambda x: ad.moveaxis(x, source, destination),
        lambda a: np.moveaxis(a, source, destination),
        [real(draw, shape)],
        {},
    )


def _flip(draw):
    shape = draw(SHAPE)
    axis = draw(st.none() | hnp.valid_tuple_axes(len(shape)))
    return lambda x: ad.flip(x, axis), lambda a: np.flip(a, axis), [real(draw, shape)], {}


def _joined(name, reference):
    def build(draw):
        lengths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
        rest = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
        if name == "hstack" and draw(st.booleans()):
            shapes = [(n,) for n in lengths]  # vectors: joined end to end
        elif name == "hstack":
            rows = draw(st.integers(1, 3))
            shapes = [(rows, n) + rest for n in lengths]
        elif name == "vstack" and (not rest or draw(st.booleans())):
            shapes = [rest[-1:] or (1,)] * len(lengths)  # vectors: rows of a matrix
        else:
            shapes = [(n,) + rest for n in lengths]
        fn = getattr(ad, name)
        return (lambda *xs: fn(list(xs))), (lambda *xs: reference(xs)), [real(draw, s) for s in shapes], {}

    return build


def _at_least(name):
    def build(draw):
        fn, reference = getattr(ad, name), getattr(np, name)
        return fn, reference, [real(draw, draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))], {}

    return build


def _unsqueeze(draw):
    shape = draw(SHAPE)
    dim = draw(st.integers(-len(shape) - 1, len(shape)))
    return lambda x: x.unsqueeze(dim), lambda a: np.expand_dims(a, dim), [real(draw, shape)], {}


def _t(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    return ad.t, lambda a: a.T, [real(draw, shape)], {}


OPS = {
    "add": _binary(ad.add, np.add),
    "sub": _binary(ad.sub, np.subtract),
    "mul": _binary(ad.mul, np.multiply),
    "div": _binary(ad.div, np.divide),
    "pow": _binary(ad.pow, np.power, left=positive),
    "maximum": _binary(ad.maximum, np.maximum, apart=True),
    "minimum": _binary(ad.minimum, np.minimum, apart=True),
    "where": _where,
    "matmul": _matmul,
    "linear": _linear,
    "cross_entropy": _cross_entropy,
    "neg": _unary(ad.neg, np.negative),
    "abs": _unary(ad.abs, np.abs),
    "exp": _unary(ad.exp, np.exp),
    "log": _unary(ad.log, np.log, positive),
    "sqrt": _unary(ad.sqrt, np.sqrt, positive),
    "sin": _unary(ad.sin, np.sin),
    "cos": _unary(ad.cos, np.cos),
    "tanh": _unary(ad.tanh, np.tanh),
    "sigmoid": _unary(ad.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "softplus": _unary(ad.softplus, lambda a: np.log1p(np.exp(a))),
    "relu": _unary(ad.relu, lambda a: np.maximum(a, 0)),
    "clip": _clip,
    "astype": _unary(
        lambda x: x.astype(np.float32).astype(np.float64), lambda a: a.astype(np.float32).astype(np.float64), eps=1e-2
    ),
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "var": _reduction("var"),
    "max": _reduction("max", distinct),
    "min": _reduction("min", distinct),
    "logsumexp": _reduction("logsumexp"),
    "softmax": _softmax("softmax"),
    "log_softmax": _softmax("log_softmax"),
    "reshape": _reshape,
    "transpose": _transpose,
    "swapaxes": _swapaxes,
    "expand_dims": _expand_dims,
    "squeeze": _squeeze,
    "flatten": _flatten,
    "broadcast_to": _broadcast_to,
    "sum_to": _sum_to,
    "getitem": _getitem,
    "setitem": _setitem,
    "scatter_add": _scatter_add,
    "concatenate": _concatenate,
    "stack": _stack,
    "sum_of_squares": _sum_of_squares,
    "cat": _joined("cat", lambda xs: np.concatenate(xs, axis=0)),
    "hstack": _joined("hstack", np.hstack),
    "vstack": _joined("vstack", np.vstack),
    "atleast_1d": _at_least("atleast_1d"),
    "atleast_2d": _at_least("atleast_2d"),
    "unsqueeze": _unsqueeze,
    "t": _t,
    "moveaxis": _moveaxis,
    "flip": _flip,
    "diff": _diff,
    "trace": _trace_or_diagonal("trace"),
    "diagonal": _trace_or_diagonal("diagonal"),
    "prod": _prod,
    "cumsum": _cumsum,
    "std": _std,
    "norm": _norm,
    "dot": _two_operands(ad.dot, np.dot, _dot_shapes()),
    "inner": _two_operands(ad.inner, np.inner, _inner_shapes()),
    "outer": _binary(ad.outer, np.outer),
    "tensordot": _tensordot,
    "einsum": _einsum,
    "square": _unary(ad.square, np.square),
    "reciprocal": _unary(ad.reciprocal, np.reciprocal),
    "log2": _unary(ad.log2, np.log2, positive),
    "log10": _unary(ad.log10, np.log10, positive),
    "logaddexp": _binary(ad.logaddexp, np.logaddexp),
}


def _from_the_catalogue():
    """Elementwise functions made from a catalogue entry alone (e.g. log1p): numpy's ufunc is the
    reference, the values are positive where tests/test_ops.py gives the op the "positive" domain."""
    from test_ops import CASES

    from autodiff import ops

    for op in ops.CATALOGUE:
        if op.ufunc is not None and op.function not in OPS and op.forward.__code__.co_argcount == 2:
            domain = next(d for name, _, _, d in CASES if name.startswith(op.function + "("))
            OPS[op.function] = _unary(getattr(ad, op.function), op.ufunc, positive if domain == "positive" else real)


_from_the_catalogue()
NOT_DIFFERENTIABLE = {"argmax", "argmin", "sign", "numel", "is_tensor"}  # outside the graph by design
CREATION = {
    "arange",
    "as_tensor",
    "eye",
    "from_numpy",
    "full",
    "linspace",
    "ones",
    "ones_like",
    "tensor",
    "zeros",
    "zeros_like",
}


def test_the_table_has_every_differentiable_function_and_every_primitive():
    from autodiff import functions, ops

    assert set(functions.__all__) == set(OPS) | NOT_DIFFERENTIABLE | CREATION
    primitives = {
        c.name for c in vars(ops).values() if isinstance(c, type) and issubclass(c, ops.Op) and c is not ops.Op
    }
    assert primitives <= set(OPS)


def released_graph(out):
    """Every op reachable from ``out``, after checking it released what it saved."""
    seen, stack = set(), [out.grad_fn]
    while stack:
        op = stack.pop()
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        assert op.released and op.saved is None and op.saved_output is None, op
        assert all(getattr(op, name) is None for name in op.frees), op
        stack.extend(t.grad_fn for t in op.input_tensors)
    return seen


def check_backward_side_effects(fn, arrays, seed=0):
    """Run fn on fresh leaves and backward with a random cotangent: inputs unchanged, gradients
    unshared, the graph released."""
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape)
    if not out.requires_grad:  # e.g. an empty selection
        return
    out.backward(cotangent)
    for t, a in zip(inputs, arrays):
        np.testing.assert_array_equal(t.data, a)
        assert t._version == 0 and t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == t.dtype
    arrays_seen = [t.grad.data for t in inputs]
    for i, g in enumerate(arrays_seen):
        for other in arrays_seen[i + 1 :] + [t.data for t in inputs] + [out.data, cotangent]:
            assert not np.shares_memory(g, other)
    released_graph(out)


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=PER_OP, deadline=None)
@given(data=st.data())
def test_every_op_on_random_shapes_axes_and_values(name, data):
    fn, ref, arrays, check = OPS[name](data.draw)
    expected = ref(*arrays)
    got = fn(*[Tensor(a) for a in arrays])
    np.testing.assert_allclose(got.data, expected, rtol=1e-9, atol=1e-12)
    assert got.shape == np.shape(expected)
    check_backward_side_effects(fn, arrays)
    assert ad.gradcheck(fn, [Tensor(a, requires_grad=True) for a in arrays], **check)
