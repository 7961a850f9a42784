"""nn.data, nn.fit / evaluate / accuracy, micrograd's moons demo and the digits example (examples/digits.py)."""

import importlib.util
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as F

DIGITS_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits.py"


def digits_example():
    """examples/digits.py as a module (examples/ is a folder of scripts, not a package); its main() is not run."""
    spec = importlib.util.spec_from_file_location("digits_example", DIGITS_EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.standard_normal((n, 2)) * 0.3 + np.eye(3)[y][:, :2] * 2
    return X, y


# -- minibatches ------------------------------------------------------------------------------------


def test_minibatches_draw_every_sample_once_per_epoch():
    X, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    orders = []
    for _ in range(2):
        batches = list(nn.data.minibatches(X, y, 4, rng=np.random.default_rng(len(orders))))
        assert [len(b) for b, _ in batches] == [4, 4, 2]
        order = np.concatenate([yb for _, yb in batches])
        assert sorted(order) == list(range(10))
        assert all((xb[:, 0] == yb).all() for xb, yb in batches)  # X and y stay paired
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])
    assert [len(b) for b, _ in nn.data.minibatches(X, y, 4, drop_last=True)] == [4, 4]
    assert [yb.tolist() for _, yb in nn.data.minibatches(X, y, 5, shuffle=False)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_minibatch_positions_are_uniform():
    X, y = np.zeros((5, 1)), np.arange(5)
    rng = np.random.default_rng(0)
    first = np.zeros(5)
    for _ in range(5000):
        first[next(nn.data.minibatches(X, y, 1, rng=rng))[1][0]] += 1
    assert np.abs(first / 5000 - 0.2).max() < 0.03  # each sample equally likely to come first


def test_minibatches_errors():
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        next(nn.data.minibatches(np.zeros((3, 1)), np.zeros(2), 1))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        next(nn.data.minibatches(np.zeros((3, 1)), np.zeros(3), 0))


# -- accuracy, predict, evaluate ----------------------------------------------------------------------


def test_accuracy_rules():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 3.0, 0.0]])
    assert nn.accuracy(logits, np.array([0, 2, 0])) == pytest.approx(2 / 3)
    scores = ad.Tensor([[0.7], [-0.2], [0.1], [-3.0]])
    assert nn.accuracy(scores, np.array([1, -1, -1, -1])) == 0.75  # ±1 labels, margins
    assert nn.accuracy(scores, np.array([1, 0, 0, 0])) == 0.75  # 0/1 labels, logits
    with pytest.raises(ValueError, match=r"accuracy: labels of shape \(2,\) for class scores of shape \(3, 3\)"):
        nn.accuracy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"accuracy: labels of shape \(3,\) for scores of shape \(4, 1\)"):
        nn.accuracy(scores, np.array([1, 1, 1]))


def test_predict_and_evaluate_run_under_no_grad_in_eval_mode():
    X, y = _blobs()
    model = nn.MLP(2, [8, 3], rng=0)
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append((self.training, ad.is_grad_enabled()))
            return x

    model.layers.append(Spy())
    out = nn.predict(model, X, batch_size=25)
    assert isinstance(out, np.ndarray) and out.shape == (60, 3)
    assert seen == [(False, False)] * 3  # 3 chunks of at most 25 rows
    assert model.training  # restored
    result = nn.evaluate(model, X, y, loss=F.cross_entropy)
    assert result["accuracy"] == nn.accuracy(out, y)
    assert result["loss"] == pytest.approx(F.cross_entropy(out, y).item())
    assert set(nn.evaluate(model, X, y)) == {"accuracy"}
    with pytest.raises(ValueError, match="predict: X has no samples"):
        nn.predict(model, X[:0])


# -- fit ------------------------------------------------------------------------------------------------


def _train(seed, epochs=3, **kwargs):
    X, y = _blobs()
    nn.manual_seed(seed)
    model = nn.MLP(2, [8, 3])
    optimizer = nn.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    history = nn.fit(
        model, X, y, loss=F.cross_entropy, optimizer=optimizer, epochs=epochs, batch_size=16, progress=False, **kwargs
    )
    return model, history


