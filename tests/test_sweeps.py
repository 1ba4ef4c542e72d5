"""Sensitivity sweeps: known indices of test functions, reproducibility, resuming, a local
Dask cluster, outputs, bad input and the CLI (a real cluster: ``test_cluster.py``)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rich.console import Console

from czsim.cli.sweep import register
from czsim.errors import CzsimError
from czsim.experiments.sweeps import build_problem, list_outcomes, run_sweep, sweep
from czsim.experiments.sweeps import methods as sweep_methods
from czsim.experiments.sweeps.outcomes import (
    MAIN,
    MAIN_YEARS,
    OutcomePlan,
    OutcomeSpec,
    main_outcome,
    plan_outcomes,
    reduce_outcomes,
)
from czsim.experiments.sweeps.run import auto_chunk_size
from czsim.scenarios import Scenario, default_scenario, load_scenario
from czsim.targets import load_targets

# Dask workers are separate processes that cannot import this test module: ship its
# evaluators by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

PI = math.pi
ISHIGAMI = sweep_methods.make_problem(["x1", "x2", "x3"], [(-PI, PI)] * 3)
#: Analytic indices of Ishigami with a = 7, b = 0.1 (Saltelli et al. 2008, Table 2.1 & 4.1).
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]
LINEAR_A = np.array([1.0, -2.0, 0.5])
LINEAR = sweep_methods.make_problem(["a", "b", "c"], [(0.0, 1.0), (0.0, 2.0), (-1.0, 1.0)])


def ishigami(x: np.ndarray) -> dict[str, np.ndarray]:
    """Ishigami function, plus a 0/1 outcome for the probability table."""
    y = np.sin(x[:, 0]) + 7.0 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    return {"y": y, "reached_y_positive": (y > 0).astype(float)}


def linear(x: np.ndarray) -> dict[str, np.ndarray]:
    return {"y": x @ LINEAR_A}


class FailAfter:
    """Evaluates Ishigami for ``k`` chunks, then raises: a sweep killed part-way."""

    def __init__(self, k: int) -> None:
        self.left = k

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self.left == 0:
            raise KeyboardInterrupt("killed")
        self.left -= 1
        return ishigami(x)


class Counting:
    """Ishigami that counts the chunks it evaluates."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        return ishigami(x)


def _table(result, outcome: str, index: str) -> np.ndarray:
    rows = result.indices.query("outcome == @outcome and index == @index and time.isna()")
    return rows["value"].to_numpy()


def assert_same_result(a, b) -> None:
    xr.testing.assert_identical(a.dataset, b.dataset)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    pd.testing.assert_frame_equal(a.probabilities, b.probabilities)


# ------------------------------------------------------------------ known indices


def test_sobol_recovers_ishigami_indices():
    res = run_sweep(ISHIGAMI, ishigami, method="sobol", n=4096, seed=1, chunk_size=5000)
    assert res.dataset.sizes["run"] == 4096 * 5
    np.testing.assert_allclose(_table(res, "y", "S1"), ISHIGAMI_S1, atol=0.03)
    np.testing.assert_allclose(_table(res, "y", "ST"), ISHIGAMI_ST, atol=0.03)
    conf = res.indices.query("outcome == 'y'")["conf"]
    assert (conf > 0).all() and (conf < 0.1).all()


