"""nn.functional losses, penalties and activations, and the loss modules."""

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as F

rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((6, 4))
LABELS = np.array([0, 3, 1, 1, 2, 3])


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))  # σ without overflow


# -- values against the formulas ---------------------------------------------------------------


def test_mse_loss_values():
    x, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    assert np.isclose(F.mse_loss(x, t).item(), ((x - t) ** 2).mean())
    assert np.isclose(F.mse_loss(x, t, reduction="sum").item(), ((x - t) ** 2).sum())
    np.testing.assert_allclose(F.mse_loss(x, t, reduction="none").data, (x - t) ** 2)
    assert np.isclose(nn.MSELoss(reduction="sum")(x, t).item(), ((x - t) ** 2).sum())


def test_cross_entropy_values_and_gradient():
    expected = -_log_softmax(LOGITS)[np.arange(6), LABELS]
    np.testing.assert_allclose(F.cross_entropy(LOGITS, LABELS, reduction="none").data, expected)
    assert np.isclose(F.cross_entropy(LOGITS, LABELS, reduction="sum").item(), expected.sum())
    logits = ad.Tensor(LOGITS, requires_grad=True)
    nn.CrossEntropyLoss()(logits, LABELS).backward()
    softmax = np.exp(_log_softmax(LOGITS))
    np.testing.assert_allclose(logits.grad.data, (softmax - np.eye(4)[LABELS]) / 6)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    loss = F.cross_entropy(logits, np.array([0, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 1 + np.log1p(np.exp(-1.0))], atol=1e-12)


def test_binary_cross_entropy_with_logits_values():
    x = np.array([-800.0, -3.0, 0.0, 0.5, 40.0, 800.0])
    y = np.array([1.0, 0.0, 1.0, 0.3, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none").data
    expected = np.logaddexp(0, x) - x * y  # −y log σ(x) − (1 − y) log(1 − σ(x))
    np.testing.assert_allclose(loss, expected, rtol=1e-12, atol=1e-15)
    logits = ad.Tensor(x, requires_grad=True)
    nn.BCEWithLogitsLoss(reduction="sum")(logits, y).backward()
    np.testing.assert_allclose(logits.grad.data, _sigmoid(x) - y, atol=1e-15)  # σ(0) − y at 0 too


def test_hinge_loss_is_micrographs_max_margin():
    scores, y = np.array([2.0, 0.5, -0.2, -3.0]), np.array([1, 1, 1, -1])
    expected = np.maximum(0, 1 - y * scores)
    np.testing.assert_allclose(F.hinge_loss(scores, y, reduction="none").data, expected)
    assert np.isclose(F.hinge_loss(scores, y).item(), expected.mean())
    assert np.isclose(F.hinge_loss(scores.reshape(4, 1), y).item(), expected.mean())  # an MLP's (N, 1) output


def test_l2_penalty_is_half_lambda_times_squared_frobenius_norms():
    model = nn.MLP(3, [4, 2])
    ws = nn.weights(model)
    penalty = F.l2_penalty(ws, 0.1)
    assert np.isclose(penalty.item(), 0.05 * sum((w.data**2).sum() for w in ws))
    penalty.backward()
    for w in ws:
        np.testing.assert_allclose(w.grad.data, 0.1 * w.data)
    assert all(b.grad is None for b in nn.biases(model))
    assert F.l2_penalty([], 0.1).item() == 0.0


def test_l2_penalty_is_one_op_and_equals_the_explicit_spelling():
    """d2l's s = λ/2 (‖W1‖² + ‖W2‖²), fused (one pass per weight, no squares made) or written out:
    the same value and gradients to round-off."""
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((3, 6)).astype(np.float32)]
    fused = [ad.Tensor(d, requires_grad=True) for d in data]
    written = [ad.Tensor(d, requires_grad=True) for d in data]
    s_fused = F.l2_penalty(fused, 1e-2)
    s_written = 1e-2 / 2 * ((written[0] * written[0]).sum() + (written[1] * written[1]).sum())
    assert s_fused.grad_fn.input_tensors[0].grad_fn.name == "sum_of_squares"
    np.testing.assert_allclose(s_fused.item(), s_written.item(), rtol=1e-6)
    s_fused.backward()
    s_written.backward()
    for a, b in zip(fused, written):
        assert a.grad.dtype == np.float32
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-6)


def test_activations_are_the_engine_functions():
    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(F.relu(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x))
    np.testing.assert_allclose(F.sigmoid(x).data, _sigmoid(x))
    np.testing.assert_allclose(F.log_softmax(x).data, _log_softmax(x))
    np.testing.assert_allclose(F.softmax(x, axis=1).data, np.exp(_log_softmax(x)))
    for module, fn in ((nn.ReLU(), F.relu), (nn.Tanh(), F.tanh), (nn.Sigmoid(), F.sigmoid)):
        np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert nn.Identity()(x) is x


# -- gradients: finite differences and PyTorch ----------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_pass_gradcheck(reduction):
    x = ad.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    t = ad.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    assert ad.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), (x, t))
    logits = ad.Tensor(LOGITS, requires_grad=True)
    assert ad.gradcheck(lambda z: F.cross_entropy(z, LABELS, reduction), (logits,))
    z = ad.Tensor(np.array([-3.0, -0.4, 0.0, 0.7, 5.0]), requires_grad=True)
    y = np.array([0.0, 1.0, 0.5, 1.0, 0.0])
    assert ad.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, reduction), (z,))
    assert ad.gradcheck(
        lambda a: F.hinge_loss(a, np.array([1, -1, 1, -1, 1]), reduction),
        (ad.Tensor([0.3, 0.5, -2.0, 1.5, 4.0], requires_grad=True),),
    )
    ws = [
        ad.Tensor(rng.standard_normal((3, 2)), requires_grad=True),
        ad.Tensor(rng.standard_normal(4), requires_grad=True),
    ]
    assert ad.gradcheck(lambda a, b: F.l2_penalty([a, b], 0.3), ws)


