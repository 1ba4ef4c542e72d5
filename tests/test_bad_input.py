"""Bad input and faults, as a hostile user would try them: one line, exit 2 (or the named
exception), no traceback, the file/line/key where it applies, nothing written or lost.

One parametrised table per case class; every CLI case runs ``main`` in this process (the
model is compiled once) and checks that files that existed before are untouched.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import czsim
from czsim.cli import main
from czsim.errors import (
    ClusterError,
    CzsimError,
    DataError,
    InputError,
    InputTypeError,
    LimitError,
    ModelError,
    OutputError,
    ParameterError,
    ScenarioError,
)
from czsim.experiments.sweeps import methods as sweep_methods
from czsim.experiments.sweeps import run_sweep
from czsim.parameters import is_number
from czsim.scenarios import Scenario, load_scenario, load_scenario_text

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` with its bytes (FIFOs and loops skipped)."""
    out = {}
    for p in folder.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(folder))] = p.read_bytes()
        except OSError:
            continue
    return out


def cli(args: list[str], capsys, folder: Path | None = None) -> tuple[int, str, str]:
    """Run ``czsim args``; check that ``folder``'s files (if given) are untouched."""
    before = snapshot(folder) if folder is not None else None
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    if before is not None:
        after = snapshot(folder)
        changed = [k for k in before if after.get(k) != before[k]]
        assert not changed, f"pre-existing files changed: {changed}"
    return rc, out, err


