"""Every op under gradcheck and gradgradcheck: one line per case.

A case is (name, function, input shapes, domain). Inputs are random float64
normal values (negative and positive); the domain "positive" makes them lie in
[0.5, 2] (for log, sqrt, a power's base), "away" keeps |x| ≥ 0.5 (divisors).
Shapes cover 0-d, size-1 and broadcast pairs.
"""

import numpy as np
import pytest

import autodiff as ad
from autodiff import functions as F

BROADCAST_PAIRS = [((3, 1), (4,)), ((), (2, 3)), ((2, 3), ()), ((1,), (1,)), ((2, 1, 3), (4, 1)), ((2, 3), (2, 3))]
UNARY_SHAPES = [(), (1,), (2, 3)]


def _cases():
    cases = []
    for name, fn, domain in [
        ("add", lambda x, y: x + y, None),
        ("sub", lambda x, y: x - y, None),
        ("mul", lambda x, y: x * y, None),
        ("div", lambda x, y: x / y, "away"),
        ("pow", lambda x, y: x**y, "positive"),
        ("maximum", ad.maximum, None),
        ("minimum", ad.minimum, None),
        ("logaddexp", ad.logaddexp, None),
    ]:
        for shapes in BROADCAST_PAIRS:
            cases.append((f"{name}{shapes}", fn, shapes, domain))
    condition = np.sin(np.arange(6)).reshape(2, 3) > 0
    for shapes in [((2, 3), (3,)), ((2, 3), ()), ((1, 3), (2, 1)), ((2, 3), (2, 3))]:
        cases.append((f"where{shapes}", lambda x, y: ad.where(condition, x, y), shapes, None))
    scalar_forms = [
        ("x+2", lambda x: x + 2.5, None),
        ("2+x", lambda x: 2.5 + x, None),
        ("x-2", lambda x: x - 2.5, None),
        ("2-x", lambda x: 2.5 - x, None),
        ("2*x", lambda x: 2.5 * x, None),
        ("x/2", lambda x: x / 2.5, None),
        ("2/x", lambda x: 2.5 / x, "away"),
        ("x**2", lambda x: x**2, None),
        ("x**3", lambda x: x**3, None),
        ("x**0.5", lambda x: x**0.5, "positive"),
        ("x**-1.5", lambda x: x**-1.5, "positive"),
        ("2**x", lambda x: 2**x, None),
        ("-x", lambda x: -x, None),
        ("abs", abs, "away"),
        ("exp", ad.exp, None),
        ("log", ad.log, "positive"),
        ("sqrt", ad.sqrt, "positive"),
        ("log1p", ad.log1p, "positive"),
        ("tanh", ad.tanh, None),
        ("sigmoid", ad.sigmoid, None),
        ("relu", ad.relu, "away"),
        ("softplus", ad.softplus, None),
        ("softplus_tails", lambda x: (x * 40).softplus(), None),
        ("sin", ad.sin, None),
        ("cos", ad.cos, None),
        ("sinh", ad.sinh, None),
        ("cosh", ad.cosh, None),
        ("square", ad.square, None),
        ("reciprocal", ad.reciprocal, "away"),
        ("log2", ad.log2, "positive"),
        ("log10", ad.log10, "positive"),
        ("clip", lambda x: ad.clip(x, -0.5, 0.5), "away"),
        ("clip_hi", lambda x: ad.clip(x, max=0.3), "away"),
        ("clip_lo", lambda x: x.clip(min=-0.2), "away"),
        ("astype", lambda x: x.astype(np.float64) * 2, None),
        ("astype_double", lambda x: x.double() * 2, None),
        ("clone", lambda x: x.clone(), None),
    ]
    for name, fn, domain in scalar_forms:
        for shape in UNARY_SHAPES:
            cases.append((f"{name}{shape}", fn, [shape], domain))
    for shapes in [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((5, 2, 3), (5, 3, 4)),
        ((1, 2, 3), (4, 3, 2)),
        ((3,), (2, 3, 4)),
        ((2, 4, 3), (3,)),
    ]:
        cases.append((f"matmul{shapes}", lambda x, y: x @ y, shapes, None))
    for name, fn, shapes in [
        ("dot", ad.dot, [(3,), (3,)]),
        ("dot", ad.dot, [(2, 3), (3, 4)]),
        ("dot", ad.dot, [(), (2, 3)]),
        ("dot", ad.dot, [(3,), (2, 3, 4)]),
        ("dot_nd", ad.dot, [(2, 3, 4), (5, 4, 2)]),
        ("inner", ad.inner, [(3,), (3,)]),
        ("inner", lambda x, y: x.inner(y), [(2, 3), (4, 3)]),
        ("outer", ad.outer, [(2, 3), (4,)]),
        ("tensordot", ad.tensordot, [(2, 3, 4), (3, 4, 5)]),
        ("tensordot_axes", lambda x, y: ad.tensordot(x, y, axes=([0], [1])), [(2, 3), (4, 2)]),
        ("einsum_matmul", lambda x, y: ad.einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)]),
        ("einsum_implicit", lambda x, y: ad.einsum("ij,jk", x, y), [(2, 3), (3, 4)]),
        ("einsum_batch", lambda x, y: ad.einsum("bij,bjk->bik", x, y), [(2, 3, 4), (2, 4, 2)]),
        ("einsum_rows", lambda x, y: ad.einsum("ij,ij->i", x, y), [(2, 3), (2, 3)]),
        ("einsum_outer_sum", lambda x, y: ad.einsum("i,jk->j", x, y), [(3,), (2, 4)]),
        ("einsum_total", lambda x: ad.einsum("ijk->", x), [(2, 3, 4)]),
        ("einsum_diagonal", lambda x: ad.einsum("ii->i", x), [(3, 3)]),
        ("einsum_three", lambda x, y, z: ad.einsum("ij,jk,k->i", x, y, z), [(2, 3), (3, 4), (4,)]),
        ("trace", lambda x: x.trace(), [(3, 4)]),
        ("trace_offset", lambda x: ad.trace(x, offset=1, axis1=2, axis2=0), [(3, 2, 4)]),
        ("diagonal", lambda x: ad.diagonal(x, -1, 1, 2), [(2, 3, 4)]),
        ("diff", lambda x: ad.diff(x), [(3, 4)]),
        ("diff2_prepend", lambda x: x.diff(n=2, axis=0, prepend=0.5), [(3, 4)]),
        ("moveaxis", lambda x: ad.moveaxis(x, 0, -1), [(2, 3, 4)]),
        ("flip", lambda x: ad.flip(x, 1), [(2, 3)]),
        ("flip_all", ad.flip, [(2, 3)]),
        ("atleast_1d", ad.atleast_1d, [()]),
        ("atleast_2d", ad.atleast_2d, [(3,)]),
        ("hstack", lambda x, y: ad.hstack([x, y]), [(2, 3), (2, 1)]),
        ("vstack", lambda x, y: ad.vstack([x, y]), [(3,), (2, 3)]),
        ("cat", lambda x, y: ad.cat([x, y], dim=0), [(2, 3), (1, 3)]),
        ("unsqueeze", lambda x: x.unsqueeze(1), [(2, 3)]),
        ("t", lambda x: x.t(), [(2, 3)]),
        ("t_vector", ad.t, [(3,)]),
    ]:
        cases.append((f"{name}{tuple(shapes)}", fn, shapes, None))
    reductions = [
        ("sum", lambda x: x.sum()),
        ("sumk", lambda x: x.sum(keepdims=True)),
        ("sum0", lambda x: x.sum(axis=0)),
        ("sum-1k", lambda x: x.sum(axis=-1, keepdims=True)),
        ("sum02", lambda x: x.sum(axis=(0, 2))),
        ("mean", lambda x: x.mean()),
        ("mean1", lambda x: x.mean(axis=1)),
        ("mean02k", lambda x: x.mean(axis=(0, 2), keepdims=True)),
        ("max", lambda x: x.max()),
        ("max1", lambda x: x.max(axis=1)),
        ("min-1k", lambda x: x.min(axis=-1, keepdims=True)),
        ("var", lambda x: x.var()),
        ("var1ddof", lambda x: x.var(axis=1, ddof=1)),
        ("logsumexp", lambda x: x.logsumexp()),
        ("logsumexp2", lambda x: ad.logsumexp(x, axis=2)),
        ("logsumexp1k", lambda x: ad.logsumexp(x, axis=1, keepdims=True)),
        ("softmax", lambda x: ad.softmax(x)),
        ("softmax0", lambda x: ad.softmax(x, axis=0)),
        ("log_softmax", lambda x: ad.log_softmax(x)),
        ("log_softmax1", lambda x: x.log_softmax(axis=1)),
        ("prod", lambda x: x.prod()),
        ("prod1", lambda x: x.prod(axis=1)),
        ("prod02k", lambda x: ad.prod(x, axis=(0, 2), keepdims=True)),
        ("prod_at_zeros", lambda x: ad.where(np.array([True, False, True, True]), x, 0.0).prod(axis=-1)),
        ("prod_two_zeros", lambda x: ad.where(np.array([False, True, True, False]), x, 0.0).prod(axis=(1, 2))),
        ("cumsum", lambda x: x.cumsum()),
        ("cumsum1", lambda x: x.cumsum(axis=1)),
        ("std", lambda x: x.std()),
        ("std1ddof", lambda x: x.std(axis=1, ddof=1)),
        ("norm", lambda x: ad.norm(x)),
        ("norm_axis", lambda x: ad.norm(x, axis=2)),
        ("norm_p1_dim", lambda x: x.norm(p=1, dim=(0, 2))),
        ("norm_inf", lambda x: ad.norm(x, np.inf, axis=1)),
        ("norm_3k", lambda x: ad.norm(x, 3, axis=-1, keepdims=True)),
        ("norm_matrix1", lambda x: ad.norm(x, 1, axis=(1, 2))),
        ("norm_matrix_inf_k", lambda x: ad.norm(x, -np.inf, axis=(0, 2), keepdims=True)),
        ("norm_fro", lambda x: ad.norm(x, "fro", axis=(0, 1))),
    ]
    for name, fn in reductions:
        cases.append((f"{name}(2,3,4)", fn, [(2, 3, 4)], None))
    for name, fn in [
        ("sum", lambda x: x.sum()),
        ("mean", lambda x: x.mean()),
        ("max", lambda x: x.max()),
        ("logsumexp", lambda x: x.logsumexp()),
    ]:
        cases += [(f"{name}()", fn, [()], None), (f"{name}(1,)", fn, [(1,)], None)]
    shape_ops = [
        ("reshape", lambda x: x.reshape(4, 6), (2, 3, 4)),
        ("reshape-1", lambda x: x.reshape((3, -1)), (2, 3, 4)),
        ("transpose", lambda x: x.transpose(), (2, 3, 4)),
        ("transpose_axes", lambda x: x.transpose(1, 2, 0), (2, 3, 4)),
        ("T", lambda x: x.T, (2, 3)),
        ("swapaxes", lambda x: x.swapaxes(0, 2), (2, 3, 4)),
        ("expand_dims", lambda x: ad.expand_dims(x, 1), (2, 3)),
        ("expand_dims_tuple", lambda x: ad.expand_dims(x, (0, -1)), (2, 3)),
        ("squeeze", lambda x: x.squeeze(), (2, 1, 3, 1)),
        ("squeeze_axis", lambda x: x.squeeze(axis=1), (2, 1, 3)),
        ("flatten", lambda x: x.flatten(), (2, 3)),
        ("broadcast_to", lambda x: ad.broadcast_to(x, (2, 4, 3)), (4, 1)),
        ("sum_to", lambda x: ad.sum_to(x, (1, 3)), (2, 4, 3)),
        ("getitem_int", lambda x: x[1], (3, 4)),
        ("getitem_slice", lambda x: x[1:, ::2], (3, 4)),
        ("getitem_none_ellipsis", lambda x: x[None, ..., 0], (3, 4)),
        ("getitem_negative", lambda x: x[-1, -2], (3, 4)),
        ("getitem_mask", lambda x: x[np.array([True, False, True])], (3, 4)),
        ("getitem_int_array_repeats", lambda x: x[np.array([0, 2, 0, 0])], (3, 4)),
        ("getitem_fancy_pair", lambda x: x[np.array([0, 2, 2]), np.array([1, 1, 3])], (3, 4)),
        ("getitem_mixed", lambda x: x[1:, np.array([3, 0, 3])], (3, 4)),
        ("getitem_tensor_index", lambda x: x[ad.Tensor(np.array([2, 2]))], (3, 4)),
        ("iterate", lambda x: sum(row * (i + 1) for i, row in enumerate(x)), (3, 2)),
        ("scatter_add", lambda x: ad.scatter_add(x, np.array([0, 2, 0]), (4,)), (3,)),
        ("setitem_fn", lambda x: F.setitem(x, (slice(None), 1), 7.0), (3, 4)),
    ]
    for name, fn, shape in shape_ops:
        cases.append((name, fn, [shape], None))
    cases += [
        ("setitem_value", lambda x, v: F.setitem(x, 1, v), [(3, 4), (4,)], None),
        ("setitem_value_broadcast", lambda x, v: F.setitem(x, (slice(None), 0), v), [(3, 4), ()], None),
        ("concatenate0", lambda x, y: ad.concatenate([x, y, x], axis=0), [(2, 3), (1, 3)], None),
        ("concatenate-1", lambda x, y: ad.concatenate([x, y], axis=-1), [(2, 3), (2, 2)], None),
        ("stack", lambda x, y: ad.stack([x, y]), [(2, 3), (2, 3)], None),
        ("sum_of_squares", lambda x, y: ad.sum_of_squares([x, y, x]), [(2, 3), (4,)], None),
        ("sum_of_squares_one", lambda x: ad.sum_of_squares(x), [()], None),
        ("stack1", lambda x, y: ad.stack([x, y, x], axis=1), [(2, 3), (2, 3)], None),
        ("linear", lambda x, w, b: ad.linear(x, w, b), [(5, 3), (4, 3), (4,)], None),
        ("linear_no_bias", lambda x, w: ad.linear(x, w), [(5, 3), (4, 3)], None),
        ("linear_vector", lambda x, w, b: ad.linear(x, w, b), [(3,), (4, 3), (4,)], None),
        ("linear_batched", lambda x, w, b: ad.linear(x, w, b), [(2, 5, 3), (4, 3), (4,)], None),
        ("cross_entropy", lambda x: ad.cross_entropy(x, np.array([2, 0, 3, 2])), [(4, 5)], None),
        ("cross_entropy_mean", lambda x: ad.cross_entropy(x, np.array([2, 0, 3, 2]), "mean"), [(4, 5)], None),
        ("cross_entropy_sum", lambda x: ad.cross_entropy(x, np.array([1, 1, 0]), "sum"), [(3, 2)], None),
        ("inplace_add", _inplace_add, [(2, 3), (3,)], None),
        ("inplace_mul_setitem", _inplace_mul_setitem, [(2, 3), (3,)], None),
    ]
    return cases


