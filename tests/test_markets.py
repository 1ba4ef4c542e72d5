"""Markets and prices (model issue, item 3): each cluster's 2022 demand follows its national
market from data, nominal output is volume times a price index, and the part of the observed
2022 growth the markets do not explain is a fitted share shift, not an assumed growth rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import czsim
from czsim import paths
from czsim.cluster_data import MARKETS_FILE, SOURCES_FILE, market_growth_2022
from czsim.engines import model_info


def _values(name: str, scenario: str = "baseline", times=(2021, 2022)) -> np.ndarray:
    result = czsim.run(scenario, variables=[name], times=list(times))
    return result[name].isel(run=0).values


def test_the_models_2022_market_growth_is_the_data():
    """``Market volume growth 2022`` is what model/data/markets.csv computes from the source
    rows (to the four decimals the model writes), for every cluster."""
    info = model_info(paths.MODEL_FILE)
    order = info.ranges["Cluster"]
    model = _values("Market volume growth 2022", times=[2021]).reshape(len(order))
    data = market_growth_2022()
    assert set(data) == set(order)
    np.testing.assert_allclose(model, [data[c] for c in order], atol=5e-5)


def test_every_market_row_names_source_rows_and_weights_add_up():
    table = pd.read_csv(MARKETS_FILE, dtype=str).fillna("")
    sources = pd.read_csv(SOURCES_FILE, dtype=str)
    known = set(zip(sources["id"], sources["indicator"], strict=True))
    for row in table.itertuples():
        assert (row.source_2022, row.indicator_2022) in known, row
        if row.measure != "growth":
            assert (row.source_2021, row.indicator_2021) in known, row
    # the two blended markets: the weights are assumptions the notes say so
    for cluster in ("new_energy", "nev"):
        notes = " ".join(table.loc[table["cluster"] == cluster, "note"])
        assert "assumption" in notes and "range" in notes, cluster


def test_a_wrong_weight_or_measure_in_the_file_is_refused(tmp_path, monkeypatch):
    import czsim.cluster_data as cd

    table = pd.read_csv(MARKETS_FILE, dtype=str)
    bad = table.copy()
    bad.loc[bad["component"] == "pv_cells", "weight"] = "0.7"
    path = tmp_path / "markets.csv"
    bad.to_csv(path, index=False)
    monkeypatch.setattr(cd, "MARKETS_FILE", path)
    with pytest.raises(ValueError, match="new_energy's weights add up to 1.2"):
        cd.market_growth_2022()
    bad = table.copy()
    bad.loc[0, "measure"] = "index"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="unknown measure"):
        cd.market_growth_2022()


def test_nominal_output_is_volume_times_price():
    """Captured demand is the market's volume times its price index (times the shares), the
    price index starts at 1 and carries the 2022 PPI (steel its own, falling, prices)."""
    info = model_info(paths.MODEL_FILE)
    order = info.ranges["Cluster"]
    result = czsim.run(
        "baseline",
        variables=[
            "Price index",
            "Cluster demand",
            "Share shift index",
            "Market share effect",
            "Captured demand",
        ],
        times=[2021, 2022, 2025],
    ).isel(run=0)
    price = result["Price index"].transpose("time", "Cluster").values
    np.testing.assert_allclose(price[0], 1.0, rtol=1e-12)
    steel = order.index("steel")
    expected_2022 = np.full(len(order), 1.041)
    expected_2022[steel] = 1 - 0.058
    np.testing.assert_allclose(price[1], expected_2022, rtol=1e-9)
    np.testing.assert_allclose(price[2], expected_2022 * 1.01**3, rtol=1e-9)
    product = (
        result["Cluster demand"] * result["Price index"] * result["Share shift index"]
    ) * result["Market share effect"]
    np.testing.assert_allclose(
        product.transpose("time", "Cluster").values,
        result["Captured demand"].transpose("time", "Cluster").values,
        rtol=1e-12,
    )


def test_a_price_path_moves_nominal_output_not_the_volume():
    """Higher prices from 2023 raise 2025 nominal output by about the price ratio and leave
    2022 untouched; the market volume does not depend on prices."""
    from czsim.scenarios import load_scenario

    base = load_scenario("baseline")
    high = base.with_values("prices_up", price_growth=0.04)
    a = czsim.run(base, variables=["Industrial scale", "Cluster demand"], times=[2022, 2025])
    b = czsim.run(high, variables=["Industrial scale", "Cluster demand"], times=[2022, 2025])
    scale_a = a["Industrial scale"].isel(run=0).values
    scale_b = b["Industrial scale"].isel(run=0).values
    assert scale_b[0] == pytest.approx(scale_a[0], rel=1e-12)
    ratio = scale_b[1] / scale_a[1]
    assert ratio == pytest.approx((1.04 / 1.01) ** 3, rel=0.01)
    np.testing.assert_allclose(a["Cluster demand"].values, b["Cluster demand"].values, rtol=1e-12)


def test_the_2022_share_shifts_are_fitted_not_assumed_growth():
    """No cluster's 2022 growth is an assumed number any more: the parameters that used to be
    (``demand_growth_2022_*``) are gone, and what replaces them is fitted by calibration."""
    from czsim.parameters import load_parameters

    table = load_parameters()
    names = set(table)
    assert not any(n.startswith("demand_growth_2022_") for n in names)
    fitted = {n for n in table if table[n].calibrate}
    assert {
        "own_share_shift_2022_new_energy",
        "own_share_shift_2022_nev",
        "own_share_shift_2022_biomedicine",
        "common_share_shift_2022",
    } <= fitted
