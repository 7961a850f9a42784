"""In-place attacks: every public way to mutate a tensor, on every kind of tensor, in and out of
``no_grad``, before and after a recorded op saved it, as one matrix.

Each case runs a small program: make a target (a leaf, a constant, an intermediate, a view of
one made by slicing, ``reshape``, ``.T``, ``transpose``, ``detach`` or under ``no_grad``),
optionally let a recorded op save it (``target * u``), mutate it, and use the target and its
base in a loss. The outcome must be one of:

* an error naming the problem, where one is due: in-place on a leaf that requires grad outside
  ``no_grad`` (PyTorch's rule), or backward through an op whose saved value was overwritten
  (naming the op); a failed in-place op leaves data and version as they were;
* the gradient of what was computed: checked against central finite differences of the very
  same program along random directions. An unrecorded change (under ``no_grad``, or of a tensor
  that needs no grad) is a constant as far as gradients go, as in PyTorch: the reference
  program adds the same change as a constant instead;
* and the values numpy gives for the same statements (a recorded in-place op gives the target
  a new array, so it does not write through to the base: a documented difference from PyTorch).
"""

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor

RNG = np.random.default_rng(0)
X0 = RNG.uniform(0.5, 1.5, (2, 3))
C0 = RNG.uniform(0.5, 1.5, (2, 3))
W0 = RNG.uniform(0.5, 1.5, 36)
U0 = np.array(0.7)
K = RNG.standard_normal((2, 3))
DIRECTIONS = [tuple(RNG.standard_normal(a.shape) for a in (X0, W0, U0)) for _ in range(2)]

LEAF_ERROR = r"a leaf Tensor that requires grad is being used in an in-place operation"
MODIFIED_ERROR = r"modified by an inplace operation: input 0 of MulBackward .* is at version \d+; expected version \d+"


def _same(h):
    return h, h


def _detach(t):
    return t.detach() if isinstance(t, Tensor) else t


def _view_under_no_grad(t):
    with ad.no_grad():
        return t[:, ::2]


# name: (make (base, target) from x and c, Tensors or numpy arrays alike; whether the target requires grad)
TARGETS = {
    "leaf": (lambda x, c: (x, x), True),
    "constant": (lambda x, c: (c, c), False),
    "intermediate": (lambda x, c: _same(x * 1.5), True),
    "slice_of_leaf": (lambda x, c: (x, x[1:]), True),
    "row_of_constant": (lambda x, c: (c, c[0]), False),
    "slice_of_intermediate": (lambda x, c: (lambda h: (h, h[:, 1:]))(x * 1.5), True),
    "reshape_of_leaf": (lambda x, c: (x, x.reshape(3, 2)), True),
    "reshape_of_intermediate": (lambda x, c: (lambda h: (h, h.reshape(6)))(x * 1.5), True),
    "T_of_constant": (lambda x, c: (c, c.T), False),
    "T_of_intermediate": (lambda x, c: (lambda h: (h, h.T))(x * 1.5), True),
    "transpose_of_leaf": (lambda x, c: (x, x.transpose(1, 0)), True),
    "view_made_under_no_grad": (lambda x, c: (x, _view_under_no_grad(x)), False),
    "detached_leaf": (lambda x, c: (x, _detach(x)), False),
}
DETACHED = ("detached_leaf", "view_made_under_no_grad")  # share x's memory, but not its graph


def _mask(shape):
    return np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0


# The statements, written once for Tensors and numpy arrays.
def _iadd(t, v):
    t += v
    return t  # noqa: E702


def _isub(t, v):
    t -= v
    return t  # noqa: E702


def _imul(t, v):
    t *= v
    return t  # noqa: E702


def _idiv(t, v):
    t /= v
    return t  # noqa: E702


def _ipow(t, v):
    t **= v
    return t  # noqa: E702


def _set_int(t, v):
    t[0] = v
    return t  # noqa: E702


def _set_mask(t, v):
    t[_mask(t.shape)] = v
    return t  # noqa: E702


