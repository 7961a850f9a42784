"""Data: ``TensorDataset`` and ``DataLoader`` as in ``torch.utils.data``, and ``minibatches`` over arrays.

An epoch visits every sample once; with ``shuffle`` in a fresh random order drawn from ``rng``
(a Generator or a seed) or the shared generator that ``nn.manual_seed`` reseeds.
"""

import math

import numpy as np

import autodiff as ad
from autodiff.random import generator

__all__ = ["TensorDataset", "DataLoader", "default_collate", "minibatches"]


def check_batch_size(batch_size):
    """Refuse a batch size that is not a positive integer (bools are not sizes)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _batches(n, batch_size, shuffle, rng, drop_last):
    """The index arrays of one epoch over n samples."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def minibatches(X, y, batch_size, shuffle=True, rng=None, drop_last=False):
    """Yield ``(X[idx], y[idx])`` (numpy arrays) for consecutive batches of ``batch_size`` indices.

    With ``shuffle`` the indices are a fresh random permutation on every call:
    samples are drawn uniformly at random without replacement, so one epoch
    sees each sample once. ``rng`` is a Generator or seed (default: the shared
    generator, see ``nn.manual_seed``). The last batch is smaller unless
    ``drop_last`` drops it.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y must have one sample per row, got shapes {X.shape} and {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    check_batch_size(batch_size)
    for idx in _batches(len(X), batch_size, shuffle, generator(rng), drop_last):
        yield X[idx], y[idx]


class TensorDataset:
    """Samples of several tensors at once: ``dataset[i]`` is ``(t[i] for t in tensors)`` (PyTorch's ``TensorDataset``).

    >>> ds = TensorDataset(ad.randn(100, 3), ad.arange(100))
    >>> x, y = ds[0]; len(ds)
    100

    Arrays and lists become Tensors (arrays without a copy).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(ad.as_tensor(t) for t in tensors)
        shapes = [t.shape for t in self.tensors]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            raise ValueError(
                "TensorDataset: every tensor needs the same number of samples along its first axis, got shapes "
                + ", ".join(map(str, shapes))
            )

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def __repr__(self):
        return f"TensorDataset({', '.join(str(t.shape) for t in self.tensors)})"


def default_collate(samples):
    """A batch from a list of samples: Tensors, arrays and numbers are stacked into one Tensor along a new first
    axis; tuples, lists and dicts are collated field by field (a tuple of Tensors for tuple samples)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: samples have different numbers of fields ({len(first)} and others)")
        return tuple(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if any(isinstance(s, ad.Tensor) and s.requires_grad for s in samples):
        return ad.stack(samples)  # recorded: gradients reach the samples
    try:
        return ad.Tensor(np.stack([np.asarray(s.data if isinstance(s, ad.Tensor) else s) for s in samples]))
    except ValueError as error:
        raise ValueError(f"default_collate: cannot stack the samples of a batch ({error})") from None


class DataLoader:
    """Batches of a dataset, one epoch per ``iter()`` (PyTorch's ``DataLoader``, without worker processes).

    ``dataset`` is anything with ``len()`` and ``[i]``; a ``TensorDataset`` is indexed with the
    whole batch of indices at once, any other dataset sample by sample and then collated
    (``collate_fn``, default ``default_collate``). Yields tuples of Tensors for tuple samples.
    ``shuffle`` draws a new order per epoch from ``rng`` (a Generator, or a seed: one generator
    for all epochs) or the shared generator (``nn.manual_seed``); PyTorch calls it ``generator``.
    ``drop_last`` drops the last, smaller batch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, rng=None, collate_fn=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader needs a dataset with len() and [index] (e.g. nn.data.TensorDataset), got {type(dataset).__name__}"
            )
        check_batch_size(batch_size)
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.rng = None if rng is None else generator(rng)
        self.collate_fn = collate_fn

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        rng = generator(self.rng)  # the shared generator as it is now, when no rng was given
        whole = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for idx in _batches(len(self.dataset), self.batch_size, self.shuffle, rng, self.drop_last):
            yield self.dataset[idx] if whole else collate([self.dataset[int(i)] for i in idx])

    def __repr__(self):
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