def _inplace_add(x, y):
    c = x * 1.0
    c += y
    c *= c
    return c


def _inplace_mul_setitem(x, y):
    c = x * 2.0
    c[0] = y * y
    c[1, 1:] *= y[1:]
    return c.sum(axis=0)


CASES = _cases()


def make_inputs(shapes, domain, seed=0):
    rng = np.random.default_rng(seed)
    inputs = []
    for shape in shapes:
        if domain == "positive":
            data = rng.uniform(0.5, 2.0, shape)
        elif domain == "away":
            data = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        else:
            data = rng.standard_normal(shape)
        inputs.append(ad.Tensor(data, requires_grad=True))
    return inputs


@pytest.mark.parametrize("name,fn,shapes,domain", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, shapes, domain):
    assert ad.gradcheck(fn, make_inputs(shapes, domain))


@pytest.mark.parametrize("name,fn,shapes,domain", CASES, ids=[c[0] for c in CASES])
def test_gradgradcheck(name, fn, shapes, domain):
    assert ad.gradgradcheck(fn, make_inputs(shapes, domain))


@pytest.mark.parametrize("name,fn,shapes,domain", CASES, ids=[c[0] for c in CASES])
def test_gradient_shapes_and_dtypes_match_inputs(name, fn, shapes, domain, monkeypatch):
    """Also: every rule of the catalogue passes the checks the engine makes of rules from elsewhere
    (one gradient per input, each an array of real numbers), which it skips for the catalogue's own."""
    from autodiff import ops

    for op in ops.CATALOGUE:
        monkeypatch.setattr(op, "checks_rule", True)
    inputs = make_inputs(shapes, domain)
    out = fn(*inputs)
    out.backward(np.ones(out.shape))
    for x in inputs:
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype


