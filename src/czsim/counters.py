"""Counter targets, from one table: ``model/counters.tsv``.

Targets the dynamic model does not explain are carried by ``Policy counter[Counter]``, a level
that grows at an annual rate. Each counter's numbers (2021 level, baseline rate, the pace seen in
the data where there is any, the top of its slider) and the reasoning behind them are written
once, in ``counters.tsv``. From that table:

- the parameter table gets one ``counter_<element>`` parameter per counter at load time
  (:func:`counter_parameters`, called by :func:`czsim.parameters.load_parameters`);
- the model file's ``Counter``, ``Counter initial`` and ``Counter rate`` equations are
  generated (:func:`write`, ``czsim counters``), and a test checks that the committed file
  equals what the table gives;
- the scorecard shows each counter target as a *pace check* (:func:`pace`): the pace the
  target requires against the pace seen in the data, never as "reached" — a counter's level
  is whatever rate a scenario assumes, so reaching it would say nothing the assumption did not.
"""

from __future__ import annotations

import csv
import math
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from czsim import paths
from czsim.errors import ParameterError

COUNTERS_FILE = paths.ROOT / "model" / "counters.tsv"
COLUMNS = (
    "element",
    "unit",
    "initial_2021",
    "initial_source",
    "baseline_rate",
    "baseline_source",
    "history_pace",
    "history_source",
    "high",
)
_TAB = "\t"  # Vensim writes an empty units field as a tab
_ASSUMPTION = re.compile(r"^(assumption:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Counter:
    """One row of ``counters.tsv``: a counter target's numbers and their reasons."""

    element: str
    unit: str
    initial: float
    initial_source: str
    baseline_rate: float
    baseline_source: str
    history_pace: float | None
    history_source: str
    high: float

    @property
    def step(self) -> float:
        """Slider step: a hundredth of the slider's top, rounded down to a power of ten."""
        return 10.0 ** (math.floor(math.log10(self.high)) - 2)

    @property
    def rate_source(self) -> str:
        """The baseline rate's reasoning, as the parameter's ``source`` text."""
        return "assumption: " + _ASSUMPTION.sub("", self.baseline_source.strip())


def _number(text: str, *, line: int, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(
            f"expected a number, got {text!r}", file=COUNTERS_FILE, line=line, key=key
        ) from None
    if not math.isfinite(value):
        raise ParameterError("not a finite number", file=COUNTERS_FILE, line=line, key=key)
    return value


def load_counters(path: str | Path | None = None) -> tuple[Counter, ...]:
    """Read ``counters.tsv`` (one line per counter, tab-separated, header :data:`COLUMNS`)."""
    file = Path(path) if path is not None else COUNTERS_FILE
    try:
        st = file.stat()
    except OSError as exc:
        raise ParameterError(f"cannot read the counter table: {exc}", file=file) from None
    return _load_counters(file, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _load_counters(file: Path, mtime_ns: int, size: int) -> tuple[Counter, ...]:
    # read again when the file changes (its time or size is part of the key)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read the counter table: {exc}", file=file) from None
    reader = csv.DictReader(text.splitlines(), delimiter="\t")
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ParameterError(f"expected the columns {', '.join(COLUMNS)}", file=file, line=1)
    out = []
    for line, row in enumerate(reader, start=2):
        numbers = {
            k: _number(row[k], line=line, key=k) for k in ("initial_2021", "baseline_rate", "high")
        }
        history = row["history_pace"].strip()
        out.append(
            Counter(
                element=row["element"],
                unit=row["unit"],
                initial=numbers["initial_2021"],
                initial_source=row["initial_source"],
                baseline_rate=numbers["baseline_rate"],
                baseline_source=row["baseline_source"],
                history_pace=_number(history, line=line, key="history_pace") if history else None,
                history_source=row["history_source"],
                high=numbers["high"],
            )
        )
    return tuple(out)


def counter_parameters(labels: dict[str, tuple[str, str]]) -> list[dict[str, object]]:
    """Parameter-table entries of the counters' annual rates (levers).

    Parameters
    ----------
    labels : dict
        Counter element -> (zh, en) label of the target it carries (from ``targets.toml``).

    Returns
    -------
    list of dict
        Entries in the layout of ``model/parameters.toml``.
    """
    return [
        {
            "name": f"counter_{c.element}",
            "variable": f"Counter rate[{c.element}]",
            "default": c.baseline_rate,
            "low": 0.0,
            "high": c.high,
            "step": c.step,
            "units": f"{c.unit}/Year",
            "group": "counters",
            "kind": "lever",
            "label_zh": "年增量:" + labels.get(c.element, (c.element, c.element))[0],
            "label_en": "Per year: " + labels.get(c.element, (c.element, c.element))[1],
            "source": c.rate_source,
            "source_zh": (
                f"假设：基准年增量 {_number_text(c.baseline_rate)} {c.unit}/年"
                f"（理由见 model/counters.tsv，原文如下）：{c.rate_source}"
            ),
        }
        for c in load_counters()
    ]


def _number_text(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"


def _wrapped(values: list[str]) -> str:
    return "\n".join(
        textwrap.wrap(", ".join(values), 92, initial_indent="\t", subsequent_indent="\t")
    )


def mdl_block(counters: tuple[Counter, ...]) -> str:
    """Return the .mdl equations of the ``Counter`` subscript and its two variables.

    They are the ``Counter`` range, ``Counter initial`` and ``Counter rate`` equations of the
    .mdl.
    """
    elements = _wrapped([c.element for c in counters])
    initial = _wrapped([_number_text(c.initial) for c in counters])
    rate = _wrapped([_number_text(c.baseline_rate) for c in counters])
    return f"""Counter:
{elements}
	~{_TAB}
	~	One element per policy target carried by a counter (see model/targets.toml, basis =
		"counter"). Generated from model/counters.tsv (czsim counters), which gives
		each element's unit and the reasoning behind its numbers.
	|

Counter initial[Counter]=
{initial}
	~	target units (see model/counters.tsv)
	~	Level at the end of 2021; for counters of additions during 十四五 ("新增"), the 2021
		additions. Data for firms_revenue_100_500 (17 firms above 100亿 in 2021 less one above
		1000亿; 工信局 2021年工业大企业通报), unicorn_firms and gazelle_firms
		(changzhou_history_2010_2022.csv); assumption for every other element, each reasoned in
		model/counters.tsv (initial_source).
	|

Counter rate[Counter]=
{rate}
	~	target units/Year
	~	Additions per year if 2015-2022 trends continue (baseline). Assumption for every
		element, each reasoned in model/counters.tsv (baseline_source). No scenario sets a
		counter to the pace its target requires: the scorecard compares that pace with the data.
	|

"""


def _replace_mdl(text: str, block: str) -> str:
    start = text.index("Counter:\n")
    end = text.index("Policy counter[Counter]=")
    return text[:start] + block + text[end:]


def generated() -> dict[Path, str]:
    """Return every generated file with the text the counter table gives it."""
    counters = load_counters()
    return {
        paths.MODEL_FILE: _replace_mdl(
            paths.MODEL_FILE.read_text(encoding="utf-8"), mdl_block(counters)
        ),
    }


def write() -> list[Path]:
    """Regenerate the counter equations of the model; return the files that changed."""
    changed = []
    for path, text in generated().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


@dataclass(frozen=True)
class Pace:
    """A counter target's pace check: what the target requires against what the data show.

    Attributes
    ----------
    required : float
        Additions per year from the 2021 level to the target value by the target's year.
    history : float or None
        Additions per year seen in the data (``None``: no data).
    source : str
        Where ``history`` comes from.
    """

    required: float
    history: float | None
    source: str

    @property
    def ratio(self) -> float:
        """``required / history``: how many times the past pace the target needs (NaN: no data)."""
        if self.history is None or self.history <= 0:
            return math.nan
        return self.required / self.history


def pace(element: str, target_value: float, target_year: int, start_year: int = 2021) -> Pace:
    """Return the pace check of the counter ``element`` for a target value in a year."""
    by_element = {c.element: c for c in load_counters()}
    counter = by_element[element]
    required = (target_value - counter.initial) / max(target_year - start_year, 1)
    return Pace(required, counter.history_pace, counter.history_source)
