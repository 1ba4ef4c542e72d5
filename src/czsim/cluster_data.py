"""2021 cluster sizes from data, not from the targets they are scored against.

No official 2021 breakdown of Changzhou's industrial invoiced sales by the plan's clusters
is published. The model's ``Initial cluster output`` therefore comes from:

- the 2015 above-scale output by sector (``tjj_communique_2015`` rows of
  ``model/data/sources.csv``), mapped to clusters with shares that have ranges
  (``model/data/cluster_mapping.csv``; each share's basis is stated there);
- the 2015 structure applied to the 2021 total (17000 亿元, ``czrb_2023_01_14``): each
  cluster's 2021 size is its mapped 2015 output times 17000 / 11454.3 (the 2015 above-scale
  total), an assumption that the clusters grew alike from 2015 to 2021 except where a later
  anchor says otherwise;
- anchors where later data exist (``model/data/cluster_anchors.csv``, ``use = level`` with a
  following ``use = growth`` row): NEV is its 2020 output 832 grown by the 2021 revenue growth
  of +89% (``gxj_2021_01_21``, ``jschina_2022_02_21``);
- ``other_industry`` is what remains of the 2021 total.

The model computes the same sizes in its own equations (``Mapped 2015 output``, ``Mapped
2021 output``, ``Initial cluster output``), with the shares, the 2021 total and the NEV anchor
as uncertain parameters (``model/parameters.toml``, group ``initial``), so the bands carry the
mapping's uncertainty. :func:`initial_cluster_output` is the independent computation from the
files, for the central shares or the low or high ones; ``tests/test_model.py`` checks that the
model's values are these.
"""

from __future__ import annotations

import pandas as pd

from czsim import paths

DATA = paths.ROOT / "model" / "data"
MAPPING_FILE = DATA / "cluster_mapping.csv"
ANCHORS_FILE = DATA / "cluster_anchors.csv"
MARKETS_FILE = DATA / "markets.csv"
SOURCES_FILE = DATA / "sources.csv"
#: The remainder cluster: what the mapped clusters leave of the total.
REST = "other_industry"


def _source_value(source_id: str, indicator_start: str, year: int | None = None) -> float:
    sources = pd.read_csv(SOURCES_FILE, dtype={"value": str})
    rows = sources[
        (sources["id"] == source_id) & sources["indicator"].str.startswith(indicator_start)
    ]
    if year is not None:
        rows = rows[rows["year"] == year]
    if len(rows) != 1:
        raise ValueError(f"{SOURCES_FILE.name}: expected one {source_id} row {indicator_start}")
    return float(rows["value"].iloc[0])


def totals() -> tuple[float, float]:
    """Return (2015 above-scale output, 2021 industrial invoiced sales), 亿元."""
    return (
        _source_value("tjj_communique_2015", "above_scale_industrial_output"),
        _source_value("czrb_2023_01_14", "industrial_invoiced_sales (工业开票销售) DERIVED"),
    )


def anchors() -> dict[str, float]:
    """Return the 2021 levels of the anchored clusters: a level times (1 + next year's growth)."""
    table = pd.read_csv(ANCHORS_FILE)
    out = {}
    for cluster, rows in table.groupby("cluster", sort=False):
        level = rows[rows["use"] == "level"]
        growth = rows[rows["use"] == "growth"]
        if len(level) == 1 and len(growth) == 1:
            year = int(level["year"].iloc[0])
            if int(growth["year"].iloc[0]) != year + 1 or year + 1 != 2021:
                raise ValueError(f"{ANCHORS_FILE.name}: {cluster}'s anchor does not reach 2021")
            out[str(cluster)] = float(level["value"].iloc[0]) * (1 + float(growth["value"].iloc[0]))
    return out


def initial_cluster_output(share: str = "share") -> dict[str, float]:
    """Return the 2021 invoiced sales of every cluster (亿元).

    ``share`` is the mapping's column: ``share``, ``share_low`` or ``share_high``. The
    clusters add up to the 2021 total.
    """
    if share not in ("share", "share_low", "share_high"):
        raise ValueError(f"share is 'share', 'share_low' or 'share_high', got {share!r}")
    mapping = pd.read_csv(MAPPING_FILE)
    total_2015, total_2021 = totals()
    scale = total_2021 / total_2015
    mapped = (mapping[share] * mapping["sector_2015"]).groupby(mapping["cluster"], sort=False).sum()
    out = {str(c): float(v) * scale for c, v in mapped.items() if c != REST}
    out.update(anchors())
    out[REST] = total_2021 - sum(out.values())
    return out


def _weight(text: str) -> float:
    """Return a ``weight`` of ``model/data/markets.csv``: a number or ``1 - number``."""
    text = str(text).replace(" ", "")
    return 1 - float(text[2:]) if text.startswith("1-") else float(text)


def market_growth_2022() -> dict[str, float]:
    """Return the 2022 volume growth of each cluster's national market (``model/data/markets.csv``).

    Each row is one national series of a cluster's market with its weight. ``measure`` says how
    its 2022 growth is read from ``model/data/sources.csv``: ``growth`` (a published growth
    rate, in %), ``levels`` (2022 level over 2021 level) or ``nominal_levels`` (levels in
    current prices, deflated by the 2022 PPI, ``ppi_history``). The weights of a cluster add
    up to 1. The model's ``Market volume growth 2022`` holds these numbers (a test checks it).
    """
    table = pd.read_csv(MARKETS_FILE, dtype=str).fillna("")
    ppi = _source_value("ppi_history", "PPI_total_change", 2022) / 100
    out: dict[str, float] = {}
    weights: dict[str, float] = {}
    for row in table.itertuples():
        after = _source_value(row.source_2022, row.indicator_2022, 2022)
        if row.measure == "growth":
            growth = after / 100
        elif row.measure in ("levels", "nominal_levels"):
            growth = after / _source_value(row.source_2021, row.indicator_2021, 2021) - 1
            if row.measure == "nominal_levels":
                growth = (1 + growth) / (1 + ppi) - 1
        else:
            raise ValueError(f"{MARKETS_FILE.name}: unknown measure {row.measure!r}")
        w = _weight(row.weight)
        out[row.cluster] = out.get(row.cluster, 0.0) + w * growth
        weights[row.cluster] = weights.get(row.cluster, 0.0) + w
    for cluster, total in weights.items():
        if abs(total - 1) > 1e-12:
            raise ValueError(f"{MARKETS_FILE.name}: {cluster}'s weights add up to {total}")
    return out
