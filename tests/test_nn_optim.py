"""nn.optim: one-step updates against hand computations, weight decay against the explicit penalty, groups, state."""

import numpy as np
import pytest

import nn
from nn import functional as F

W0 = np.array([1.0, -2.0])
G1 = np.array([0.5, 0.25])
G2 = np.array([-1.0, 0.0])


def _steps(optimizer_cls, grads, **settings):
    """The parameter's values after one optimizer step per gradient in ``grads``."""
    w = nn.Parameter(W0)
    optimizer = optimizer_cls([w], **settings)
    values = []
    for g in grads:
        w.grad = g
        optimizer.step()
        values.append(w.data.copy())
    return values


# -- one step by hand -----------------------------------------------------------------------------


def test_sgd_plain():
    (w1,) = _steps(nn.optim.SGD, [G1], lr=0.5)
    np.testing.assert_allclose(w1, [0.75, -2.125])  # w − lr·g


def test_sgd_with_momentum_and_weight_decay():
    w1, w2 = _steps(nn.optim.SGD, [G1, G2], lr=0.5, momentum=0.9, weight_decay=0.1)
    # step 1: d = g + λw = [0.5 + 0.1, 0.25 − 0.2] = [0.6, 0.05]; b = d; w = w − 0.5·b
    np.testing.assert_allclose(w1, [0.7, -2.025])
    # step 2: d = [−1 + 0.07, 0 − 0.2025] = [−0.93, −0.2025]; b = 0.9·[0.6, 0.05] + d = [−0.39, −0.1575]
    np.testing.assert_allclose(w2, [0.895, -1.94625])


def test_sgd_nesterov():
    (w1,) = _steps(nn.optim.SGD, [G1], lr=0.5, momentum=0.9, nesterov=True, weight_decay=0.1)
    # d = [0.6, 0.05], b = d, step = d + 0.9·b = [1.14, 0.095]
    np.testing.assert_allclose(w1, [0.43, -2.0475])


def test_adam_two_steps():
    lr, (b1, b2), eps, decay = 0.1, (0.9, 0.999), 1e-8, 0.1
    w1, w2 = _steps(nn.optim.Adam, [G1, G2], lr=lr, betas=(b1, b2), eps=eps, weight_decay=decay)
    # step 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) with g = ∇ + λw
    g = G1 + decay * W0
    np.testing.assert_allclose(w1, W0 - lr * g / (np.abs(g) + eps), rtol=1e-15)
    m, v = (1 - b1) * g, (1 - b2) * g**2
    g = G2 + decay * w1
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    np.testing.assert_allclose(w2, w1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)


def test_adamw_decay_is_decoupled():
    lr, eps, decay = 0.1, 1e-8, 0.5
    (w1,) = _steps(nn.optim.AdamW, [G1], lr=lr, eps=eps, weight_decay=decay)
    # w − lr·λw − lr·g/(|g| + ε): the decay does not enter the moments
    np.testing.assert_allclose(w1, W0 - lr * decay * W0 - lr * G1 / (np.abs(G1) + eps), rtol=1e-15)
    assert nn.optim.AdamW([nn.Parameter(W0)]).param_groups[0]["weight_decay"] == 0.01


def test_optimizers_match_pytorch_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(3)]
    grads = [[rng.standard_normal(a.shape) for a in start] for _ in range(4)]
    cases = [
        (nn.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        (nn.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.8, nesterov=True)),
        (nn.optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
        (nn.optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    ]
    for ours_cls, theirs_cls, settings in cases:
        ours = [nn.Parameter(a) for a in start]
        theirs = [torch.tensor(a, requires_grad=True) for a in start]
        group = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}]
        opt_ours, opt_theirs = ours_cls(group(ours), **settings), theirs_cls(group(theirs), **settings)
        for step in grads:
            for p, q, g in zip(ours, theirs, step):
                p.grad, q.grad = g, torch.tensor(g)
            opt_ours.step()
            opt_theirs.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-14)


# -- weight decay = explicit L2 penalty --------------------------------------------------------------


