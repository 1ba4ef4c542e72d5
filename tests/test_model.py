"""The model is credible: it reproduces the data it was given and the known 2022 figures, its
stocks never go negative, and its results converge when the time step shrinks."""

from __future__ import annotations

import re

import numpy as np
import pytest

import czsim
from czsim import engines, paths
from czsim.engines import model_info

# (variable, 2021 value given to the model, source)
GIVEN_2021 = [
    ("Industrial scale", 17000.0),  # 工业开票销售 2021 (derived from 2022 at +17.5%)
    ("High tech enterprises", 2915.0),
    ("National little giants", 28.0),
    ("Single champions", 24.0),
    ("Listed companies", 83.0),
    ("Cloud enterprises", 13000.0),
    ("Star cloud enterprises", 1093.0),
    ("Base stations 5G", 11569.0),
    ("Tech retrofit share", 0.502),
    ("Provincial green factories", 25.0),
    ("GDP", 8807.6),
]

# (variable, observed 2022 value, relative tolerance, what the observation is)
KNOWN_2022 = [
    ("Industrial scale", 20000.0, 0.01, "工业开票销售 just over 2万亿 (+17.5%)"),
    ("High tech enterprises", 3680.0, 0.01, "有效高企 3680"),
    ("National little giants", 81.0, 0.05, "81 after the 4th batch (Aug 2022)"),
    ("Tech retrofit share", 0.564, 0.02, "56.4% Jan-Oct 2022"),
    ("Group output[new_energy_industry]", 5000.0, 0.02, "新能源产业产值超5000亿"),
    ("Above scale output", 15000.0, 0.06, "规上工业总产值超1.5万亿 (lower bound)"),
    ("GDP", 9550.1, 0.02, "GDP 9550.1"),
    ("Manufacturing VA share of GDP", 0.431, 0.02, "43.1%"),
]


def value(result, spec: str, year: float) -> float:
    name, _, element = spec.partition("[")
    da = result[name].sel(time=year).isel(run=0)
    if element:
        da = da.sel({da.dims[0]: element.rstrip("]")})
    return float(da)


@pytest.mark.parametrize("variable, expected", GIVEN_2021)
def test_reproduces_2021_values(scenario_results, variable, expected):
    assert value(scenario_results["baseline"], variable, 2021) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("variable, observed, tolerance, note", KNOWN_2022)
def test_reproduces_known_2022_figures(scenario_results, variable, observed, tolerance, note):
    assert value(scenario_results["baseline"], variable, 2022) == pytest.approx(
        observed, rel=tolerance
    ), note


def test_history_does_not_depend_on_the_scenario(scenario_results):
    """Scenarios change the future, not 2021; and 2022 demand growth is data in all of them."""
    base = value(scenario_results["baseline"], "Industrial scale", 2021)
    for name, result in scenario_results.items():
        assert value(result, "Industrial scale", 2021) == base, name


def test_every_scenario_has_the_same_history_through_2022():
    """Levers act only after Plan start (the end of 2022), so every scenario is the observed
    history, identically (to floating-point rounding): every stock through 2022, every
    computed variable during 2021-2022 (the flows that build the end-2022 levels), and every
    observed variable at 2022. (At
    Time = 2022 a rate is already the rate of the step after it; inputs themselves differ but
    act only later; counters excepted: no scenario sets their rates, but a user may.)"""
    from czsim.experiments.calibration import load_observations

    info = model_info(paths.MODEL_FILE)
    names = [
        n
        for n, v in info.variables.items()
        if v.type != "constant"
        and "Counter" not in n
        and n != "Policy counter"
        # in effect / lever: a ratio of two inputs, not a result (RD spending is compared)
        and n != "RD phase in factor"
    ]
    observed = set(load_observations()["base"])
    times = np.arange(2021, 2022 + info.time_step / 2, info.time_step)
    base = czsim.run("baseline", variables=names, times=times)
    for scenario in czsim.list_scenarios():
        other = czsim.run(scenario, variables=names, times=times)
        for n in names:
            keep = info.variables[n].type == "stock" or n in observed
            a, b = other[n], base[n]
            if not keep:
                a, b = (
                    a.sel(time=slice(None, 2022 - info.time_step / 2)),
                    b.sel(time=slice(None, 2022 - info.time_step / 2)),
                )
            # identical up to rounding: RD spending multiplies the lever by in-effect / lever
            np.testing.assert_allclose(
                a.values, b.values, rtol=1e-12, atol=0, err_msg=f"{n}, {scenario}"
            )


