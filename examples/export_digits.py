"""Train the digits MLP, export it to ONNX, and check that onnxruntime scores the test set as we do.

Run with ``python examples/export_digits.py`` (a second or two). It needs the
demo and onnx extras: ``pip install 'autodiff[demo,onnx]'``. The model is
``examples/digits.py``'s (MLP(64, [128, 10]) in float32, Adam with weight decay,
the same 75/25 split); the ONNX file is written to ``out/digits_mlp.onnx`` and
run by onnxruntime on the 450 test images at once.
"""

import argparse
import os
import sys
import time

import numpy as np
from digits import load_digits_split, train_digits  # examples/, beside this file: run as a script

import nn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=os.path.join("out", "digits_mlp.onnx"), help="where to write the ONNX model")
    args = parser.parse_args(argv)

    import onnxruntime  # before training: a missing package should fail fast

    X_train, X_test, y_train, y_test = load_digits_split()
    start = time.perf_counter()
    model, history, ours = train_digits(epochs=args.epochs, progress=False)
    print(f"trained {type(model).__name__} for {args.epochs} epochs in {time.perf_counter() - start:.1f} s")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    path = nn.export_onnx(model, args.out, X_test[:1])
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    logits = session.run(["output"], {"input": X_test.astype(np.float32)})[0]
    theirs = nn.accuracy(logits, y_test)
    gap = np.abs(logits - nn.predict(model, X_test)).max()

    print(f"wrote {path} (ONNX opset {nn.interop.ONNX_OPSET}, batch axis dynamic)")
    print(f"test accuracy, autodiff:    {ours:.4f}")
    print(f"test accuracy, onnxruntime: {theirs:.4f}  (largest logit difference {gap:.1e})")
    if theirs != ours:
        print("the accuracies differ: the exported model does not compute what ours does", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
