"""The command line: scorecards for every scenario, files, comparisons, and exit 2 on bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

import czsim
from czsim.cli import main

CLUSTER_TARGETS = [t for t in czsim.load_targets() if t.tracked and t.variable == "Cluster output"]


@pytest.mark.parametrize("name", czsim.list_scenarios())
def test_run_prints_scorecard_with_scale_and_all_clusters(name, capsys):
    assert main(["run", f"scenarios/{name}.toml"]) == 0
    out = capsys.readouterr().out
    assert "Industrial scale" in out and "25,000" in out
    assert len(CLUSTER_TARGETS) == 10
    for target in CLUSTER_TARGETS:
        assert target.label_en in out, target.label_en
    assert "tracked targets reached" in out


def test_run_in_chinese(capsys):
    assert main(["--lang", "zh", "run", "plan"]) == 0
    out = capsys.readouterr().out
    assert "工业规模总量" in out and "高端装备" in out


def test_run_writes_files(tmp_path, capsys):
    outs = [tmp_path / "r.csv", tmp_path / "r.nc", tmp_path / "r.xlsx"]
    args = ["run", "baseline"]
    for o in outs:
        args += ["--out", str(o)]
    assert main(args) == 0
    assert all(o.stat().st_size > 0 for o in outs)


def test_pysd_engine_from_the_cli(capsys):
    assert main(["run", "baseline", "--engine", "pysd"]) == 0
    assert "Industrial scale" in capsys.readouterr().out


def test_compare_and_targets(tmp_path, capsys):
    assert main(["compare", "baseline", "plan", "--out", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "plan" in out
    assert (tmp_path / "c.csv").stat().st_size > 0
    assert main(["targets"]) == 0
    assert "industrial_scale" in capsys.readouterr().out


def test_unreadable_model_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "broken.mdl"
    bad.write_text("{UTF-8}\nThis is = not ( a model\n\t~\t\n\t~\t|\n", encoding="utf-8")
    assert main(["run", "baseline", "--model", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("czsim: error: ") and "broken.mdl" in err and err.count("\n") == 1


def test_unknown_output_format_exit_2(tmp_path, capsys):
    assert main(["run", "baseline", "--out", str(tmp_path / "r.json")]) == 2
    assert "unknown output format" in capsys.readouterr().err


def test_console_script_runs_as_a_process(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[parameters]\nrd_intensity = 5\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "czsim.cli", "run", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "outside the allowed range" in proc.stderr


def test_compare_writes_a_real_excel_file(tmp_path, capsys):
    import openpyxl

    out = tmp_path / "c.xlsx"
    assert main(["compare", "baseline", "plan", "--out", str(out)]) == 0
    sheet = openpyxl.load_workbook(out).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "baseline" in header and "plan" in header
    assert sheet.max_row == len(czsim.load_targets()) + 1


def test_rich_markup_in_a_description_is_shown_as_text(tmp_path, capsys):
    scenario = tmp_path / "marked.toml"
    scenario.write_text('extends = "baseline"\ndescription = "a [/] b [bold]c"\n', encoding="utf-8")
    assert main(["run", str(scenario)]) == 0
    assert "a [/] b [bold]c" in capsys.readouterr().out
