"""Regenerate the pictures in docs/img/: ``.venv/bin/python docs/make_images.py`` (needs ``dot``)."""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import autodiff as ad  # noqa: E402

OUT = ROOT / "docs" / "img"


def named(tensor, name):
    tensor.name = name
    return tensor


def f_x1_x2():
    """The f(x1, x2) = x1·x2 + sin(x2) example at (2, 3), after backward."""
    x1 = ad.Tensor(2.0, requires_grad=True, name="x1")
    x2 = ad.Tensor(3.0, requires_grad=True, name="x2")
    f = named(x1 * x2 + ad.sin(x2), "f")
    f.backward(retain_graph=True)  # a live graph: every node shows ∂f/∂node, not only the leaves
    return f


def one_hidden_layer():
    """d2l's one-hidden-layer network with weight decay, without biases: z = W1 x, h = relu(z), o = W2 h, L = ½‖o − y‖²,
    s = λ/2 (‖W1‖²_F + ‖W2‖²_F), J = L + s."""
    rng = np.random.default_rng(0)
    lam = 0.01
    x = ad.Tensor(rng.normal(size=3), name="x")
    y = ad.Tensor([1.0, 0.0], name="y")
    W1 = ad.Tensor(rng.normal(size=(4, 3)), requires_grad=True, name="W1")
    W2 = ad.Tensor(rng.normal(size=(2, 4)), requires_grad=True, name="W2")
    z = named(W1 @ x, "z")
    h = named(ad.relu(z), "h")
    o = named(W2 @ h, "o")
    L = named(0.5 * ((o - y) ** 2).sum(), "L")
    s = named(lam / 2 * ((W1**2).sum() + (W2**2).sum()), "s")
    J = named(L + s, "J")
    J.backward(retain_graph=True)
    return J


def deep_sigmoid():
    """Eight sigmoid layers: on its way back the gradient shrinks ~4× per layer (σ' ≤ ¼)."""
    rng = np.random.default_rng(0)
    h = ad.Tensor(rng.normal(size=(16, 8)), name="x")
    for k in range(8):
        W = ad.Tensor(rng.normal(size=(8, 8)) / np.sqrt(8), requires_grad=True, name=f"layers.{k}.weight")
        with ad.scope(f"layers.{k}"):
            h = ad.sigmoid(h @ W)
    return named((h**2).mean(), "loss")


def mlp_batch_64():
    """A 3-layer ``nn.MLP`` on a batch of 64 with cross entropy, collapsed to one node per module."""
    import nn

    model = nn.MLP(3, [16, 16, 2], rng=0)
    rng = np.random.default_rng(0)
    x = ad.Tensor(rng.normal(size=(64, 3)), name="x")
    y = ad.Tensor(rng.integers(0, 2, size=64), name="y")
    return named(nn.CrossEntropyLoss()(model(x), y), "loss")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    pictures = {
        "f_x1_x2.svg": ad.draw_graph(f_x1_x2()),
        "one_hidden_layer.svg": ad.draw_graph(one_hidden_layer()),
        "one_hidden_layer_backward.svg": ad.draw_graph(one_hidden_layer(), direction="backward"),
        "deep_sigmoid_grad.svg": ad.draw_graph(deep_sigmoid(), color_by="grad", show_data=False),
        "mlp_collapsed.svg": ad.draw_graph(mlp_batch_64(), max_nodes=25),
    }
    for name, graph in pictures.items():
        print(graph.save(OUT / name).relative_to(ROOT), graph)


if __name__ == "__main__":
    main()