@pytest.mark.parametrize("scenario", czsim.list_scenarios())
def test_every_scenario_agrees_with_observations_through_2022(scenario):
    """Every observation of model/data/observations.csv (all are 2021-2022) is matched within
    its error scale (sigma); a satisfied lower bound counts as met."""
    from czsim.experiments.calibration import Operator, load_observations

    obs = load_observations()
    assert obs["year"].max() <= 2022
    op = Operator.build(obs)
    result = czsim.run(scenario, variables=list(op.variables), times=list(op.times))
    model = op.apply({v: result[v].values for v in op.variables})[0]
    observed = obs["value"].to_numpy(float)
    lower = (obs["bound"] == "lower").to_numpy()
    model = np.where(lower & (model >= observed), observed, model)
    z = (model - observed) / obs["sigma"].to_numpy(float)
    worst = int(np.argmax(np.abs(z)))
    assert np.all(np.abs(z) <= 1.0), f"{obs['id'].iloc[worst]}: {z[worst]:+.2f} sigma"


def test_stocks_never_negative_in_any_scenario():
    info = model_info(paths.MODEL_FILE)
    stocks = [n for n, v in info.variables.items() if v.type == "stock"]
    assert len(stocks) > 20
    for name in czsim.list_scenarios():
        result = czsim.run(name, variables=stocks, times=np.arange(2021, 2030.01, 0.25))
        for s in stocks:
            assert float(result[s].min()) >= 0.0, f"{s} negative in {name}"


def test_stocks_never_negative_at_extreme_parameters():
    """The corners of the parameter box (all lows, all highs) keep every stock non-negative."""
    table = czsim.load_parameters()
    info = model_info(paths.MODEL_FILE)
    stocks = [n for n, v in info.variables.items() if v.type == "stock"]
    frame = {p.name: [p.low, p.high] for p in table.values()}
    result = czsim.run_many("baseline", frame, variables=stocks)
    for s in stocks:
        assert float(result[s].min()) >= 0.0, s


def test_outputs_are_continuous_in_the_inputs_over_the_parameter_box():
    """Moving every input by one part in 10^15 moves every output by far less than 1e-12 of its
    scale, in random draws over the whole box. A switch in an equation that flips on a rounding
    error (e.g. "if no cluster wants investment, share it by size") would amplify the last bit of
    a floating-point operation a millionfold, and then the two engines, or two machines whose
    libm or SIMD ``pow`` differ by one ulp, would not agree."""
    table = czsim.load_parameters()
    rng = np.random.default_rng(40)
    draws = {p.name: rng.uniform(p.low, p.high, 200) for p in table.values()}
    nudged = {name: values * (1 + 1e-15) for name, values in draws.items()}
    with np.errstate(all="ignore"):
        a = czsim.run_many("baseline", draws)
        b = czsim.run_many("baseline", nudged)
    worst = {}
    for name in a.data_vars:
        x = np.asarray(a[name].values, float)
        y = np.asarray(b[name].values, float)
        scale = np.maximum(np.nanmax(np.abs(x)), 1e-300)
        worst[name] = float(np.nanmax(np.abs(x - y))) / scale
    name = max(worst, key=worst.get)
    assert worst[name] < 1e-12, f"{name} moves by {worst[name]:.1e} of its scale"


@pytest.mark.parametrize("scenario", ["baseline", "plan", "slowdown", "new_energy_capital"])
def test_converges_when_time_step_is_halved(scenario):
    """Halving the model's time step (1/32 year) changes 2025 industrial scale by less than
    0.05% (measured: 0.013% baseline, 0.025% plan, 0.00005% slowdown, 0.032%
    new_energy_capital), and halving again changes it by clearly less (Euler's first-order
    convergence: the change roughly halves), unless both changes are already below 0.001%
    (slowdown: first-order errors of opposite sign nearly cancel, so the ratio is noise)."""
    dt = model_info(paths.MODEL_FILE).time_step
    out = {
        h: czsim.run(scenario, time_step=h, variables=["Industrial scale"])
        for h in (dt, dt / 2, dt / 4)
    }
    v = {h: r["Industrial scale"].sel(time=2025).item() for h, r in out.items()}
    first = abs(v[dt / 2] - v[dt]) / v[dt / 2]
    second = abs(v[dt / 4] - v[dt / 2]) / v[dt / 4]
    assert first < 0.0005
    assert second < 0.75 * first or max(first, second) < 1e-5


