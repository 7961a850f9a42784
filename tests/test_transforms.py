"""grad, value_and_grad, jacobian, hessian, hvp: closed forms, nesting, Newton's method."""

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor


def rosenbrock(x, a=1.0, b=100.0):
    return ((a - x[:-1]) ** 2 + b * (x[1:] - x[:-1] ** 2) ** 2).sum()


def rosenbrock_hessian(x, b=100.0):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 2 - 4 * b * (x[i + 1] - x[i] ** 2) + 8 * b * x[i] ** 2
        H[i, i + 1] += -4 * b * x[i]
        H[i + 1, i] += -4 * b * x[i]
        H[i + 1, i + 1] += 2 * b
    return H


def test_grad_of_a_scalar_function_accepts_numbers_arrays_and_tensors():
    df = ad.grad(lambda x: (x**3).sum())
    for x in (2.0, np.array([1.0, -2.0]), Tensor([1.0, -2.0]), [0.5, 1.5], 3):
        g = df(x)
        assert isinstance(g, Tensor) and not g.requires_grad
        np.testing.assert_allclose(g.data, 3 * np.asarray(x, dtype=float) ** 2)
    w = Tensor([1.0, 2.0])
    df(w)
    assert w.grad is None and not w.requires_grad


def test_grad_refuses_non_scalar_outputs():
    with pytest.raises(
        TypeError,
        match=r"grad needs a function with a scalar output \(one element\), got shape \(3,\); use autodiff.jacobian",
    ):
        ad.grad(lambda x: x * 2)(np.ones(3))


def test_value_and_grad_and_argnums():
    f = lambda x, y, z: (x * y).sum() + z
    value, g = ad.value_and_grad(f)(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 5.0)
    assert value.item() == 16.0 and g.tolist() == [3.0, 4.0]
    gy, gz = ad.grad(f, argnums=(1, 2))(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 5.0)
    assert gy.tolist() == [1.0, 2.0] and gz.item() == 1.0
    assert ad.grad(f, argnums=-1)(np.ones(2), np.ones(2), 0.0).item() == 1.0
    with pytest.raises(ValueError, match="argnums 3 refers to argument 3, but the function got 3 arguments"):
        ad.grad(f, argnums=3)(1.0, 2.0, 3.0)


def test_unused_argument_has_zero_gradient():
    g = ad.grad(lambda x, y: (x * 2).sum(), argnums=1)(np.ones(2), np.ones(3))
    assert g.tolist() == [0.0, 0.0, 0.0]
    assert ad.grad(lambda x: Tensor(3.0))(1.0).item() == 0.0


def test_nested_grad_gives_higher_derivatives():
    d = ad.grad(lambda x: x**4)
    assert d(2.0).item() == 32.0
    assert ad.grad(d)(2.0).item() == 48.0
    assert ad.grad(ad.grad(d))(2.0).item() == 48.0  # 24x
    sin3 = ad.grad(ad.grad(ad.grad(ad.sin)))
    assert sin3(0.3).item() == pytest.approx(-math.cos(0.3))


def test_third_derivative_of_tanh_matches_closed_form():
    d3 = ad.grad(ad.grad(ad.grad(ad.tanh)))
    for x in (-1.3, 0.0, 0.4, 2.0):
        t = math.tanh(x)
        assert d3(x).item() == pytest.approx((1 - t * t) * (6 * t * t - 2), abs=1e-12)


@pytest.mark.parametrize("fn", [ad.exp, ad.sigmoid, ad.sqrt, ad.log, lambda x: x**2.5, lambda x: 1 / x, ad.cos])
def test_third_order_works_for_elementwise_ops(fn):
    x0 = 0.7
    d3 = ad.grad(ad.grad(ad.grad(fn)))(x0).item()
    d2 = ad.grad(ad.grad(fn))
    h = 1e-4
    numerical = (d2(x0 + h).item() - d2(x0 - h).item()) / (2 * h)
    assert d3 == pytest.approx(numerical, rel=1e-6)


def test_hessian_of_rosenbrock_matches_closed_form():
    x = np.array([-1.2, 1.0, 0.5, 2.0])
    H = ad.hessian(rosenbrock)(x)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H.data, rosenbrock_hessian(x), rtol=1e-12)


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    H = ad.hessian(lambda x: x @ (Tensor(A) @ x))(rng.standard_normal(5))
    np.testing.assert_allclose(H.data, A + A.T, rtol=1e-12, atol=1e-12)


def test_hvp_equals_hessian_times_v_without_forming_the_hessian():
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    hv = ad.hvp(rosenbrock, x, v)
    np.testing.assert_allclose(hv.data, ad.hessian(rosenbrock)(x).data @ v, rtol=1e-10)
    np.testing.assert_allclose(hv.data, rosenbrock_hessian(x) @ v, rtol=1e-10)
    with pytest.raises(ValueError, match=r"hvp: v has shape \(2,\) but x has shape \(6,\)"):
        ad.hvp(rosenbrock, x, np.ones(2))


def test_jacobian_of_elementwise_function_is_diagonal():
    x = np.array([0.1, -0.5, 2.0])
    J = ad.jacobian(lambda t: t.tanh() * 3)(x)
    np.testing.assert_allclose(J.data, np.diag(3 * (1 - np.tanh(x) ** 2)))


def test_jacobian_shapes_for_tensor_inputs_outputs_and_tuples():
    rng = np.random.default_rng(2)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    J = ad.jacobian(lambda w, v: w @ v)(W, x)
    assert J.shape == (3, 3, 4)
    Jw, Jx = ad.jacobian(lambda w, v: w @ v, argnums=(0, 1))(W, x)
    np.testing.assert_allclose(Jx.data, W)
    np.testing.assert_allclose(Jw.data[1, 1], x) and np.testing.assert_allclose(Jw.data[1, 0], 0)
    (Ja,), (Jb,) = ad.jacobian(lambda v: (v.sum(), v * 2), argnums=(0,))(x)
    assert Ja.shape == (4,) and Jb.shape == (4, 4)
    np.testing.assert_allclose(Jb.data, 2 * np.eye(4))


def test_newtons_method_on_logistic_regression_converges_in_a_handful_of_steps():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.5 * rng.standard_normal(200) > 0).astype(float)

    def loss(w):
        z = Tensor(X) @ w
        return (ad.logsumexp(ad.stack([ad.zeros(200), z], axis=1), axis=1) - Tensor(y) * z).mean() + 0.01 * (
            w * w
        ).sum()

    w = np.zeros(3)
    for step in range(1, 11):
        g = ad.grad(loss)(w).data
        if np.linalg.norm(g) < 1e-10:
            break
        w = w - np.linalg.solve(ad.hessian(loss)(w).data, g)
    assert np.linalg.norm(ad.grad(loss)(w).data) < 1e-10
    assert step <= 8  # quadratic convergence: gradient descent would need hundreds of steps


def test_transforms_nest_with_autograd_grad():
    x = Tensor(1.3, requires_grad=True)
    g = ad.grad(lambda t: t.sin() * t)(x)  # x requires grad: g keeps its graph
    assert g.requires_grad
    (h,) = ad.autograd.grad(g, x)
    assert h.item() == pytest.approx(2 * math.cos(1.3) - 1.3 * math.sin(1.3))
