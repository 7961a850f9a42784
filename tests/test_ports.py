# ruff: noqa: E741  (d2l names the loss l)
"""Programs people already have, ported to autodiff by changing their imports.

Each program is written here as its public source describes it, with ``torch.`` spelled ``ad.``
(``torch.nn``: ``nn``, ``torch.utils.data``: ``nn.data``, micrograd's ``Value``: ``autodiff.Value``),
and run to the results its source reports; where the original library is installed the same
program runs in it side by side on the same data and initial values, and the two must agree.
A comment ``# port:`` marks each line that needed more than the import changed, and why.

* d2l (Dive into Deep Learning), from-scratch chapters: linear regression, its concise version,
  softmax regression, the MLP, weight decay (Fashion-MNIST replaced by scikit-learn's bundled
  digits: the tests download nothing);
* PyTorch's "Learning PyTorch with Examples": the polynomial fit with tensors and autograd, as a
  custom ``nn.Module``, and ``DynamicNet``;
* micrograd: the README example, the demo notebook (moons), and the code of the lecture
  "The spelled-out intro to neural networks and backpropagation" (Neural Networks: Zero to Hero).
"""

import math
import random

import numpy as np
import pytest

import autodiff as ad
import nn
from autodiff import Value
from nn import data


@pytest.fixture
def torch_or_skip():
    """``torch_or_skip()`` is torch, on one thread (these tensors are small: threads would only wait for each
    other), or skips the rest of the test where torch is not installed."""
    module, threads = [], []

    def get():
        if not module:
            module.append(pytest.importorskip("torch"))
            threads.append(module[0].get_num_threads())
            module[0].set_num_threads(1)
        return module[0]

    yield get
    if module:
        module[0].set_num_threads(threads[0])


# ------------------------------------------------------------------------------------------------ d2l
# d2l's helpers (the d2l package), as the chapters define them.


def synthetic_data(w, b, num_examples):
    """Generate y = Xw + b + noise."""
    X = ad.normal(0, 1, (num_examples, len(w)))
    y = ad.matmul(X, w) + b
    y += ad.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    random.shuffle(indices)  # the examples are read at random, in no particular order
    for i in range(0, num_examples, batch_size):
        batch_indices = ad.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):
    """The linear regression model."""
    return ad.matmul(X, w) + b


def squared_loss(y_hat, y):
    """Squared loss."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):
    """Minibatch stochastic gradient descent."""
    with ad.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def load_array(data_arrays, batch_size, is_train=True):
    """Construct a data iterator."""
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


class Accumulator:
    """For accumulating sums over n variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.astype(y.dtype) == y  # port: torch's y_hat.type(y.dtype) is numpy's astype
    return float(cmp.astype(y.dtype).sum())


def evaluate_accuracy(net, data_iter):
    """Compute the accuracy for a model on a dataset."""
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)
    with ad.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_epoch_ch3(net, train_iter, loss, updater):
    """One epoch of training (d2l chapter 3)."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if isinstance(updater, nn.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    """Train a model (d2l chapter 3), with the checks d2l's own function ends with."""
    for epoch in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
    train_loss, train_acc = train_metrics
    assert train_loss < 0.5, train_loss
    assert train_acc <= 1 and train_acc > 0.7, train_acc
    assert test_acc <= 1 and test_acc > 0.7, test_acc
    return train_loss, train_acc, test_acc


def evaluate_loss(net, data_iter, loss):
    """Evaluate the loss of a model on the given dataset."""
    metric = Accumulator(2)  # sum of losses, no. of examples
    for X, y in data_iter:
        out = net(X)
        y = y.reshape(out.shape)
        l = loss(out, y)
        metric.add(l.sum(), l.numel())
    return metric[0] / metric[1]