def test_d2l_network_gradients_with_l2_penalty_by_hand():
    """d2l's one-hidden-layer network: z = W1 x, h = tanh z, o = W2 h, J = ½‖o − y‖² + λ/2 (‖W1‖² + ‖W2‖²)."""
    rng = np.random.default_rng(1)
    d, hidden, k, lam = 4, 5, 3, 0.3
    x, y = rng.standard_normal(d), rng.standard_normal(k)
    model = nn.Sequential(nn.Linear(d, hidden, bias=False, rng=2), nn.Tanh(), nn.Linear(hidden, k, bias=False, rng=3))
    W1, W2 = model[0].weight, model[2].weight
    assert nn.weights(model) == [W1, W2]
    o = model(x)
    J = 0.5 * F.mse_loss(o, y, reduction="sum") + F.l2_penalty(nn.weights(model), lam)
    J.backward()

    z = W1.data @ x
    h = np.tanh(z)
    dJ_do = W2.data @ h - y
    dJ_dW2 = np.outer(dJ_do, h) + lam * W2.data  # (∂J/∂o) hᵀ + λW2
    dJ_dz = (W2.data.T @ dJ_do) * (1 - h**2)
    dJ_dW1 = np.outer(dJ_dz, x) + lam * W1.data  # (∂J/∂z) xᵀ + λW1
    np.testing.assert_allclose(W2.grad.data, dJ_dW2, rtol=1e-13)
    np.testing.assert_allclose(W1.grad.data, dJ_dW1, rtol=1e-13)
    np.testing.assert_allclose(J.item(), 0.5 * (dJ_do**2).sum() + lam / 2 * ((W1.data**2).sum() + (W2.data**2).sum()))