def test_batched_sobol_analysis_equals_salib():
    from SALib.analyze import sobol as sobol_analyze

    x = sweep_methods.sample(ISHIGAMI, "sobol", 256, 0)
    ys = [ishigami(x)["y"], x[:, 0] ** 2 + 0.5 * x[:, 2], (x[:, 1] > 0).astype(float)]
    batch = sweep_methods.sobol_indices(np.column_stack(ys), 3, seed=7)
    for k, y in enumerate(ys):
        ref = sobol_analyze.analyze(ISHIGAMI, y, calc_second_order=False, seed=7)
        for key in ("S1", "ST"):
            np.testing.assert_allclose(batch[key][0][:, k], ref[key], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(
                batch[key][1][:, k], ref[f"{key}_conf"], rtol=1e-10, atol=1e-12
            )


def test_sobol_with_seed_zero_is_reproducible():
    # SALib's own sobol.analyze ignores seed=0 (``if seed:``) and draws unseeded.
    a = run_sweep(ISHIGAMI, ishigami, method="sobol", n=64, seed=0)
    b = run_sweep(ISHIGAMI, ishigami, method="sobol", n=64, seed=0)
    assert_same_result(a, b)


def test_morris_ranks_ishigami_and_linear_effects():
    res = run_sweep(ISHIGAMI, ishigami, method="morris", n=200, seed=0, analysed=["y"])
    mu_star = _table(res, "y", "mu_star")
    assert mu_star[0] > mu_star[2] > 0 and mu_star[1] > mu_star[2]
    # x3 acts only through its interaction with x1: its effects vary a lot (sigma > mu*/2).
    assert _table(res, "y", "sigma")[2] > mu_star[2] / 2
    lin = run_sweep(LINEAR, linear, method="morris", n=10, seed=0)
    widths = np.diff(np.asarray(LINEAR["bounds"]), axis=1)[:, 0]
    # A linear model has constant elementary effects a_i * (high - low): mu* exact, sigma 0.
    np.testing.assert_allclose(_table(lin, "y", "mu_star"), np.abs(LINEAR_A) * widths)
    np.testing.assert_allclose(_table(lin, "y", "sigma"), 0.0, atol=1e-12)


@pytest.mark.parametrize("method", ["mc", "lhs"])
def test_regression_coefficients_of_a_linear_model(method):
    res = run_sweep(LINEAR, linear, method=method, n=2000, seed=3)
    std = np.diff(np.asarray(LINEAR["bounds"]), axis=1)[:, 0] / math.sqrt(12)
    expected = LINEAR_A * std / math.sqrt(np.sum((LINEAR_A * std) ** 2))
    np.testing.assert_allclose(_table(res, "y", "SRC"), expected, atol=0.02)


def test_probabilities_and_constant_outcomes():
    res = run_sweep(ISHIGAMI, ishigami, method="mc", n=20000, seed=0)
    row = res.probabilities.loc["y_positive"]
    y = res.dataset["y"].values
    assert row["probability"] == pytest.approx((y > 0).mean())
    assert row["stderr"] == pytest.approx(
        math.sqrt(row["probability"] * (1 - row["probability"]) / 20000)
    )
    assert row["n_runs"] == 20000
    flat = run_sweep(LINEAR, lambda x: {"y": np.ones(len(x))}, method="sobol", n=8)
    assert flat.indices["value"].isna().all()


# ------------------------------------------------------------------ real model


def test_seeded_sweep_is_reproducible():
    kwargs = dict(method="morris", n=3, outcomes=["industrial_scale_2025", "scale_target_year"])
    a = sweep("baseline", seed=5, **kwargs)
    b = sweep("baseline", seed=5, **kwargs)
    assert_same_result(a, b)
    c = sweep("baseline", seed=6, **kwargs)
    assert not np.array_equal(
        a.dataset["industrial_scale_2025"], c.dataset["industrial_scale_2025"]
    )
    ds = a.dataset
    d = len(load_scenario("baseline").uncertain)
    assert ds.sizes == {"run": 3 * (d + 1), "time": len(MAIN_YEARS)}
    assert ds[MAIN].dims == ("run", "time")
    assert set(a.probabilities.index) == {t.id for t in load_targets() if t.tracked}
    over_time = a.indices.dropna(subset=["time"])
    assert set(over_time["outcome"]) == {MAIN}
    assert sorted(over_time["time"].unique()) == list(MAIN_YEARS)


#: A small model sweep run in process and on Dask (here and in test_cluster.py).
SMALL_MODEL_SWEEP = dict(
    method="mc",
    n=40,
    seed=2,
    chunk_size=10,
    params=["industrial_investment_growth", "demand_growth_nev", "rd_intensity"],
    outcomes=["industrial_scale_2025", "cluster_nev_2025", "reached_industrial_scale"],
)


def test_local_cluster_matches_in_process():
    local = sweep("plan", **SMALL_MODEL_SWEEP)
    distributed = sweep("plan", workers=2, **SMALL_MODEL_SWEEP)
    assert "LocalCluster (2 worker" in distributed.manifest["executor"]
    assert_same_result(local, distributed)
    # the simulation's time is split: the cluster's start, the chunks, the cluster's stop
    t = distributed.manifest["timing"]
    assert min(t["start"], t["evaluate"], t["stop"]) >= 0
    assert t["start"] + t["evaluate"] + t["stop"] == pytest.approx(t["simulate"], abs=0.01)
    assert t["start"] > local.manifest["timing"]["start"]  # the workers take time to start


def test_local_cluster_sizes_chunks_for_its_workers():
    # no chunk size given: about four chunks per worker, so two workers share the work
    args = {k: v for k, v in SMALL_MODEL_SWEEP.items() if k != "chunk_size"}
    res = sweep("plan", workers=2, **{**args, "method": "lhs", "n": 2100})
    assert res.manifest["chunk_size"] == auto_chunk_size(2100, 2) == 263
    assert res.manifest["chunks"] == 8


def test_automatic_chunk_sizes():
    assert auto_chunk_size(25_600, 1) == 4096  # in process: big chunks (capped)
    assert auto_chunk_size(25_600, 2) == 3200  # Sobol N=1024 on 2 workers: 8 chunks
    assert auto_chunk_size(25_600, 8) == 800
    assert auto_chunk_size(300, 2) == 256  # never below the floor
    assert auto_chunk_size(10**7, 64) == 4096
    for runs in (1, 999, 25_600, 10**6):
        for slots in (1, 2, 3, 16):
            size = auto_chunk_size(runs, slots)
            assert 256 <= size <= 4096
            chunks = math.ceil(runs / size)
            # as many chunks per slot as asked, unless a bound stops it
            assert chunks >= 4 * slots or size == 256
            assert chunks <= 4 * slots or size == 4096


def test_a_resumed_sweep_keeps_its_chunk_size(tmp_path):
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(ISHIGAMI, FailAfter(2), method="lhs", n=1000, seed=4, chunk_size=300, out=out)
    counting = Counting()
    resumed = run_sweep(ISHIGAMI, counting, method="lhs", n=1000, seed=4, out=out)
    assert resumed.manifest["chunk_size"] == 300  # not the automatic 256
    assert resumed.manifest["chunks_reused"] == 2 and counting.calls == 2
    fresh = run_sweep(ISHIGAMI, ishigami, method="lhs", n=1000, seed=4)
    assert fresh.manifest["chunk_size"] == auto_chunk_size(1000, 1) == 256
    assert_same_result(fresh, resumed)


# ------------------------------------------------------------------ chunks on disk


def test_killed_sweep_resumes_to_identical_result(tmp_path):
    whole = run_sweep(
        ISHIGAMI, ishigami, method="sobol", n=64, seed=4, chunk_size=50, out=tmp_path / "whole"
    )
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(ISHIGAMI, FailAfter(3), method="sobol", n=64, seed=4, chunk_size=50, out=out)
    assert sorted(p.name for p in (out / "chunks").iterdir()) == [
        "chunk_00000.npz",
        "chunk_00001.npz",
        "chunk_00002.npz",
    ]
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    counting = Counting()
    resumed = run_sweep(ISHIGAMI, counting, method="sobol", n=64, seed=4, chunk_size=50, out=out)
    assert counting.calls == math.ceil(64 * 5 / 50) - 3
    assert resumed.manifest["chunks_reused"] == 3
    assert_same_result(whole, resumed)
    xr.testing.assert_identical(xr.load_dataset(out / "sweep.nc"), whole.dataset)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "indices.csv"), pd.read_csv(tmp_path / "whole" / "indices.csv")
    )
    # A finished sweep rerun does no work at all.
    again = Counting()
    run_sweep(ISHIGAMI, again, method="sobol", n=64, seed=4, chunk_size=50, out=out)
    assert again.calls == 0
    # Another chunk size cannot reuse the old chunk files, but gives the same result.
    rechunked = run_sweep(ISHIGAMI, ishigami, method="sobol", n=64, seed=4, chunk_size=70, out=out)
    assert rechunked.manifest["chunks_reused"] == 0
    assert_same_result(whole, rechunked)