def digits_iters(batch_size):
    """d2l.load_data_fashion_mnist(batch_size), with scikit-learn's 8×8 digits: 1437 training, 360 test images.

    d2l's batches of 256 of 60,000 images make 235 steps an epoch; here batches of 16 make 90."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = ad.tensor(X / 16.0)
    y = ad.tensor(y)
    return load_array((X[:1437], y[:1437]), batch_size), load_array((X[1437:], y[1437:]), batch_size, is_train=False)


def test_d2l_linear_regression_from_scratch_recovers_w_and_b(torch_or_skip):
    ad.manual_seed(0)
    random.seed(0)
    true_w = ad.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)
    assert features.shape == (1000, 2) and labels.shape == (1000, 1)
    X0, y0 = next(data_iter(10, features, labels))
    assert X0.shape == (10, 2) and y0.shape == (10, 1)

    w = ad.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = ad.zeros(1, requires_grad=True)
    w_init = w.data.copy()
    lr, num_epochs, batch_size = 0.03, 3, 10
    net, loss = linreg, squared_loss
    epoch_losses = []
    random.seed(1)
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # minibatch loss in X and y
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with ad.no_grad():
            train_l = loss(net(features, w, b), labels)
            epoch_losses.append(float(train_l.mean()))
    # d2l prints "epoch 1, loss 0.036928 / epoch 2, loss 0.000135 / epoch 3, loss 0.000050" and errors in w and
    # b of a few 1e-4: the noise's σ²/2 is 5e-5
    assert 0.01 < epoch_losses[0] < 0.1 and epoch_losses[1] < 1e-3 and 3e-5 < epoch_losses[-1] < 8e-5
    error_w = true_w - w.reshape(true_w.shape)
    error_b = true_b - b
    assert np.all(np.abs(error_w.data) < 2e-3) and abs(error_b.item()) < 2e-3

    torch = torch_or_skip()  # the original, on the same data, initial w and order
    features_t, labels_t = torch.tensor(features.data), torch.tensor(labels.data)
    wt = torch.tensor(w_init, requires_grad=True)
    bt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    random.seed(1)
    for epoch in range(num_epochs):
        indices = list(range(1000))
        random.shuffle(indices)
        for i in range(0, 1000, batch_size):
            batch = torch.tensor(indices[i : i + batch_size])
            lt = (torch.matmul(features_t[batch], wt) + bt - labels_t[batch]) ** 2 / 2
            lt.sum().backward()
            with torch.no_grad():
                for param in (wt, bt):
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()
    np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.data, bt.detach().numpy(), rtol=1e-12)


def test_d2l_concise_linear_regression_with_the_data_loader():
    ad.manual_seed(1)
    true_w = ad.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)
    batch_size = 10
    data_iter = load_array((features, labels), batch_size)
    X0, y0 = next(iter(data_iter))
    assert X0.shape == (10, 2) and y0.shape == (10, 1)

    net = nn.Sequential(nn.Linear(2, 1))
    with ad.no_grad():  # port: d2l writes net[0].weight.data.normal_(0, 0.01); here .data is the numpy array
        net[0].weight.normal_(0, 0.01)
        net[0].bias.fill_(0)
    loss = nn.MSELoss()
    trainer = nn.optim.SGD(net.parameters(), lr=0.03)
    num_epochs = 3
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
    assert l.item() < 2e-4  # d2l: "epoch 3, loss 0.000103" (its MSELoss has no 1/2)
    w = net[0].weight.data
    b = net[0].bias.data
    assert np.all(np.abs(true_w.data - w.reshape(true_w.shape)) < 2e-3) and abs(true_b - b.item()) < 2e-3


def softmax(X):
    X_exp = ad.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition  # the broadcasting mechanism is applied here


def cross_entropy(y_hat, y):
    return -ad.log(y_hat[range(len(y_hat)), y])


def test_d2l_softmax_regression_from_scratch(torch_or_skip):
    X = ad.normal(0, 1, (2, 5), rng=0)
    X_prob = softmax(X)
    np.testing.assert_allclose(X_prob.sum(1).data, 1.0, rtol=1e-12)
    y = ad.tensor([0, 2])
    y_hat = ad.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    assert y_hat[[0, 1], y].tolist() == [0.1, 0.5]
    np.testing.assert_allclose(cross_entropy(y_hat, y).data, [-math.log(0.1), -math.log(0.5)], rtol=1e-12)
    assert accuracy(y_hat, y) / len(y) == 0.5

    ad.manual_seed(2)
    num_inputs, num_outputs = 64, 10
    W = ad.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = ad.zeros(num_outputs, requires_grad=True)
    W_init = W.data.copy()

    def net(X):
        return softmax(ad.matmul(X.reshape((-1, W.shape[0])), W) + b)

    lr = 0.1

    def updater(batch_size):
        return sgd([W, b], lr, batch_size)

    train_iter, test_iter = digits_iters(batch_size=16)
    assert evaluate_accuracy(net, test_iter) < 0.3  # about chance before training
    ad.manual_seed(3)
    train_loss, train_acc, test_acc = train_ch3(net, train_iter, test_iter, cross_entropy, 10, updater)
    assert test_acc > 0.85

    torch = torch_or_skip()  # the original, fed the same batches from the same start
    Wt = torch.tensor(W_init, requires_grad=True)
    bt = torch.zeros(num_outputs, dtype=torch.float64, requires_grad=True)
    ad.manual_seed(3)
    for epoch in range(10):
        for X, y in train_iter:
            Xt, yt = torch.tensor(X.data), torch.tensor(y.data)
            e = torch.exp(torch.matmul(Xt, Wt) + bt)
            y_hat = e / e.sum(1, keepdim=True)
            (-torch.log(y_hat[range(len(y_hat)), yt])).sum().backward()
            with torch.no_grad():
                for param in (Wt, bt):
                    param -= lr * param.grad / len(yt)
                    param.grad.zero_()
    np.testing.assert_allclose(W.data, Wt.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_d2l_mlp_from_scratch(torch_or_skip):
    ad.manual_seed(4)
    num_inputs, num_outputs, num_hiddens = 64, 10, 256
    W1 = nn.Parameter(ad.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(ad.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(ad.randn(num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(ad.zeros(num_outputs, requires_grad=True))
    params = [W1, b1, W2, b2]
    initial = [p.data.copy() for p in params]

    def relu(X):
        a = ad.zeros_like(X)
        return ad.maximum(X, a)  # port: torch.max(X, a) is elementwise there; here max reduces, as numpy's

    def net(X):
        X = X.reshape((-1, num_inputs))
        H = relu(X @ W1 + b1)  # here '@' stands for matrix multiplication
        return H @ W2 + b2

    loss = nn.CrossEntropyLoss(reduction="none")
    num_epochs, lr = 10, 0.1
    updater = nn.optim.SGD(params, lr=lr)
    train_iter, test_iter = digits_iters(batch_size=16)
    ad.manual_seed(5)
    train_loss, train_acc, test_acc = train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)
    assert test_acc > 0.85

    torch = torch_or_skip()
    W1t, b1t, W2t, b2t = (torch.nn.Parameter(torch.tensor(p)) for p in initial)
    opt = torch.optim.SGD([W1t, b1t, W2t, b2t], lr=lr)
    ad.manual_seed(5)
    for epoch in range(num_epochs):
        for X, y in train_iter:
            H = torch.relu(torch.tensor(X.data) @ W1t + b1t)
            lt = torch.nn.CrossEntropyLoss(reduction="none")(H @ W2t + b2t, torch.tensor(y.data))
            opt.zero_grad()
            lt.mean().backward()
            opt.step()
    np.testing.assert_allclose(W2.data, W2t.detach().numpy(), rtol=1e-8, atol=1e-12)


def test_d2l_weight_decay_from_scratch():
    ad.manual_seed(6)
    n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
    true_w, true_b = ad.ones((num_inputs, 1)) * 0.01, 0.05
    train_data = synthetic_data(true_w, true_b, n_train)
    train_iter = load_array(train_data, batch_size)
    test_data = synthetic_data(true_w, true_b, n_test)
    test_iter = load_array(test_data, batch_size, is_train=False)

    def init_params():
        w = ad.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        b = ad.zeros(1, requires_grad=True)
        return [w, b]

    def l2_penalty(w):
        return ad.sum(w.pow(2)) / 2

    def train(lambd):
        w, b = init_params()
        net, loss = lambda X: linreg(X, w, b), squared_loss
        num_epochs, lr = 100, 0.003
        for epoch in range(num_epochs):
            for X, y in train_iter:
                # The L2 norm penalty term has been added, and broadcasting makes l2_penalty(w) a vector whose length is batch_size
                l = loss(net(X), y) + lambd * l2_penalty(w)
                l.sum().backward()
                sgd([w, b], lr, batch_size)
        return ad.norm(w).item(), evaluate_loss(net, train_iter, loss), evaluate_loss(net, test_iter, loss)

    norm_0, train_0, test_0 = train(lambd=0)  # d2l: "L2 norm of w: 13.97"; it overfits the 20 examples
    norm_3, train_3, test_3 = train(lambd=3)  # d2l: "L2 norm of w: 0.3577"
    assert 10 < norm_0 < 18 and 0.1 < norm_3 < 1.0
    assert train_0 < 0.01 and test_0 > 10 * train_0  # no weight decay: the test loss is far above the training loss
    assert test_3 < test_0 / 10


# ---------------------------------------------------------------------------------- PyTorch: polynomials
# "Learning PyTorch with Examples": fit y = a + bx + cx² + dx³ to sin(x) on [−π, π].


def polynomial_with_autograd(a, b, c, d, steps, lib, dtype):
    """The tutorial's tensors-and-autograd program; ``lib`` is ``ad`` or ``torch``: the body is the same."""
    x = lib.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = lib.sin(x)
    learning_rate = 1e-6
    losses = []
    for t in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            losses.append(loss.item())
        loss.backward()
        with lib.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses


