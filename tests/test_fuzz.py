"""Random scenario files and command lines, valid and invalid: the CLI exits 0 with finite
results or 2 with one line; never a traceback, never an unbounded wait.

Kept to about a minute of CI time with ``max_examples``; every example runs ``main`` in this
process, so the model is compiled once.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from czsim.cli import main
from czsim.parameters import load_parameters
from czsim.scenarios import list_scenarios

TABLE = load_parameters()
NAMES = sorted(TABLE)
VARIABLES = sorted(p.full_variable for p in TABLE.values())
#: Seconds one example may take (a run is ~0.5 s once the model is compiled).
BOUND = 60

SETTINGS = settings(
    max_examples=int(os.environ.get("CZSIM_FUZZ_EXAMPLES", "30")),
    deadline=None,  # bounded by BOUND below, measured around the call
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=not os.environ.get("CZSIM_FUZZ_RANDOM"),  # CI: the same examples every run
)


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def in_range(name: str) -> st.SearchStrategy[str]:
    p = TABLE[name]
    return st.floats(p.low, p.high, allow_nan=False).map(repr)


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda x: (
            "nan"
            if math.isnan(x)
            else ("inf" if x == math.inf else ("-inf" if x == -math.inf else repr(x)))
        )
    ),
    st.integers(-(10**6), 10**6).map(str),
)
junk_values = st.sampled_from(
    ['"text"', "true", "[1, 2]", "[[[]]]", "{}", "{ low = 1 }", "1979-05-27"]
)
year_keys = st.one_of(
    st.integers(2000, 2050).map(str),
    st.sampled_from(["nan", "inf", '"-inf"', "soon", '"2025.0"', '"2025"', "2025"]),
)


@st.composite
def parameter_line(draw) -> str:
    name = draw(st.sampled_from(NAMES))
    # Mostly valid lines, so that files which should run (exit 0) are common too.
    pick = draw(st.integers(0, 9))
    key = (
        toml_string(TABLE[name].full_variable)
        if pick == 8
        else draw(st.text("abcdefghij_", min_size=1, max_size=12))
        if pick == 9
        else name
    )
    kind = draw(st.integers(0, 9))
    if kind < 5:
        value = draw(in_range(name))
    elif kind == 5:
        value = draw(st.one_of(numbers, junk_values))
    else:
        good_years = st.integers(2021, 2030).map(str)
        points = draw(
            st.lists(
                st.tuples(
                    year_keys if kind == 9 else good_years,
                    numbers if kind == 9 else in_range(name),
                ),
                min_size=0 if kind == 9 else 1,
                max_size=4,
                unique_by=lambda p: p[0],
            )
        )
        value = "{ " + ", ".join(f"{k} = {v}" for k, v in points) + " }"
    return f"{key} = {value}"


@st.composite
def uncertain_line(draw) -> str:
    name = draw(st.sampled_from(NAMES))
    low, high = draw(in_range(name)), draw(st.one_of(in_range(name), numbers))
    return f"{name} = {{ low = {low}, high = {high} }}"


@st.composite
def scenario_file(draw) -> bytes:
    lines = []
    if draw(st.booleans()):
        bad = draw(st.integers(0, 4)) == 0
        parent = draw(
            st.one_of(
                st.sampled_from([".", "/", "..", "../pyproject", "/etc/passwd", "", "x" * 300]),
                st.text(max_size=10),
            )
            if bad
            else st.sampled_from(list_scenarios())
        )
        lines.append(f"extends = {toml_string(parent)}")
    if draw(st.booleans()):
        lines.append(f"name = {toml_string(draw(st.text(max_size=30)))}")
    if draw(st.booleans()):
        lines.append(f"description = {toml_string(draw(st.text(max_size=30)))}")
    lines.append("[parameters]")
    lines += draw(st.lists(parameter_line(), max_size=3))
    if draw(st.integers(0, 3)) == 0:
        lines.append("[uncertain]")
        lines += draw(st.lists(uncertain_line(), max_size=2))
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 19)) == 0:
        data += draw(st.binary(max_size=8))
    return data


def call(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    assert time.perf_counter() - start < BOUND, args
    return rc, out.getvalue(), err.getvalue()


def check(rc: int, err: str, args: list[str]) -> None:
    event(f"exit {rc}")
    assert "Traceback" not in err, (args, err)
    assert rc in (0, 2), (args, rc, err)
    if rc == 2:
        assert err.startswith("czsim: error: ") and err.count("\n") == 1, (args, err)


@SETTINGS
@given(data=scenario_file())
def test_random_scenario_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(data)
        out = Path(tmp) / "r.csv"
        args = ["run", str(path), "--out", str(out)]
        rc, _, err = call(args)
        check(rc, err, args)
        if rc == 0:
            frame = pd.read_csv(out, index_col=[0, 1])
            values = frame.select_dtypes("number").to_numpy()
            assert np.isfinite(values).all(), "exit 0 with non-finite results"
        else:
            assert not out.exists()


COMMANDS = st.sampled_from(["run", "compare", "targets", "sweep", "calibrate", "frob", ""])
SCENARIO_ARGS = st.one_of(
    st.sampled_from(list_scenarios()),
    st.sampled_from(["plann", "", "/", "/dev/null", ".", "x" * 300, "scenarios/plan.toml"]),
)
FLAGS = st.sampled_from(
    [
        "--engine",
        "--out",
        "--lang",
        "--method",
        "--n",
        "--seed",
        "--params",
        "--chunk-size",
        "--workers",
        "--model",
        "--observations",
        "--bogus",
        "-h",
    ]
)
FLAG_VALUES = st.one_of(
    st.sampled_from(
        ["ensemble", "pysd", "zh", "en", "fr", "morris", "mc", "lhs", "sobol", "x", "-1", "0"]
    ),
    st.sampled_from(["2", "4", "nan", "1e9", str(2**40), "rd_intensity", "r.csv", "r.json", "/"]),
    st.text(max_size=8),
)


@st.composite
def command_line(draw) -> list[str]:
    command = draw(COMMANDS)
    args = [command] if command else []
    if command in ("run", "compare", "sweep"):
        args += draw(st.lists(SCENARIO_ARGS, min_size=0, max_size=2 if command == "compare" else 1))
    for _ in range(draw(st.integers(0, 4))):
        args.append(draw(FLAGS))
        if draw(st.integers(0, 4)):
            args.append(draw(FLAG_VALUES))
    if command == "calibrate" and "--observations" not in args:
        # A real fit takes minutes: keep calibrate to inputs refused before it starts.
        args += ["--observations", "/dev/null"]
    if command == "sweep":
        # Keep sweeps small: a couple of parameters, few runs, no cluster.
        args = [a for a in args if a not in ("--workers",)]
        args += ["--params", "rd_intensity,patents_per_rd"]
    return args


@SETTINGS
@given(args=command_line())
def test_random_command_lines(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # anything written lands here
        try:
            if "--n" in args:
                i = args.index("--n")
                with contextlib.suppress(IndexError, ValueError):
                    if int(args[i + 1]) > 64:
                        args[i + 1] = "8"  # a valid large n is a long sweep, not a bad input
            rc, _, err = call(args)
        finally:
            os.chdir(cwd)
        check(rc, err, args)


@SETTINGS
@given(
    name=st.text(min_size=1, max_size=40).filter(lambda t: t.strip()),
    description=st.text(max_size=40),
    values=st.dictionaries(st.sampled_from(NAMES), st.data(), max_size=4),
)
def test_to_toml_round_trips_any_text_and_values(name, description, values) -> None:
    """What czsim writes (calibrate --write-scenario, the app's download) always reads back."""
    from czsim.scenarios import Scenario, load_scenario

    chosen = {k: d.draw(in_range(k).map(float)) for k, d in values.items()}
    scenario = Scenario(name=name, description_en=description, values=chosen)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(scenario.to_toml(), encoding="utf-8")
        back = load_scenario(path)
    # st.text draws no lone surrogates, so every name and description must survive exactly.
    assert back.name == name and back.description_en == description
    assert dict(back.values) == chosen