def test_unreadable_chunk_is_computed_again(tmp_path):
    first = run_sweep(LINEAR, linear, method="lhs", n=40, chunk_size=10, out=tmp_path)
    (tmp_path / "chunks" / "chunk_00002.npz").write_bytes(b"not a chunk")
    counting = Counting()
    again = run_sweep(
        LINEAR,
        lambda x: (counting(x), linear(x))[1],
        method="lhs",
        n=40,
        chunk_size=10,
        out=tmp_path,
    )
    assert counting.calls == 1
    assert_same_result(first, again)


def test_progress_bar_shows_runs_per_second(capsys):
    run_sweep(LINEAR, linear, method="lhs", n=50, chunk_size=10, progress=True)
    err = capsys.readouterr().err
    assert "50/50" in err and "run/s" in err


def test_full_outputs_on_disk(tmp_path):
    out = tmp_path / "plan-sobol"
    res = sweep(
        "plan",
        method="sobol",
        n=4,
        out=out,
        params=["industrial_investment_growth", "demand_growth_nev"],
    )
    names = {p.name for p in out.iterdir()}
    for stem in ("indices", "probabilities", "fan"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert {"sweep.nc", "indices.csv", "probabilities.csv", "manifest.json", "chunks"} <= names
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity"]["scenario_toml"] == load_scenario("plan").to_toml()
    assert manifest["identity"]["model_sha256"] == res.dataset.attrs["model_sha256"]
    assert manifest["runs"] == 4 * 4 and manifest["status"] == "complete"
    assert {"SALib", "dask", "numpy", "xarray"} <= set(manifest["versions"])
    assert "2031" in manifest["notes"]["scale_target_year"]
    assert "2031 = not reached" in res.dataset["scale_target_year"].attrs["description"]
    assert res.dataset["demand_growth_nev"].attrs["units"] == "1/Year"
    probs = pd.read_csv(out / "probabilities.csv", index_col="id")
    pd.testing.assert_frame_equal(probs, res.probabilities, check_dtype=False)
    assert set(probs.columns) == {"probability", "stderr", "n_runs"}


def test_scale_target_year():
    target = next(t for t in load_targets() if t.id == "industrial_scale")
    plan = OutcomePlan(
        (OutcomeSpec("scale_target_year", "first_year", "Industrial scale", 2025, target=target),),
        ("Industrial scale",),
        MAIN_YEARS,
        main_outcome(),
    )
    series = np.array([np.linspace(20000, 24000, 9), np.linspace(20000, 30000, 9)])
    ds = xr.Dataset(
        {"Industrial scale": (("run", "time"), series)},
        coords={"time": np.asarray(MAIN_YEARS, dtype=float)},
    )
    out = reduce_outcomes(ds, plan)
    # 20000 + 1250 per year hits 25000 exactly in 2026: ">=" counts it.
    np.testing.assert_array_equal(out["scale_target_year"], [2031, 2026])
    np.testing.assert_array_equal(out[MAIN], series)


def test_params_use_scenario_range_else_parameter_bounds():
    from czsim.parameters import load_parameters

    problem = build_problem(
        load_scenario("baseline"), ["industrial_investment_growth", "RD intensity"]
    )
    p = load_parameters()[problem["names"][1]]
    assert problem["names"][0] == "industrial_investment_growth"
    assert problem["bounds"] == [[0.03, 0.14], [p.low, p.high]]


def test_outcome_names():
    names = list_outcomes()
    assert names[:2] == ["industrial_scale_2025", "cluster_equipment_2025"]
    assert "cluster_other_industry_2025" in names and "scale_target_year" in names
    assert {f"reached_{t.id}" for t in load_targets() if t.tracked} <= set(names)
    analysed, plan = plan_outcomes(["cluster_nev_2025"])
    assert analysed == ["cluster_nev_2025"]
    assert "Cluster output" in plan.variables and set(MAIN_YEARS) <= set(plan.times)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(params=["industrial_investment_grwth"]),
            "unknown parameter 'industrial_investment_grwth' (did you mean 'industrial_investment_growth'",
        ),
        (
            dict(outcomes=["industrial_scale_2052"]),
            "unknown outcome 'industrial_scale_2052' (did you mean 'industrial_scale_2025'",
        ),
        (dict(method="sobol", n=1000), "power of two (at least 2), got 1000; try 512 or 1024"),
        (dict(method="morris", n=0), "n must be at least 1"),
        (dict(method="mc", n=5), "parameters needs n >= "),
        (dict(method="sobl"), "unknown method 'sobl'"),
        (dict(chunk_size=0), "chunk size must be a whole number >= 1"),
        (dict(workers=0), "workers must be a whole number >= 1"),
    ],
)
def test_bad_input_is_one_clear_line(kwargs, message):
    args = {"method": "morris", "n": 2, **kwargs}
    with pytest.raises(CzsimError) as err:
        sweep("baseline", **args)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ((0.1, 0.05), "empty or inverted range: low 0.1 must be below high 0.05"),
        ((0.08, 0.08), "empty or inverted range"),
        ((0.0, 0.9), "outside the allowed range"),
    ],
)
def test_bad_ranges(bounds, message):
    # Empty or inverted ranges are refused when the Scenario is built, wider ones by the sweep.
    with pytest.raises(CzsimError, match=message):
        scenario = Scenario(name="bad", uncertain={"industrial_investment_growth": bounds})
        sweep(scenario, method="mc", n=10)


