"""The benchmark suite itself: its smoke mode runs, its output has the promised shape, and the
peers compute the same thing as autodiff. Never asserts a timing."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402
from benchmarks.environment import available  # noqa: E402
from benchmarks.timing import interleaved, run_child  # noqa: E402
from benchmarks.workloads import (  # noqa: E402
    WORKLOADS,
    micrograd_demo,
    mlp,
    mlp_d2l_penalty,
    mlp_l2_penalty,
    mlp_mnist,
    mlp_penalty,
    mlp_raw,
    mlp_small,
    mlp_small_penalty,
    textbook,
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One smoke run of every workload, autodiff only: (printed text, JSON report)."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--peers", "none", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, json.loads(path.read_text())


def _positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_smoke_covers_every_workload(smoke):
    _, report = smoke
    assert [w for w in WORKLOADS] == list(dict.fromkeys(r["workload"] for r in report["rows"]))


def test_smoke_json_structure(smoke):
    _, report = smoke
    assert {"command", "commit", "mode", "ratio", "machine", "settings", "rows"} <= set(report)
    assert report["command"].startswith("python -m benchmarks --smoke --peers none --json ")  # what made the numbers
    assert report["commit"] is None or re.fullmatch(r"[0-9a-f]{7,}( \+ uncommitted changes)?", report["commit"])
    assert {"cpu", "cores", "python", "numpy", "threads", "blas", "date"} <= set(report["machine"])
    assert report["settings"]["smoke"] is True
    for r in report["rows"]:
        assert {"workload", "metric", "unit", "values", "ratios", "samples"} <= set(r)
        assert list(r["values"]) == ["autodiff"]  # --peers none
        value = r["values"]["autodiff"]
        if r["metric"].startswith("graph freed"):
            assert value.startswith("yes"), value  # freed by reference counting, gc disabled
        elif r["metric"].startswith("test accuracy"):
            assert 0 < value <= 1
        elif "cyclic gc" in r["metric"]:
            assert value >= 0 and math.isfinite(value)
        elif r["workload"] == "micrograd-demo" and not available("micrograd"):
            assert value == "needs micrograd (not installed)"
        else:
            assert _positive(value), (r["workload"], r["metric"], value)
        for samples in r["samples"].values():
            for s in samples:
                if isinstance(s, (int, float)):
                    assert math.isfinite(s)


def test_smoke_table_has_a_line_per_row(smoke):
    text, report = smoke
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| workload | metric | unit | autodiff | peer |")
    assert len(lines) == 2 + len(report["rows"])  # header, rule, one line per row (no peers: one each)
    for r, line in zip(report["rows"], lines[2:]):
        assert line.startswith(f"| {r['workload']} | {r['metric']} |")
    assert "machine:" in text and "date:" in text and "threads:" in text


def test_table_ratio_is_engine_over_peer():
    from benchmarks.timing import row

    r = row("w", "time", "s", {"autodiff": 2.0, "torch": 4.0, "micrograd": "RecursionError at 1,000 ops"})
    assert r["ratios"] == {"torch": 0.5, "micrograd": None}
    text = run.table([r])
    assert "| w | time | s | 2 | torch | 4 | 0.50 |  |" in text
    assert "| w | time | s | 2 | micrograd | RecursionError at 1,000 ops |  |  |" in text


def test_paired_ratio_is_the_median_of_the_rounds_ratios():
    from benchmarks.timing import row

    # round 2 is slow for both (load): the ratio of the medians moves, the paired ratio does not
    samples = {"autodiff": [1.0, 3.0, 1.1], "numpy": [1.0, 3.3, 1.0]}
    r = row("w", "time", "s", {"autodiff": 1.1, "numpy": 1.0}, samples=samples)
    assert r["paired"]["numpy"] == pytest.approx(1.0)  # median of 1.0, 0.909, 1.1
    assert "| w | time | s | 1.1 | numpy | 1 | 1.10 | 1.00 |" in run.table([r])
    assert row("w", "acc", "", {"autodiff": 0.9, "numpy": 0.8}, ratio=False, samples=samples)["paired"] == {
        "numpy": None
    }


def test_each_sample_of_many_calls_starts_after_one_untimed_call(monkeypatch):
    """The call right after the pause between samples is not timed (it wakes the BLAS threads): a step
    that is slow only then does not count, whatever the number of calls per sample."""
    import benchmarks.timing as timing

    clock, state = [0.0], {"cold": True, "calls": 0}

    def step():
        state["calls"] += 1
        clock[0] += 5.0 if state["cold"] else 1.0
        state["cold"] = False

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(timing.time, "sleep", lambda seconds: state.update(cold=True))
    result = interleaved({"engine": step}, repeats=3, warmup=1, min_sample=20.0)["engine"]
    assert result["number"] == 4 and result["samples"] == [1.0, 1.0, 1.0]
    assert state["calls"] == 1 + 3 * (1 + 4)


def test_unknown_workload_is_refused():
    with pytest.raises(SystemExit):
        run.parse_args(["no-such-workload"])


@pytest.mark.parametrize(
    "workload",
    [mlp_small, mlp_mnist, mlp_raw, mlp_penalty, mlp_d2l_penalty, mlp_l2_penalty, mlp_small_penalty],
    ids=lambda m: m.NAME,
)
def test_peers_compute_the_same_losses(workload):
    """Each installed peer's first two losses (before and after one SGD step) match autodiff's."""
    problem = workload.problem(smoke=True)
    steps = {name: make(problem) for name, make in workload.ENGINES.items() if name == "autodiff" or available(name)}
    if len(steps) == 1:
        pytest.skip("no peer installed")
    checks = mlp.check_losses(steps)
    bad = {name: c["losses"] for name, c in checks.items() if not c["ok"]}
    assert not bad, f"losses differ from autodiff's {checks['autodiff']['losses']}: {bad}"


def test_smoke_checks_pass(smoke):
    """Every check a workload made in the smoke run (losses, gradients, results equal to numpy's) passed."""
    _, report = smoke
    failed = {
        (r["workload"], r["metric"], name): check
        for r in report["rows"]
        for name, check in r["checks"].items()
        if not check["ok"]
    }
    assert not failed
    assert {"mlp-penalty", "no-grad-forward"} <= {r["workload"] for r in report["rows"] if r["checks"]}


@pytest.mark.parametrize(
    "workload", [mlp_penalty, mlp_d2l_penalty, mlp_l2_penalty, mlp_small_penalty], ids=lambda m: m.NAME
)
def test_penalty_gradients_agree(workload):
    """With λ = 0.5 the penalty's gradient λW moves the second and third losses far beyond the check's
    tolerance, so equal losses mean every engine adds the same λW (at λ = 1e-4 the losses check J's value)."""
    problem = workload.problem(smoke=True)
    makers = {"autodiff": textbook.autodiff_step, "numpy": textbook.numpy_step, "torch": textbook.torch_step}
    steps = {
        name: make(problem, penalty=workload.PENALTY, lam=0.5)
        for name, make in makers.items()
        if name != "torch" or available("torch")
    }
    checks = mlp.check_losses(steps, count=3)
    bad = {name: c["losses"] for name, c in checks.items() if not c["ok"]}
    assert not bad, f"losses differ from autodiff's {checks['autodiff']['losses']}: {bad}"


def test_the_update_in_place_gives_the_textbook_updates_numbers():
    """W.grad *= lr; W -= W.grad (textbook_phases' last column) is W -= lr * W.grad without the temporary, bit for bit."""
    p = mlp_raw.problem(smoke=True)
    textbook_step = textbook.autodiff_step(p, update="textbook")
    in_place = textbook.autodiff_step(p, update="in place")
    for _ in range(3):
        assert textbook_step().item() == in_place().item()
    with pytest.raises(ValueError, match=r"update must be one of \('textbook', 'in place'\), got 'adam'"):
        textbook.autodiff_phases(p, update="adam")


def test_textbook_penalty_must_be_known():
    with pytest.raises(ValueError, match=r"penalty must be one of \(None, 'explicit', 'd2l', 'l2_penalty'\), got 'l1'"):
        textbook.numpy_step(mlp_raw.problem(smoke=True), penalty="l1")


@pytest.mark.skipif(not available("micrograd") or not available("sklearn"), reason="needs micrograd and sklearn")
def test_micrograd_demo_engines_agree():
    """micrograd's demo on micrograd.nn with autodiff.Value, and on micrograd itself: the same losses, step by step."""
    results = {e: [run_child(micrograd_demo.__name__, e, "--smoke")] for e in micrograd_demo.ENGINES}
    for e, (r,) in results.items():
        assert "error" not in r, (e, r)
    checks = micrograd_demo.check_losses(results)
    assert len(checks["autodiff"]["losses"]) == 3  # warm-up, timed, gc paused
    assert checks["micrograd"]["ok"], checks


@pytest.mark.parametrize("name", ["chain", "mlp-small", "mlp-mnist", "deep-chain"])
def test_instruction_count_workloads_run(name):
    """``python -m benchmarks.instructions`` counts these under valgrind; here they run once, plainly."""
    from benchmarks import instructions

    assert name in instructions.WORKLOADS
    instructions.child(name, 1)


@pytest.mark.skipif(not available("micrograd"), reason="needs micrograd")
def test_scalar_path_experiment_gives_micrograds_gradients():
    """``benchmarks.experiments.scalar_values``' Scalar, on the catalogue's rules, agrees with micrograd node by node."""
    from micrograd.engine import Value as Micrograd

    from benchmarks.experiments.scalar_values import Scalar

    def expression(V):
        a, b, c = V(-4.0), V(2.0), V(0.5)
        d = a * b + b * b - a / c
        e = (-d + 3).relu() * (1 - c) + (d - a).relu() * 2.0
        return [a, b, c, d], e

    ours, e_ours = expression(Scalar)
    theirs, e_theirs = expression(Micrograd)
    e_ours.backward()
    e_theirs.backward()
    assert e_ours.data == pytest.approx(e_theirs.data)
    assert [s.grad for s in ours] == pytest.approx([v.grad for v in theirs])


@pytest.mark.skipif(not available("micrograd") or not available("sklearn"), reason="needs micrograd and sklearn")
def test_scalar_path_experiment_runs(capsys):
    from benchmarks.experiments import scalar_values

    assert scalar_values.main(["--smoke", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert all(engine in out for engine in scalar_values.ENGINES)


def test_textbook_phases_experiment_times_every_spelling(capsys):
    from benchmarks.experiments import textbook_phases

    assert textbook_phases.main(["--smoke"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| mlp")]
    assert [row.split(" | ")[0][2:] for row in rows] == list(textbook_phases.SPELLINGS)
    for row in rows:  # nine figures: milliseconds and ratios, all positive
        figures = [float(cell.split()[0]) for cell in row.strip("| ").split(" | ")[1:]]
        assert len(figures) == 9 and min(figures) > 0


def test_matrix_products_experiment_times_every_product_of_a_step(capsys):
    """The products of a 3-layer step: 3 forward, 3 weight gradients, 2 activation gradients (none below the input)."""
    from benchmarks.experiments import matrix_products

    pairs = matrix_products.products((6, 5, 4, 3), 2)
    assert len(pairs) == 8
    for a, b in pairs.values():
        assert a.dtype == b.dtype == np.float32 and a.shape[1] == b.shape[0]
    assert matrix_products.main(["--smoke"]) == 0
    rows = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith(("| forward", "| backward", "| all"))
    ]
    assert len(rows) == 9
    for row in rows:
        figures = [float(cell) for cell in row.strip("| ").split(" | ")[1:]]
        assert len(figures) == (3 if available("torch") else 1) and min(figures) > 0


def test_memory_traces_what_each_engine_allocates():
    """The traced row's child: the peak of numpy's traced arrays covers at least the parameters and their gradients."""
    from benchmarks.workloads import memory

    problem = mlp_mnist.problem(smoke=True)
    weights_bytes = sum(a.nbytes for a in problem.flat_init)
    for engine in memory.TRACED:
        result = run_child(memory.__name__, engine, 2, "--smoke", "--traced")
        assert "error" not in result, result
        assert 2 * weights_bytes <= result["traced_peak_bytes"] < 20 * weights_bytes, (engine, result)


def test_textbook_phases_experiment_takes_other_sizes(capsys):
    from benchmarks.experiments import textbook_phases

    assert textbook_phases.main(["--smoke", "--layers", "5,4,3", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "(layers 5,4,3, batch 2;" in out
    assert len([line for line in out.splitlines() if line.startswith("| mlp")]) == len(textbook_phases.SPELLINGS)
    with pytest.raises(SystemExit):
        textbook_phases.main(["--layers", "5,x"])
    assert "layer widths are integers separated by commas, got '5,x'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        textbook_phases.main(["--layers", "5"])
    assert "at least two positive layer widths, got '5'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        textbook_phases.main(["--batch", "0"])
    assert "the batch size is a positive integer, got '0'" in capsys.readouterr().err
