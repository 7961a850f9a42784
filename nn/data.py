"""Minibatches: one pass over a data set in batches, each sample drawn exactly once per epoch."""

import numpy as np

from .rng import generator


def check_batch_size(batch_size):
    """Refuse a batch size that is not a positive integer (bools are not sizes)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def minibatches(X, y, batch_size, shuffle=True, rng=None, drop_last=False):
    """Yield ``(X[idx], y[idx])`` for consecutive batches of ``batch_size`` indices.

    With ``shuffle`` the indices are a fresh random permutation on every call:
    samples are drawn uniformly at random without replacement, so one epoch
    sees each sample once. ``rng`` is a Generator or seed (default: the global
    generator, see ``nn.manual_seed``). The last batch is smaller unless
    ``drop_last`` drops it.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have one sample per row, got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    check_batch_size(batch_size)
    n = len(X)
    order = generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]