@pytest.mark.parametrize("name,fn,shapes,domain", CASES, ids=[c[0] for c in CASES])
def test_float32_stays_float32_next_to_python_numbers_on_every_numpy(name, fn, shapes, domain):
    """numpy 1 promoted a 0-d float32 times a Python float to float64; numpy 2 (NEP 50) does not. Ours never does."""
    inputs = [ad.Tensor(x.data, dtype=np.float32, requires_grad=True) for x in make_inputs(shapes, domain)]
    out = fn(*inputs)
    assert out.dtype == (np.float64 if name.startswith("astype") else np.float32)
    out.backward(np.ones(out.shape, dtype=out.dtype))
    assert all(x.grad.dtype == np.float32 for x in inputs)
    (first,) = ad.autograd.grad(fn(*inputs).sum(), inputs[:1], create_graph=True)
    assert first.dtype == np.float32


def test_every_primitive_op_has_a_case():
    """A new op in the catalogue needs a line in this table: some case must record it."""
    from autodiff import ops

    recorded = set()
    for _, fn, shapes, domain in CASES:
        stack = [fn(*make_inputs(shapes, domain)).grad_fn]
        while stack:
            node = stack.pop()
            if node is not None and node.name not in recorded | {"?"}:
                recorded.add(node.name)
            stack.extend(t.grad_fn for t in (node.input_tensors if node is not None else ()))
    assert {op.name for op in ops.CATALOGUE} <= recorded