def test_scenario_without_uncertain_ranges_needs_params():
    with pytest.raises(CzsimError, match="has no \\[uncertain\\] ranges; name the parameters"):
        sweep(default_scenario(), method="lhs", n=10)


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    start = time.monotonic()
    with pytest.raises(CzsimError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        sweep("baseline", method="morris", n=2, scheduler="tcp://127.0.0.1:1", out=tmp_path / "out")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists()


def test_out_folder_with_a_different_sweep_is_refused(tmp_path):
    run_sweep(LINEAR, linear, method="mc", n=10, seed=0, out=tmp_path)
    with pytest.raises(CzsimError, match="different sweep \\(differs in seed\\).*--overwrite"):
        run_sweep(LINEAR, linear, method="mc", n=10, seed=1, out=tmp_path)
    res = run_sweep(LINEAR, linear, method="mc", n=10, seed=1, out=tmp_path, overwrite=True)
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 1
    assert res.manifest["chunks_reused"] == 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(CzsimError, match="not a czsim sweep"):
        run_sweep(LINEAR, linear, method="mc", n=10, out=tmp_path / "other")


# ------------------------------------------------------------------ command line


def _sweep_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="czsim")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_sweep_prints_summary_and_writes_files(tmp_path):
    out = tmp_path / "cli"
    args = _sweep_parser().parse_args(
        [
            "sweep",
            "baseline",
            "--method",
            "lhs",
            "--n",
            "24",
            "--seed",
            "1",
            "--out",
            str(out),
            "--params",
            "industrial_investment_growth,demand_growth_nev,capital_productivity",
            "--chunk-size",
            "10",
        ]
    )
    console = Console(record=True, width=140)
    assert args.func(args, console) == 0
    text = console.export_text()
    assert "industrial_scale_2025" in text and "SRC" in text
    assert "Probability of reaching the target" in text and str(out) in text
    assert (out / "sweep.nc").is_file() and (out / "fan.svg").is_file()


