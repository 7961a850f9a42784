"""Anomaly detection: find the op that first produced a NaN or an infinity, forward or backward.

Inside ``with autodiff.detect_anomaly():`` every op's inputs and result are
checked as it runs, every derivative rule's gradients as backward runs, and each
recorded op keeps a short traceback of the user's code that created it, so the
error says which line to look at. It costs a scan of every array: use it to
debug, not to train (PyTorch's ``torch.autograd.detect_anomaly`` does the same).
"""

import os
import traceback

import numpy as np

from .grad_mode import _local


class AnomalyError(RuntimeError):
    """A NaN or infinity appeared where anomaly detection was watching."""


_HERE = os.path.dirname(os.path.abspath(__file__))
_INTERNAL = (_HERE + os.sep, os.path.join(os.path.dirname(_HERE), "nn") + os.sep)


def user_stack(limit=4):
    """The innermost frames of the caller's code outside autodiff and nn, formatted."""
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(_INTERNAL)]
    return "".join(traceback.format_list(frames[-limit:]))


def _bad(array):
    """'nan', 'inf' or None for a floating-point array."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    if np.isnan(array).any():
        return "nan"
    if np.isinf(array).any():
        return "inf"
    return None


def _where(op):
    stack = getattr(op, "created_at", None)
    if stack is None:
        return ""
    return f"\nThe op was created at (most recent call last):\n{stack.rstrip()}"


def check_forward(op, arrays, out):
    """Raise if an input of ``op`` has a NaN, or its result a NaN or infinity its inputs did not have."""
    found = [_bad(a) for a in arrays]
    for i, (a, bad) in enumerate(zip(arrays, found)):
        if bad == "nan":  # infinities are legitimate inputs (exp(-inf) = 0); NaNs never are
            raise AnomalyError(
                f"input {i} of {op.name} (shape {a.shape}) contains nan: it came into the graph so "
                "(check the data you passed in, or run the code that made it under detect_anomaly)"
                f"\nThe op was called at (most recent call last):\n{user_stack().rstrip()}"
            )
    bad = _bad(out)
    if bad == "nan" or (bad == "inf" and "inf" not in found):
        rule = _local.state.rule
        context = (
            ""
            if rule is None
            else (f" inside the derivative rule of {rule.name} ({rule!r}), which backward(create_graph=True) records")
        )
        raise AnomalyError(
            f"{op.name} produced {bad} in its output (shape {out.shape}) from inputs without any{context}, "
            "e.g. log or sqrt of a negative number, log(0), 0 * inf, inf - inf, or overflow"
            + (
                _where(rule)
                if rule is not None
                else f"\nThe op was called at (most recent call last):\n{user_stack().rstrip()}"
            )
        )


def check_backward(op, g, input_grads):
    """Raise if the derivative rule of ``op`` returned a NaN or infinity from a finite gradient."""
    for i, gx in enumerate(input_grads):
        data = gx._data if hasattr(gx, "_data") else gx
        bad = _bad(data)
        if bad is not None:
            raise AnomalyError(
                f"the derivative rule of {op.name} ({op!r}) returned {bad} values in its gradient "
                f"for input {i} (shape {data.shape}): e.g. the derivative of sqrt or log at 0, "
                f"or 0 * inf{_where(op)}"
            )


class detect_anomaly:
    """Context manager (and decorator) that turns on anomaly detection in this thread.

    >>> with autodiff.detect_anomaly():
    ...     y = autodiff.log(x)        # AnomalyError here if x has a negative entry
    ...     y.sum().backward()          # or here, naming the op and the line that made it
    """

    def __init__(self, check_nan=True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        state = _local.state
        state.saved_anomaly.append(state.anomaly)
        state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        state = _local.state
        state.anomaly = state.saved_anomaly.pop()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


def set_detect_anomaly(mode):
    """Turn anomaly detection on or off in this thread (PyTorch's ``torch.autograd.set_detect_anomaly``)."""
    _local.state.anomaly = bool(mode)


def is_anomaly_enabled():
    """Whether anomaly detection is on in this thread."""
    return _local.state.anomaly