def test_exponential_growth_closed_form_through_the_engines(tmp_path):
    """A tiny model with a known answer, run through the same engine path as the real one."""
    mdl = tmp_path / "growth.mdl"
    mdl.write_text(
        """{UTF-8}
Growth rate = 0.1
	~	1/Year
	~	test constant
	|
Stock = INTEG(Growth rate * Stock, 100)
	~	units
	~	exponential growth
	|
FINAL TIME = 10
	~	Year
	~	|
INITIAL TIME = 0
	~	Year
	~	|
SAVEPER = 1
	~	Year
	~	|
TIME STEP = 0.25
	~	Year
	~	|
""",
        encoding="utf-8",
    )
    n = np.arange(0, 11) / 0.25
    for engine in ("ensemble", "pysd"):
        result = engines.run(
            mdl, engine=engine, n_runs=2, constants={"Growth rate": np.array([0.1, 0.2])}
        )
        for r, g in enumerate((0.1, 0.2)):
            expected = 100 * (1 + g * 0.25) ** n
            np.testing.assert_allclose(result["Stock"].isel(run=r).values, expected, rtol=1e-12)


# -------------------------------------------------------------------- citations of numbers

_CITATION = re.compile(r"\[src:\s*([^\]]+)\]")


def _source_ids() -> set[str]:
    import pandas as pd

    return set(pd.read_csv(paths.ROOT / "model" / "data" / "sources.csv", dtype=str)["id"])


def test_every_citation_in_the_model_is_a_source_row():
    """``[src: id, ...]`` in a comment names rows of model/data/sources.csv."""
    ids = _source_ids()
    info = model_info(paths.MODEL_FILE)
    cited = 0
    for name, var in info.variables.items():
        for group in _CITATION.findall(var.comment):
            for sid in (x.strip() for x in group.split(",")):
                assert sid in ids, f"{name} cites unknown source {sid!r}"
                cited += 1
    assert cited >= 20


def test_every_initial_value_cites_data_or_says_assumption():
    """Each number a stock starts from, and each 'Initial ...' or '... 2021' input, is either
    data (its comment cites a source row) or marked as an assumption; a count that starts at
    zero by definition (a cumulative sum from the start) says so."""
    from pysd.translators.structures import abstract_expressions as ae

    from czsim.engines.model_info import abstract_section

    info = model_info(paths.MODEL_FILE)
    section, _ = abstract_section(paths.MODEL_FILE)
    numeric_stocks = {
        el.name: c.ast.initial
        for el in section.elements
        for c in el.components
        if isinstance(c.ast, ae.IntegStructure) and isinstance(c.ast.initial, (int, float))
    }
    initial_inputs = {
        n
        for n, v in info.variables.items()
        if v.type == "constant" and (n.startswith("Initial ") or n.endswith(" 2021"))
    }
    missing = []
    for name in sorted(set(numeric_stocks) | initial_inputs):
        comment = info.variables[name].comment
        if _CITATION.search(comment) or re.search(r"assumption", comment, re.I):
            continue
        # a count from zero or an index from 1 (relative to the start) by definition
        if numeric_stocks.get(name) in (0, 1) and re.search(r"\bdefinition\b", comment, re.I):
            continue
        missing.append(name)
    assert not missing, f"no source row and no 'assumption': {missing}"


