"""nn.data: TensorDataset and DataLoader as in torch.utils.data, and the minibatches helper."""

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Tensor
from nn.data import DataLoader, TensorDataset, default_collate


def test_tensor_dataset_indexes_every_tensor_together():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    ds = TensorDataset(X, y)
    assert len(ds) == 10 and repr(ds) == "TensorDataset((10, 2), (10,))"
    x0, y0 = ds[3]
    assert isinstance(x0, Tensor) and x0.tolist() == [6.0, 7.0] and y0.item() == 3
    xb, yb = ds[np.array([1, 4])]
    assert xb.shape == (2, 2) and yb.tolist() == [1, 4]
    assert ds.tensors[0].data is X  # arrays are wrapped, not copied
    with pytest.raises(
        ValueError,
        match=r"TensorDataset: every tensor needs the same number of samples along its first axis, got shapes \(10, 2\), \(9,\)",
    ):
        TensorDataset(X, y[:9])
    with pytest.raises(ValueError, match=r"got shapes \(\)"):
        TensorDataset(Tensor(1.0))
    with pytest.raises(ValueError, match=r"TensorDataset needs at least one tensor"):
        TensorDataset()


def test_loader_visits_every_sample_once_per_epoch_in_batches():
    X, y = ad.arange(23.0).reshape(23, 1), ad.arange(23)
    loader = DataLoader(TensorDataset(X, y), batch_size=5)
    batches = list(loader)
    assert len(loader) == len(batches) == 5
    assert all(type(b) is tuple and len(b) == 2 and all(isinstance(t, Tensor) for t in b) for b in batches)
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    assert np.concatenate([b[1].data for b in batches]).tolist() == list(range(23))  # in order without shuffle
    dropped = DataLoader(TensorDataset(X, y), 5, drop_last=True)
    assert len(dropped) == 4 and [len(b[1]) for b in dropped] == [5, 5, 5, 5]
    assert "batch_size=5, shuffle=False, drop_last=True" in repr(dropped)


def test_shuffle_is_a_new_order_every_epoch_and_repeats_with_the_seed():
    ds = TensorDataset(np.arange(50))
    loader = DataLoader(ds, batch_size=7, shuffle=True, rng=3)
    epochs = [np.concatenate([b[0].data for b in loader]) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1])  # one generator for all epochs
    again = DataLoader(ds, batch_size=7, shuffle=True, rng=3)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in again]), epochs[0])
    shared = DataLoader(ds, batch_size=50, shuffle=True)  # no rng: the shared generator, as it is at iter()
    nn.manual_seed(1)
    first = next(iter(shared))[0].data
    nn.manual_seed(1)
    np.testing.assert_array_equal(next(iter(shared))[0].data, first)


def test_any_dataset_with_len_and_getitem_is_collated():
    samples = [(np.array([float(i), -float(i)]), i) for i in range(5)]
    xb, yb = next(iter(DataLoader(samples, batch_size=3)))
    assert xb.shape == (3, 2) and xb.dtype == np.float64 and yb.tolist() == [0, 1, 2]
    dicts = [{"x": Tensor([float(i)]), "y": i} for i in range(4)]
    batch = next(iter(DataLoader(dicts, batch_size=4)))
    assert batch["x"].shape == (4, 1) and batch["y"].tolist() == [0, 1, 2, 3]
    lengths = list(DataLoader(list(range(5)), batch_size=2, collate_fn=len))
    assert lengths == [2, 2, 1]
    with pytest.raises(ValueError, match=r"default_collate: samples have different numbers of fields"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(ValueError, match=r"default_collate: cannot stack the samples of a batch"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_samples_that_require_grad_are_stacked_in_the_graph():
    w = Tensor([1.0, 2.0], requires_grad=True)
    samples = [w * 1.0, w * 2.0, w * 3.0]
    batch = default_collate(samples)
    batch.sum().backward()
    np.testing.assert_allclose(w.grad.data, [6.0, 6.0])


def test_loader_refuses_what_is_not_a_dataset_or_a_batch_size():
    with pytest.raises(TypeError, match=r"DataLoader needs a dataset with len\(\) and \[index\] .*got int"):
        DataLoader(5)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer, got 0"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)


def test_minibatches_keeps_its_array_api_and_draws_the_loaders_order():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    batches = list(nn.data.minibatches(X, y, 4, rng=5))
    assert [type(b[0]) for b in batches] == [np.ndarray, np.ndarray] and [len(b[1]) for b in batches] == [4, 2]
    loader = DataLoader(TensorDataset(X, y), 4, shuffle=True, rng=5)
    for (xa, ya), (xt, yt) in zip(batches, loader):
        np.testing.assert_array_equal(xa, xt.data)
        np.testing.assert_array_equal(ya, yt.data)


def test_same_batches_as_pytorchs_loader_without_shuffle():
    torch = pytest.importorskip("torch")
    X, y = np.random.default_rng(0).normal(size=(11, 3)), np.arange(11)
    ours = list(DataLoader(TensorDataset(X, y), 4))
    theirs = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y)), 4))
    assert len(ours) == len(theirs) == 3
    for (xa, ya), (xt, yt) in zip(ours, theirs):
        np.testing.assert_array_equal(xa.data, xt.numpy())
        np.testing.assert_array_equal(ya.data, yt.numpy())
