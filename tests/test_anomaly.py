"""Anomaly detection: the first op that makes a NaN or infinity is named, with the user's line."""

import threading

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own warnings for log(-1) etc.


def test_forward_nan_names_the_op_and_the_line_that_called_it():
    x = Tensor([1.0, -1.0, 2.0], requires_grad=True)
    with pytest.raises(ad.AnomalyError, match=r"log produced nan in its output \(shape \(3,\)\)") as info:
        with ad.detect_anomaly():
            ad.log(x)  # the line the error points at
    assert "test_anomaly.py" in str(info.value) and "ad.log(x)  # the line the error points at" in str(info.value)


def test_zero_times_inf_is_caught_at_the_multiply():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with ad.detect_anomaly():
        big = ad.exp(Tensor([np.inf, 0.0]))  # inf comes in with the data: not an anomaly of exp
        with pytest.raises(ad.AnomalyError, match="mul produced nan"):
            x * big


def test_overflow_to_inf_is_caught_but_infinities_that_came_in_pass_through():
    with ad.detect_anomaly():
        with pytest.raises(ad.AnomalyError, match=r"exp produced inf .*overflow"):
            ad.exp(Tensor([1000.0], requires_grad=True))
        y = Tensor([np.inf, 1.0], requires_grad=True) + 1.0
        assert np.isinf(y.data[0])
        assert ad.exp(Tensor([-np.inf])).data[0] == 0.0


def test_nan_in_the_inputs_is_reported_as_such():
    with ad.detect_anomaly():
        with pytest.raises(
            ad.AnomalyError, match=r"input 0 of mul \(shape \(2,\)\) contains nan: it came into the graph"
        ):
            Tensor([np.nan, 1.0], requires_grad=True) * 2.0


def test_backward_names_the_rule_and_where_its_op_was_created():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with ad.detect_anomaly():
        y = ad.sqrt(x).sum()  # created here
        with pytest.raises(
            ad.AnomalyError, match=r"derivative rule of sqrt .* returned inf values in its gradient for input 0"
        ) as info:
            y.backward()
    message = str(info.value)
    assert "The op was created at" in message and "y = ad.sqrt(x).sum()  # created here" in message


def test_backward_nan_from_a_rule_under_create_graph():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with ad.detect_anomaly():
        y = (ad.sqrt(x) * 0.0).sum()
        with pytest.raises(ad.AnomalyError, match=r"div produced nan .* inside the derivative rule of sqrt") as info:
            ad.autograd.grad(y, x, create_graph=True)
    assert "y = (ad.sqrt(x) * 0.0).sum()" in str(info.value)


def test_off_by_default_nans_propagate_silently():
    assert not ad.is_anomaly_enabled()
    x = Tensor([0.0], requires_grad=True)
    ad.sqrt(x).sum().backward()
    assert np.isinf(x.grad.data[0])


def test_the_mode_is_restored_after_an_error_and_works_as_decorator_and_switch():
    with pytest.raises(ad.AnomalyError):
        with ad.detect_anomaly():
            ad.log(Tensor([-1.0]))
    assert not ad.is_anomaly_enabled()

    @ad.detect_anomaly()
    def f(x):
        assert ad.is_anomaly_enabled()
        return ad.log(x)

    with pytest.raises(ad.AnomalyError, match="log produced nan"):
        f(Tensor([-1.0]))
    assert not ad.is_anomaly_enabled()
    ad.set_detect_anomaly(True)
    try:
        assert ad.is_anomaly_enabled()
    finally:
        ad.set_detect_anomaly(False)
    with ad.detect_anomaly(check_nan=False):
        assert ad.log(Tensor([-1.0])).data[0] != ad.log(Tensor([-1.0])).data[0]


def test_anomaly_mode_is_per_thread():
    inside, results = threading.Event(), {}
    release = threading.Event()

    def watched():
        with ad.detect_anomaly():
            inside.set()
            release.wait(5)
            results["watched"] = ad.is_anomaly_enabled()

    t = threading.Thread(target=watched)
    t.start()
    inside.wait(5)
    results["other"] = ad.is_anomaly_enabled()
    ad.log(Tensor([-1.0]))  # no error in this thread
    release.set()
    t.join()
    assert results == {"watched": True, "other": False}


def test_finite_graphs_are_unaffected():
    x = Tensor(np.linspace(0.5, 2.0, 6).reshape(2, 3), requires_grad=True)
    with ad.detect_anomaly():
        y = (ad.log(x) * ad.tanh(x)).sum()
        y.backward()
    assert np.all(np.isfinite(x.grad.data))
