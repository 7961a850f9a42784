"""The digits example: the f(x1, x2) example, then an MLP trained on handwritten digits.

Run with ``python examples/digits.py`` (``make demo``). It first calls
``autodiff.tune_allocator()`` (glibc's malloc thresholds for a training loop, opt-in;
see docs/performance.md) and says whether it took effect, then runs
``gradient_and_graph.py``. The digits are scikit-learn's bundled 8×8 images (no
download), split 75/25 stratified with random_state=0 and scaled to [0, 1]. An MLP
with weight decay on its weight matrices (not the biases) is trained with Adam; the
example prints the test accuracy and writes ``out/digits_mlp.npz`` (the weights),
``out/digits_curves.png`` (loss and accuracy per epoch), ``out/digits_forward_graph.svg``
(the computation graph of one forward pass on a batch of 16, one box per layer) and
``out/f_x1_x2.svg`` (without Graphviz's ``dot``: their DOT source, ``.dot``).
"""

import argparse
import os
import time

import numpy as np

import autodiff
import nn
from nn import functional as F

HIDDEN = [128]
WEIGHT_DECAY = 1e-4


def load_digits_split():
    """(X_train, X_test, y_train, y_test): the 1797 digits, pixels scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0
    return train_test_split(X, digits.target, test_size=0.25, stratify=digits.target, random_state=0)


def train_digits(epochs=30, batch_size=32, lr=3e-3, seed=0, dtype=np.float32, progress=True):
    """Train the digits MLP; returns (model, history, test accuracy)."""
    X_train, X_test, y_train, y_test = load_digits_split()
    nn.manual_seed(seed)
    model = nn.MLP(64, HIDDEN + [10], dtype=dtype)
    optimizer = nn.optim.Adam(
        [
            {"params": nn.weights(model), "weight_decay": WEIGHT_DECAY},
            {"params": nn.biases(model), "weight_decay": 0.0},
        ],
        lr=lr,
    )
    history = nn.fit(
        model,
        X_train,
        y_train,
        loss=F.cross_entropy,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=batch_size,
        validation=(X_test, y_test),
        progress=progress,
    )
    test_accuracy = nn.evaluate(model, X_test, y_test)["accuracy"]
    return model, history, test_accuracy


def plot_curves(history, path):
    """Loss and accuracy per epoch, train and test side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history.train_loss) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history.train_loss, label="train")
    left.plot(epochs, history.val_loss, label="test")
    left.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    right.plot(epochs, history.train_acc, label="train")
    right.plot(epochs, history.val_acc, label="test")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def draw_forward_pass(model, X, y, path):
    """The graph of one forward pass with its loss, on 16 test images, rendered to SVG."""
    import autodiff as ad

    x = ad.Tensor(X[:16], dtype=model.layers[0].weight.dtype, name="images")
    loss = F.cross_entropy(model(x), y[:16])
    loss.name = "loss"
    from gradient_and_graph import save_graph  # examples/, beside this file

    return save_graph(ad.draw_graph(loss), path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="out", help="directory for the weights and the curves")
    args = parser.parse_args(argv)

    tuned = autodiff.tune_allocator()
    print(
        "autodiff.tune_allocator(): "
        + (
            "glibc's mmap and trim thresholds are fixed for this process"
            if tuned
            else "changed nothing (not glibc, or MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ set in the environment)"
        )
    )
    os.makedirs(args.out, exist_ok=True)
    from gradient_and_graph import main as gradient_and_graph  # examples/, beside this file: run as a script

    gradient_and_graph(out=args.out)
    print()
    print(f"Training MLP(64, {HIDDEN + [10]}) on the digits with Adam and weight decay {WEIGHT_DECAY}...")
    load_digits_split()  # imports scikit-learn (most of a second) outside the time reported below
    start = time.perf_counter()
    model, history, test_accuracy = train_digits(epochs=args.epochs)
    seconds = time.perf_counter() - start
    print(model)
    print(f"test accuracy: {test_accuracy:.4f}  ({len(history.train_loss)} epochs in {seconds:.1f} s)")

    weights = nn.save(model, os.path.join(args.out, "digits_mlp.npz"))
    curves = os.path.join(args.out, "digits_curves.png")
    plot_curves(history, curves)
    X_train, X_test, y_train, y_test = load_digits_split()
    graph = draw_forward_pass(model, X_test, y_test, os.path.join(args.out, "digits_forward_graph.svg"))
    print(f"wrote {weights}, {curves} and {graph}")


if __name__ == "__main__":
    main()