def test_pytorch_polynomial_with_tensors_and_autograd(torch_or_skip):
    ad.manual_seed(0)
    dtype = ad.float32  # the tutorial's torch.float
    a, b, c, d = (ad.randn((), dtype=dtype, requires_grad=True) for _ in range(4))
    initial = [p.item() for p in (a, b, c, d)]
    losses = polynomial_with_autograd(a, b, c, d, 2000, ad, dtype)
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
    # the tutorial's result: loss ≈ 9 and y ≈ −0.02 + 0.85x + 0.003x² − 0.09x³; the least-squares cubic has b, d = 0.857, −0.093
    assert losses[-1] < 20 and a.dtype == np.float32
    assert b.item() == pytest.approx(0.85, abs=0.03) and d.item() == pytest.approx(-0.092, abs=0.005)

    torch = torch_or_skip()
    at, bt, ct, dt = (torch.tensor(v, dtype=torch.float32, requires_grad=True) for v in initial)
    losses_t = polynomial_with_autograd(at, bt, ct, dt, 2000, torch, torch.float32)
    np.testing.assert_allclose(losses, losses_t, rtol=1e-4)
    np.testing.assert_allclose(
        [p.item() for p in (a, b, c, d)], [p.item() for p in (at, bt, ct, dt)], rtol=1e-3, atol=1e-5
    )


