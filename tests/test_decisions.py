"""Decision tools (czsim.decisions): break-even, what it takes, attribution.

Known answers come from tiny models in tests/decisions_models/; one test uses the real model.
"""

from __future__ import annotations

import czsim
from czsim.parameters import load_parameters


def test_key_levers_are_flagged():
    keys = load_parameters().key_levers()
    assert 8 <= len(keys) <= 16
    names = {p.name for p in keys}
    assert "industrial_investment_growth" in names
    assert all(p.key for p in keys)
    assert not load_parameters()["depreciation_rate"].key
    assert czsim.load_parameters()["rd_intensity"].key