def _set_ellipsis(t, v):
    t[...] = v
    return t  # noqa: E702


def _set_slice(t, v):
    t[..., 1:] = v
    return t  # noqa: E702


def _set_iadd(t, v):
    t[0] += v
    return t  # noqa: E702  (t[0] read, changed, written back)


def _imatmul(t, v):
    if isinstance(t, Tensor):
        t @= v  # Tensor has no __imatmul__: Python rebinds t = t @ v
        return t
    return t @ v  # numpy's @= would write in place


def _zero(t, v):
    if isinstance(t, Tensor):
        assert t.zero_() is t
    else:
        t[...] = 0
    return t


# name: (the statement, the shape of its operand given the target's shape)
MUTATIONS = {
    "+=": (_iadd, lambda s: s[-1:]),
    "-=": (_isub, lambda s: s[-1:]),
    "*=": (_imul, lambda s: s[-1:]),
    "/=": (_idiv, lambda s: s[-1:]),
    "**=": (_ipow, lambda s: s[-1:]),
    "@=": (_imatmul, lambda s: (s[-1], s[-1])),
    "t[0]=": (_set_int, lambda s: s[1:]),
    "t[mask]=": (_set_mask, lambda s: (int(_mask(s).sum()),)),
    "t[...]=": (_set_ellipsis, lambda s: s),
    "t[...,1:]=": (_set_slice, lambda s: s[:-1] + (s[-1] - 1,)),
    "t[0]+=": (_set_iadd, lambda s: s[1:]),
    "zero_": (_zero, lambda s: ()),
}


def _operand(w, target_shape, mutation, operand):
    """A number, or values taken from w (a Tensor that requires grad, or its numpy array): positive,
    so divisors and exponents stay away from trouble."""
    shape = MUTATIONS[mutation][1](tuple(target_shape))
    if operand == "number":
        return np.full(shape, 1.25) if mutation == "@=" else (1.5 if mutation == "**=" else 1.25)
    v = w[: int(np.prod(shape))].reshape(shape)
    return v * 0.5 + 1.0 if mutation == "**=" else v


def _expected(target_kind, mutation, no_grad, operand):
    if mutation == "@=":  # t = t @ v changes nothing in place; under no_grad the result is a constant
        return "unrecorded" if no_grad else "recorded"
    if target_kind == "leaf" and not no_grad:
        return "leaf error"
    if not no_grad and (TARGETS[target_kind][1] or (operand == "tensor" and mutation != "zero_")):
        return "recorded"
    return "unrecorded"


def run(target_kind, mutation, no_grad, timing, operand, xd, wd, ud, reference=None):
    """The program. Returns (loss, inputs, base or None when the target is the base, target, facts).

    ``facts`` (what the mutation did at this point) given back as ``reference`` makes the
    finite-difference reference: what gradients do not see is replaced by constants from the
    unperturbed run (a detached target's values; an unrecorded change, added under no_grad).
    """
    x, w, u = (Tensor(a, requires_grad=True) for a in (xd, wd, ud))
    base, target = TARGETS[target_kind][0](x, Tensor(C0))
    aliased = base is target
    if reference is not None and target_kind in DETACHED:
        target = Tensor(reference["target_before"])
    saved = target * u if timing == "after" else None  # mul saves the target to give u its gradient
    v = _operand(w, target.shape, mutation, operand)
    facts = {"target_before": target.data.copy(), "base_before": base.data.copy()}
    if reference is not None and _expected(target_kind, mutation, no_grad, operand) == "unrecorded":
        with ad.no_grad():
            if mutation == "@=":
                target = Tensor(reference["target_after"])
            else:
                target += reference["target_after"] - reference["target_before"]
            if target_kind in DETACHED:
                base += reference["base_after"] - reference["base_before"]
    elif no_grad:
        with ad.no_grad():
            target = MUTATIONS[mutation][0](target, v)
    else:
        target = MUTATIONS[mutation][0](target, v)
    facts.update(target_after=target.data.copy(), base_after=base.data.copy())
    loss = (x * K).sum() + (target * target).sum() * 0.5
    if not aliased:
        loss = loss + (base * K * K).sum()
    if saved is not None:
        loss = loss + saved.sum()
    return loss, (x, w, u), (None if aliased else base), target, facts