class Polynomial3(nn.Module):
    def __init__(self):
        """Instantiate four parameters and assign them as members."""
        super().__init__()
        self.a = nn.Parameter(ad.randn(()))
        self.b = nn.Parameter(ad.randn(()))
        self.c = nn.Parameter(ad.randn(()))
        self.d = nn.Parameter(ad.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x**2 + self.d * x**3

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"


def test_pytorch_polynomial_as_a_custom_module(torch_or_skip):
    x = ad.linspace(-math.pi, math.pi, 2000)
    y = ad.sin(x)
    ad.manual_seed(0)
    model = Polynomial3()
    initial = [p.item() for p in model.parameters()]
    criterion = nn.MSELoss(reduction="sum")
    optimizer = nn.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(2000):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert model.string().startswith("y = ") and [n for n, _ in model.named_parameters()] == ["a", "b", "c", "d"]
    # the module, the loss and the optimizer do what the hand-written loop does, to round-off (float64 both)
    by_hand = [ad.tensor(v, requires_grad=True) for v in initial]
    polynomial_with_autograd(*by_hand, 2000, ad, ad.float64)
    np.testing.assert_allclose([p.item() for p in model.parameters()], [p.item() for p in by_hand], rtol=1e-10)

    torch = torch_or_skip()
    xt = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float64)
    params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in initial]
    opt = torch.optim.SGD(params, lr=1e-6)
    for t in range(2000):
        a, b, c, d = params
        loss_t = torch.nn.MSELoss(reduction="sum")(a + b * xt + c * xt**2 + d * xt**3, torch.sin(xt))
        opt.zero_grad()
        loss_t.backward()
        opt.step()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-10)
    np.testing.assert_allclose([p.item() for p in model.parameters()], [p.item() for p in params], rtol=1e-10)


