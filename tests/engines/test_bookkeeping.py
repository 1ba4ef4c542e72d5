"""The engine's bookkeeping fast paths give what the plain ways give."""

from __future__ import annotations

import numpy as np
from engine_helpers import REAL_MODEL

from czsim.engines import model_info, run
from czsim.engines.inputs import _template, build_dataset, prepare


def test_results_are_packed_as_the_template_copy_would():
    info = model_info(REAL_MODEL)
    inputs = prepare(
        info,
        n_runs=3,
        constants={"Depreciation rate": np.array([0.05, 0.08, 0.1])},
        series=None,
        variables=None,
        times=None,
        time_step=None,
    )
    ds = run(REAL_MODEL, n_runs=3, constants={"Depreciation rate": [0.05, 0.08, 0.1]})
    data = {n: ds[n].values for n in inputs.variables}
    fast = build_dataset(info, inputs, data, "ensemble")
    template = _template(
        info, inputs.variables, 3, inputs.times.tobytes(), inputs.time_step, "ensemble"
    )
    plain = template.copy(deep=False, data=data)
    assert fast.identical(plain)
    # attrs are the result's own: changing them leaves the cached template alone
    fast.attrs["engine"] = "changed"
    fast["Capital"].attrs["units"] = "changed"
    assert template.attrs["engine"] == "ensemble"
    assert template["Capital"].attrs["units"] != "changed"
    assert fast["Capital"].values is data["Capital"]  # no copy of the results