def test_linear_and_cross_entropy_match_their_compositions():
    rng = np.random.default_rng(1)
    x, w, b = (ad.Tensor(rng.standard_normal(s), requires_grad=True) for s in [(6, 3), (4, 3), (4,)])
    labels = np.array([0, 3, 1, 1, 2, 0])
    fused = ad.cross_entropy(ad.linear(x, w, b), labels).mean()
    fused.backward()
    fused_grads = [t.grad.data for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    logp = ad.log_softmax(x @ w.T + b, axis=1)
    composed = -logp[np.arange(6), labels].mean()
    composed.backward()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12)
    for got, t in zip(fused_grads, (x, w, b)):
        np.testing.assert_allclose(got, t.grad.data, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction, reduce", [("mean", "mean"), ("sum", "sum")])
def test_cross_entropy_reduced_inside_the_op_is_the_reduction_of_its_rows_bit_for_bit(dtype, reduction, reduce):
    rng = np.random.default_rng(2)
    x = ad.Tensor(rng.standard_normal((7, 4)), dtype=dtype, requires_grad=True)
    labels = np.array([0, 3, 1, 1, 2, 0, 3])
    fused = ad.cross_entropy(x, labels, reduction)
    assert fused.shape == () and fused.dtype == dtype and fused.grad_fn.name == "cross_entropy"
    assert fused.grad_fn.params["reduction"] == reduction
    fused.backward()
    fused_grad, x.grad = x.grad.data, None
    rows = getattr(ad.cross_entropy(x, labels), reduce)()
    rows.backward()
    assert fused.item() == rows.item()
    np.testing.assert_array_equal(fused_grad, x.grad.data)


def test_cross_entropy_reduction_is_checked():
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        ad.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), "avg")