class DynamicNet(nn.Module):
    def __init__(self):
        """Instantiate five parameters and assign them as members."""
        super().__init__()
        self.a = nn.Parameter(ad.randn(()))
        self.b = nn.Parameter(ad.randn(()))
        self.c = nn.Parameter(ad.randn(()))
        self.d = nn.Parameter(ad.randn(()))
        self.e = nn.Parameter(ad.randn(()))

    def forward(self, x):
        """Choose 4, 5 or 6 at random and use that many orders of the polynomial, reusing e for the higher orders
        (Python's control flow builds a new graph on every call)."""
        y = self.a + self.b * x + self.c * x**2 + self.d * x**3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x**exp
        return y


def test_pytorch_dynamic_net(torch_or_skip):
    x = ad.linspace(-math.pi, math.pi, 2000)
    y = ad.sin(x)
    ad.manual_seed(0)
    model = DynamicNet()
    initial = [p.item() for p in model.parameters()]
    criterion = nn.MSELoss(reduction="sum")
    optimizer = nn.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    steps, losses = 1500, []  # the tutorial runs 30000 steps
    random.seed(0)
    for t in range(steps):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0] / 10

    torch = torch_or_skip()
    xt, yt = torch.tensor(x.data), torch.tensor(y.data)
    a, b, c, d, e = params = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in initial]
    opt = torch.optim.SGD(params, lr=1e-8, momentum=0.9)
    random.seed(0)  # the same orders drawn at every step
    for t in range(steps):
        pred = a + b * xt + c * xt**2 + d * xt**3
        for exp in range(4, random.randint(4, 6)):
            pred = pred + e * xt**exp
        loss_t = torch.nn.MSELoss(reduction="sum")(pred, yt)
        opt.zero_grad()
        loss_t.backward()
        opt.step()
    assert losses[-1] == pytest.approx(loss_t.item(), rel=1e-8)
    np.testing.assert_allclose([p.item() for p in model.parameters()], [p.item() for p in params], rtol=1e-8)


# ---------------------------------------------------------------------------------------------- micrograd


def test_micrograd_readme_example():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"  # prints 24.7041, the outcome of this forward pass
    g.backward()
    assert f"{a.grad:.4f}" == "138.8338"  # prints 138.8338, i.e. the numerical value of dg/da
    assert f"{b.grad:.4f}" == "645.5773"  # prints 645.5773, i.e. the numerical value of dg/db


class Module:
    """micrograd/nn.py with its import changed: ``from autodiff import Value``."""

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def moons_demo(Value, MLP, steps):
    """micrograd's demo.ipynb: an MLP(2, [16, 16, 1]) on 100 moons, SVM max-margin loss with L2, SGD."""
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1
    model = MLP(2, [16, 16, 1])  # 2-layer neural network
    assert len(model.parameters()) == 337

    def loss(batch_size=None):
        Xb, yb = X, y  # the demo's batch_size=None: the whole data set
        inputs = [list(map(Value, xrow)) for xrow in Xb]
        scores = list(map(model, inputs))  # forward the model to get scores
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]  # svm "max-margin" loss
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4  # L2 regularization
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]  # also get accuracy
        return total_loss, sum(accuracy) / len(accuracy)

    history = []
    for k in range(steps):
        total_loss, acc = loss()  # forward
        model.zero_grad()  # backward
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100  # update (sgd)
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((float(total_loss.data), acc, [float(p.grad) for p in model.parameters()]))
    return history


