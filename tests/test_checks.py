"""The behaviour checks of model/checks.toml: each passes, or fails exactly as recorded."""

from __future__ import annotations

import pytest

from czsim import checks

CHECKS = checks.load_checks()


def test_checks_file_is_well_formed():
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names)), "check names must be unique"
    assert any(c.sample == "uniform" and c.n >= 10000 for c in CHECKS)
    assert any(c.sample == "corners" for c in CHECKS)


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_behaviour_check(check):
    result = checks.run_check(check)
    if check.expect == "pass":
        assert result.passed, "\n".join(result.failures)
    else:
        assert not result.passed, (
            f"{check.name} now passes: update model/checks.toml (it was recorded as a known "
            f"failure: {check.reason})"
        )


def test_a_broken_condition_is_caught(tmp_path):
    """The runner does report failures: a check that must fail does."""
    path = tmp_path / "checks.toml"
    path.write_text(
        '[[check]]\nname = "x"\nassert = [{ variable = "Industrial scale", falls = true }]\n',
        encoding="utf-8",
    )
    (check,) = checks.load_checks(path)
    assert not checks.run_check(check).passed


def test_malformed_check_is_refused(tmp_path):
    path = tmp_path / "checks.toml"
    path.write_text('[[check]]\nname = "x"\nexpect = "fail"\n', encoding="utf-8")
    with pytest.raises(checks.CheckError, match="reason"):
        checks.load_checks(path)
