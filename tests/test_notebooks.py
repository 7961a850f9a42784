"""Every notebook runs top to bottom (its numerical claims are asserts inside it), and its committed
outputs agree with a fresh run: the words exactly, the numbers to a relative 1e-6 or an absolute
1e-9, so the last digits of round-off, which differ between CPUs and BLAS builds, never matter."""

import pathlib
import sys

import nbformat
import pytest

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import execute  # noqa: E402

PATHS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs_and_its_outputs_are_current(path):
    committed = nbformat.read(path, as_version=4)
    executed, _ = execute.execute(path)  # a failing assert in a cell raises here
    found = execute.differences(committed, executed)
    assert not found, (
        f"{path.name}: cell {found[0][0]} prints\n{found[0][2]}\nwhere the committed notebook has\n{found[0][1]}\n"
        f"Re-run '.venv/bin/python notebooks/execute.py {path.name}' and commit the result."
    )


def test_every_notebook_states_what_it_teaches_asserts_its_claims_and_imports_only_the_public_api():
    assert PATHS, "no notebooks found"
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        assert first.cell_type == "markdown" and "you will learn" in first.source.lower(), path.name
        code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
        assert sum(source.count("assert ") for source in code) >= 3, f"{path.name} asserts too few of its claims"
        for source in code:
            for line in source.splitlines():
                if line.lstrip().startswith(("import ", "from ")):
                    assert "._" not in line and "autodiff.engine" not in line, f"{path.name}: {line}"


def _notebook(*texts):
    nb = nbformat.v4.new_notebook()
    for text in texts:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    return nb


@pytest.mark.parametrize(
    "old, new",
    [
        ("max |δ2 − z2.grad| = 0.0e+00\n", "max |δ2 − z2.grad| = 1.1e-17\n"),  # round-off below 1e-9
        ("loss 0.2822  Tensor([ 0.5, -1. ])", "loss 0.2822  Tensor([0.5000000001, -1.])"),  # padding, 1e-9 relative
        ("2.9999999999752447", "2.9999999999752"),
        ("nan", "nan"),
    ],
)
def test_comparison_ignores_round_off_and_padding(old, new):
    assert execute.differences(_notebook(old), _notebook(new)) == []


@pytest.mark.parametrize(
    "old, new",
    [
        ("loss 0.2822", "loss 0.2823"),  # a real change in a printed digit
        ("13 of 450 misclassified", "14 of 450 misclassified"),
        ("accuracy 1e-3", "accuracy 2e-3"),  # above the absolute tolerance
        ("train accuracy 0.98", "test accuracy 0.98"),  # words exactly
        ("a 1 2", "a 1 2 3"),
    ],
)
def test_comparison_sees_real_changes(old, new):
    assert execute.differences(_notebook("same", old), _notebook("same", new)) == [(1, old, new)]


def test_cells_tagged_varies_are_not_compared():
    old, new = _notebook("took 0.31 s"), _notebook("took 0.52 s")
    old.cells[0].metadata["tags"] = new.cells[0].metadata["tags"] = ["varies"]
    assert execute.differences(old, new) == []