def test_micrograd_demo_on_the_moons():
    """Two of the demo's 100 steps (each builds a graph of about 60,000 Values)."""
    history = moons_demo(Value, MLP, steps=2)
    (loss_0, acc_0, _), (loss_1, acc_1, _) = history
    # the notebook prints "step 0 loss 0.8958441028683222, accuracy 50.0%", "step 1 loss 1.7235905336972022, accuracy 81.0%"
    assert loss_0 == pytest.approx(0.8958441028683222, rel=1e-12) and acc_0 == 0.5
    assert loss_1 == pytest.approx(1.7235905336972022, rel=1e-12) and acc_1 == 0.81

    micrograd = pytest.importorskip("micrograd.nn")  # the demo itself, one step: every gradient compared
    (loss_m, acc_m, grads_m), *_ = moons_demo(micrograd.Value, micrograd.MLP, steps=1)
    assert loss_0 == pytest.approx(loss_m, rel=1e-13) and acc_0 == acc_m
    np.testing.assert_allclose(history[0][2], grads_m, rtol=1e-10, atol=1e-15)


def test_micrograd_lecture_expression_and_manual_backpropagation():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    assert L.data == -8.0 and L._op == "*" and L._prev == {d, f}

    # gradients found by hand in the lecture, then set by hand
    L.grad = 1.0
    f.grad = 4.0  # dL/df = d
    d.grad = -2.0  # dL/dd = f
    c.grad = -2.0  # dL/dc = dL/dd · dd/dc
    e.grad = -2.0
    a.grad = -2.0 * -3.0  # dL/da = dL/de · b
    b.grad = -2.0 * 2.0
    grads = {v.label: v.grad for v in (a, b, c, d, e, f, L)}

    # one optimisation step nudges the inputs along their gradients: L goes up
    a.data += 0.01 * a.grad
    b.data += 0.01 * b.grad
    c.data += 0.01 * c.grad
    f.data += 0.01 * f.grad
    e = a * b
    d = e + c
    L = d * f
    assert L.data == pytest.approx(-7.286496, abs=1e-6)  # the lecture prints -7.286496

    a, b, c, f = Value(2.0), Value(-3.0), Value(10.0), Value(-2.0)  # and backward() finds the same gradients
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    assert {k: v.grad for k, v in zip("abcdefL", (a, b, c, d, e, f, L))} == grads


def lecture_neuron(decomposed_tanh=False):
    # inputs x1, x2; weights w1, w2; bias of the neuron
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    if decomposed_tanh:
        e = (2 * n).exp()
        o = (e - 1) / (e + 1)
    else:
        o = n.tanh()
    o.label = "o"
    return o, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n)


def test_micrograd_lecture_neuron_three_ways_and_against_pytorch(torch_or_skip):
    o, v = lecture_neuron()
    assert f"{o.data:.4f}" == "0.7071"
    o.grad = 1.0  # by hand, node by node, with _backward
    o._backward()
    assert v["n"].grad == pytest.approx(0.5)  # 1 − tanh²
    v["n"]._backward()
    v["b"]._backward()  # a leaf: nothing to do
    v["x1w1x2w2"]._backward()
    v["x2w2"]._backward()
    v["x1w1"]._backward()
    by_steps = {k: x.grad for k, x in v.items()}

    o, v = lecture_neuron()  # all at once: topological order, then _backward on each node
    topo = []
    visited = set()

    def build_topo(node):
        if node not in visited:
            visited.add(node)
            for child in node._prev:
                build_topo(child)
            topo.append(node)

    build_topo(o)
    o.grad = 1.0
    for node in reversed(topo):
        node._backward()
    by_topo = {k: x.grad for k, x in v.items()}

    o, v = lecture_neuron()
    o.backward()
    by_backward = {k: x.grad for k, x in v.items()}
    o2, v2 = lecture_neuron(decomposed_tanh=True)  # tanh written with exp: the same gradients
    o2.backward()
    assert o2.data == pytest.approx(o.data, rel=1e-12)
    for grads in (by_steps, by_topo, {k: x.grad for k, x in v2.items()}):
        assert grads == pytest.approx(by_backward, rel=1e-12, abs=1e-12)
    assert [by_backward[k] for k in ("x1", "x2", "w1", "w2")] == pytest.approx([-1.5, 0.5, 1.0, 0.0], abs=1e-12)

    torch = torch_or_skip()  # the lecture's PyTorch cell
    x1 = torch.Tensor([2.0]).double()
    x1.requires_grad = True
    x2 = torch.Tensor([0.0]).double()
    x2.requires_grad = True
    w1 = torch.Tensor([-3.0]).double()
    w1.requires_grad = True
    w2 = torch.Tensor([1.0]).double()
    w2.requires_grad = True
    b = torch.Tensor([6.8813735870195432]).double()
    b.requires_grad = True
    n = x1 * w1 + x2 * w2 + b
    ot = torch.tanh(n)
    ot.backward()
    # torch.Tensor([6.8813735870195432]) is float32 before .double(): the lecture prints 0.7071066904050358, not 1/√2
    assert ot.data.item() == pytest.approx(0.7071066904050358, rel=1e-15)
    assert o.data.item() == pytest.approx(2**-0.5, rel=1e-15) and o.data.item() == pytest.approx(
        ot.data.item(), rel=2e-7
    )
    for name, t in (("x2", x2), ("w2", w2), ("x1", x1), ("w1", w1)):  # the lecture: 0.5, 0.0, -1.5, 1.0
        assert by_backward[name] == pytest.approx(t.grad.item(), abs=1e-6)


