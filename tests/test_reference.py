"""The files made from the op catalogue are current: docs/ops.md and autodiff/tensor.pyi."""

import runpy
from pathlib import Path

import pytest

import autodiff as ad
from autodiff import functions, ops

ROOT = Path(__file__).resolve().parent.parent
reference = runpy.run_path(str(ROOT / "docs" / "make_reference.py"))


@pytest.mark.parametrize("path, make", [("docs/ops.md", "ops_page"), ("autodiff/tensor.pyi", "tensor_stub")])
def test_the_generated_file_is_current(path, make):
    assert (ROOT / path).read_text() == reference[make](), (
        f"{path} is out of date: run '.venv/bin/python docs/make_reference.py' and commit the result"
    )


def test_every_catalogue_entry_is_reachable_as_it_declares():
    for op in ops.CATALOGUE:
        fn = getattr(ad, op.function)
        assert getattr(functions, op.function) is fn
        if op.method:
            assert hasattr(ad.Tensor, op.function), op.function
        if op.ufunc is not None:
            assert functions.UFUNCS[op.ufunc] is fn
        assert f"`autodiff.{op.function}`" in (ROOT / "docs" / "ops.md").read_text()


def test_the_stub_lists_every_public_tensor_attribute():
    stub = (ROOT / "autodiff" / "tensor.pyi").read_text()
    for name in dir(ad.Tensor):
        if not name.startswith("_"):
            assert f"def {name}(" in stub or f"    {name}: " in stub, name
