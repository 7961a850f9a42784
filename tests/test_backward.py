"""backward(): the f(x1, x2) and PyTorch-tutorial examples, the flow patterns, accumulation, graph lifetime and errors."""

import gc
import math
import threading
import weakref

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor


def test_f_of_x1_x2_example():
    """f(x1, x2) = x1·x2 + sin(x2): ∂f/∂x1 = x2, ∂f/∂x2 = x1 + cos(x2)."""
    for a, b in [(2.0, 3.0), (-1.5, 0.25), (0.0, -4.0)]:
        x1, x2 = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
        f = x1 * x2 + ad.sin(x2)
        f.backward()
        assert f.item() == pytest.approx(a * b + math.sin(b))
        assert x1.grad.item() == pytest.approx(b)
        assert x2.grad.item() == pytest.approx(a + math.cos(b))


def test_pytorch_tutorial_example_mean_of_3_y_squared_gives_4_5():
    x = ad.ones((2, 2), requires_grad=True)
    y = x + 2
    z = 3 * y * y
    out = z.mean()
    assert out.item() == 27.0
    out.backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 2), 4.5))


def test_add_distributes_the_gradient():
    x, y = Tensor(3.0, requires_grad=True), Tensor(-2.0, requires_grad=True)
    z = x + y
    z.backward(Tensor(5.0))
    assert x.grad.item() == 5.0 and y.grad.item() == 5.0


def test_mul_swaps_the_inputs():
    x, y = Tensor(3.0, requires_grad=True), Tensor(-2.0, requires_grad=True)
    z = x * y
    z.backward(Tensor(5.0))
    assert x.grad.item() == 5.0 * -2.0 and y.grad.item() == 5.0 * 3.0


def test_max_routes_the_gradient_to_the_winner():
    x, y = Tensor(3.0, requires_grad=True), Tensor(-2.0, requires_grad=True)
    z = ad.maximum(x, y)
    z.backward(Tensor(5.0))
    assert x.grad.item() == 5.0 and y.grad.item() == 0.0
    v = Tensor([1.0, 4.0, 2.0], requires_grad=True)
    v.max().backward()
    np.testing.assert_array_equal(v.grad.data, [0.0, 1.0, 0.0])


def test_ties_share_the_gradient_evenly():
    v = Tensor([4.0, 1.0, 4.0, 4.0], requires_grad=True)
    v.max().backward()
    np.testing.assert_allclose(v.grad.data, [1 / 3, 0, 1 / 3, 1 / 3])
    m = Tensor([[1.0, 1.0], [0.0, 2.0]], requires_grad=True)
    m.min(axis=1).sum().backward()
    np.testing.assert_allclose(m.grad.data, [[0.5, 0.5], [1.0, 0.0]])
    a, b = Tensor(2.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    ad.maximum(a, b).backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5
    a.grad = b.grad = None
    ad.minimum(a, b).backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5


def test_gradient_conventions_at_kinks():
    x = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    ad.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])  # relu'(0) = 0
    x.grad = None
    abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0, 1.0])  # abs'(0) = 0
    c = Tensor([-1.0, -0.5, 0.0, 0.5, 1.0], requires_grad=True)
    ad.clip(c, -0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(c.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])  # closed interval


def test_diamond_sums_gradients_over_every_path():
    a = Tensor(3.0, requires_grad=True)
    b = a + a  # ∂b/∂a = 2
    c = b * b  # c = 4a², ∂c/∂a = 8a
    c.backward()
    assert a.grad.item() == 24.0


def test_reused_intermediate_node_gets_both_contributions():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * x  # used three times below
    y = (h * 3 + h.exp() + h).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.data, (3 + np.exp([1.0, 4.0]) + 1) * 2 * np.array([1.0, 2.0]))


def test_gradients_accumulate_across_backward_calls_until_cleared():
    w = Tensor([1.0, -2.0], requires_grad=True)
    for expected in (1, 2, 3):
        (w * 3).sum().backward()
        np.testing.assert_array_equal(w.grad.data, [3.0 * expected] * 2)
    w.grad = None
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0])


