"""The same expressions in autodiff and PyTorch give the same values and gradients.

PyTorch is a test oracle only (``pip install torch==2.13.0``); without it these tests are skipped
and the finite-difference checks in test_ops.py still cover every rule.
"""

import numpy as np
import pytest

import autodiff as ad

torch = pytest.importorskip("torch")

EXPRESSIONS = {
    "mlp_layer": (lambda m, x, w, b: m["relu"](x @ w.T + b).sum(), [(4, 3), (5, 3), (5,)]),
    "softmax_ce": (lambda m, x, w, b: -(m["log_softmax"](x @ w.T + b)[:, 1]).mean(), [(4, 3), (5, 3), (5,)]),
    "tanh_sigmoid": (lambda m, x, w, b: (m["tanh"](x) * m["sigmoid"](w[:4, :]) + b[:3]).sum(), [(4, 3), (5, 3), (5,)]),
    "maximum_ties": (
        lambda m, x, w, b: m["maximum"](x, x * 1.0).sum() + m["maximum"](w, 0.0).sum() + b.sum(),
        [(4, 3), (5, 3), (5,)],
    ),
    "max_reduce": (
        lambda m, x, w, b: m["amax"](x * 2, 1).sum() + m["amin"](w, 0).sum() + b.max(),
        [(4, 3), (5, 3), (5,)],
    ),
    "pow_div": (
        lambda m, x, w, b: ((x * x + 1) ** 1.5 / (w[:4] * w[:4] + 2)).sum() + (2.0**b).sum(),
        [(4, 3), (5, 3), (5,)],
    ),
    "logsumexp": (lambda m, x, w, b: m["logsumexp"](x @ w.T, 1).sum() + m["var"](b), [(4, 3), (5, 3), (5,)]),
    "indexing": (
        lambda m, x, w, b: x[[0, 0, 2]].sum() + (w[1:, ::2] ** 2).sum() + b[b > 0].sum(),
        [(4, 3), (5, 3), (5,)],
    ),
    "clip_abs": (
        lambda m, x, w, b: (m["clip"](x, -0.5, 0.5) + abs(w[:4])).sum() + m["sqrt"](abs(b) + 1).sum(),
        [(4, 3), (5, 3), (5,)],
    ),
    "batched_matmul": (
        lambda m, x, w, b: (m["stack"]([x, x * 2]) @ w.T).sum() + m["cat"]([b, b * b]).sum(),
        [(4, 3), (5, 3), (5,)],
    ),
}

AUTODIFF = {
    "relu": ad.relu,
    "log_softmax": lambda t: ad.log_softmax(t, axis=1),
    "tanh": ad.tanh,
    "sigmoid": ad.sigmoid,
    "maximum": ad.maximum,
    "amax": lambda t, a: t.max(axis=a),
    "amin": lambda t, a: t.min(axis=a),
    "logsumexp": lambda t, a: ad.logsumexp(t, axis=a),
    "var": lambda t: t.var(ddof=1),
    "clip": ad.clip,
    "sqrt": ad.sqrt,
    "stack": ad.stack,
    "cat": ad.concatenate,
}
TORCH = {
    "relu": torch.relu,
    "log_softmax": lambda t: torch.log_softmax(t, dim=1),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "maximum": lambda a, b: torch.maximum(a, torch.as_tensor(b, dtype=a.dtype)),
    "amax": lambda t, a: t.amax(dim=a),
    "amin": lambda t, a: t.amin(dim=a),
    "logsumexp": lambda t, a: torch.logsumexp(t, dim=a),
    "var": lambda t: t.var(),
    "clip": torch.clamp,
    "sqrt": torch.sqrt,
    "stack": torch.stack,
    "cat": torch.cat,
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_values_and_gradients_match_pytorch(name):
    fn, shapes = EXPRESSIONS[name]
    rng = np.random.default_rng(3)
    data = [rng.standard_normal(s) for s in shapes]
    ours = [ad.Tensor(d, requires_grad=True) for d in data]
    theirs = [torch.tensor(d, requires_grad=True) for d in data]
    out_ours, out_theirs = fn(AUTODIFF, *ours), fn(TORCH, *theirs)
    out_ours.backward()
    out_theirs.backward()
    np.testing.assert_allclose(out_ours.item(), out_theirs.item(), rtol=1e-12, atol=1e-12)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_second_derivatives_match_pytorch():
    rng = np.random.default_rng(4)
    d = rng.standard_normal(4)
    x, xt = ad.Tensor(d, requires_grad=True), torch.tensor(d, requires_grad=True)
    f = lambda m, t: (m.tanh(t) * m.exp(t * 0.3)).sum() + (t**3).sum()
    (g,) = ad.autograd.grad(f(ad, x), x, create_graph=True)
    (gt,) = torch.autograd.grad(f(torch, xt), xt, create_graph=True)
    (h,) = ad.autograd.grad((g * g).sum(), x)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(h.data, ht.numpy(), rtol=1e-10)


def test_micrograd_readme_example_matches_pytorch():
    a, b = (
        torch.tensor(-4.0, dtype=torch.float64, requires_grad=True),
        torch.tensor(2.0, dtype=torch.float64, requires_grad=True),
    )
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    g = (c - d) ** 2 / 2.0 + 10.0 / (c - d) ** 2
    g.backward()
    A, B = ad.Value(-4.0), ad.Value(2.0)
    C = A + B
    D = A * B + B**3
    C += C + 1
    C += 1 + C + (-A)
    D += D * 2 + (B + A).relu()
    D += 3 * D + (B - A).relu()
    F = (C - D) ** 2
    G = F / 2.0
    G += 10.0 / F
    G.backward()
    assert G.item() == pytest.approx(g.item(), rel=1e-12)
    assert A.grad.item() == pytest.approx(a.grad.item(), rel=1e-12)
    assert B.grad.item() == pytest.approx(b.grad.item(), rel=1e-12)