def _numpy_reference(target_kind, mutation, operand):
    """(base before, base after, target after) when numpy runs the statement on the same views."""
    base, target = TARGETS[target_kind][0](X0.copy(), C0.copy())
    base_before = base.copy()
    target = MUTATIONS[mutation][0](target, _operand(W0, target.shape, mutation, operand))
    return base_before, base, target.copy()


CASES = [
    (t, m, ng, timing, op)
    for t in TARGETS
    for m in MUTATIONS
    for ng in (False, True)
    for timing in ("before", "after")
    for op in ("number", "tensor")
    if not (m == "zero_" and op == "tensor")
]


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("target_kind", TARGETS)
def test_inplace_matrix(target_kind, mutation):
    """One test per (target, statement); each runs its cases in and out of no_grad, before and after
    a saving op, with a number and a tensor that requires grad as operand, and lists every failure."""
    failures = []
    for case in CASES:
        if case[:2] == (target_kind, mutation):
            try:
                check_case(*case)
            except Exception as error:  # noqa: BLE001  (reported below, with the case)
                failures.append(
                    f"{'no_grad' if case[2] else 'grad'}, {case[3]}, {case[4]} operand: {type(error).__name__}: {error}"
                )
    assert not failures, "\n".join(failures)


def check_case(target_kind, mutation, no_grad, timing, operand):
    expected = _expected(target_kind, mutation, no_grad, operand)
    if expected == "leaf error":
        x, w = Tensor(X0, requires_grad=True), Tensor(W0, requires_grad=True)
        saved = x * 2.0 if timing == "after" else None
        with pytest.raises(RuntimeError, match=LEAF_ERROR):
            MUTATIONS[mutation][0](x, _operand(w, x.shape, mutation, operand))
        assert x._version == 0 and x.is_leaf and x.grad_fn is None  # nothing half-done
        np.testing.assert_array_equal(x.data, X0)
        if saved is not None:
            saved.sum().backward()  # the graph that saved x still works
            np.testing.assert_array_equal(x.grad.data, np.full(x.shape, 2.0))
        return

    loss, inputs, base, target, facts = run(target_kind, mutation, no_grad, timing, operand, X0, W0, U0)
    base_before, base_after, target_after = _numpy_reference(target_kind, mutation, operand)
    np.testing.assert_allclose(target.data, target_after, rtol=1e-12)  # the statement's values
    if base is not None:
        if expected == "recorded" or mutation == "@=":  # the target got a new array: the base keeps its values
            np.testing.assert_array_equal(base.data, base_before)
        else:  # written in place, through views, as numpy does
            np.testing.assert_allclose(base.data, base_after, rtol=1e-12)

    if expected == "unrecorded" and timing == "after" and mutation != "@=":
        with pytest.raises(RuntimeError, match=MODIFIED_ERROR):
            loss.backward()
        return
    loss.backward()
    grads = [t.grad.data if t.grad is not None else np.zeros(t.shape) for t in inputs]
    eps = 1e-6
    for direction in DIRECTIONS:
        plus = [a + eps * d for a, d in zip((X0, W0, U0), direction)]
        minus = [a - eps * d for a, d in zip((X0, W0, U0), direction)]
        f_plus = run(target_kind, mutation, no_grad, timing, operand, *plus, reference=facts)[0].item()
        f_minus = run(target_kind, mutation, no_grad, timing, operand, *minus, reference=facts)[0].item()
        numerical = (f_plus - f_minus) / (2 * eps)
        analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
        assert analytic == pytest.approx(numerical, rel=1e-5, abs=1e-6)