def test_stored_gradients_are_not_aliased():
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[0] = 100.0
    assert y.grad.data[0] == 1.0
    s = Tensor(np.ones((2, 3)), requires_grad=True)
    s.sum().backward()  # sum's gradient is a broadcast view; .grad must be a real array
    s.grad.data[0, 0] = 5.0
    assert s.grad.data.sum() == 10.0


def test_backward_with_gradient_argument_for_non_scalar_outputs():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(gradient=np.array([0.1, 1.0, 0.0001]))
    np.testing.assert_allclose(x.grad.data, [0.2, 4.0, 0.0006])
    with pytest.raises(
        RuntimeError, match=r"Mismatch in shape: gradient has a shape of \(2,\) and output 0 has a shape of \(3,\)"
    ):
        (x * 2).backward(gradient=np.ones(2))


def test_single_element_non_scalar_output_needs_no_gradient():
    x = Tensor([[2.0]], requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 4.0


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        Tensor(1.0).backward()


def test_second_backward_needs_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])
    with pytest.raises(
        RuntimeError,
        match=r"Trying to backward through the graph a second time \(SumBackward.*Specify retain_graph=True",
    ):
        y.backward()


def test_backward_frees_what_the_ops_saved_but_keeps_the_structure():
    x = Tensor([1.0, -2.0], requires_grad=True)
    y = ad.maximum(x, 0.0) * x
    loss = y.sum()
    loss.backward()
    mul = y.grad_fn
    assert mul.saved is None and mul.released
    assert mul.inputs[1] is x and mul.name == "mul"
    assert mul.inputs[0].grad_fn.share is None  # maximum's routing weights freed


def test_leaf_and_intermediate_grads_and_retain_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    z = x * 3
    z.retain_grad()
    h = z * z
    out = h.sum()
    out.backward()
    np.testing.assert_array_equal(z.grad.data, 2 * z.data)  # δ = ∂out/∂z, kept on request
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
        assert h.grad is None
    assert x.is_leaf and not z.is_leaf and z.grad_fn.name == "mul"


def test_retain_grad_on_the_output_itself():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0


def test_chain_of_100000_ops_has_no_recursion_error():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001**100_000)


def test_one_neuron_with_1000_inputs():
    """micrograd's recursive topological sort fails here."""
    rng = np.random.default_rng(0)
    ws = [Tensor(w, requires_grad=True) for w in rng.standard_normal(1000)]
    xs = rng.standard_normal(1000)
    act = sum((w * x for w, x in zip(ws, xs)), Tensor(0.0))
    act.tanh().backward()
    expected = (1 - np.tanh(act.item()) ** 2) * xs
    np.testing.assert_allclose([w.grad.item() for w in ws], expected)


def test_graph_has_no_reference_cycles_and_is_freed_by_refcount():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        h = (x * 2).exp()
        loss = (h * h + h.sum()).tanh().sum()
        loss.backward()
        refs = [weakref.ref(h), weakref.ref(h.grad_fn), weakref.ref(loss), weakref.ref(loss.grad_fn)]
        del h, loss
        assert all(r() is None for r in refs)  # freed at once, without the cyclic GC
        x2 = Tensor(np.ones(3), requires_grad=True)
        c = x2 * 1
        c += 1  # in-place history must not create cycles either
        c *= c
        ref_c, ref_node = weakref.ref(c), weakref.ref(c.grad_fn)
        del c
        assert ref_c() is None and ref_node() is None
    finally:
        gc.enable()


def test_a_recorded_op_adds_two_objects_for_the_cyclic_gc():
    """The result and its op: the inputs live in the op's slots, not in a tuple of their own (the GC's
    full collections scan every object a graph holds; on graphs of Values they were a third of the time).
    An op whose rule reads its output (tanh) adds a third: the version counter it shares with its output."""
    a, b = Tensor(2.0, requires_grad=True), Tensor(0.5, requires_grad=True)
    n = 100
    gc.collect()
    before = len(gc.get_objects())
    s = a
    for _ in range(n):
        s = (s * a + b).tanh()  # two-input ops and a one-input op
    gc.collect()  # untracks the tuples of saved arrays (they hold nothing the collector follows)
    assert len(gc.get_objects()) - before <= 2 * (3 * n) + n + 25  # 25: whatever else the interpreter made
    s.backward()
    np.testing.assert_allclose(b.grad.item(), _chain_grad_b(n), rtol=1e-12)


