"""digits-train: the ``make demo`` training against scikit-learn's MLPClassifier and PyTorch.

The engine side is the digits example's ``train_digits(progress=False)`` itself
(``examples/digits.py``, loaded from this tree's examples/ with --against too): scikit-learn's
8×8 digits split 75/25 (stratified, random_state=0), pixels / 16, MLP 64-128-10
with ReLU in float32, Adam lr 3e-3, weight decay 1e-4 on the weights (not the
biases), batch 32, 30 epochs, with the example's per-epoch validation pass. The peers
do the same training; each run is timed whole, from loading the data to the test
accuracy, and the engines take turns (round-robin) after one untimed warm-up run.

Round r trains every engine with seed r (initial weights, shuffling): the wall time is the
median over the rounds, the accuracy the mean over the seeds. One seed's accuracy moves by a
test image or two (0.2-0.4 points of 450 images) with the seed, for every engine, so a
single seed cannot rank them.
"""

import importlib.util
import itertools
import os
import statistics
import sys
import time
import warnings

import numpy as np

from ..environment import torch_threads
from ..timing import ROOT, round_robin, row

NAME = "digits-train"
DESCRIPTION = "the digits example's training (MLP 64-128-10, Adam 3e-3, wd 1e-4 on weights, batch 32, 30 epochs)"
EPOCHS, SMOKE_EPOCHS = 30, 1
BATCH, LR = 32, 3e-3
REPEATS = 5  # rounds, one seed each: 0, 1, ...
DIGITS_EXAMPLE = os.path.join(ROOT, "examples", "digits.py")


def digits_example():
    """``examples/digits.py`` as a module, loaded once (examples/ is a folder of scripts, not a package)."""
    name = "autodiff_examples_digits"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DIGITS_EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def autodiff_train(epochs, seed):
    """Exactly the digits example's training (the example itself uses seed 0)."""
    _, _, accuracy = digits_example().train_digits(epochs=epochs, batch_size=BATCH, lr=LR, seed=seed, progress=False)
    return accuracy


def sklearn_train(epochs, seed):
    """MLPClassifier with the digits example's architecture and hyper-parameters.

    alpha: scikit-learn adds alpha·W to the summed gradient of the batch and divides the
    sum by the batch size (``_compute_loss_grad``), so its per-step weight decay on the
    mean gradient is alpha / batch_size; it applies to the weights only, not the
    intercepts, as in the example. Hence alpha = 1e-4 · 32 = 3.2e-3 (the last, smaller
    batch of an epoch, 3 of 1347 samples, gets a little more decay). Adam's betas and
    epsilon are the defaults of both. ``n_iter_no_change`` > epochs: always 30 epochs
    (no stopping on the training loss either); its initialisation is Glorot's, not the example's.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    example = digits_example()
    X_train, X_test, y_train, y_test = example.load_digits_split()
    model = MLPClassifier(
        hidden_layer_sizes=(128,),
        activation="relu",
        solver="adam",
        learning_rate_init=LR,
        alpha=example.WEIGHT_DECAY * BATCH,
        batch_size=BATCH,
        max_iter=epochs,
        shuffle=True,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached: that is the plan
        model.fit(X_train.astype(np.float32), y_train)
    return model.score(X_test.astype(np.float32), y_test)


def torch_train(epochs, seed):
    """The digits example's loop in PyTorch: same initial weights (its seeded nn.MLP), Adam with the
    same two parameter groups, shuffled batches of 32, loss and accuracy per step, a validation
    pass per epoch as ``nn.fit`` does."""
    import torch

    import nn

    example = digits_example()
    HIDDEN, WEIGHT_DECAY = example.HIDDEN, example.WEIGHT_DECAY
    torch_threads(torch)
    F = torch.nn.functional
    X_train, X_test, y_train, y_test = example.load_digits_split()
    nn.manual_seed(seed)
    init = nn.MLP(64, HIDDEN + [10], dtype=np.float32).state_dict()  # the example's initial weights
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN[0]), torch.nn.ReLU(), torch.nn.Linear(HIDDEN[0], 10))
    model.load_state_dict({k.removeprefix("layers."): torch.from_numpy(v) for k, v in init.items()})
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimizer = torch.optim.Adam(
        [{"params": weights, "weight_decay": WEIGHT_DECAY}, {"params": biases, "weight_decay": 0.0}], lr=LR
    )
    X, y = torch.from_numpy(X_train.astype(np.float32)), torch.from_numpy(y_train)
    Xv, yv = torch.from_numpy(X_test.astype(np.float32)), torch.from_numpy(y_test)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        model.train()
        loss_sum = correct = 0.0
        order = torch.from_numpy(rng.permutation(len(X)))
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            output = model(X[idx])
            loss = F.cross_entropy(output, y[idx])
            loss_sum += loss.item() * len(idx)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += (output.argmax(1) == y[idx]).sum().item()
        model.eval()
        with torch.no_grad():
            scores = model(Xv)
            F.cross_entropy(scores, yv).item()
            (scores.argmax(1) == yv).float().mean().item()
    with torch.no_grad():
        return (model(Xv).argmax(1) == yv).float().mean().item()


# one function per engine, autodiff first
ENGINES = {"autodiff": autodiff_train, "sklearn": sklearn_train, "torch": torch_train}
PEERS = tuple(ENGINES)[1:]


def _timed(train, epochs, seed):
    start = time.perf_counter()
    accuracy = train(epochs, seed)
    return {"seconds": time.perf_counter() - start, "accuracy": float(accuracy), "seed": seed}


def run(ctx):
    epochs = SMOKE_EPOCHS if ctx.smoke else EPOCHS
    engines = {name: train for name, train in ENGINES.items() if name == "autodiff" or ctx.wants(name)}
    rounds = {name: itertools.count() for name in engines}  # each engine's next seed
    jobs = {
        name: (lambda name=name, train=train: _timed(train, epochs, next(rounds[name])))
        for name, train in engines.items()
    }
    if not ctx.smoke:  # warm-up (imports, the digits file, first-call costs), seed 0 again after it
        round_robin(
            {name: (lambda train=train: _timed(train, epochs, 0)) for name, train in engines.items()},
            1,
            settle=ctx.settle,
        )
    results = round_robin(jobs, ctx.reps(REPEATS), settle=ctx.settle)
    seconds = {k: statistics.median(r["seconds"] for r in rs) for k, rs in results.items()}
    accuracy = {k: statistics.mean(r["accuracy"] for r in rs) for k, rs in results.items()}
    seeds = len(next(iter(results.values())))
    return [
        row(
            NAME,
            f"wall time, {epochs} epochs",
            "s",
            seconds,
            samples={k: [r["seconds"] for r in rs] for k, rs in results.items()},
        ),
        row(
            NAME,
            f"test accuracy, mean of seeds 0-{seeds - 1}" if seeds > 1 else "test accuracy, seed 0",
            "",
            accuracy,
            ratio=False,
            samples={k: [r["accuracy"] for r in rs] for k, rs in results.items()},
            digits=4,
        ),
    ]