def test_micrograd_lecture_fixed_bugs_and_ops():
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    b.backward()
    assert a.grad == 2.0  # a used twice: the gradients accumulate (the lecture's bug, fixed with +=)

    a = Value(-2.0, label="a")
    b = Value(3.0, label="b")
    d = a * b
    e = a + b
    f = d * e
    f.backward()
    assert (a.grad, b.grad) == (-3.0, -8.0)

    a = Value(2.0)
    b = Value(4.0)
    assert [(a + 1).data, (1 + a).data, (2 * a).data, (a * 2).data] == [3.0, 3.0, 4.0, 4.0]
    assert (a / b).data == 0.5 and (a - b).data == -2.0 and (a**2).data == 4.0
    assert a.exp().data == pytest.approx(math.exp(2.0), rel=1e-15)


class LectureNeuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))

    def __call__(self, x):
        # w · x + b
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        out = act.tanh()
        return out

    def parameters(self):
        return self.w + [self.b]


class LectureLayer:
    def __init__(self, nin, nout):
        self.neurons = [LectureNeuron(nin) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]


class LectureMLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [LectureLayer(sz[i], sz[i + 1]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def test_micrograd_lecture_mlp_training(torch_or_skip):
    random.seed(0)
    x = [2.0, 3.0, -1.0]
    n = LectureMLP(3, [4, 4, 1])
    assert type(n(x)) is Value and len(n.parameters()) == 41
    initial = [p.item() for p in n.parameters()]
    xs = [
        [2.0, 3.0, -1.0],
        [3.0, -1.0, 0.5],
        [0.5, 1.0, 1.0],
        [1.0, 1.0, -1.0],
    ]
    ys = [1.0, -1.0, -1.0, 1.0]  # desired targets
    losses = []
    for k in range(20):
        ypred = [n(x) for x in xs]  # forward pass
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        for p in n.parameters():  # backward pass
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():  # update
            p.data += -0.1 * p.grad
        losses.append(loss.data.item())
    assert losses[-1] < losses[0] / 10 and losses[-1] < 0.1
    ypred = [n(x) for x in xs]
    assert [math.copysign(1, y.data) for y in ypred] == ys

    torch = torch_or_skip()  # the same network as matrices, the same 20 steps
    values = iter(initial)
    params = []
    for nin, nout in ((3, 4), (4, 4), (4, 1)):
        rows = [[next(values) for _ in range(nin + 1)] for _ in range(nout)]  # each neuron: its w, then its b
        W = torch.tensor([r[:-1] for r in rows], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([r[-1] for r in rows], dtype=torch.float64, requires_grad=True)
        params += [W, b]
    X, Y = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    for k in range(20):
        h = X
        for W, b in zip(params[::2], params[1::2]):
            h = torch.tanh(h @ W.T + b)
        loss_t = ((h[:, 0] - Y) ** 2).sum()
        for p in params:
            p.grad = None
        loss_t.backward()
        with torch.no_grad():
            for p in params:
                p += -0.1 * p.grad
        assert loss_t.item() == pytest.approx(losses[k], rel=1e-10)


# -------------------------------------------------------------------------------------------- HIPS autograd


def test_hips_autograd_tanh_example_nests_elementwise_grad():
    """HIPS autograd's examples/tanh.py: tanh and its first six derivatives, ``egrad`` nested six times."""
    egrad = ad.elementwise_grad

    def tanh(x):
        y = np.exp(-2.0 * x)  # numpy's ufuncs on Tensors dispatch to autodiff's functions
        return (1.0 - y) / (1.0 + y)

    x = np.linspace(-7, 7, 700)
    derivatives = [tanh]
    for _ in range(6):
        derivatives.append(egrad(derivatives[-1]))
    curves = [np.asarray(f(x)) for f in derivatives]
    # closed form: with t = tanh x, d/dx p(t) = p′(t)(1 − t²), so the k-th derivative is a polynomial in t
    t, p = np.tanh(x), np.array([0.0, 1.0])
    for k, curve in enumerate(curves):
        assert curve.shape == (700,)
        np.testing.assert_allclose(curve, np.polynomial.polynomial.polyval(t, p), rtol=0, atol=1e-12 * 10**k)
        p = np.polynomial.polynomial.polymul(np.polynomial.polynomial.polyder(p), [1.0, 0.0, -1.0])

    autograd = pytest.importorskip(
        "autograd"
    )  # the original, to the fourth derivative (its sixth overflows at |x| = 7)
    anp = pytest.importorskip("autograd.numpy")

    def tanh_hips(x):
        y = anp.exp(-2.0 * x)
        return (1.0 - y) / (1.0 + y)

    f = tanh_hips
    for k in range(1, 5):
        f = autograd.elementwise_grad(f)
        np.testing.assert_allclose(curves[k], f(x), rtol=0, atol=1e-12 * 10**k)


def test_elementwise_grad_is_the_gradient_of_the_sum():
    x = ad.tensor([[0.5, -1.0], [2.0, 0.0]])
    np.testing.assert_allclose(ad.elementwise_grad(ad.sin)(x).data, np.cos(x.data), rtol=1e-15)
    f = lambda x: x @ ad.tensor([[1.0, 2.0], [3.0, 4.0]])  # not elementwise: 1ᵀJ, the column sums of the Jacobian
    J = ad.jacobian(f)(x).data.reshape(4, 4)
    np.testing.assert_allclose(ad.elementwise_grad(f)(x).data.ravel(), J.sum(axis=0), rtol=1e-15)
    g = ad.elementwise_grad(lambda a, b: a * b**2, argnums=(0, 1))(ad.tensor([1.0, 2.0]), ad.tensor([3.0, 4.0]))
    np.testing.assert_allclose([g[0].data, g[1].data], [[9.0, 16.0], [6.0, 16.0]])
    assert (
        ad.elementwise_grad(lambda x: x * x)(3.0).item() == 6.0
        and ad.elementwise_grad(lambda x: 2.0)(1.0).item() == 0.0
    )
    assert ad.elementwise_grad(ad.tanh).__name__ == "elementwise_grad(tanh)"


# ------------------------------------------------------------------------------------------- the docs page


def test_the_compatibility_page_names_only_what_exists():
    """docs/compatibility.md: every ``ad.…``, ``nn.…``, ``Tensor.…`` and ``Value.…`` it offers as ours exists."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "compatibility.md").read_text()
    ours = []
    for line in text.splitlines():
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) >= 2 and not set(cells[1]) <= set("- |"):
            ours.append(cells[1])  # the table's "here" column
        elif not line.startswith("|"):
            ours.append(line)  # prose
    roots = {"ad": ad, "nn": nn, "Tensor": ad.Tensor, "Value": Value}
    names = set()
    for span in re.findall(r"`([^`]+)`", "\n".join(ours)):
        names.update(re.findall(r"(?<![\w.])((?:ad|nn|Tensor|Value)(?:\.[A-Za-z_]\w*)+)", span))
    assert len(names) > 80
    for name in sorted(names):
        root, *path = name.split(".")
        obj = roots[root]
        for part in path:
            assert hasattr(obj, part), f"docs/compatibility.md offers {name}, which does not exist"
            obj = getattr(obj, part)
