"""The 2010-2022 history data prepared for a model that starts in 2015.

``model/data/history_observations.csv`` holds Changzhou observations in the columns of
``observations.csv`` plus ``quality`` and ``comparability``; ``model/data/market_series.csv``
holds the national and Jiangsu series the clusters' markets could follow. Nothing reads them
yet: these tests keep them consistent with the model, with ``sources.csv`` and with the rules
for their uncertainties.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from czsim import paths
from czsim.structure.mdl import element_table

DATA = paths.ROOT / "model" / "data"
OBSERVATION_COLUMNS = [
    "id",
    "variable",
    "year",
    "value",
    "kind",
    "months",
    "bound",
    "sigma",
    "source",
    "note",
]
HISTORY_COLUMNS = [*OBSERVATION_COLUMNS, "quality", "comparability"]
MARKET_COLUMNS = ["market", "indicator", "year", "value", "unit", "quality", "source", "note"]
KINDS = {"level", "growth", "share", "partial_level"}
QUALITIES = {"official", "preliminary", "low", "derived"}
#: The least sigma by kind and quality: relative to the value for levels, in fraction points
#: for growth rates and shares.
MIN_SIGMA = {
    ("level", "official"): 0.01,
    ("level", "preliminary"): 0.02,
    ("level", "low"): 0.05,
    ("level", "derived"): 0.05,
    ("growth", "official"): 0.01,
    ("growth", "preliminary"): 0.02,
    ("growth", "low"): 0.02,
    ("growth", "derived"): 0.02,
    ("share", "official"): 0.01,
    ("share", "preliminary"): 0.01,
    ("share", "low"): 0.02,
    ("share", "derived"): 0.02,
}
PARTIAL_SIGMA = 0.05  # seasonality, whatever the quality
RELATIVE = {"level", "partial_level"}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = _read("history_observations.csv")
    for column in ("year", "value", "sigma"):
        frame[column] = pd.to_numeric(frame[column])
    return frame


@pytest.fixture(scope="module")
def markets() -> pd.DataFrame:
    frame = _read("market_series.csv")
    frame["year"] = pd.to_numeric(frame["year"])
    frame["value"] = pd.to_numeric(frame["value"])
    return frame


@pytest.fixture(scope="module")
def sources() -> pd.DataFrame:
    return _read("sources.csv")


def _source_values(sources: pd.DataFrame) -> dict[tuple[str, int], list[float]]:
    """(id, year) -> the numbers of its rows (a cell may list several, separated by ';')."""
    values: dict[tuple[str, int], list[float]] = {}
    for row in sources.itertuples():
        numbers = [float(x) for x in row.value.split(";")]
        values.setdefault((row.id, int(row.year)), []).extend(numbers)
    return values


def _cites(value: float, numbers: list[float], percent: bool) -> bool:
    """The value is one of the numbers, or (for a rate) one of them in % as a fraction."""
    candidates = numbers + ([n / 100 for n in numbers] if percent else [])
    return any(np.isclose(value, n, rtol=1e-9, atol=1e-12) for n in candidates)


# ----------------------------------------------------------------------------- the columns


def test_the_columns_are_those_of_observations_csv_plus_quality_and_comparability(history):
    assert list(_read("observations.csv").columns) == OBSERVATION_COLUMNS
    assert list(history.columns) == HISTORY_COLUMNS


def test_market_series_columns(markets):
    assert list(markets.columns) == MARKET_COLUMNS


# --------------------------------------------------------------------- history observations


def test_ids_are_unique_and_not_those_of_observations_csv(history):
    assert history["id"].is_unique, history.loc[history["id"].duplicated(), "id"].tolist()
    assert history["id"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    clash = set(history["id"]) & set(_read("observations.csv")["id"])
    assert not clash, clash


def test_kinds_qualities_bounds_and_months(history):
    assert set(history["kind"]) <= KINDS
    assert set(history["quality"]) <= QUALITIES
    assert set(history["bound"]) <= {"", "lower"}
    partial = history["kind"] == "partial_level"
    assert (history.loc[~partial, "months"] == "").all(), "months only for partial_level"
    months = pd.to_numeric(history.loc[partial, "months"], errors="coerce")
    assert months.notna().all() and (months == months.round()).all()
    assert months.between(1, 11).all()


def test_years_are_2010_to_2022(history):
    assert (history["year"] == history["year"].round()).all()
    assert history["year"].between(2010, 2022).all()


def test_growth_and_shares_are_fractions(history):
    rates = history[history["kind"].isin(["growth", "share"])]
    assert rates["value"].abs().lt(3).all()
    shares = history[history["kind"] == "share"]
    assert shares["value"].between(0, 1).all()
    levels = history[history["kind"].isin(RELATIVE)]
    assert (levels["value"] > 0).all()


def test_sigma_is_positive_and_follows_the_rules(history):
    """Positive and finite; at least the rule for the row's kind and quality (so a low or
    derived row is never tighter than an official one of its kind): relative to the value for
    levels, absolute (fraction points) for growth rates and shares; 5% for partial levels."""
    assert np.isfinite(history["sigma"]).all() and (history["sigma"] > 0).all()
    official = {kind: MIN_SIGMA[(kind, "official")] for kind in ("level", "growth", "share")}
    official["partial_level"] = PARTIAL_SIGMA
    for row in history.itertuples():
        partial = row.kind == "partial_level"
        rule = PARTIAL_SIGMA if partial else MIN_SIGMA[(row.kind, row.quality)]
        least = max(rule, official[row.kind])
        if row.kind in RELATIVE:
            least *= abs(row.value)
        assert row.sigma >= least * (1 - 1e-9), (row.id, row.sigma, least)


def test_low_and_derived_rows_are_not_tighter_than_official_ones(history):
    weak = history[history["quality"].isin(["low", "derived"])]
    assert len(weak) > 0
    for row in weak.itertuples():
        scale = abs(row.value) if row.kind in RELATIVE else 1.0
        relative = row.sigma / scale
        if row.kind == "partial_level":
            assert relative >= PARTIAL_SIGMA * (1 - 1e-9), row.id
        else:
            assert relative > MIN_SIGMA[(row.kind, "official")], row.id


def test_every_source_is_a_row_of_sources_csv_with_the_same_year_and_value(history, sources):
    assert set(history["source"]) <= set(sources["id"])
    values = _source_values(sources)
    for row in history.itertuples():
        numbers = values.get((row.source, int(row.year)))
        assert numbers, f"{row.id}: no {row.source} row for {row.year}"
        percent = row.kind in ("growth", "share")
        assert _cites(row.value, numbers, percent), (row.id, row.value, numbers)


def test_every_variable_and_element_exists_in_the_model(history):
    table = element_table()
    ranges = {
        r.name: {x.strip() for x in r.equation.split(",")}
        for r in table[table["type"] == "subscript range"].itertuples()
    }
    dims = {r.name: tuple(r.dims) for r in table[table["type"] != "subscript range"].itertuples()}
    for row in history.itertuples():
        match = re.fullmatch(r"([^\[\]]+?)(?:\[([^\[\]]+)\])?", row.variable)
        assert match, row.variable
        name, element = match.group(1), match.group(2)
        assert name in dims, f"{row.id}: no model variable {name!r}"
        if element is None:
            assert dims[name] == (), f"{row.id}: {name} needs an element"
        else:
            assert len(dims[name]) == 1, row.id
            assert element in ranges[dims[name][0]], f"{row.id}: {element!r} not in {dims[name]}"


def test_above_scale_output_before_2019_states_the_census_break(history):
    early = history[(history["variable"] == "Above scale output") & (history["year"] < 2019)]
    assert len(early) > 0
    missing = early.loc[early["comparability"].str.strip() == "", "id"].tolist()
    assert not missing, missing


def test_no_row_repeats_one_of_observations_csv(history):
    current = _read("observations.csv")
    keys = set(zip(current["variable"], current["year"].astype(int), current["kind"], strict=True))
    repeated = [
        row.id for row in history.itertuples() if (row.variable, int(row.year), row.kind) in keys
    ]
    assert not repeated, repeated


def test_lower_bounds_are_levels(history):
    bounded = history[history["bound"] == "lower"]
    assert bounded["kind"].isin(RELATIVE).all()


# ---------------------------------------------------------------------------- market series


def test_market_values_are_finite_and_rows_unique(markets):
    assert np.isfinite(markets["value"]).all()
    key = ["market", "indicator", "year", "source"]
    assert not markets.duplicated(key).any(), markets[markets.duplicated(key, keep=False)]
    assert markets["market"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert set(markets["quality"]) <= QUALITIES
    assert markets["year"].between(2012, 2022).all()
    assert (markets["unit"].str.strip() != "").all()


def test_market_sources_are_rows_of_sources_csv_with_the_same_year_and_value(markets, sources):
    values = _source_values(sources)
    for row in markets.itertuples():
        numbers = values.get((row.source, int(row.year)))
        assert numbers, f"{row.market}: no {row.source} row for {row.year}"
        assert _cites(row.value, numbers, percent=False), (row.market, row.value, numbers)
        # the indicator is the source row's
        match = sources[(sources["id"] == row.source) & (sources["year"] == str(row.year))]
        assert row.indicator in set(match["indicator"]), (row.market, row.indicator)


def test_a_market_year_with_several_rows_names_the_preferred_one(markets):
    for (market, year), group in markets.groupby(["market", "year"]):
        if len(group) == 1:
            continue
        preferred = group["note"].str.contains(f"preferred for {year}", regex=False)
        chosen = group["note"].str.contains(f"; preferred for {year}", regex=False)
        assert chosen.sum() == 1, (market, year)
        assert preferred.all(), (market, year)


# ---------------------------------------------------------------------------- sources.csv


#: Ids that name several documents by design: the yearly PPI releases compiled into one
#: series (``czsim.cluster_data`` reads its 2022 row).
COMPILED_SERIES = {"ppi_history"}


def test_sources_ids_are_snake_case_and_name_one_document(sources):
    assert sources["id"].str.fullmatch(r"[a-z0-9][a-z0-9_]*").all()
    cited = set(_read("history_observations.csv")["source"]) | set(
        _read("market_series.csv")["source"]
    )
    cited -= COMPILED_SERIES
    urls = sources[sources["id"].isin(cited)].groupby("id")["source_url"].nunique()
    assert (urls == 1).all(), urls[urls > 1]
