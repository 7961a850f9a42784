"""The package's random generator: autodiff's shared one (``autodiff.random``), so ``nn.manual_seed`` and
``autodiff.manual_seed`` are one function and reseed initialisation, shuffling and ``autodiff.randn`` alike."""

from autodiff.random import generator, manual_seed

__all__ = ["generator", "manual_seed"]
