"""Soak and concurrency: a long training loop keeps memory flat; grad modes stay per thread."""

import gc
import importlib.util
import math
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor
from nn import functional as F

STEPS, WARMUP = 2000, 200
GROWTH_LIMIT = 1_000_000  # bytes: traced memory may move by less than this between step 200 and step 2000


def test_digits_training_soak_keeps_memory_flat_and_the_loss_finite():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location(
        "digits_example", Path(__file__).resolve().parent.parent / "examples" / "digits.py"
    )
    digits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(digits)  # the digits example's data and weight decay; its main() is not run
    WEIGHT_DECAY, load_digits_split = digits.WEIGHT_DECAY, digits.load_digits_split

    X_train, _, y_train, _ = load_digits_split()
    X_train = X_train.astype(np.float32)
    nn.manual_seed(0)
    model = nn.MLP(64, [128, 10], dtype=np.float32)
    optimizer = nn.optim.Adam(
        [
            {"params": nn.weights(model), "weight_decay": WEIGHT_DECAY},
            {"params": nn.biases(model), "weight_decay": 0.0},
        ],
        lr=3e-3,
    )
    rng = np.random.default_rng(0)
    losses, live, start = [], {}, time.perf_counter()
    gc.collect()
    gc.disable()  # graphs have no reference cycles: reference counting alone must keep memory flat
    try:
        step = 0
        while step < STEPS:
            for xb, yb in nn.data.minibatches(X_train, y_train, 32, rng=rng):
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                step += 1
                if step in (WARMUP, STEPS):  # each step's graph is gone: no Tensor or Op piles up
                    live[step] = _count_graph_objects()
                if step == WARMUP:  # what is allocated from here on and still alive is growth
                    tracemalloc.start()
                if step == STEPS:
                    break
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
    seconds = time.perf_counter() - start
    print(
        f"soak: {STEPS} steps in {seconds:.1f} s, {grown} bytes grown after step {WARMUP}, "
        f"loss {np.mean(losses[:50]):.3f} -> {np.mean(losses[-50:]):.4f}"
    )
    assert grown < GROWTH_LIMIT
    assert live[STEPS] == live[WARMUP]
    assert all(math.isfinite(v) for v in losses)
    assert np.mean(losses[-100:]) < 0.1 * np.mean(losses[:20])  # it learned
    assert all(p.dtype == np.float32 and p.is_leaf for p in model.parameters())


def _count_graph_objects():
    return sum(issubclass(type(o), (Tensor, ad.ops.Op)) for o in gc.get_objects())  # type(): no __class__ lookups


def test_a_retained_graph_is_the_memory_that_grows():
    """The soak's measurement does see growth: the same loop keeping every loss (and graph) alive grows."""
    nn.manual_seed(0)
    model = nn.MLP(8, [16, 2])
    X, y = np.random.default_rng(0).standard_normal((32, 8)), np.arange(32) % 2
    tracemalloc.start()
    try:
        kept = [F.cross_entropy(model(X), y) for _ in range(50)]  # graphs never backpropagated
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert grown > 50 * X.nbytes and len(kept) == 50
    before = _count_graph_objects()
    del kept
    assert _count_graph_objects() < before - 50 * 5


# -- grad modes and threads ----------------------------------------------------------------------------


def _in_threads(*targets):
    errors = []

    def run(target):
        try:
            target()
        except BaseException as error:  # noqa: BLE001  (reported in the main thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_does_not_affect_another_while_both_run():
    x = Tensor([1.0, 2.0], requires_grad=True)
    inside, recorded = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    seen = {}

    def quiet():
        with ad.no_grad():
            inside.wait()  # the other thread computes while this one is in no_grad
            seen["quiet"] = (x * 2).requires_grad
            recorded.wait()
        seen["quiet after"] = (x * 2).requires_grad

    def loud():
        inside.wait()
        y = (x * 3).sum()
        seen["loud"] = y.requires_grad
        recorded.wait()
        with ad.enable_grad():
            seen["loud nested"] = (x * 3).requires_grad

    _in_threads(quiet, loud)
    assert seen == {"quiet": False, "quiet after": True, "loud": True, "loud nested": True}
    assert ad.is_grad_enabled()


def test_set_grad_enabled_and_a_decorated_function_in_concurrent_threads():
    x = Tensor([1.0, 2.0], requires_grad=True)
    start = threading.Barrier(3, timeout=10)
    results = {}

    @ad.no_grad()
    def predict():
        return (x * 2).requires_grad

    def switched_off():
        ad.set_grad_enabled(False)  # for this thread only, for the rest of its life
        start.wait()
        results["off"] = [(x * 2).requires_grad for _ in range(200)]

    def predicting():
        start.wait()
        results["predict"] = [predict() for _ in range(200)]

    def training():
        start.wait()
        out = []
        for _ in range(200):
            out.append((x * 2).requires_grad)
        results["train"] = out

    _in_threads(switched_off, predicting, training)
    assert results == {"off": [False] * 200, "predict": [False] * 200, "train": [True] * 200}
    assert ad.is_grad_enabled()


def test_one_no_grad_object_shared_by_two_threads_restores_each_threads_mode():
    shared = ad.no_grad()  # e.g. a module-level `inference = ad.no_grad()`
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    after = {}

    def thread_a():  # in no_grad already when it enters `shared`
        with ad.no_grad():
            with shared:
                a_in.set()
                assert b_in.wait(10)
            a_out.set()
            after["a"] = ad.is_grad_enabled()

    def thread_b():  # grad enabled when it enters `shared`, after thread a did
        assert a_in.wait(10)
        with shared:
            b_in.set()
            assert a_out.wait(10)
        after["b"] = ad.is_grad_enabled()

    _in_threads(thread_a, thread_b)
    assert after == {"a": False, "b": True}


def test_two_threads_training_at_once_get_the_sequential_results():
    def train(seed):
        model = nn.MLP(3, [8, 2], rng=seed)
        optimizer = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(seed)
        X, y = rng.standard_normal((64, 3)), rng.integers(0, 2, 64)
        for _ in range(60):
            optimizer.zero_grad()
            F.cross_entropy(model(X), y).backward()
            optimizer.step()
        return model.state_dict()

    expected = {seed: train(seed) for seed in (1, 2)}
    got = {}
    barrier = threading.Barrier(2, timeout=10)

    def worker(seed):
        def run():
            barrier.wait()
            got[seed] = train(seed)

        return run

    _in_threads(worker(1), worker(2))
    for seed in (1, 2):
        for name, array in expected[seed].items():
            np.testing.assert_array_equal(got[seed][name], array)
