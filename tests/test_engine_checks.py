"""What the engine checks by itself: the gradients rules return, and that its modules import in any order."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
from autodiff import engine, ops


def _op(returns, saves_inputs=False):
    """An op z = x (a copy) whose rule returns ``returns(g)``: a stand-in for a wrong rule."""

    class Wrong(ops.Op):
        __slots__ = ()
        name = "wrong"

        def forward(self, *xs):
            return xs[0].copy()

        def vjp(self, xp, g, *xs, out):
            return returns(g)

    Wrong.saves_inputs = saves_inputs
    return Wrong


def _backward(returns, *shapes):
    xs = [ad.Tensor(np.ones(s), requires_grad=True) for s in shapes]
    engine.apply(_op(returns), *xs).sum().backward()
    return xs


@pytest.mark.parametrize(
    "returns, message",
    [
        (
            lambda g: g.T,
            r"Function WrongBackward returned an invalid gradient at index 0 - got \[3, 2\] but expected shape "
            r"compatible with \[2, 3\]",
        ),
        (lambda g: g[:, :2], r"at index 0 - got \[2, 2\] but expected shape compatible with \[2, 3\]"),
        (lambda g: "a string", r"at index 0 - expected an array of shape \[2, 3\], got str"),
        (lambda g: [[1.0] * 3] * 2, r"at index 0 - expected an array of shape \[2, 3\], got list"),
        (
            lambda g: g.astype(complex),
            r"at index 0 - expected real numbers \(shape \[2, 3\], dtype float64\), got dtype complex128",
        ),
    ],
)
def test_a_rule_that_returns_a_wrong_gradient_is_named_with_its_index_and_shapes(returns, message):
    with pytest.raises(RuntimeError, match=message):
        _backward(returns, (2, 3))


def test_the_index_is_the_input_whose_gradient_is_wrong():
    with pytest.raises(RuntimeError, match=r"at index 1 - got \[4\] but expected shape compatible with \[3\]"):
        _backward(lambda g: (g, np.ones(4)), (3,), (3,))


@pytest.mark.parametrize("returns, got", [(lambda g: (g, g, g), 3), (lambda g: (g,), 1)])
def test_a_rule_that_returns_too_many_or_too_few_gradients_is_named(returns, got):
    with pytest.raises(
        RuntimeError,
        match=rf"Function WrongBackward returned an incorrect number of gradients "
        rf"\(expected 2, got {got}\)",
    ):
        _backward(returns, (3,), (3,))


def test_nothing_is_accumulated_when_a_rule_fails():
    x = ad.Tensor(np.ones(3), requires_grad=True)
    bad = engine.apply(_op(lambda g: np.ones(4)), x * 2)
    with pytest.raises(RuntimeError, match="invalid gradient"):
        (bad.sum() + (x * 3).sum()).backward()
    assert x.grad is None


@pytest.mark.parametrize(
    "returns, shape, expected",
    [
        (lambda g: np.broadcast_to(g, (4, 2, 3)), (2, 3), 4.0),  # leading axes are summed away
        (lambda g: np.broadcast_to(g.sum(axis=0), (5, 3)), (1, 3), 5.0),  # a length-1 axis is summed over
        (lambda g: g.reshape(3), (1, 3), 1.0),  # a missing leading length-1 axis is put back
        (lambda g: g.astype(np.float32), (2, 3), 1.0),  # another float dtype is cast
        (lambda g: np.float64(2.0) if g.ndim == 0 else g, (), 2.0),  # numpy scalars are arrays
    ],
)
def test_gradients_that_broadcast_to_the_input_are_summed_back(returns, shape, expected):
    (x,) = _backward(returns, shape)
    assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
    np.testing.assert_array_equal(x.grad.data, np.full(x.shape, expected))


def test_wrong_gradients_are_caught_under_create_graph_too():
    x = ad.Tensor(np.ones((2, 3)), requires_grad=True)
    y = engine.apply(_op(lambda g: g.T), x).sum()
    with pytest.raises(RuntimeError, match=r"got \[3, 2\] but expected shape compatible with \[2, 3\]"):
        ad.autograd.grad(y, x, create_graph=True)


MODULES = sorted(p.stem for p in (Path(ad.__file__).parent).glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("first", MODULES)
def test_every_module_can_be_imported_first(first):
    """No module-import circle depends on the order of the imports in ``autodiff/__init__``."""
    code = f"""
import importlib, importlib.util, pathlib, sys, types
path = pathlib.Path({str(Path(ad.__file__).parent)!r})
package = types.ModuleType("autodiff")
package.__path__ = [str(path)]
sys.modules["autodiff"] = package            # the package without its __init__: submodules in our order
importlib.import_module("autodiff.{first}")
for name in {MODULES!r}:
    importlib.import_module("autodiff." + name)
exec(compile((path / "__init__.py").read_text(), str(path / "__init__.py"), "exec"), package.__dict__)
x = package.Tensor([1.0, 2.0], requires_grad=True)
(x.exp() * x).sum().backward()
print(x.grad.tolist())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    expected = [float(np.exp(1.0) * 2), float(np.exp(2.0) * 3)]
    np.testing.assert_allclose(eval(out.stdout), expected)


def test_a_leafs_gradient_is_taken_without_a_copy_where_stealing_is_safe():
    """mul's rule makes a fresh array that nothing else holds: it becomes x.grad as it is (one array's worth
    of memory at the peak of backward, not two). Stealing reads CPython's reference counts, so where the
    import-time self-test finds them unreliable every gradient is copied instead (engine.STEALS)."""
    import tracemalloc

    if not engine.STEALS:
        pytest.skip("reference counts are not reliable here: gradients are copied")
    x = ad.Tensor(np.ones((1000, 500)), requires_grad=True)
    loss = (x * 2.0).sum()
    tracemalloc.start()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert x.grad.data.nbytes <= peak < 1.5 * x.grad.data.nbytes
    np.testing.assert_array_equal(x.grad.data, 2.0)