def test_figures_on_request_without_simulating_again(tmp_path):
    out = tmp_path / "s"
    argv = ["sweep", "baseline", "--method", "lhs", "--n", "12", "--out", str(out)]
    argv += ["--params", "industrial_investment_growth,demand_growth_nev", "--chunk-size", "6"]
    args = _sweep_parser().parse_args([*argv, "--no-figures"])
    assert args.func(args, Console(record=True, width=140)) == 0
    first = json.loads((out / "manifest.json").read_text())
    assert (out / "sweep.nc").is_file() and not list(out.glob("*.png"))
    assert not any(f.endswith((".png", ".svg")) for f in first["files"])
    args = _sweep_parser().parse_args(argv)
    assert args.func(args, Console(record=True, width=140)) == 0
    again = json.loads((out / "manifest.json").read_text())
    assert again["chunks_reused"] == again["chunks"] == 2
    assert {"fan.png", "fan.svg"} <= set(again["files"]) and (out / "fan.png").is_file()


def test_cli_main_exit_codes(tmp_path, capsys):
    from czsim.cli import main

    assert main(["sweep", "baseline", "--method", "sobol", "--n", "6"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("czsim: error:") and "try 4 or 8" in err and "\n" not in err
    assert (
        main(
            [
                "sweep",
                "baseline",
                "--method",
                "morris",
                "--n",
                "2",
                "--out",
                str(tmp_path / "m"),
                "--params",
                "rd_intensity,patents_per_rd",
            ]
        )
        == 0
    )
    assert (tmp_path / "m" / "indices.csv").is_file()


@pytest.mark.parametrize("method", sweep_methods.METHODS)
def test_samples_never_leave_their_bounds_by_an_ulp(method):
    """low + u (high - low) can land one ulp outside the range (0.15 + 1.0 * 0.30000000000000004
    = 0.45000000000000007), which the runs then refuse: every sampler's values stay in bounds.
    The ranges here are the kind that do it; Morris and the Latin hypercube reach the ends."""
    bounds = [(0.15, 0.45), (0.1, 0.7), (-0.05, 0.4), (0.3, 0.9), (1.5, 12.0), (0.02, 0.15)]
    names = [f"x{i}" for i in range(len(bounds))]
    problem = sweep_methods.make_problem(names, bounds)
    n = {"sobol": 64, "morris": 40}.get(method, 400)
    x = sweep_methods.sample(problem, method, n, seed=5)
    lows, highs = np.array(bounds).T
    assert (x >= lows).all() and (x <= highs).all()
    if method == "morris":  # its grid reaches both ends exactly
        assert np.isclose(x, highs).any() and np.isclose(x, lows).any()


class WarmsUp:
    """An evaluator with a slow ``warm_up``: chunks must not start before it is done."""

    def __init__(self) -> None:
        self.warm = None
        self.warm_done_before_chunks: list[bool] = []

    def warm_up(self, x: np.ndarray) -> None:
        time.sleep(0.3)
        self.warm = len(x)

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.warm_done_before_chunks.append(self.warm is not None)
        return ishigami(x)


def test_a_local_cluster_waits_for_the_warm_up_before_sending_chunks(monkeypatch):
    """With local workers the sweep first lets the evaluator prepare this machine (the model
    evaluator compiles the kernel the workers then load from the shared cache), overlapped
    with the workers' start, and sends no chunk before that is done; in process it does not
    bother (the first chunk compiles anyway)."""
    import czsim.experiments.sweeps.run as run_module
    from czsim.experiments.sweeps.executors import InProcess

    monkeypatch.setattr(run_module, "open_executor", lambda scheduler, workers: InProcess())
    evaluator = WarmsUp()
    run_sweep(ISHIGAMI, evaluator, method="lhs", n=500, seed=1, chunk_size=100, workers=2)
    assert evaluator.warm == 500
    assert evaluator.warm_done_before_chunks == [True] * 5
    evaluator = WarmsUp()
    run_sweep(ISHIGAMI, evaluator, method="lhs", n=500, seed=1, chunk_size=100)
    assert evaluator.warm is None


def test_a_failing_warm_up_is_left_to_the_workers(monkeypatch):
    import czsim.experiments.sweeps.run as run_module
    from czsim.experiments.sweeps.executors import InProcess

    class Broken(WarmsUp):
        def warm_up(self, x):
            raise RuntimeError("no compiler here")

    monkeypatch.setattr(run_module, "open_executor", lambda scheduler, workers: InProcess())
    res = run_sweep(ISHIGAMI, Broken(), method="lhs", n=200, seed=1, chunk_size=100, workers=1)
    assert res.dataset["y"].shape == (200,)


def test_the_model_evaluators_warm_up_runs_one_optimised_batch(monkeypatch):
    """The model evaluator's warm-up runs the smallest batch that uses the optimised kernel
    (so that is the library in the cache), and nothing without a kernel."""
    from czsim.engines import kernel
    from czsim.experiments.sweeps.model import ModelEvaluator

    seen = []
    monkeypatch.setattr(ModelEvaluator, "__call__", lambda self, x: seen.append(len(x)))
    evaluator = object.__new__(ModelEvaluator)
    x = np.zeros((10_000, 3))
    monkeypatch.setattr(kernel, "enabled", lambda: True)
    evaluator.warm_up(x)
    assert seen == [kernel.OPTIMISE_RUNS]
    seen.clear()
    evaluator.warm_up(x[:10])
    assert seen == [10]
    monkeypatch.setattr(kernel, "enabled", lambda: False)
    seen.clear()
    evaluator.warm_up(x)
    assert seen == []


def test_the_kernels_optimisation_follows_the_whole_batch(monkeypatch):
    """A batch split into thread blocks smaller than OPTIMISE_RUNS is still optimised as a
    whole: each block's kernel call is told the whole batch's size, which picks the level."""
    import czsim
    from czsim.engines import kernel

    if not kernel.enabled():
        pytest.skip("no C compiler")
    calls = []
    real = kernel.simulate

    def spy(model, R, *args, batch=None):
        calls.append((R, batch))
        return real(model, R, *args, batch=batch)

    monkeypatch.setattr(kernel, "simulate", spy)
    monkeypatch.setenv("CZSIM_THREADS", "2")
    n = kernel.OPTIMISE_RUNS
    frame = pd.DataFrame({"industrial_investment_growth": np.linspace(0.0, 0.2, n)})
    czsim.run_many("baseline", frame, variables=["Industrial scale"], times=[2025])
    assert len(calls) == 2 and sum(r for r, _ in calls) == n
    assert all(r < kernel.OPTIMISE_RUNS and batch == n for r, batch in calls)


def test_tornado_draws_the_strongest_parameters_and_names_how_many_are_left_out(tmp_path):
    from czsim.experiments.sweeps import figures

    strength = {f"p{i:02d}": float(i) for i in range(30)}  # p29 strongest
    rows = [
        {"outcome": "y", "time": np.nan, "parameter": p, "index": k, "value": v, "conf": 0.1}
        for p, v in strength.items()
        for k in ("ST", "S1")
    ]
    paths = figures.plot_indices(
        pd.DataFrame(rows), "y", {}, tmp_path, title="t", top=figures.TOP_PARAMETERS
    )
    svg = (tmp_path / "indices.svg").read_text(encoding="utf-8")
    assert {p.name for p in paths} == {"indices.png", "indices.svg"}
    left_out = 30 - figures.TOP_PARAMETERS
    drawn = {p for p in strength if f">{p}<" in svg}
    assert drawn == {f"p{i:02d}" for i in range(left_out, 30)}  # the strongest, and only them
    assert f"{left_out} weaker parameters in indices.csv" in svg

    figures.plot_indices(pd.DataFrame(rows), "y", {}, tmp_path, title="t", top=30)
    svg = (tmp_path / "indices.svg").read_text(encoding="utf-8")
    assert all(f">{p}<" in svg for p in strength) and "weaker" not in svg
