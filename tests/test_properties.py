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
    np.testing.assert_array_equal(out.data, fn(xd, yd) if name not in ("maximum", "pow") else
                                  (np.maximum(xd, yd) if name == "maximum" else np.abs(xd) ** yd))
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
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple)))
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
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(
    signature=np.matmul.signature, max_dims=2, max_side=3))
def test_matmul_on_random_shapes(data, shapes):
    (sx, sy), _ = shapes
    xd = data.draw(hnp.arrays(np.float64, sx, elements=st.floats(-2, 2)))
    yd = data.draw(hnp.arrays(np.float64, sy, elements=st.floats(-2, 2)))
    x, y = Tensor(xd, requires_grad=True), Tensor(yd, requires_grad=True)
    np.testing.assert_allclose((x @ y).data, xd @ yd)
    assert ad.gradcheck(lambda a, b: a @ b, (x, y))
