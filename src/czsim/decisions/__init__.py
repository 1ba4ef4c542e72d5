"""Decision tools: what it takes to reach a target, and which levers explain a gap.

- :func:`break_even`: for each target and lever, the lever value at which the target is met
  exactly (others fixed).
- :func:`what_it_takes`: the smallest combined change of several levers that reaches a target,
  optionally with a probability under the scenario's uncertainty.
- :func:`attribute`: the difference in an outcome between two scenarios split across the
  parameters in which they differ (Shapley values).

All three batch their model runs into few calls of the vectorised ensemble engine and accept a
model path, parameter table and targets, so they work on any model.
"""

from czsim.decisions.attribution import Attribution, attribute
from czsim.decisions.breakeven import break_even
from czsim.decisions.what_it_takes import Solution, what_it_takes

__all__ = ["Attribution", "Solution", "attribute", "break_even", "what_it_takes"]