@pytest.mark.parametrize(
    "optimizer_cls, settings",
    [
        (nn.optim.SGD, dict(lr=0.1)),
        (nn.optim.SGD, dict(lr=0.1, momentum=0.9)),
        (nn.optim.Adam, dict(lr=0.01)),
    ],
)
def test_weight_decay_in_the_optimizer_equals_the_penalty_in_the_loss(optimizer_cls, settings):
    """Decaying the weights (not the biases) by λ in the optimizer, or adding λ/2 Σ‖W‖² to the loss: same steps."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    lam = 0.05
    decayed, penalised = nn.MLP(3, [4, 2], rng=5), nn.MLP(3, [4, 2], rng=5)
    opt_decayed = optimizer_cls(
        [{"params": nn.weights(decayed), "weight_decay": lam}, {"params": nn.biases(decayed)}], **settings
    )
    opt_penalised = optimizer_cls(penalised.parameters(), **settings)
    for _ in range(3):
        for model, opt, extra in ((decayed, opt_decayed, 0.0), (penalised, opt_penalised, lam)):
            loss = F.cross_entropy(model(X), y) + F.l2_penalty(nn.weights(model), extra)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (name, p), (_, q) in zip(decayed.named_parameters(), penalised.named_parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=1e-15, err_msg=name)


# -- in place, unrecorded ------------------------------------------------------------------------------


def test_step_updates_in_place_without_recording():
    model = nn.MLP(2, [3, 1])
    optimizer = nn.optim.Adam(model.parameters(), lr=0.1)
    weight = model.layers[0].weight
    array, version = weight.data, weight._version
    loss = (model(np.ones((4, 2))) ** 2).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    assert model.layers[0].weight is weight and weight.data is array
    assert weight.is_leaf and weight.grad_fn is None and weight.requires_grad
    assert weight._version == version + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()  # the graph saved the old weights


def test_step_skips_parameters_without_gradient_and_zero_grad_clears():
    a, b = nn.Parameter(W0), nn.Parameter(W0)
    optimizer = nn.optim.SGD([a, b], lr=1.0, momentum=0.5)
    a.grad = G1
    optimizer.step()
    np.testing.assert_array_equal(b.data, W0)
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_float32_parameters_stay_float32():
    for cls in (nn.optim.SGD, nn.optim.Adam, nn.optim.AdamW):
        w = nn.Parameter(W0, dtype=np.float32)
        array = w.data
        opt = cls([w], lr=np.float64(0.1), weight_decay=0.1) if cls is nn.optim.SGD else cls([w], weight_decay=0.1)
        w.grad = G1
        opt.step()
        assert w.data is array and w.dtype == np.float32


# -- groups and state -------------------------------------------------------------------------------------


def test_parameter_groups_take_defaults_and_lr_can_change():
    model = nn.MLP(2, [3, 1])
    opt = nn.optim.SGD(
        [{"params": nn.weights(model), "weight_decay": 1e-4}, {"params": nn.biases(model), "lr": 0.5}],
        lr=0.1,
        momentum=0.9,
    )
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0.0]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    opt.param_groups[0]["lr"] = 0.0  # a schedule sets it between steps
    before = model.layers[0].weight.data.copy()
    model(np.ones((2, 2))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(model.layers[0].weight.data, before)
    assert "group 1: 2 tensors, lr=0.5" in repr(opt)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(2) for _ in range(4)]
    a = nn.Parameter(W0)
    opt_a = nn.optim.Adam([a], lr=0.1)
    for g in grads[:2]:
        a.grad = g
        opt_a.step()
    state = opt_a.state_dict()
    assert state["param_groups"][0]["params"] == [0] and state["state"][0]["step"] == 2
    assert set(state["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    b = nn.Parameter(a.data)
    opt_b = nn.optim.Adam([b], lr=0.5)
    opt_b.load_state_dict(state)
    assert opt_b.param_groups[0]["lr"] == 0.1
    for g in grads[2:]:
        a.grad, b.grad = g, g
        opt_a.step()
        opt_b.step()
    np.testing.assert_array_equal(a.data, b.data)
    state["state"][0]["exp_avg"][...] = 0  # copies, not the live state
    assert opt_a.state_dict()["state"][0]["exp_avg"].any()


def test_optimizer_arguments_are_validated():
    w = nn.Parameter(W0)
    with pytest.raises(ValueError, match=r"invalid lr: -0.1 \(must be >= 0\)"):
        nn.optim.SGD([w], lr=-0.1)
    with pytest.raises(ValueError, match=r"invalid weight_decay: nan \(must be >= 0\)"):
        nn.optim.Adam([w], weight_decay=float("nan"))
    with pytest.raises(ValueError, match=r"invalid beta parameter at index 1: 1.0 \(must be in \[0, 1\)\)"):
        nn.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0"):
        nn.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        nn.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="params must be an iterable of Tensors or of dicts, got a single Tensor"):
        nn.optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="optimizer params must be Tensors, got ndarray"):
        nn.optim.SGD([W0], lr=0.1)
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor"):
        nn.optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match=r"some parameters appear more than once"):
        nn.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown settings in parameter group: momentum"):
        nn.optim.Adam([{"params": [w], "momentum": 0.9}])
    with pytest.raises(TypeError, match="a parameter group must be a dict with a 'params' entry, got list"):
        nn.optim.Adam([w]).add_param_group([w])
    with pytest.raises(
        ValueError, match=r"the state dict's parameter groups do not match this optimizer's: sizes \[1\] vs \[2\]"
    ):
        nn.optim.Adam([w, nn.Parameter(W0)]).load_state_dict(nn.optim.Adam([w]).state_dict())


def test_optim_is_importable_both_ways():
    from nn import data, functional, init, optim

    assert optim.SGD is nn.optim.SGD and data is nn.data and init is nn.init and functional is nn.functional


def test_plain_sgd_updates_large_parameters_in_place_without_a_full_size_temporary():
    import tracemalloc

    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((400, 401)).astype(np.float32)  # 160,400 elements: the chunked path
    g0 = rng.standard_normal((400, 401)).astype(np.float32)
    p = nn.Parameter(w0)
    array, version = p.data, p._version
    opt = nn.optim.SGD([p], lr=0.1, weight_decay=0.01)
    p.grad = g0.copy()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.data is array and p._version > version and p.dtype == np.float32
    np.testing.assert_allclose(p.data, w0 - 0.1 * (g0 + 0.01 * w0), rtol=1e-5, atol=1e-6)
    assert peak < w0.nbytes / 2