def test_cluster_mapping_is_data_and_cites_its_rows():
    """model/data/cluster_mapping.csv (2015 sector -> cluster shares with ranges) and
    cluster_anchors.csv cite rows of sources.csv, and the sector values are the cited data
    (or the stated arithmetic on them)."""
    import pandas as pd

    data = paths.ROOT / "model" / "data"
    sources = pd.read_csv(data / "sources.csv", dtype={"value": str})
    mapping = pd.read_csv(data / "cluster_mapping.csv")
    anchors = pd.read_csv(data / "cluster_anchors.csv", dtype={"value": str})
    ids = set(sources["id"])
    assert set(mapping["source"]) <= ids and set(anchors["source"]) <= ids
    clusters = set(model_info(paths.MODEL_FILE).ranges["Cluster"])
    assert set(mapping["cluster"]) == clusters
    assert (mapping["share_low"] <= mapping["share"]).all()
    assert (mapping["share"] <= mapping["share_high"]).all()
    assert (mapping.groupby("sector")["share"].sum() <= 1.0 + 1e-9).all()

    def cited(indicator_part: str) -> float:
        rows = sources[sources["indicator"].str.contains(indicator_part, regex=False)]
        assert len(rows) == 1, indicator_part
        return float(rows["value"].iloc[0])

    sector = {
        "machinery": cited("sector_output_machinery"),
        "chemicals": cited("sector_output_chemical"),
        "metallurgy": cited("sector_output_metallurgy"),
        "textiles": cited("sector_output_textile"),
        "electronics": cited("sector_output_electronics"),
        "biomedicine": cited("sector_output_biomedicine"),
        "building_materials": cited("sector_output_building"),
        "auto_parts": cited("cluster_output_auto_and_parts"),
        "pv": cited("cluster_output_solar_PV"),
    }
    total_2015 = float(
        sources[
            (sources["id"] == "tjj_communique_2015") & sources["indicator"].str.startswith("above")
        ]["value"].iloc[0]
    )
    seven = ("machinery", "chemicals", "metallurgy", "textiles", "electronics")
    sector["machinery_net"] = sector["machinery"] - sector["auto_parts"] - sector["pv"]
    sector["rest"] = (
        total_2015
        - sum(sector[k] for k in seven)
        - sum(sector[k] for k in ("biomedicine", "building_materials"))
    )
    for row in mapping.itertuples():
        assert row.sector_2015 == pytest.approx(sector[row.sector], abs=0.05), row.sector


def test_initial_cluster_output_is_the_data_not_the_targets():
    """The model computes its 2021 cluster sizes from the 2015 sector table, the mapping shares,
    the 2021 total and the NEV anchor, exactly as czsim.cluster_data does from the data files
    (not back-cast from the 2025 targets); with the low or high shares it stays within the
    computation's bracket, and every variant adds up to the 2021 total."""
    from czsim.cluster_data import initial_cluster_output, totals

    info = model_info(paths.MODEL_FILE)
    order = info.ranges["Cluster"]
    result = czsim.run("baseline", variables=["Initial cluster output"], times=[2021])
    model = result["Initial cluster output"].values.reshape(len(order))
    expected = initial_cluster_output()
    np.testing.assert_allclose(model, [expected[c] for c in order], rtol=1e-12)
    _, total_2021 = totals()
    assert model.sum() == pytest.approx(total_2021)
    low, high = initial_cluster_output("share_low"), initial_cluster_output("share_high")
    for k, c in enumerate(order):
        if c != "other_industry":
            assert low[c] - 1e-9 <= model[k] <= high[c] + 1e-9, c
    for variant in (low, high):
        assert sum(variant.values()) == pytest.approx(total_2021)
        assert variant["other_industry"] > 0
    back_cast = [4100, 720, 1030, 1640, 2050, 480, 1020, 570, 340, 550, 4500]
    assert not np.allclose(model, back_cast, rtol=0.02)
    with pytest.raises(ValueError, match="share is"):
        initial_cluster_output("median")


def test_the_mapping_shares_are_parameters_with_the_files_ranges():
    """Every mapped share of model/data/cluster_mapping.csv is an uncertain parameter whose
    default and range are the file's, and the model's sector outputs are the file's."""
    import pandas as pd

    from czsim.parameters import load_parameters
    from czsim.scenarios import load_scenario

    mapping = pd.read_csv(paths.ROOT / "model" / "data" / "cluster_mapping.csv")
    table = load_parameters()
    by_variable = {p.full_variable: p for p in table.values()}
    uncertain = set(load_scenario("baseline").uncertain)
    info = model_info(paths.MODEL_FILE)
    sectors = info.variables["Sector output 2015"].default
    checked = 0
    for row in mapping.itertuples():
        if row.share_low == row.share_high:  # fixed by definition (nev, other_industry)
            continue
        if row.cluster == "new_materials" and row.sector == "metallurgy":
            variable = "New materials share of metallurgy"
        else:
            variable = f"Cluster share of sector[{row.cluster}]"
        p = by_variable[variable]
        assert (p.default, p.low, p.high) == (row.share, row.share_low, row.share_high), variable
        assert p.name in uncertain, p.name
        checked += 1
    assert checked == 10
    model_sectors = dict(zip(info.ranges["Sector"], sectors, strict=True))
    names = {"textiles": "textiles_garments", "rest": "rest_of_industry"}
    for row in mapping.drop_duplicates("sector").itertuples():
        key = names.get(row.sector, row.sector)
        key = key if key in model_sectors else f"{key}_sector"
        assert model_sectors[key] == pytest.approx(row.sector_2015), row.sector