def test_recording_an_op_allocates_only_its_result_and_itself_for_the_cyclic_gc():
    """The collector runs on the count of tracked objects allocated and alive, before any collection
    untracks a tuple: the arrays a rule reads live in the op's slots (no tuple), and the version pair
    of a parameter changed in place is one shared tuple, so a recorded mul allocates two objects."""
    w, x = Tensor(1.5, requires_grad=True), Tensor(2.0, requires_grad=True)
    with ad.no_grad():
        w += 0.25  # version 1: every op below records the versions (0, 1)
    n = 200
    collecting = gc.isenabled()
    gc.disable()
    try:
        s = x * w
        start = len(gc.get_objects(generation=0))
        for _ in range(n):
            s = s * w
        added = len(gc.get_objects(generation=0)) - start
    finally:
        if collecting:
            gc.enable()
    assert added <= 2 * n + 5
    s.backward()
    np.testing.assert_allclose(x.grad.item(), 1.75 ** (n + 1), rtol=1e-12)
    np.testing.assert_allclose(w.grad.item(), (n + 1) * 2.0 * 1.75**n, rtol=1e-12)


@pytest.mark.parametrize("shape", [(), (2,)])
def test_a_retained_gradient_reads_as_one_tensor_and_accumulates(shape):
    """backward stores a retained gradient bare and ``.grad`` wraps it once: the same Tensor on every read, and a
    second backward adds into it (0-d: a numpy scalar stored, an array for the rest)."""
    x = Tensor(np.full(shape, 2.0), requires_grad=True)
    h = (x * 3.0).retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    g = h.grad
    assert isinstance(g, Tensor) and g is h.grad and g.shape == shape
    np.testing.assert_allclose(g.data, 12.0)  # ∂y/∂h = 2h = 12
    y.backward()
    np.testing.assert_allclose(h.grad.data, 24.0)
    np.testing.assert_allclose(x.grad.data, 72.0)  # 2 · (2h · 3)


def _chain_grad_b(n, a=2.0, b=0.5):
    """∂s/∂b of s_{k+1} = tanh(s_k·a + b), s_0 = a, by the chain rule written out."""
    s, ds = a, 0.0
    for _ in range(n):
        t = np.tanh(s * a + b)
        ds = (1 - t * t) * (ds * a + 1)
        s = t
    return ds


def test_create_graph_gives_differentiable_gradients():
    x = Tensor(1.5, requires_grad=True)
    y = x**3
    (g,) = ad.autograd.grad(y, x, create_graph=True)
    assert g.item() == pytest.approx(3 * 1.5**2)
    assert g.requires_grad
    (g2,) = ad.autograd.grad(g, x)
    assert g2.item() == pytest.approx(6 * 1.5)


def test_backward_create_graph_then_differentiate_the_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.sin() * x).sum()
    y.backward(create_graph=True)
    grad = x.grad  # cos(x)·x + sin(x), recorded
    x.grad = None
    grad.sum().backward()
    expected = -np.sin([1.0, 2.0]) * [1.0, 2.0] + 2 * np.cos([1.0, 2.0])
    np.testing.assert_allclose(x.grad.data, expected)


def test_hessian_vector_product_through_create_graph():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 3))
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    v = rng.standard_normal(3)
    f = x @ (Tensor(A) @ x)
    (g,) = ad.autograd.grad(f, x, create_graph=True)
    (hv,) = ad.autograd.grad(g @ Tensor(v), x)
    np.testing.assert_allclose(hv.data, (A + A.T) @ v)


