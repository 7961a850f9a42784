"""The package's random generator: what initialisation and shuffling draw from unless given ``rng=``."""

import numpy as np

_global = np.random.default_rng()


def manual_seed(seed):
    """Reseed the global generator, so initialisation and shuffling repeat exactly (PyTorch's ``torch.manual_seed``)."""
    global _global
    _global = np.random.default_rng(seed)
    return _global


def generator(rng=None):
    """``rng`` as a ``numpy.random.Generator``: the global one for None, a new one for a seed, itself for a Generator."""
    return _global if rng is None else np.random.default_rng(rng)