def test_fit_learns_and_records_history(capsys):
    X, y = _blobs()
    Xv, yv = _blobs(30, seed=1)
    nn.manual_seed(0)
    model = nn.MLP(2, [8, 3])
    history = nn.fit(
        model,
        X,
        y,
        loss=nn.CrossEntropyLoss(),
        optimizer=nn.optim.Adam(model.parameters(), lr=0.05),
        epochs=15,
        batch_size=16,
        validation=(Xv, yv),
        progress=False,
    )
    assert capsys.readouterr() == ("", "")  # progress=False is silent
    for curve in (history.train_loss, history.train_acc, history.val_loss, history.val_acc):
        assert len(curve) == 15 and all(math.isfinite(v) for v in curve)
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.val_acc[-1] == nn.evaluate(model, Xv, yv)["accuracy"] >= 0.9
    assert history.val_loss[-1] == pytest.approx(nn.evaluate(model, Xv, yv, F.cross_entropy)["loss"])


def test_fit_shows_a_progress_bar_with_the_loss(capsys):
    X, y = _blobs()
    model = nn.MLP(2, [4, 3])
    nn.fit(
        model,
        X,
        y,
        loss=F.cross_entropy,
        optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
        epochs=2,
        batch_size=16,
        progress=True,
    )
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "8/8" in err and "loss=" in err and "acc=" in err


def test_fit_is_reproducible_with_a_seed():
    model_a, history_a = _train(seed=3)
    model_b, history_b = _train(seed=3)
    _, history_c = _train(seed=4)
    assert history_a.train_loss == history_b.train_loss
    assert all(np.array_equal(p.data, q.data) for p, q in zip(model_a.parameters(), model_b.parameters()))
    assert history_a.train_loss != history_c.train_loss


def test_fit_stops_on_nan_before_updating():
    X, y = _blobs(40)
    X[9, 0] = np.nan  # in the third batch of 4 when not shuffled
    model, reference = nn.MLP(2, [5, 3], rng=0), nn.MLP(2, [5, 3], rng=0)
    with pytest.raises(
        FloatingPointError,
        match=r"loss is nan at epoch 1, step 3: training stopped before this "
        r"step's update, so the model keeps its last finite parameters",
    ):
        nn.fit(
            model,
            X,
            y,
            loss=F.cross_entropy,
            optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
            epochs=2,
            batch_size=4,
            shuffle=False,
            progress=False,
        )
    nn.fit(
        reference,
        X[:8],
        y[:8],
        loss=F.cross_entropy,
        optimizer=nn.optim.SGD(reference.parameters(), lr=0.1),
        epochs=1,
        batch_size=4,
        shuffle=False,
        progress=False,
    )
    for p, q in zip(model.parameters(), reference.parameters()):
        assert np.isfinite(p.data).all()
        np.testing.assert_array_equal(p.data, q.data)  # exactly the two finite steps


def test_fit_names_the_epoch_and_step_of_an_infinite_loss():
    X, y = _blobs(8)
    calls = []

    def exploding(output, target):
        calls.append(1)
        loss = F.cross_entropy(output, target)
        return loss * np.inf if len(calls) == 5 else loss

    model = nn.MLP(2, [3])
    with pytest.raises(nn.TrainingDiverged, match="loss is inf at epoch 3, step 1") as info:
        nn.fit(
            model,
            X,
            y,
            loss=exploding,
            optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
            epochs=5,
            batch_size=4,
            progress=False,
        )
    assert (info.value.epoch, info.value.step) == (3, 1)
    assert len(info.value.history.train_loss) == 2


def test_fit_runs_a_float32_model_in_float32():
    X, y = _blobs()
    model = nn.MLP(2, [4, 3], dtype=np.float32)
    dtypes = []
    loss = lambda out, target: (dtypes.append(out.dtype), F.cross_entropy(out, target))[1]
    nn.fit(model, X, y, loss=loss, optimizer=nn.optim.Adam(model.parameters()), epochs=1, progress=False)
    assert set(dtypes) == {np.dtype(np.float32)}
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_fit_checks_lengths():
    model = nn.MLP(2, [3])
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        nn.fit(
            model,
            np.zeros((4, 2)),
            np.zeros(3, int),
            loss=F.cross_entropy,
            optimizer=nn.optim.SGD(model.parameters(), lr=0.1),
            progress=False,
        )