def test_first_order_backward_creates_no_tensors_inside_rules(monkeypatch):
    """The same rule runs on numpy arrays in an ordinary backward: no Tensor objects are made."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    loss = ((x @ w).tanh() * 2).logsumexp()
    made = []
    original = Tensor._wrap
    counting = staticmethod(lambda a: made.append(a) or original(a))
    monkeypatch.setattr(Tensor, "_wrap", counting)
    monkeypatch.setattr(ad.engine, "_wrap", counting)  # the engine's own binding of the constructor
    loss.backward(retain_graph=True)  # (releasing would add placeholders for the intermediates)
    assert len(made) == 2  # only the two leaves' .grad


def test_autograd_grad_does_not_touch_dot_grad_and_reports_unused_inputs():
    x, y = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    z = x * x
    (gx,) = ad.autograd.grad(z, x, retain_graph=True)
    assert gx.item() == 4.0 and x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph. Set allow_unused=True"):
        ad.autograd.grad(z, [x, y], retain_graph=True)
    gx, gy = ad.autograd.grad(z, [x, y], allow_unused=True)
    assert gx.item() == 4.0 and gy is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        ad.autograd.grad(x * 2, Tensor(1.0))


def test_autograd_grad_of_an_intermediate_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    loss = (h * h).sum()
    gh, gx = ad.autograd.grad(loss, [h, x])
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    np.testing.assert_array_equal(gx.data, 18 * x.data)


def test_backward_through_several_roots():
    x = Tensor(2.0, requires_grad=True)
    a, b = x * 3, x * x
    ad.autograd.backward([a, b], [Tensor(1.0), Tensor(10.0)])
    assert x.grad.item() == 3 + 10 * 4


def test_float32_stays_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    y = ((x * 2.0 + 1) @ w / 3.0 - 0.5) ** 2
    y = ad.log_softmax(ad.sigmoid(y.tanh().exp()) + ad.relu(y), axis=1).mean() + 0.1 * y.var()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_mixed_precision_gradients_take_each_inputs_dtype():
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_integer_inputs_flow_but_cannot_require_grad():
    w = Tensor([0.5, 1.5], requires_grad=True)
    idx = Tensor([1, 2])
    y = (w * idx).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])
    assert (idx * 2).dtype == np.int64 and not (idx * 2).requires_grad


def test_stable_softmax_and_logsumexp_for_extreme_inputs():
    x = Tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    assert np.isfinite(ad.logsumexp(x).item()) and ad.logsumexp(x).item() == pytest.approx(1000.0)
    s = ad.softmax(x)
    np.testing.assert_allclose(s.data, [1.0, 0.0, 0.0])
    ls = ad.log_softmax(x)
    assert np.all(np.isfinite(ls.data[[0, 2]])) and ls.data[1] == pytest.approx(-2000.0)
    ls[0].backward()
    assert np.all(np.isfinite(x.grad.data))
    assert ad.sigmoid(Tensor([-1000.0, 1000.0])).data.tolist() == [0.0, 1.0]
    sp = ad.softplus(Tensor([-1000.0, -40.0, 0.0, 1000.0]))
    np.testing.assert_allclose(sp.data, [0.0, np.exp(-40.0), np.log(2.0), 1000.0], rtol=1e-15)


def test_grad_modes_are_thread_local():
    seen = {}

    def worker():
        seen["other"] = ad.is_grad_enabled()

    with ad.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not ad.is_grad_enabled()
    assert seen["other"] is True and ad.is_grad_enabled()


def test_backward_frees_intermediate_arrays_while_the_loss_is_still_held():
    import tracemalloc

    x = Tensor(np.ones((500, 500)), requires_grad=True)  # 2 MB
    tracemalloc.start()
    try:
        loss = ad.exp(ad.exp(x) * 2).sum()  # three 2 MB intermediates
        after_forward = tracemalloc.get_traced_memory()[0]
        loss.backward()
        after_backward = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_forward > 5.5e6
    assert after_backward < 2.5e6  # x.grad, and no intermediates
    (placeholder,) = loss.grad_fn.input_tensors
    assert repr(placeholder) == "FreedTensor(<values freed by backward>, shape=(500, 500), grad_fn=<ExpBackward>)"
    assert placeholder.shape == (500, 500) and placeholder.dtype == np.float64 and placeholder.size == 250_000
    with pytest.raises(
        RuntimeError,
        match=r"the values of this intermediate tensor were freed by backward\(\); call backward\(retain_graph=True\) to keep them",
    ):
        placeholder.data
    assert placeholder.grad_fn.name == "exp" and placeholder.grad_fn.input_tensors[0].grad_fn.name == "mul"


def test_backward_frees_an_intermediate_as_soon_as_the_ops_that_read_it_have_run():
    x = Tensor(np.linspace(0.0, 1.0, 10_000), requires_grad=True)  # 80 kB: big enough to be freed
    t = x * 1.0
    a = ad.exp(t)
    b = ad.exp(a)
    loss = b.sum()
    freed = [weakref.ref(a.data), weakref.ref(b.data)]
    del a, b
    seen = []
    t.register_hook(lambda g: seen.append([ref() is None for ref in freed]))  # runs before t's op does
    loss.backward()
    assert seen == [[True, True]]  # not only at the end of the walk: memory peaks at the weights' gradients
    np.testing.assert_allclose(x.grad.data, np.exp(np.exp(x.data)) * np.exp(x.data), rtol=1e-12)


def test_tensors_you_hold_keep_their_values_and_retained_grads_after_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    h.name = "h"
    loss = (h * h).sum()
    loss.backward()
    np.testing.assert_array_equal(h.data, [3.0, 6.0])
    (kept,) = {id(t): t for t in loss.grad_fn.input_tensors[0].grad_fn.input_tensors}.values()
    assert kept.name == "h" and kept.grad is h.grad


def test_leaves_take_fresh_gradients_without_a_copy_but_never_a_shared_one():
    x, y, w = (Tensor(np.ones(3), requires_grad=True) for _ in range(3))
    (x + y + w * 2.0).sum().backward()  # add hands one array to both of its inputs
    grads = [x.grad.data, y.grad.data, w.grad.data]
    for i, a in enumerate(grads):
        for b in grads[i + 1 :]:
            assert not np.shares_memory(a, b)
    seen = []
    g = np.ones(3)
    z = Tensor(np.ones(3), requires_grad=True)
    (z * 3.0).backward(g)  # the caller's gradient array: copied, not taken
    seen.append(z.grad.data)
    assert not np.shares_memory(seen[0], g)
    np.testing.assert_array_equal(g, np.ones(3))


def test_gradients_of_many_paths_are_summed_into_one_array_the_caller_never_sees_changed():
    """A leaf reached by many paths: the engine adds later gradients into the first one's array when
    only it holds that array, never into one the caller (or another gradient) holds."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3))
    x = Tensor(data.copy(), requires_grad=True)
    h = Tensor(rng.standard_normal((5, 3)))
    terms = [(x * x).sum(), (h @ x.T).sum(), (x * 3.0).sum(), x.T.sum(), (x + x).sum(), (x.exp() * x).sum()]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    g = np.ones(())
    total.backward(g)
    expected = 2 * data + np.ones((5, 4)).T @ h.data + 3 + 1 + 2 + np.exp(data) * (1 + data)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)
    np.testing.assert_array_equal(x.data, data)
    assert g == 1.0 and x.grad.data.flags.writeable
    shared = Tensor(np.ones(3), requires_grad=True)
    cotangent = np.ones(3)
    (shared + shared * 2.0).backward(cotangent)  # add hands the caller's array on: it is never written
    np.testing.assert_array_equal(cotangent, np.ones(3))
    np.testing.assert_array_equal(shared.grad.data, np.full(3, 3.0))