def test_mean_is_one_node_and_divides_by_the_count_of_what_it_averages():
    x = ad.Tensor(np.arange(24.0, dtype=np.float32).reshape(2, 3, 4), requires_grad=True)
    for axis, n in ((None, 24), (1, 3), ((0, 2), 8)):
        m = x.mean(axis=axis)
        assert m.grad_fn.name == "mean" and m.grad_fn.input_tensors == (x,)  # as PyTorch's MeanBackward0
        np.testing.assert_allclose(m.data, x.data.mean(axis=axis), rtol=1e-6)
        assert m.dtype == np.float32
        x.grad = None
        m.sum().backward()
        np.testing.assert_array_equal(x.grad.data, np.full(x.shape, np.float32(1 / n)))
    ints = ad.Tensor(np.arange(6).reshape(2, 3))
    assert ints.mean().dtype == np.float64 and ints.mean().item() == 2.5  # numpy's dtype for a mean of ints


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 2.0])
def test_x_squared_has_numpys_digits_for_x_squared(dtype, exponent):
    x = np.random.default_rng(3).standard_normal(5000).astype(dtype) * 1e3
    np.testing.assert_array_equal((ad.Tensor(x) ** exponent).data, x**2)  # numpy runs np.square for ** 2
    big = ad.Tensor(np.resize(x, 70_000).reshape(350, 200), requires_grad=True)  # big: waits to be read
    np.testing.assert_array_equal((big**exponent).data, big.data**2)


def test_relu_gradient_is_g_where_x_is_positive_for_every_layout_of_g_and_x():
    """ReLU's rule multiplies g into [x > 0] in place: g broadcast from a sum, x column-ordered, NaN in g."""
    rng = np.random.default_rng(4)
    data = rng.standard_normal((6, 5)).astype(np.float32)
    data[0, 0] = 0.0  # relu'(0) = 0
    for x_data in (data, np.asfortranarray(data), data.T.copy().T):
        x = ad.Tensor(x_data, requires_grad=True)
        ad.relu(x).sum().backward()  # g: one number broadcast
        np.testing.assert_array_equal(x.grad.data, (x_data > 0).astype(np.float32))
        x.grad = None
        g = rng.standard_normal(x_data.shape).astype(np.float32)
        g[1, 1] = np.nan
        ad.relu(x).backward(g)
        expected = g * (x_data > 0)
        np.testing.assert_array_equal(x.grad.data, expected)  # NaN where x > 0 stays NaN, 0 · NaN is NaN too
        assert x.grad.dtype == np.float32
