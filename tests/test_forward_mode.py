"""Forward mode: jvp and jacfwd from the reverse-mode rules (the double-vjp trick), against the
reverse-mode Jacobian and torch.func."""

import numpy as np
import pytest

import autodiff as ad


def _rng(seed=0):
    return np.random.default_rng(seed)


FUNCTIONS = [
    ("elementwise", lambda x: ad.sin(x) * ad.exp(x) + x**3, [(5,)]),
    ("tanh of a product", lambda x, y: ad.tanh(x * y), [(3, 4), (3, 4)]),
    ("broadcasting", lambda x, b: ad.sigmoid(x + b) / (1 + b**2), [(4, 3), (3,)]),
    ("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)]),
    ("reductions", lambda x: ad.logsumexp(x, axis=1) + x.max(axis=1) + x.mean(axis=1), [(3, 4)]),
    ("softmax", lambda x: ad.softmax(x, axis=-1), [(2, 5)]),
    ("shapes", lambda x: ad.concatenate([x.T.reshape(-1), x[1:, ::2].reshape(-1)]), [(3, 4)]),
    ("scalar", lambda x, y: (x * y).sum() ** 2, [(3,), (3,)]),
    ("linear layer", lambda x, w, b: ad.relu(ad.linear(x, w, b)), [(4, 3), (2, 3), (2,)]),
]


def _inputs(shapes, seed=0):
    rng = _rng(seed)
    return [rng.uniform(0.2, 1.2, s) for s in shapes]


@pytest.mark.parametrize("name, f, shapes", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_jvp_is_the_jacobian_times_the_tangent(name, f, shapes):
    primals = _inputs(shapes)
    tangents = _inputs(shapes, seed=1)
    out, tangent_out = ad.jvp(f, tuple(primals), tuple(tangents))
    np.testing.assert_allclose(out.data, f(*[ad.Tensor(p) for p in primals]).data, rtol=1e-12)
    jac = ad.jacobian(f, argnums=tuple(range(len(shapes))))(*primals)
    expected = sum((j.data.reshape(out.size, -1) @ t.reshape(-1)).reshape(out.shape) for j, t in zip(jac, tangents))
    np.testing.assert_allclose(tangent_out.data, expected, rtol=1e-10, atol=1e-12)
    assert not out.requires_grad and not tangent_out.requires_grad


@pytest.mark.parametrize("name, f, shapes", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_jacfwd_equals_jacobian(name, f, shapes):
    primals = _inputs(shapes)
    nums = tuple(range(len(shapes)))
    forward, reverse = ad.jacfwd(f, argnums=nums)(*primals), ad.jacobian(f, argnums=nums)(*primals)
    for a, b in zip(forward, reverse):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_jacfwd_with_one_argument_and_tuple_outputs():
    def f(x):
        return ad.sin(x), (x**2).sum()

    x = _rng().normal(size=3)
    (j1, j2), (r1, r2) = ad.jacfwd(f)(x), ad.jacobian(f)(x)
    np.testing.assert_allclose(j1.data, np.diag(np.cos(x)), atol=1e-15)
    assert j2.shape == (3,)
    np.testing.assert_allclose(j2.data, 2 * x)
    np.testing.assert_allclose(j1.data, r1.data)
    np.testing.assert_allclose(j2.data, r2.data)


def test_tuple_outputs_and_outputs_that_do_not_depend_on_the_input():
    x = _rng().normal(size=3)
    (a, b, c), (ta, tb, tc) = ad.jvp(lambda x: (x * 2, ad.Tensor(np.ones(2)), x), (x,), (np.ones(3),))
    np.testing.assert_allclose(ta.data, 2.0)
    np.testing.assert_allclose(tb.data, np.zeros(2))  # constant
    np.testing.assert_allclose(tc.data, 1.0)  # the identity
    assert np.array_equal(c.data, x)
    j = ad.jacfwd(lambda x, y: x * 2, argnums=1)(x, x)
    np.testing.assert_allclose(j.data, np.zeros((3, 3)))


def test_hessian_vector_products_forward_over_reverse():
    def f(x):
        return (ad.sin(x) * x**2).sum() + (x[0] * x[1]) ** 2

    x, v = _rng().normal(size=4), _rng(1).normal(size=4)
    _, hv = ad.jvp(ad.grad(f), (x,), (v,))
    np.testing.assert_allclose(hv.data, ad.hvp(f, x, v).data, rtol=1e-10)
    np.testing.assert_allclose(hv.data, ad.hessian(f)(x).data @ v, rtol=1e-10)
    np.testing.assert_allclose(ad.jacfwd(ad.grad(f))(x).data, ad.hessian(f)(x).data, rtol=1e-10)


def test_nesting_inside_grad():
    """jvp under grad: d/dx of the directional derivative of sin along t = −t sin x."""
    t = np.array([1.0, -2.0])

    def directional(x):
        return ad.jvp(ad.sin, (x,), (t,))[1].sum()

    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(ad.grad(directional)(x).data, -t * np.sin(x), rtol=1e-12)


def test_jvp_through_a_function_and_once_differentiable_refuses():
    from autodiff.function import once_differentiable

    class Cube(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    class NumpyCube(Cube):
        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g.numpy() * 3 * x.numpy() ** 2

    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(ad.jvp(Cube.apply, (x,), (np.ones(2),))[1].data, 3 * x**2)
    with pytest.raises(RuntimeError, match="marked with @once_differentiable: NumpyCube.backward"):
        ad.jvp(NumpyCube.apply, (x,), (np.ones(2),))


@pytest.mark.parametrize(
    "primals, tangents, error, message",
    [
        (np.ones(2), (np.ones(2),), TypeError, r"jvp\(f, primals, tangents\): expected primals to be a tuple"),
        ((np.ones(2),), np.ones(2), TypeError, r"expected tangents to be a tuple .* got ndarray"),
        ((np.ones(2),), (np.ones(3),), ValueError, r"jvp: tangent 0 has shape \(3,\) but primal 0 has shape \(2,\)"),
        ((np.ones(2),), (), ValueError, r"jvp: got 1 primals but 0 tangents \(one per primal\)"),
        ((np.ones(2),), (np.array(["a", "b"]),), TypeError, r"jvp: tangent 0 must be real numbers, got dtype <U1"),
    ],
)
def test_bad_arguments_are_named(primals, tangents, error, message):
    with pytest.raises(error, match=message):
        ad.jvp(ad.sin, primals, tangents)


# -- the oracle -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, f, shapes", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_jvp_agrees_with_torch_func_jvp(name, f, shapes):
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")

    torch_f = {
        "elementwise": lambda x: torch.sin(x) * torch.exp(x) + x**3,
        "tanh of a product": lambda x, y: torch.tanh(x * y),
        "broadcasting": lambda x, b: torch.sigmoid(x + b) / (1 + b**2),
        "matmul": lambda a, b: a @ b,
        "reductions": lambda x: torch.logsumexp(x, 1) + x.max(1).values + x.mean(1),
        "softmax": lambda x: torch.softmax(x, -1),
        "shapes": lambda x: torch.cat([x.T.reshape(-1), x[1:, ::2].reshape(-1)]),
        "scalar": lambda x, y: (x * y).sum() ** 2,
        "linear layer": lambda x, w, b: torch.relu(torch.nn.functional.linear(x, w, b)),
    }[name]
    primals, tangents = _inputs(shapes), _inputs(shapes, seed=1)
    out_t, tangent_t = func.jvp(
        torch_f, tuple(torch.tensor(p) for p in primals), tuple(torch.tensor(t) for t in tangents)
    )
    out, tangent_out = ad.jvp(f, tuple(primals), tuple(tangents))
    np.testing.assert_allclose(out.data, out_t.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tangent_out.data, tangent_t.numpy(), rtol=1e-10, atol=1e-12)


def test_forward_over_reverse_agrees_with_torch():
    torch = pytest.importorskip("torch")
    func = pytest.importorskip("torch.func")

    x, v = _rng().normal(size=5), _rng(1).normal(size=5)
    _, hv_t = func.jvp(func.grad(lambda x: (torch.tanh(x) ** 2 * x).sum()), (torch.tensor(x),), (torch.tensor(v),))
    _, hv = ad.jvp(ad.grad(lambda x: (ad.tanh(x) ** 2 * x).sum()), (x,), (v,))
    np.testing.assert_allclose(hv.data, hv_t.numpy(), rtol=1e-10)
    jac_t = func.jacfwd(lambda x: torch.sin(x) * x.sum())(torch.tensor(x))
    np.testing.assert_allclose(ad.jacfwd(lambda x: ad.sin(x) * x.sum())(x).data, jac_t.numpy(), rtol=1e-12)