def test_a_tensor_times_itself_and_two_tensors_sharing_an_array():
    a = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad.data, 2 * a.data)
    for shape in [(0,), (1,), (2, 0), (), (3, 1)]:  # the backward of a sum is one number broadcast
        e = Tensor(np.full(shape, 1.5), requires_grad=True)
        (e * e).sum().backward()
        np.testing.assert_array_equal(e.grad.data, np.full(shape, 3.0))
    b = a.detach().requires_grad_()  # the same array, another tensor: each gets the other as gradient
    a.grad = None
    (a * b * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(a.grad.data, b.data * [1, 2, 3])
    np.testing.assert_array_equal(b.grad.data, a.data * [1, 2, 3])
    rng = np.random.default_rng(0)  # the forward of x * x is numpy's, bit for bit, in every dtype
    for values in (
        rng.standard_normal((7, 5)).astype(np.float32),
        rng.standard_normal(9),
        np.arange(-4, 5),
        [True, False],
    ):
        values = np.asarray(values)
        t = Tensor(values)
        squared = (t * t).data
        assert squared.dtype == (values * values).dtype and np.array_equal(squared, values * values)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gradient_of_a_square_is_the_general_power_rules_bit_for_bit(dtype):
    """x ** 2's rule takes g ⊙ (x + x) (two ufunc calls): the numbers of g ⊙ y ⊙ x^(y−1) exactly, as 2x is exact;
    other exponents, and a square whose exponent needs a gradient, take the general rule."""
    with np.errstate(all="ignore"):
        _check_square_rule(dtype)


def _check_square_rule(dtype):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200), [0.0, -0.0, np.inf]])
    x = Tensor(values.astype(dtype), requires_grad=True)
    g = (rng.standard_normal(values.shape) * 10.0 ** rng.integers(-8, 8, values.shape)).astype(dtype)
    (x**2).backward(Tensor(g))
    two = np.asarray(2, dtype=dtype)
    general = g * two * x.data ** (two - 1)
    np.testing.assert_array_equal(x.grad.data, general)
    assert x.grad.dtype == dtype
    for exponent in (3.0, 0.5):
        c = Tensor(np.abs(values[:5]).astype(dtype) + 1, requires_grad=True)
        (c**exponent).sum().backward()
        np.testing.assert_allclose(c.grad.data, exponent * c.data ** (exponent - 1), rtol=1e-6)
    e = Tensor(np.asarray(2.0, dtype=dtype), requires_grad=True)  # the exponent needs its gradient too
    (x.detach() ** e).sum().backward()
    assert e.grad is not None


