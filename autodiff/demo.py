"""The seeds' example: f(x1, x2) = x1·x2 + sin(x2), its value and gradients.

Run with ``python -m autodiff.demo``.
"""
import math

import autodiff as ad


def main():
    x1 = ad.Tensor(2.0, requires_grad=True, name="x1")
    x2 = ad.Tensor(3.0, requires_grad=True, name="x2")
    f = x1 * x2 + ad.sin(x2)
    f.backward()
    print(f"f(x1, x2) = x1·x2 + sin(x2) at x1 = 2, x2 = 3: {f.item():.6f}")
    print(f"∂f/∂x1 = x2             = {x1.grad.item():.6f}  (expected {3.0:.6f})")
    print(f"∂f/∂x2 = x1 + cos(x2)   = {x2.grad.item():.6f}  (expected {2 + math.cos(3.0):.6f})")


if __name__ == "__main__":
    main()
