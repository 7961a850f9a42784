"""gradcheck and gradgradcheck catch wrong derivative rules and say where."""

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor, ops
from autodiff.engine import apply


class WrongSin(ops.Sin):
    """A deliberately wrong first derivative (missing a minus sign elsewhere is as easy)."""

    def vjp(self, xp, g, x, out):
        return g * xp.cos(x) * 1.01


class WrongSecondOrder(ops.Op):
    """Right first derivative, but the rule holds a constant where a function of x should be."""

    name = "cube"

    def forward(self, x):
        self.slope = 3 * x**2
        return x**3

    def vjp(self, xp, g, x, out):
        return g * self.slope


def test_gradcheck_passes_a_right_rule():
    assert ad.gradcheck(lambda x: ad.sin(x) * x, Tensor(np.linspace(-1, 1, 5), requires_grad=True))


def test_gradcheck_names_input_index_and_both_values():
    x = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    y = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(
        ad.GradcheckError,
        match=r"Jacobian mismatch for output 0 with respect to input 0 \(shape \(3,\)\) at input index \(\d,\), output index \(\d,\): analytical .* vs numerical .*",
    ):
        ad.gradcheck(lambda a, b: apply(WrongSin, a) * b, (x, y))
    assert ad.gradcheck(lambda a, b: apply(WrongSin, a) * b, (x, y), raise_exception=False) is False


def test_gradgradcheck_catches_a_rule_that_is_not_differentiable():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    cube = lambda t: apply(WrongSecondOrder, t)
    assert ad.gradcheck(cube, x)
    with pytest.raises(ad.GradcheckError, match="second derivatives: Jacobian mismatch"):
        ad.gradgradcheck(cube, x)


def test_gradcheck_works_on_float64_copies_and_leaves_inputs_alone():
    x = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    before = x.data.copy()
    assert ad.gradcheck(lambda t: (t * t).sum(), x)
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="gradcheck needs at least one input Tensor with requires_grad=True"):
        ad.gradcheck(lambda t: t * 2, Tensor([1.0]))


def test_gradcheck_handles_several_outputs_and_constant_inputs():
    x = Tensor(np.array([0.3, 0.7]), requires_grad=True)
    c = Tensor(np.array([2.0, 3.0]))
    assert ad.gradcheck(lambda a, b: (a * b, a.exp(), b * 2), (x, c))
    assert ad.gradgradcheck(lambda a, b: (a * b, a.exp()), (x, c))


class NumpyRule(ops.Op):
    """A rule that reads raw numpy values out of its inputs."""

    name = "numpy_square"

    def forward(self, x):
        return x * x

    def vjp(self, xp, g, x, out):
        return g * 2 * np.asarray(x)


class DeclaredFirstOrderOnly(NumpyRule):
    name = "first_order_square"
    twice_differentiable = False


def test_rules_that_cannot_be_differentiated_again_refuse_under_create_graph():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert ad.gradcheck(lambda t: apply(NumpyRule, t), x)  # first order is fine
    with pytest.raises(
        RuntimeError,
        match="second derivatives of numpy_square are not implemented: its derivative rule turned a Tensor into a numpy array under create_graph=True",
    ):
        ad.autograd.grad(apply(NumpyRule, x).sum(), x, create_graph=True)
    with pytest.raises(
        NotImplementedError,
        match=r"second derivatives of first_order_square are not implemented: DeclaredFirstOrderOnlyBackward's rule works on raw numpy arrays",
    ):
        apply(DeclaredFirstOrderOnly, x).sum().backward(create_graph=True)
    with ad.no_grad():  # (in grad mode np.asarray refuses a tensor that requires grad; the rule's guard, in any mode)
        assert np.asarray(x).shape == (2,)  # the guard is lifted afterwards
