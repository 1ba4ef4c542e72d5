"""The fitted parameters' joint uncertainty (czsim.posterior, czsim.uncertainty): the calibrated
scenario carries the Laplace approximation, children condition it, the bands draw from it."""

from __future__ import annotations

import numpy as np
import pytest

import czsim
from czsim.errors import CzsimError
from czsim.posterior import Posterior
from czsim.scenarios import load_scenario
from czsim.uncertainty import draw

# the NEV cluster's 2022 share shift and the common one: the most correlated pair
EQ, OTHER = "own_share_shift_2022_nev", "common_share_shift_2022"


def test_the_calibrated_scenario_carries_every_fitted_parameter_jointly():
    cal = load_scenario("calibrated")
    base = load_scenario("baseline")
    assert cal.posterior is not None and base.posterior == cal.posterior
    assert {EQ, OTHER} <= set(cal.posterior.parameters)
    i, j = cal.posterior.parameters.index(EQ), cal.posterior.parameters.index(OTHER)
    cov = cal.posterior.cov
    r = cov[i, j] / np.sqrt(cov[i, i] * cov[j, j])
    assert r < -0.3  # the pair the observed 2022 total ties together (NEV is its largest part)
    for name, mean in zip(cal.posterior.parameters, cal.posterior.mean, strict=True):
        assert mean == pytest.approx(cal.values[name])


def test_draws_have_the_posterior_covariance_and_stay_in_bounds():
    base = load_scenario("baseline")
    frame = draw(base, 20000, seed=3)
    post = base.posterior
    assert set(post.parameters) <= set(frame.columns)
    assert set(base.uncertain) - set(post.parameters) <= set(frame.columns)
    x = frame[[EQ, OTHER]].to_numpy()
    i, j = post.parameters.index(EQ), post.parameters.index(OTHER)
    expected = post.cov[np.ix_([i, j], [i, j])]
    np.testing.assert_allclose(np.cov(x.T), expected, rtol=0.05)
    table = base.table or czsim.load_parameters()
    for name in post.parameters:
        assert frame[name].between(table[name].low, table[name].high).all()
    again = draw(base, 20000, seed=3)
    assert again.equals(frame)  # seeded


def test_a_child_that_sets_a_fitted_parameter_conditions_the_others(tmp_path):
    base = load_scenario("baseline")
    post = base.posterior
    (tmp_path / "child.toml").write_text(
        f'name = "child"\nextends = "baseline"\n[parameters]\n{EQ} = 0.25\n', encoding="utf-8"
    )
    child = load_scenario(tmp_path / "child.toml")
    assert EQ not in child.posterior.parameters
    i, j = post.parameters.index(OTHER), post.parameters.index(EQ)
    s = post.cov
    expected = post.mean[i] + s[i, j] / s[j, j] * (0.25 - post.mean[j])
    k = child.posterior.parameters.index(OTHER)
    assert child.posterior.mean[k] == pytest.approx(expected, rel=1e-9)
    assert expected < post.mean[i]  # a larger NEV share gain leaves less for the rest
    assert child.posterior.cov[k, k] == pytest.approx(s[i, i] - s[i, j] ** 2 / s[j, j], rel=1e-9)
    same = base.with_values(**{EQ: 0.25})
    assert same.posterior == child.posterior


def test_posterior_round_trips_through_a_file(tmp_path):
    base = load_scenario("baseline")
    path = tmp_path / "copy.toml"
    path.write_text(base.to_toml(), encoding="utf-8")
    assert load_scenario(path).posterior == base.posterior


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'parameters = ["capital_productivity"]\nmean = [1.2]\ncovariance = [[-1.0]]',
            "not positive semi-definite",
        ),
        (
            'parameters = ["capital_productivity"]\nmean = [1.2, 3]\ncovariance = [[1.0]]',
            "mean has 2 values for 1 parameters",
        ),
        (
            'parameters = ["capital_productivty"]\nmean = [1.2]\ncovariance = [[1.0]]',
            "unknown parameter 'capital_productivty'",
        ),
        (
            'parameters = ["capital_productivity", "depreciation_rate"]\nmean = [1.2, 0.08]\n'
            "covariance = [[1.0, 0.5], [0.4, 1.0]]",
            "not symmetric",
        ),
        ('parameters = ["capital_productivity"]\nmean = [1.2]', "parameters, mean and covariance"),
        ('parameters = ["capital_productivity"]\nmean = ["x"]\ncovariance = [[1.0]]', "numbers"),
    ],
)
def test_a_bad_posterior_is_one_line_with_file_and_line(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "bad"\n[posterior]\n{body}\n', encoding="utf-8")
    with pytest.raises(CzsimError, match=message) as info:
        load_scenario(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text


def test_marginal_and_given_of_a_small_normal():
    p = Posterior(("a", "b"), (0.0, 1.0), ((1.0, 0.5), (0.5, 2.0)))
    assert p.marginal(["b"]).mean == (1.0,) and p.marginal(["b"]).covariance == ((2.0,),)
    assert p.marginal([]) is None
    g = p.given({"a": 2.0})
    assert g.mean == pytest.approx((1.0 + 0.5 * 2.0,)) and g.cov[0, 0] == pytest.approx(1.75)
    assert p.given({"a": 1.0, "b": 2.0}) is None
    assert p.given({"a": ((2022.0, 1.0), (2025.0, 2.0))}).parameters == ("b",)  # a series drops
