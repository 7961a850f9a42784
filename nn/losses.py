"""Losses as modules, for the ones PyTorch has as classes: ``loss_fn = nn.CrossEntropyLoss(); loss_fn(logits, y)``."""

from . import functional as F
from .module import Module


class _Loss(Module):
    function = None

    def __init__(self, reduction="mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error; see ``nn.functional.mse_loss``."""

    function = F.mse_loss


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C) against integer labels (N,); see ``nn.functional.cross_entropy``."""

    function = F.cross_entropy


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits against 0/1 targets; see ``nn.functional.binary_cross_entropy_with_logits``."""

    function = F.binary_cross_entropy_with_logits