def test_the_matrix_has_every_outcome():
    """The matrix is not vacuous: each outcome (and each mutation) is reached."""
    outcomes = {}
    for t, m, ng, timing, op in CASES:
        kind = _expected(t, m, ng, op)
        if kind == "unrecorded" and timing == "after":
            kind = "modified error"
        outcomes.setdefault(kind, set()).add(m)
    assert set(outcomes) == {"leaf error", "recorded", "unrecorded", "modified error"}
    assert outcomes["recorded"] == set(MUTATIONS)
    assert len(CASES) >= 500


def test_imatmul_rebinds_as_in_python():
    t = Tensor(np.eye(2), requires_grad=True)
    s = t
    s @= Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert s is not t and s.grad_fn.name == "matmul" and t.data.tolist() == [[1.0, 0.0], [0.0, 1.0]]


# -- views of leaves that require grad, and the other PyTorch rules -------------------------------


def test_recorded_inplace_on_a_view_does_not_write_through_to_its_base():
    """PyTorch writes through (and forbids it on a view of a leaf); autodiff records it on the view."""
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = x[1:]
    v *= 10.0
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.data, [20.0, 30.0])
    (v.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 11.0, 11.0])


def test_inplace_after_an_op_that_saved_the_value_keeps_the_old_value_for_backward():
    """PyTorch raises here (the saved tensor was modified); autodiff keeps the saved value."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    sq = h * h  # saves h
    h += 1.0  # recorded
    (sq.sum() + h.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)


def test_numpy_views_of_the_data_see_unrecorded_changes_only():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    view = h.data
    with ad.no_grad():
        h += 1.0
    assert view.tolist() == [2.0, 3.0]
    h += 1.0  # recorded: h gets a new array, the numpy view keeps the old values
    assert view.tolist() == [2.0, 3.0] and h.data.tolist() == [3.0, 4.0]


def test_writing_into_a_broadcast_view_is_refused_and_changes_nothing():
    x = Tensor([1.0, 2.0])
    b = ad.broadcast_to(x, (3, 2))
    with pytest.raises(ValueError, match="read-only"):
        b += 1.0
    assert x.data.tolist() == [1.0, 2.0] and x._version == 0 and b._version == 0


def test_failed_inplace_ops_leave_data_and_version_unchanged():
    h = Tensor([1.0, 2.0], requires_grad=True) * 1.0
    i = Tensor([1, 2])
    cases = [
        (
            h,
            lambda: h.__iadd__(Tensor(np.ones((3, 2)), requires_grad=True)),
            RuntimeError,
            r"output with shape \(2,\) doesn't match the broadcast shape \(3, 2\)",
        ),
        (h, lambda: h.__setitem__(5, 1.0), IndexError, "index 5 is out of bounds"),
        (h, lambda: h.__setitem__(np.array([True]), 1.0), IndexError, "boolean index did not match"),
        (i, lambda: i.__iadd__(1.5), Exception, "Cannot cast ufunc 'add' output"),
        (i, lambda: i.__setitem__(0, "a"), ValueError, "invalid literal for int"),
        (
            i,
            lambda: i.__iadd__(np.ones(3, dtype=int)),
            ValueError,
            r"could not be broadcast together with shapes \(2,\) \(3,\)",
        ),
    ]
    for tensor, action, error, message in cases:
        data, version, grad_fn = tensor.data.copy(), tensor._version, tensor.grad_fn
        with pytest.raises(error, match=message):
            action()
        np.testing.assert_array_equal(tensor.data, data)
        assert tensor._version == version and tensor.grad_fn is grad_fn


def _assign_with_repeats(c, value, augmented):
    """c[[0, 0]] = value (or += value); None, or the error if the engine refuses repeated indices."""
    try:
        if augmented:
            c[np.array([0, 0])] += value
        else:
            c[np.array([0, 0])] = value
    except (RuntimeError, ValueError, IndexError) as error:
        assert "setitem" in str(error) and "repeat" in str(error)
        return error
    return None


def test_setitem_with_repeated_indices_gives_the_gradient_of_the_value_that_was_written():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = Tensor([10.0, 20.0], requires_grad=True)
    c = x * 1.0
    if _assign_with_repeats(c, v, augmented=False):  # refusing, naming the op, is fine too
        return
    assert c.data.tolist() == [20.0, 2.0, 3.0]  # numpy: the last write wins
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(v.grad.data, [0.0, 1.0])  # v[0] was overwritten: it changes nothing


def test_augmented_item_assignment_with_repeated_indices():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = x * 1.0
    if _assign_with_repeats(c, Tensor([10.0, 20.0]), augmented=True):
        return
    assert c.data.tolist() == [21.0, 2.0, 3.0]
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("kind", ["numpy_index", "tensor_index", "mask", "where_condition"])
def test_changing_an_index_or_condition_after_the_forward_does_not_change_the_gradient(kind):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    if kind == "numpy_index":
        index = np.array([0, 1])
        y = x[index]
    elif kind == "tensor_index":
        index = Tensor(np.array([0, 1]))
        y = x[index]
    elif kind == "mask":
        index = np.array([True, True, False])
        y = x[index]
    else:
        index = np.array([True, True, False])
        y = ad.where(index, x, 0.0)
    index[0] = 2 if kind.endswith("index") else False  # the caller reuses its array: [2, 1] or [F, T, F]
    try:
        y.sum().backward()
    except RuntimeError as error:  # refusing (like PyTorch's version check) is fine too
        assert "modified by an inplace operation" in str(error)
        return
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0])


# -- optimizers update parameters in place between cycles ------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: nn.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
        lambda p: nn.optim.Adam(p, lr=1e-2, weight_decay=1e-3),
        lambda p: nn.optim.AdamW(p, lr=1e-2),
    ],
    ids=["SGD", "Adam", "AdamW"],
)
def test_optimizer_steps_between_cycles_keep_gradients_right(make):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    nn.manual_seed(0)
    model = nn.MLP(3, [4, 2])
    optimizer = make(model.parameters())
    arrays = [p.data for p in model.parameters()]
    for step in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        # the gradient agrees with a fresh copy of the model holding the same values
        fresh = nn.MLP(3, [4, 2])
        fresh.load_state_dict(model.state_dict())
        nn.functional.cross_entropy(fresh(X), y).backward()
        for p, q in zip(model.parameters(), fresh.parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-12)
        optimizer.step()
        assert all(p.is_leaf and p.data is a for p, a in zip(model.parameters(), arrays))
    stale = nn.functional.cross_entropy(model(X), y)
    optimizer.step()  # between this forward and its backward
    with pytest.raises(RuntimeError, match="has been modified by an inplace operation"):
        stale.backward()


def test_inplace_matrix_matches_pytorch_where_both_allow_it():
    """PyTorch as an oracle for the cases without views and without a saving op, where both run."""
    torch = pytest.importorskip("torch")
    checked = 0
    for t, m, ng, timing, op in CASES:
        if t not in ("intermediate", "constant") or timing == "after" or (ng and op == "tensor" and t == "constant"):
            continue
        loss, (x, w, u), *_ = run(t, m, ng, timing, op, X0, W0, U0)
        loss.backward()
        xt, wt = (torch.tensor(a, requires_grad=True) for a in (X0, W0))
        target = xt * 1.5 if t == "intermediate" else torch.tensor(C0)
        v = _operand(wt, target.shape, m, op)
        v = torch.tensor(v) if isinstance(v, np.ndarray) else v
        statement = {
            "t[mask]=": lambda tt, vv: tt.__setitem__(torch.tensor(_mask(tuple(tt.shape))), vv) or tt,
            "zero_": lambda tt, vv: tt.zero_(),
        }.get(m, MUTATIONS[m][0])
        if ng:
            with torch.no_grad():
                target = statement(target, v)
        else:
            target = statement(target, v)
        ((xt * torch.tensor(K)).sum() + (target * target).sum() * 0.5).backward()
        for ours, theirs in ((x, xt), (w, wt)):
            expected = np.zeros(ours.shape) if theirs.grad is None else theirs.grad.numpy()
            got = np.zeros(ours.shape) if ours.grad is None else ours.grad.data
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{t} {m} {ng} {op}")
        checked += 1
    assert checked > 40
