"""What every command shares: the console, the subcommand's common options, status styles."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from czsim.text import format_number, status_text

#: Scorecard status -> Rich style; the words and symbols come from :mod:`czsim.text`.
STATUS_STYLE = {
    "reached": "green",
    "missed": "red",
    "untracked": "dim",
    "not in results": "dim",
    "invalid": "magenta",
    "pace check": "cyan",
}

__all__ = ["STATUS_STYLE", "escape", "format_number", "make_console", "status_cell"]


def make_console() -> Console:
    """Return a console; piped output (files, CI logs, tests) gets 180 columns, not 80."""
    return Console() if sys.stdout.isatty() else Console(width=180)


def status_cell(status: str, lang: str) -> str:
    """Return the scorecard status as coloured Rich markup, symbol and words in both languages."""
    other = "en" if lang == "zh" else "zh"
    words = status_text(status, lang)
    extra = status_text(status, other).split(" ", 1)[-1]
    return f"[{STATUS_STYLE[status]}]{escape(words)} {escape(extra)}[/]"


def model_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--model FILE`` (default: the project's model)."""
    parser.add_argument(
        "--model", type=_model_file, default=None, help="model file (default model/changzhou.mdl)"
    )


def _model_file(text: str) -> Path:
    """``--model``: a readable regular file (a pipe or folder is refused at once, not read)."""
    from czsim.guards import check_model_path

    return check_model_path(text)


def engine_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine {ensemble,pysd}``."""
    parser.add_argument("--engine", choices=("ensemble", "pysd"), default="ensemble")


class spinner:
    """Context manager yielding ``update(text)``: a transient Rich status line while work runs."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._bar: Progress | None = None

    def __enter__(self) -> Callable[[str], None]:
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
        )
        self._bar.start()
        task = self._bar.add_task(self.title, total=None)
        bar = self._bar

        def update(text: str) -> None:
            bar.update(task, description=f"{self.title}: {text}")

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