# -- micrograd's moons demo and the digits example ---------------------------------------------------------


def test_micrograd_moons_demo_reaches_full_training_accuracy():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.make_moons(n_samples=100, noise=0.1, random_state=1337)
    y = 2 * y - 1
    nn.manual_seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    for w in nn.weights(model):  # micrograd's initialisation: w ~ U(−1, 1), b = 0
        nn.init.uniform_(w, -1.0, 1.0)
    for b in nn.biases(model):
        nn.init.zeros_(b)
    params = list(model.parameters())
    optimizer = nn.optim.SGD(params, lr=1.0)
    alpha = 1e-4
    start = time.perf_counter()
    for k in range(100):
        scores = model(X)
        # micrograd's reg_loss = α Σ p² over every parameter = l2_penalty with λ = 2α
        loss = F.hinge_loss(scores, y) + F.l2_penalty(params, 2 * alpha)
        optimizer.zero_grad()
        loss.backward()
        optimizer.param_groups[0]["lr"] = 1.0 - 0.9 * k / 100
        optimizer.step()
    seconds = time.perf_counter() - start
    assert nn.accuracy(nn.predict(model, X), y) == 1.0
    print(f"moons parity: 100 steps in {seconds:.3f} s, final loss {loss.item():.4f}")


def test_digits_quick_run():
    pytest.importorskip("sklearn")
    model, history, test_accuracy = digits_example().train_digits(epochs=8, progress=False)
    assert test_accuracy >= 0.95
    assert len(history.val_acc) == 8 and history.val_acc[-1] == test_accuracy


def test_the_examples_write_the_dot_source_when_graphviz_is_missing(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("gradient_and_graph", DIGITS_EXAMPLE.parent / "gradient_and_graph.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    x = ad.Tensor(2.0, requires_grad=True, name="x")
    graph = ad.draw_graph(x * x)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    written = example.save_graph(graph, str(tmp_path / "graph.svg"))
    assert written == tmp_path / "graph.dot" and not (tmp_path / "graph.svg").exists()
    assert written.read_text(encoding="utf-8") == graph.source
    assert capsys.readouterr().out == (
        f"Graphviz's dot is not installed (apt-get install graphviz): writing the DOT source {written} instead\n"
    )


def test_the_digits_example_tunes_malloc_and_writes_weights_and_curves(tmp_path):
    """``make demo``'s command, run as a script in its own process (it changes glibc's malloc settings there)."""
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    out = subprocess.run(
        [sys.executable, str(DIGITS_EXAMPLE), "--epochs", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("autodiff.tune_allocator(): ")
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert ("thresholds are fixed" in first) == glibc, first
    assert "f(x1, x2) = x1·x2 + sin(x2)" in out.stdout and "test accuracy:" in out.stdout
    model = nn.MLP(64, digits_example().HIDDEN + [10], dtype=np.float32)
    model.load_state_dict(nn.load(tmp_path / "digits_mlp.npz"))
    assert (tmp_path / "digits_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_training_step_peaks_beside_its_gradients_with_one_activation_not_all():
    """Backward frees each activation once the last op reading it has run: when the first layer's weight
    gradient (the largest array) is made, the activations of the layers above are gone."""
    import tracemalloc

    rng = np.random.default_rng(0)
    batch, sizes = 128, [784, 512, 256, 10]
    model = nn.MLP(sizes[0], sizes[1:], activation="relu", dtype=np.float32, rng=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.01)
    x = ad.Tensor(rng.random((batch, sizes[0]), dtype=np.float32))
    y = rng.integers(0, sizes[-1], batch)
    params_bytes = sum(p.data.nbytes for p in model.parameters())
    activation_bytes = sum(batch * n * 4 for n in sizes[1:])  # each layer's output, before its ReLU
    for _ in range(2):  # the first step draws nothing new: the gradients of the step before are set to None
        opt.zero_grad()
        tracemalloc.start()
        try:
            F.cross_entropy(model(x), y).backward()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        opt.step()
    # the gradients (as large as the parameters), the first layer's output gradient and small change;
    # all the activations alive beside the gradients would be 2 * activation_bytes (outputs and ReLUs)
    assert params_bytes < peak < params_bytes + activation_bytes