def assert_one_line(err: str, *needles: str) -> None:
    assert err.startswith("czsim: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- scenario files

HEAD = 'extends = "baseline"\n[parameters]\n'
SERIES = "desired_tech_retrofit_share"

#: (case, file text, text the one line must contain; {f} is the file's path)
SCENARIO_FILES = [
    ("nan year", HEAD + f"{SERIES} = {{ nan = 0.45, 2025 = 0.6 }}\n", "{f}:3 [" + SERIES + ".nan]"),
    ("inf year", HEAD + f"{SERIES} = {{ inf = 0.45, 2025 = 0.6 }}\n", "{f}:3 [" + SERIES + ".inf]"),
    ("-inf year", HEAD + f'{SERIES} = {{ "-inf" = 0.45 }}\n', "finite years"),
    ("year not a number", HEAD + f"{SERIES} = {{ soon = 0.45 }}\n", "{f}:3"),
    (
        "same year twice",
        HEAD + f'{SERIES} = {{ 2025 = 0.5, "2025.0" = 0.6 }}\n',
        "year 2025 is given twice",
    ),
    ("year before the model", HEAD + f"{SERIES} = {{ 2019 = 0.5 }}\n", "{f}:3 [" + SERIES),
    ("year after the model", HEAD + f"{SERIES} = {{ 2040 = 0.5 }}\n", "outside the model's time"),
    ("empty series", HEAD + f"{SERIES} = {{}}\n", "{f}:3"),
    ("series value out of range", HEAD + f"{SERIES} = {{ 2025 = 7 }}\n", "{f}:3"),
    (
        "parameter by name and by variable",
        HEAD + 'rd_intensity = 0.02\n"RD intensity" = 0.03\n',
        "{f}:4 [parameters.RD intensity]: rd_intensity is given twice",
    ),
    ("unknown parameter", HEAD + "\n\nrd_intensty = 0.02\n", "{f}:5 [rd_intensty]"),
    ("out of range", HEAD + "rd_intensity = 5\n", "{f}:3 [rd_intensity]: 5 is outside"),
    ("text value", HEAD + 'rd_intensity = "high"\n', "{f}:3 [rd_intensity]"),
    ("boolean value", HEAD + "rd_intensity = true\n", "{f}:3 [rd_intensity]"),
    ("unknown top key", 'extends = "baseline"\n\nextend = "plan"\n', "{f}:3 [extend]"),
    ("extends absolute", 'extends = "/etc/passwd"\n', "{f}:1 [extends]: extends names"),
    ("extends dot", '\nextends = "."\n', "{f}:2 [extends]"),
    ("extends root", 'extends = "/"\n', "{f}:1 [extends]"),
    ("extends dot-dot", 'extends = "../pyproject"\n', "{f}:1 [extends]: extends names"),
    ("extends a folder path", 'extends = "sub/baseline"\n', "[extends]"),
    ("extends 5000 characters", f'extends = "{"x" * 5000}"\n', "the limit is 200"),
    ("extends not text", "extends = 3\n", "{f}:1 [extends]"),
    ("extends empty", 'extends = ""\n', "{f}:1 [extends]"),
    ("extends missing", 'extends = "nosuch"\n', "{f}:1 [extends]: parent scenario 'nosuch'"),
    ("malformed TOML", 'extends = "baseline"\nx = = 1\n', "{f}:2: malformed TOML"),
    ("deeply nested", "x = " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
    ("deep inline tables", "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nested"),
    (
        "inverted range",
        'extends = "baseline"\n[uncertain]\nrd_intensity = { low = 0.03, high = 0.01 }\n',
        "{f}:3 [uncertain.rd_intensity]: empty or inverted",
    ),
    (
        "range without high",
        'extends = "baseline"\n[uncertain]\nrd_intensity = { low = 0.01 }\n',
        "{f}:3 [uncertain.rd_intensity]",
    ),
    (
        "range twice",
        '[uncertain]\nrd_intensity = { low = 0.01, high = 0.02 }\n"RD intensity" = '
        "{ low = 0.01, high = 0.02 }\n",
        "{f}:3",
    ),
    ("parameters not a table", 'extends = "baseline"\nparameters = 3\n', "{f}:2 [parameters]"),
    ("name not text", "name = 3\n", "{f}:1 [name]: name must be text"),
    ("name too long", f'name = "{"n" * 300}"\n', "{f}:1 [name]"),
    ("name empty", 'name = "  "\n', "{f}:1 [name]"),
    ("description not text", "description_en = [1]\n", "{f}:1 [description_en]"),
    ("not UTF-8", b'extends = "baseline"\nname = "\xff"\n', "{f}:2: not UTF-8"),
]


@pytest.mark.parametrize(
    ("case", "text", "expected"), SCENARIO_FILES, ids=[c[0] for c in SCENARIO_FILES]
)
def test_scenario_file_errors_name_file_line_and_key(tmp_path, capsys, case, text, expected):
    path = write(tmp_path, "bad.toml", text)
    rc, _, err = cli(["run", path], capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, expected.format(f=path))


def test_bom_is_accepted(tmp_path, capsys):
    path = write(
        tmp_path, "bom.toml", b'\xef\xbb\xbfextends = "plan"\n[parameters]\nrd_intensity = 0.02\n'
    )
    assert load_scenario(path).values["rd_intensity"] == 0.02
    rc, _, err = cli(["run", path], capsys, tmp_path)
    assert rc == 0 and err == ""


def test_time_series_keeps_every_year_and_no_nan_reaches_results(tmp_path):
    path = write(tmp_path, "ok.toml", HEAD + f"{SERIES} = {{ 2025 = 0.6, 2022 = 0.5 }}\n")
    scenario = load_scenario(path)
    assert scenario.values[SERIES] == ((2022.0, 0.5), (2025.0, 0.6))
    result = czsim.run(scenario)
    assert all(np.isfinite(result[v].values).all() for v in result.data_vars)


# ----------------------------------------------------------------------------- unreadable files


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.toml"
    os.mkfifo(path)
    return path


def _loop(folder: Path) -> Path:
    path = folder / "loop.toml"
    path.symlink_to(path)
    return path


def _big(folder: Path) -> Path:
    return write(folder, "big.toml", "# padding\n" * 120_000)


UNREADABLE = [
    ("fifo", _fifo, "not a regular file"),
    ("symlink loop", _loop, "symbolic links"),
    ("folder", lambda f: (f / "dir.toml").mkdir() or f / "dir.toml", "is a folder"),
    ("missing", lambda f: f / "nothing.toml", "file not found"),
    ("device", lambda f: Path("/dev/null"), "not a regular file"),
    ("over 1 MB", _big, "the limit is 1,000,000"),
]


@pytest.mark.parametrize(("case", "make", "expected"), UNREADABLE, ids=[c[0] for c in UNREADABLE])
def test_unreadable_scenario_files_are_refused_in_bounded_time(
    tmp_path, capsys, case, make, expected
):
    path = make(tmp_path)
    start = time.perf_counter()
    rc, _, err = cli(["run", path], capsys, tmp_path)
    assert time.perf_counter() - start < 30
    assert rc == 2
    assert_one_line(err, str(path), expected)


def test_permission_denied_scenario_file(tmp_path, capsys, monkeypatch):
    # Tests may run as root, for whom chmod 000 changes nothing: refuse the open instead.
    path = write(tmp_path, "secret.toml", 'extends = "baseline"\n')
    real_open = os.open

    def deny(p, *args, **kwargs):
        if str(p) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr("czsim.tomlfile.os.open", deny)
    rc, _, err = cli(["run", path], capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, str(path), "permission denied")


# ----------------------------------------------------------------------------- output paths


def _existing(folder: Path) -> Path:
    return write(folder, "keep.csv", "old,content\n")


OUTPUTS = [
    ("run --out a folder", lambda f: ["run", "plan", "--out", f], "is a folder"),
    (
        "run --out a folder with a suffix",
        lambda f: (f / "d.csv").mkdir() or ["run", "plan", "--out", f / "d.csv"],
        "is a folder",
    ),
    (
        "run --out below a file",
        lambda f: ["run", "plan", "--out", _existing(f) / "x.csv"],
        "is a file, not a folder",
    ),
    ("run --out unknown suffix", lambda f: ["run", "plan", "--out", f / "r.json"], "format"),
    (
        "compare --out below a file",
        lambda f: ["compare", "plan", "baseline", "--out", _existing(f) / "c.csv"],
        "is a file",
    ),
    (
        "calibrate --write-scenario a folder",
        lambda f: ["calibrate", "--write-scenario", f],
        "is a folder",
    ),
    (
        "calibrate --write-scenario not toml",
        lambda f: ["calibrate", "--write-scenario", f / "x.txt"],
        "unknown output format",
    ),
    (
        "calibrate --report a file",
        lambda f: ["calibrate", "--write-scenario", f / "c.toml", "--report", _existing(f)],
        "exists and is not a folder",
    ),
    (
        "sweep --out a file",
        lambda f: ["sweep", "plan", "--method", "morris", "--n", "2", "--out", _existing(f)],
        "exists and is not a folder",
    ),
    (
        "diagram --out below a file",
        lambda f: ["diagram", "--out", _existing(f) / "d.svg"],
        "is a file",
    ),
]


@pytest.mark.parametrize(("case", "make", "expected"), OUTPUTS, ids=[c[0] for c in OUTPUTS])
def test_output_paths_are_checked_before_the_work(
    tmp_path, capsys, monkeypatch, case, make, expected
):
    args = make(tmp_path)

    def never(*a, **k):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr("czsim.cli.calibrate.calibrate", never)
    monkeypatch.setattr("czsim.cli.sweep.sweep", never)
    monkeypatch.setattr("czsim.cli.compare.api.compare", never)
    monkeypatch.setattr("czsim.cli.run.api.run", never)
    rc, _, err = cli(args, capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, expected)


def test_unwritable_output_folder_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    import tempfile

    def deny(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    monkeypatch.setattr("czsim.cli.run.api.run", lambda *a, **k: pytest.fail("ran"))
    rc, _, err = cli(["run", "plan", "--out", tmp_path / "r.csv"], capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, "r.csv", "permission denied")


def test_disk_full_while_writing_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    target = write(tmp_path, "r.csv", "previous results\n")
    real = pd.DataFrame.to_csv

    def full(self, path=None, *args, **kwargs):
        if path is not None and Path(str(path)).parent == tmp_path:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    rc, _, err = cli(["run", "plan", "--out", target], capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, "no space left on the device")
    assert target.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


# ----------------------------------------------------------------------------- operating-system errors


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/x/model.mdl"), "permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/x/out"), "is a folder"),
        (FileExistsError(errno.EEXIST, "File exists", "/x/out"), "already exists"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left"),
        (OSError(errno.ELOOP, "Too many levels of symbolic links", "/x/l"), "symlink loop"),
        (OSError(errno.EROFS, "Read-only file system", "/x"), "read-only"),
        (MemoryError(), "out of memory"),
        (RecursionError(), "nested too deeply"),
    ],
    ids=["EACCES", "EISDIR", "EEXIST", "ENOSPC", "ELOOP", "EROFS", "MemoryError", "RecursionError"],
)
def test_os_errors_are_one_line_exit_2(capsys, monkeypatch, exc, expected):
    def boom(*a, **k):
        raise exc

    monkeypatch.setattr("czsim.cli.run.api.run", boom)
    rc, _, err = cli(["run", "plan"], capsys)
    assert rc == 2
    assert_one_line(err, expected)


def test_ctrl_c_says_how_to_resume_and_exits_130(capsys, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("czsim.cli.sweep.sweep", interrupt)
    rc, _, err = cli(["sweep", "plan", "--method", "morris", "--n", "2"], capsys)
    assert rc == 130
    assert err == "czsim: interrupted — rerun the same command to resume\n"


def test_an_unexpected_error_is_still_one_line(capsys, monkeypatch):
    monkeypatch.delenv("CZSIM_DEBUG", raising=False)
    monkeypatch.setattr("czsim.cli.run.api.run", lambda *a, **k: {}["missing"])
    rc, _, err = cli(["run", "plan"], capsys)
    assert rc == 70
    assert_one_line(err, "internal error (KeyError")


# ----------------------------------------------------------------------------- command-line arguments

ARGUMENTS = [
    ("no command", [], "required"),
    ("unknown command", ["frob"], "invalid choice"),
    ("missing scenario", ["run"], "the following arguments are required: scenario"),
    ("unknown option", ["run", "plan", "--bogus"], "unrecognized arguments: --bogus"),
    ("bad engine", ["run", "plan", "--engine", "x"], "invalid choice"),
    ("bad language", ["run", "plan", "--lang", "fr"], "invalid choice"),
    ("n not a number", ["sweep", "plan", "--method", "mc", "--n", "many"], "invalid int value"),
    ("unknown method", ["sweep", "plan", "--method", "x", "--n", "2"], "invalid choice"),
    (
        "negative seed",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--seed", "-1"],
        "[seed]",
    ),
    (
        "seed too large",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--seed", str(2**40)],
        "seed must be between 0 and 4294967295",
    ),
    ("n too large", ["sweep", "plan", "--method", "mc", "--n", str(10**12)], "the limits are"),
    ("n zero", ["sweep", "plan", "--method", "mc", "--n", "0"], "[n]"),
    (
        "workers zero",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--workers", "0"],
        "[workers]",
    ),
    (
        "scheduler without protocol",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--scheduler", "localhost:1"],
        "[scheduler]",
    ),
    (
        "chunk size zero",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--chunk-size", "0"],
        "[chunk_size]",
    ),
    ("unknown scenario name", ["run", "plann"], "no scenario named 'plann' (did you mean 'plan'?)"),
    ("5000-character scenario name", ["run", "x" * 5000], "error"),
    (
        "params typo",
        ["sweep", "plan", "--method", "morris", "--n", "2", "--params", "rd_intensty"],
        "[rd_intensty]",
    ),
]


@pytest.mark.parametrize(("case", "args", "expected"), ARGUMENTS, ids=[c[0] for c in ARGUMENTS])
def test_bad_arguments_are_one_line_exit_2(tmp_path, capsys, monkeypatch, case, args, expected):
    monkeypatch.chdir(tmp_path)  # a sweep that slipped through would write here, not in results/
    rc, _, err = cli(args, capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, expected)
    assert "usage:" not in err
    assert not any(tmp_path.iterdir())


def test_params_typo_is_not_blamed_on_parameters_toml(capsys):
    rc, _, err = cli(
        ["sweep", "plan", "--method", "morris", "--n", "2", "--params", "rd_intensty"], capsys
    )
    assert rc == 2 and "parameters.toml" not in err


@pytest.mark.parametrize(
    "args",
    [["--lang", "zh", "run", "plan"], ["run", "plan", "--lang", "zh"]],
    ids=["before", "after"],
)
def test_lang_before_or_after_the_command(capsys, args):
    rc, out, _ = cli(args, capsys)
    assert rc == 0 and "工业规模总量" in out


# ----------------------------------------------------------------------------- API arguments

API_RUN = [
    ("time_step zero", dict(time_step=0), InputError, "time_step must be a positive"),
    ("time_step negative", dict(time_step=-0.25), InputError, "time_step"),
    ("time_step nan", dict(time_step=float("nan")), InputError, "time_step"),
    ("time_step inf", dict(time_step=float("inf")), InputError, "time_step"),
    ("time_step tiny", dict(time_step=1e-7), LimitError, "the limit is 1,000,000"),
    ("time_step text", dict(time_step="0.25"), InputTypeError, "time_step must be a number"),
    ("times huge", dict(times=[2021, 1e9]), InputError, "inside the model's time"),
    ("times inf", dict(times=[2021, float("inf")]), InputError, "finite"),
    ("times nan", dict(times=[float("nan")]), InputError, "finite"),
    ("times empty", dict(times=[]), InputError, "empty"),
    ("times decreasing", dict(times=[2022, 2021]), InputError, "strictly increasing"),
    ("times repeated", dict(times=[2021, 2021]), InputError, "strictly increasing"),
    ("times text", dict(times=["2021"]), InputTypeError, "numbers"),
    ("times before start", dict(times=[2019, 2021]), InputError, "2021-2030"),
    ("engine unknown", dict(engine="fast"), InputError, "unknown engine"),
    ("variables not names", dict(variables=[1, 2]), InputTypeError, "variable name is text"),
    ("scenario a number", dict(scenario=42), InputTypeError, "a scenario is"),
    ("model a folder", dict(model=ROOT / "model"), ModelError, "is a folder"),
    ("model missing", dict(model=ROOT / "nothing.mdl"), ModelError, "file not found"),
    ("model a device", dict(model="/dev/zero"), ModelError, "not a regular file"),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "error", "message"), API_RUN, ids=[c[0] for c in API_RUN]
)
def test_api_run_validates_its_arguments(case, kwargs, error, message):
    kwargs = dict(kwargs)
    scenario = kwargs.pop("scenario", "plan")
    start = time.perf_counter()
    with pytest.raises(error, match=None) as info:
        czsim.run(scenario, **kwargs)
    assert time.perf_counter() - start < 10
    assert isinstance(info.value, CzsimError)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_api_errors_are_also_value_and_type_errors():
    with pytest.raises(ValueError):
        czsim.run("plan", time_step=0)
    with pytest.raises(TypeError):
        czsim.run("plan", time_step="x")
    with pytest.raises(ValueError):
        load_scenario_text("x = = 1")


RUN_MANY = [
    ("a million rows", lambda: {"rd_intensity": np.full(1_000_000, 0.02)}, LimitError, "GB"),
    ("no rows", lambda: {"rd_intensity": []}, ParameterError, "no rows"),
    ("text values", lambda: {"rd_intensity": ["a", "b"]}, ParameterError, "numbers"),
    ("out of range", lambda: {"rd_intensity": [0.02, 5.0]}, ParameterError, "outside"),
    ("nan value", lambda: {"rd_intensity": [0.02, float("nan")]}, ParameterError, "outside"),
    (
        "by name and by variable",
        lambda: {"rd_intensity": [0.02], "RD intensity": [0.03]},
        ParameterError,
        "given twice",
    ),
    ("unknown column", lambda: {"rd_intensty": [0.02]}, ParameterError, "did you mean"),
    ("not a table", lambda: 3, InputTypeError, "overrides"),
    ("scalars only", lambda: {"rd_intensity": 0.02}, InputError, "overrides"),
]


@pytest.mark.parametrize(
    ("case", "make", "error", "message"), RUN_MANY, ids=[c[0] for c in RUN_MANY]
)
def test_run_many_validates_before_running(case, make, error, message):
    start = time.perf_counter()
    with pytest.raises(error) as info:
        czsim.run_many("plan", make())
    assert time.perf_counter() - start < 20
    assert message in str(info.value)


def test_scenario_constructor_validates_and_accepts_numpy_numbers():
    s = Scenario(name="np", values={"rd_intensity": np.float32(0.02)})
    assert isinstance(s.values["rd_intensity"], float)
    assert is_number(np.int64(3)) and is_number(np.float32(1)) and not is_number(np.bool_(1))
    assert czsim.load_scenario("plan").with_values(rd_intensity=np.float64(0.021)).values[
        "rd_intensity"
    ] == pytest.approx(0.021)
    for values, message in [
        ({"rd_intensity": 5.0}, "outside the allowed range"),
        ({"rd_intensity": "x"}, "expected a number"),
        ({"rd_intensity": np.bool_(True)}, "expected a number"),
        ({"rd_intensty": 0.02}, "unknown parameter"),
        ({"rd_intensity": 0.02, "RD intensity": 0.03}, "given twice"),
        ({SERIES: ((2025.0, 0.5), (2025.0, 0.6))}, "given twice"),
        ({SERIES: ((float("nan"), 0.5),)}, "finite"),
    ]:
        with pytest.raises(CzsimError, match=message):
            Scenario(name="bad", values=values)
    with pytest.raises(ScenarioError, match="name must be text"):
        Scenario(name=3)
    with pytest.raises(CzsimError, match="empty or inverted"):
        Scenario(name="u", uncertain={"rd_intensity": (0.03, 0.01)})


def test_compare_never_loses_a_column_for_duplicate_names(tmp_path, capsys):
    other = write(tmp_path, "other.toml", 'name = "baseline"\nextends = "plan"\n')
    table = czsim.compare(["baseline", other, "baseline"])
    assert table.attrs["scenarios"] == [
        "baseline",
        "baseline (other.toml)",
        "baseline (baseline.toml)",
    ]
    assert not table["baseline"].equals(table["baseline (other.toml)"])
    rc, out, _ = cli(["compare", "baseline", other, "--out", tmp_path / "c.csv"], capsys)
    assert rc == 0 and "baseline (other.toml)" in out
    header = (tmp_path / "c.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "baseline (other.toml)" in header


# ----------------------------------------------------------------------------- model files

GROWTH = (ROOT / "tests" / "engines" / "models" / "growth.mdl").read_text(encoding="utf-8")

MODELS = [
    ("FINAL TIME before INITIAL TIME", ("FINAL TIME = 10", "FINAL TIME = -5"), "FINAL TIME"),
    ("SAVEPER zero", ("SAVEPER = 1", "SAVEPER = 0"), "SAVEPER"),
    ("TIME STEP tiny", ("TIME STEP = 0.25", "TIME STEP = 1e-07"), "TIME STEP"),
    ("TIME STEP zero", ("TIME STEP = 0.25", "TIME STEP = 0"), "TIME STEP"),
]


@pytest.mark.parametrize(("case", "edit", "expected"), MODELS, ids=[c[0] for c in MODELS])
def test_bad_model_controls_are_refused(tmp_path, capsys, case, edit, expected):
    path = write(tmp_path, "m.mdl", GROWTH.replace(*edit))
    start = time.perf_counter()
    with pytest.raises(CzsimError) as info:
        czsim.run(Scenario(name="none"), model=path)
    assert time.perf_counter() - start < 60
    assert str(path) in str(info.value) and expected in str(info.value)


def test_equation_parse_errors_name_the_files_line(tmp_path, capsys):
    lines = GROWTH.splitlines()
    lines.insert(3, "")
    lines.insert(4, "k = (g * * 2) ~ Dmnl ~ |")
    path = write(tmp_path, "parse.mdl", "\n".join(lines) + "\n")
    rc, _, err = cli(["run", "plan", "--model", path], capsys, tmp_path)
    assert rc == 2
    assert_one_line(err, f"{path}:5: cannot parse", "'* 2)'")
    assert "line 1" not in err


@pytest.mark.parametrize("command", [["run", "plan"], ["doc", "--no-diagram"], ["diagram"]])
def test_model_file_errors_from_the_cli(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    for model in (tmp_path, tmp_path / "missing.mdl", _fifo(tmp_path)):
        start = time.perf_counter()
        rc, _, err = cli([*command, "--model", model], capsys)
        assert time.perf_counter() - start < 30
        assert rc == 2
        assert_one_line(err, str(model), "not found" if "missing" in str(model) else "")


# ----------------------------------------------------------------------------- uploads

UPLOADS = [
    ("extends dot-dot", 'extends = "../pyproject"\n', "[extends]"),
    ("extends absolute", 'extends = "/etc/passwd"\n', "[extends]"),
    ("extends another folder", 'extends = "tests/x"\n', "[extends]"),
    ("too large", "#" * 100_001, "the limit is 100,000"),
    ("40 KB of nesting", "x = " + "[" * 20_000 + "]" * 20_000, "nested"),
    ("BOM and bad value", "\ufeff[parameters]\nrd_intensity = 9\n", "mine.toml:2 [rd_intensity]"),
    ("missing parent", 'extends = "nosuch"\n', "not found in scenarios/"),
]


@pytest.mark.parametrize(("case", "text", "expected"), UPLOADS, ids=[c[0] for c in UPLOADS])
def test_uploads_are_confined_and_never_show_server_paths(case, text, expected):
    with pytest.raises(CzsimError) as info:
        load_scenario_text(text, filename="/some/where/mine.toml")
    message = str(info.value)
    assert expected in message and "\n" not in message
    assert str(ROOT) not in message and "/tmp" not in message
    assert message.startswith("mine.toml") or "[" in message


def test_upload_errors_in_a_parent_name_the_parent_not_its_path():
    scenario = load_scenario_text('extends = "plan"\n', filename="mine.toml")
    assert scenario.parent == "plan" and scenario.path is None
    assert all(not f.startswith("/") for f, _ in scenario.origins.values())


# ----------------------------------------------------------------------------- calibration data

OBSERVATIONS = (ROOT / "model" / "data" / "observations.csv").read_text(encoding="utf-8")
HEADER, FIRST = OBSERVATIONS.splitlines()[:2]

CSVS = [
    ("not UTF-8", b"id,variable\n\xff\xfe,x\n", ":2: not UTF-8"),
    ("missing columns", "id,variable\nx,y\n", ":1: missing column(s) year, value, kind, sigma"),
    ("bad number", HEADER + "\n" + FIRST.replace(",2021,", ",20x1,", 1) + "\n", ":2 ["),
    ("too many fields", HEADER + "\n" + FIRST + ",extra,extra\n", ":2: malformed CSV: 12 fields"),
    ("too few fields", HEADER + "\n" + FIRST + "\nx,y\n", ":3: malformed CSV: 2 fields"),
    ("empty file", "", ": is empty"),
    ("only a header", HEADER + "\n", ": no observations"),
]


@pytest.mark.parametrize(("case", "text", "expected"), CSVS, ids=[c[0] for c in CSVS])
def test_damaged_observation_files(tmp_path, capsys, monkeypatch, case, text, expected):
    path = write(tmp_path, "obs.csv", text)
    out = tmp_path / "calibrated.toml"
    rc, _, err = cli(
        ["calibrate", "--observations", path, "--write-scenario", out], capsys, tmp_path
    )
    assert rc == 2
    assert_one_line(err, str(path) + expected)
    assert not out.exists()


def test_observation_errors_are_data_errors(tmp_path):
    from czsim.experiments.calibration.observations import load_observations

    path = write(tmp_path, "obs.csv", HEADER + "\n" + FIRST.replace(",2021,", ",2021.5,", 1) + "\n")
    with pytest.raises(DataError, match=r"obs.csv:2 \[\w+\.year\]"):
        load_observations(path)


# ----------------------------------------------------------------------------- Dask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_http_server_is_not_a_scheduler():
    from czsim.experiments.sweeps.executors import open_executor

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.perf_counter()
        with pytest.raises(ClusterError, match="is an HTTP server"):
            open_executor(f"tcp://127.0.0.1:{server.server_address[1]}", None)
        assert time.perf_counter() - start < 20
    finally:
        server.shutdown()


def test_a_silent_listener_and_a_closed_port_time_out():
    from czsim.experiments.sweeps.executors import open_executor

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        start = time.perf_counter()
        with pytest.raises(ClusterError, match="did not answer as a Dask scheduler"):
            open_executor(f"tcp://127.0.0.1:{port}", None)
        assert time.perf_counter() - start < 20
    start = time.perf_counter()
    with pytest.raises(ClusterError, match="cannot reach"):
        open_executor(f"tcp://127.0.0.1:{_free_port()}", None)
    assert time.perf_counter() - start < 20


def test_a_scheduler_without_workers_times_out(monkeypatch):
    from distributed import LocalCluster

    from czsim.experiments.sweeps import executors

    monkeypatch.setattr(executors, "WORKER_TIMEOUT", 1.0)
    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster:
        start = time.perf_counter()
        with pytest.raises(ClusterError, match="has no workers"):
            executors.open_executor(cluster.scheduler_address, None)
        assert time.perf_counter() - start < 30


def test_repeated_killed_worker_stops_with_a_message_and_the_sweep_resumes(tmp_path, monkeypatch):
    """A chunk whose worker keeps dying stops the sweep with a ClusterError; finished chunks
    stay on disk and the rerun only computes the rest."""
    import distributed

    from czsim.experiments.sweeps import executors

    class Future:
        def __init__(self, fn, args):
            self.fn, self.args = fn, args

        def result(self):
            x = self.args[-1]  # (sha, payload, x): see executors.evaluate_pickled
            if killer["armed"] and x[0, 0] > 0.5 and killer["done"] >= 1:
                raise distributed.KilledWorker("evaluate_chunk-1", None, 3)
            killer["done"] += 1
            return self.fn(*self.args)

        def cancel(self):
            pass

    class Client:
        loop = None

        def submit(self, fn, *args, **kwargs):
            return Future(fn, args)

    killer = {"armed": True, "done": 0}
    fake = object.__new__(executors.DaskExecutor)
    fake.client, fake._cluster, fake.description = Client(), None, "fake dask"
    monkeypatch.setattr(distributed, "as_completed", lambda futures, loop=None: list(futures))
    monkeypatch.setattr(executors.DaskExecutor, "__exit__", lambda self, *exc: None)
    monkeypatch.setattr(
        "czsim.experiments.sweeps.run.open_executor", lambda scheduler, workers: fake
    )
    problem = sweep_methods.make_problem(["a", "b"], [(0.0, 1.0), (0.0, 1.0)])

    def evaluate(x):
        return {"y": x.sum(axis=1)}

    out = tmp_path / "s"
    with pytest.raises(ClusterError, match="killed its Dask worker repeatedly"):
        run_sweep(
            problem, evaluate, method="mc", n=40, out=out, chunk_size=5, scheduler="tcp://x:1"
        )
    saved = len(list((out / "chunks").glob("*.npz")))
    assert saved >= 1
    killer["armed"] = False
    res = run_sweep(
        problem, evaluate, method="mc", n=40, out=out, chunk_size=5, scheduler="tcp://x:1"
    )
    assert res.manifest["chunks_reused"] == saved and res.dataset.sizes["run"] == 40


# ----------------------------------------------------------------------------- resume

PROBLEM = sweep_methods.make_problem(["a", "b"], [(0.0, 1.0), (0.0, 2.0)])


def _evaluate(x):
    return {"y": x[:, 0] + 2 * x[:, 1]}


def _sweep(out, **kwargs):
    return run_sweep(
        PROBLEM, _evaluate, method="mc", n=30, seed=1, out=out, chunk_size=10, **kwargs
    )


def test_a_zero_byte_chunk_is_computed_again(tmp_path):
    first = _sweep(tmp_path / "s")
    chunk = tmp_path / "s" / "chunks" / "chunk_00001.npz"
    chunk.write_bytes(b"")
    again = _sweep(tmp_path / "s")
    assert again.manifest["chunks_recomputed"] == ["chunk_00001.npz"]
    assert again.manifest["chunks_reused"] == 2
    np.testing.assert_array_equal(first.dataset["y"], again.dataset["y"])
    assert chunk.stat().st_size > 0


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_damaged_or_foreign_chunks_are_not_used(tmp_path, damage):
    first = _sweep(tmp_path / "s")
    chunk = tmp_path / "s" / "chunks" / "chunk_00002.npz"
    if damage == "truncated":
        chunk.write_bytes(chunk.read_bytes()[:50])
    elif damage == "garbage":
        chunk.write_bytes(os.urandom(400))
    else:  # the same chunk of a sweep with another seed
        other = run_sweep(
            PROBLEM, _evaluate, method="mc", n=30, seed=2, out=tmp_path / "o", chunk_size=10
        )
        assert other.manifest["runs"] == 30
        chunk.write_bytes((tmp_path / "o" / "chunks" / "chunk_00002.npz").read_bytes())
    again = _sweep(tmp_path / "s")
    assert again.manifest["chunks_recomputed"] == ["chunk_00002.npz"]
    np.testing.assert_array_equal(first.dataset["y"], again.dataset["y"])


@pytest.mark.parametrize("damage", ["garbled", "empty", "deleted", "a list"])
def test_a_damaged_manifest_is_rebuilt_from_matching_chunks(tmp_path, damage):
    first = _sweep(tmp_path / "s")
    manifest = tmp_path / "s" / "manifest.json"
    if damage == "garbled":
        manifest.write_text('{"identity": {', encoding="utf-8")
    elif damage == "empty":
        manifest.write_bytes(b"")
    elif damage == "deleted":
        manifest.unlink()
    else:
        manifest.write_text("[1, 2]", encoding="utf-8")
    again = _sweep(tmp_path / "s")
    assert again.manifest["chunks_reused"] == 3 and again.manifest["manifest_rebuilt"]
    np.testing.assert_array_equal(first.dataset["y"], again.dataset["y"])
    assert json.loads(manifest.read_text(encoding="utf-8"))["status"] == "complete"


def test_a_damaged_manifest_with_another_sweeps_chunks_is_refused(tmp_path):
    _sweep(tmp_path / "s")
    (tmp_path / "s" / "manifest.json").write_text("garbled", encoding="utf-8")
    with pytest.raises(CzsimError, match="not a czsim sweep"):
        run_sweep(PROBLEM, _evaluate, method="mc", n=30, seed=9, out=tmp_path / "s", chunk_size=10)


def test_sweep_out_folder_must_be_writable(tmp_path):
    blocker = write(tmp_path, "file", "x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        _sweep(blocker / "s")