def test_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    cases = [
        (lambda a: F.mse_loss(a, t), lambda a: tf.mse_loss(a, torch.tensor(t)), x),
        (lambda a: F.cross_entropy(a, LABELS), lambda a: tf.cross_entropy(a, torch.tensor(LABELS)), LOGITS),
        (
            lambda a: F.binary_cross_entropy_with_logits(a, _sigmoid(t)),
            lambda a: tf.binary_cross_entropy_with_logits(a, torch.tensor(_sigmoid(t))),
            x,
        ),
    ]
    for ours, theirs, data in cases:
        a, b = ad.Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        la, lb = ours(a), theirs(b)
        la.backward()
        lb.backward()
        assert np.isclose(la.item(), lb.item(), rtol=1e-12)
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_float32_stays_float32():
    x = ad.Tensor(rng.standard_normal((4, 3)), dtype=np.float32, requires_grad=True)
    targets = {
        F.mse_loss: rng.standard_normal((4, 3)),
        F.cross_entropy: np.array([0, 1, 2, 1]),
        F.binary_cross_entropy_with_logits: (rng.random((4, 3)) > 0.5),
    }
    for fn, target in targets.items():
        loss = fn(x, target)
        assert loss.dtype == np.float32, fn.__name__
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32
    assert F.hinge_loss(x[:, 0], np.array([1, -1, 1, 1])).dtype == np.float32
    assert F.l2_penalty([x], 1e-3).dtype == np.float32


# -- errors --------------------------------------------------------------------------------------


def test_reduction_is_validated():
    with pytest.raises(ValueError, match="mse_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(np.ones(2), np.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or 'none', got None"):
        F.cross_entropy(LOGITS, LABELS, reduction=None)
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be"):
        nn.CrossEntropyLoss(reduction="batchmean")
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3, 2\) and target shape \(3,\) differ"):
        F.mse_loss(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"hinge_loss: input shape \(4,\) and target shape \(4, 1\) differ"):
        F.hinge_loss(np.ones(4), np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"cross_entropy: logits must have shape \(N, C\), got \(4,\)"):
        F.cross_entropy(np.ones(4), np.array([1]))
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: labels must have shape \(N,\) = \(6,\) for logits of shape \(6, 4\), got \(6, 1\)",
    ):
        F.cross_entropy(LOGITS, LABELS.reshape(6, 1))
    with pytest.raises(TypeError, match="cross_entropy: labels must be integer class indices, got dtype float64"):
        F.cross_entropy(LOGITS, LABELS.astype(float))
    with pytest.raises(
        ValueError, match=r"cross_entropy: labels must lie in \[0, 4\) for 4 classes, got values from 0 to 4"
    ):
        F.cross_entropy(LOGITS, np.array([0, 4, 1, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"hinge_loss: targets must be -1 or \+1 \(for 0/1 labels pass 2 \* y - 1\)"):
        F.hinge_loss(np.ones(3), np.array([0, 1, 1]))


def test_sum_of_squares_of_no_tensors_is_refused_and_one_tensor_needs_no_list():
    with pytest.raises(ValueError, match=r"sum_of_squares needs at least one tensor"):
        ad.sum_of_squares([])
    x = ad.Tensor(np.array([[1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    s = ad.sum_of_squares(x)
    assert s.item() == 30.0 and s.grad_fn.name == "sum_of_squares"
    s.backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)