def test_weight_gradients_of_transposed_products_keep_the_weights_memory_order():
    """h @ W.T (PyTorch's layout for linear layers): W.grad comes out row-ordered like W, as in PyTorch
    (a column-ordered one makes W -= lr * W.grad several times slower)."""
    rng = np.random.default_rng(1)
    W = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    A = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    h = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    g = rng.standard_normal((4, 5))
    (h @ W.T).backward(g)
    assert W.grad.data.flags.c_contiguous and h.grad.data.flags.c_contiguous
    np.testing.assert_allclose(W.grad.data, g.T @ h.data, rtol=1e-12)
    np.testing.assert_allclose(h.grad.data, g @ W.data, rtol=1e-12)
    (A.T @ W.T).backward(g)
    assert A.grad.data.flags.c_contiguous
    np.testing.assert_allclose(A.grad.data, (g @ W.data).T, rtol=1e-12)


def test_backward_leaves_the_cyclic_collector_as_it_found_it():
    import gc

    x = Tensor(np.ones(3), requires_grad=True)
    assert gc.isenabled()
    (x * 2.0).sum().backward()
    assert gc.isenabled()
    gc.disable()
    try:
        (x * 2.0).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
    y = (x * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    assert gc.isenabled()


def test_ops_run_latest_first_so_every_gradient_is_complete_before_its_rule_runs():
    x = Tensor(2.0, requires_grad=True)
    a = x * 3.0  # a feeds three later ops, created at different times
    b = a * a
    c = b + a
    d = ad.exp(a * 0.1) * c
    d.backward()
    xv = 2.0
    av = 3 * xv
    expected = (0.1 * np.exp(0.1 * av) * (av**2 + av) + np.exp(0.1 * av) * (2 * av + 1)) * 3
    np.testing.assert_allclose(x.grad.data, expected)


def test_numbers_become_shared_read_only_constants_of_the_tensors_dtype():
    from autodiff.tensor import Constant

    x = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y, z = x * 0.5, x * 0.5
    c = y.grad_fn.input_tensors[1]
    assert type(c) is Constant and c is z.grad_fn.input_tensors[1] and c.dtype == np.float32
    assert not c.data.flags.writeable
    with pytest.raises(RuntimeError, match="cannot require grad"):
        c.requires_grad = True
    assert np.signbit((Tensor([1.0]) * -0.0).data[0])  # -0.0 is not mistaken for a cached 0.0
    assert (Tensor([1.0]) * 0.0).data[0] == 0.0 and not np.signbit((Tensor([1.0]) * 0.0).data[0])
    assert (Tensor(np.array([3], dtype=np.int64)) * 1.5).dtype == np.float64  # 1.5 is not cast to int
    assert (Tensor(np.array([3], dtype=np.int64)) * 2).dtype == np.int64
