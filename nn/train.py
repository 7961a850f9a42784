"""Training and evaluation loops: ``fit``, ``evaluate``, ``predict``, ``accuracy``."""

import math
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

import autodiff as ad

from .data import check_batch_size, minibatches
from .rng import generator


@dataclass
class History:
    """Per-epoch curves from ``fit``. ``train_*`` average the epoch's minibatches (taken while the
    model was changing, as Keras reports them); ``val_*`` are measured after each epoch."""

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; ``epoch``, ``step`` (both from 1) and ``history`` say when."""

    def __init__(self, epoch, step, value, history):
        super().__init__(
            f"loss is {value} at epoch {epoch}, step {step}: training stopped before this step's update, "
            "so the model keeps its last finite parameters (try a lower learning rate)"
        )
        self.epoch, self.step, self.history = epoch, step, history


def accuracy(output, y):
    """Fraction of samples classified right.

    Class scores of shape (N, C) with C > 1 predict their argmax against integer
    labels. A single score per sample (shape (N,) or (N, 1)) predicts the positive
    class when it is > 0, and a label is positive when it is > 0: this reads ±1
    labels with margins (hinge loss) and 0/1 labels with logits (binary
    cross-entropy) alike.
    """
    scores = np.asarray(output.data if isinstance(output, ad.Tensor) else output)
    y = np.asarray(y.data if isinstance(y, ad.Tensor) else y)
    if scores.ndim == 2 and scores.shape[1] > 1:
        if y.shape != scores.shape[:1]:
            raise ValueError(f"accuracy: labels of shape {y.shape} for class scores of shape {scores.shape}")
        return float(np.mean(scores.argmax(axis=1) == y))
    if scores.size != y.size or scores.ndim > 2:
        raise ValueError(f"accuracy: labels of shape {y.shape} for scores of shape {scores.shape}")
    return float(np.mean((scores.reshape(y.shape) > 0) == (y > 0)))


def _inputs(model, X):
    """X as an array in the model's floating-point dtype (a float32 model runs in float32)."""
    X = np.asarray(X.data if isinstance(X, ad.Tensor) else X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got an array of dtype {X.dtype}")
    param = next(iter(model.parameters()), None)
    if param is not None and X.dtype != param.dtype and X.dtype.kind in "biuf":
        X = X.astype(param.dtype)
    return X


def predict(model, X, batch_size=1024):
    """The model's outputs for X as a numpy array, in eval mode, under ``no_grad``, ``batch_size`` rows at a time."""
    X = _inputs(model, X)
    if len(X) == 0:
        raise ValueError("predict: X has no samples")
    was_training = model.training
    model.eval()
    try:
        with ad.no_grad():
            outputs = [model(X[i : i + batch_size]).data for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outputs)


def evaluate(model, X, y, loss=None, batch_size=1024):
    """{"accuracy": ..., "loss": ...} of the model on (X, y) (no "loss" without ``loss``), under ``no_grad``."""
    output = predict(model, X, batch_size)
    result = {"accuracy": accuracy(output, y)}
    if loss is not None:
        with ad.no_grad():
            result["loss"] = float(loss(ad.from_numpy(output), y).item())
    return result


def fit(
    model, X, y, *, loss, optimizer, epochs=10, batch_size=32, validation=None, shuffle=True, rng=None, progress=True
):
    """Train ``model`` on (X, y) with minibatch steps; returns a ``History``.

    Each epoch draws minibatches without replacement (``nn.data.minibatches``,
    shuffled from ``rng`` or the global generator). Each step computes
    ``loss(model(xb), yb)``, checks it is finite, then runs backward and
    ``optimizer.step()``. A NaN or infinite loss raises ``TrainingDiverged`` (a
    ``FloatingPointError``) naming the epoch and step, before that step's update.
    ``validation=(Xv, yv)`` adds validation loss and accuracy after each epoch.
    ``progress`` shows a tqdm bar with the running loss; ``progress=False`` prints nothing.
    """
    X, y = _inputs(model, X), np.asarray(y)
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"fit: X has no samples (shape {X.shape})")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    check_batch_size(batch_size)
    rng = generator(rng)
    history = History()
    steps = math.ceil(len(X) / batch_size)
    bar = tqdm(total=epochs * steps, disable=not progress, unit="step", leave=True)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
            loss_sum = correct = seen = 0.0
            for step, (xb, yb) in enumerate(minibatches(X, y, batch_size, shuffle=shuffle, rng=rng), 1):
                output = model(xb)
                value = loss(output, yb)
                number = value.item()
                if not math.isfinite(number):
                    raise TrainingDiverged(epoch, step, number, history)
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                n = len(xb)
                loss_sum += number * n
                correct += accuracy(output, yb) * n
                seen += n
                bar.update()
                bar.set_postfix_str(f"loss={loss_sum / seen:.4f}", refresh=False)
            history.train_loss.append(loss_sum / seen)
            history.train_acc.append(correct / seen)
            summary = f"loss={history.train_loss[-1]:.4f} acc={history.train_acc[-1]:.3f}"
            if validation is not None:
                scores = evaluate(model, validation[0], validation[1], loss)
                history.val_loss.append(scores["loss"])
                history.val_acc.append(scores["accuracy"])
                summary += f" val_loss={scores['loss']:.4f} val_acc={scores['accuracy']:.3f}"
            bar.set_postfix_str(summary)
    finally:
        bar.close()
    return history
