"""Groups of parameters and targets (``model/groups.toml``): ids, zh/en labels, display order."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from czsim import paths
from czsim.errors import CzsimError, closest
from czsim.tomlfile import key_lines, read_toml

GROUPS_FILE = paths.ROOT / "model" / "groups.toml"


@dataclass(frozen=True)
class Group:
    """One group: ``id`` as the tables write it, labels in both languages.

    ``panel`` marks a target group drawn as a small multiple on the app's overview.
    """

    id: str
    zh: str
    en: str
    panel: bool = False

    def label(self, lang: str = "en") -> str:
        """Return the label in ``lang`` ("zh" or "en")."""
        return self.zh if lang == "zh" else self.en


@functools.cache
def _load(path: Path) -> dict[str, Group]:
    data = read_toml(path)
    lines = key_lines(path.read_text(encoding="utf-8"))
    out: dict[str, Group] = {}
    for i, entry in enumerate(data.get("group", [])):
        try:
            group = Group(
                id=entry["id"], zh=entry["zh"], en=entry["en"], panel=entry.get("panel", False)
            )
        except (KeyError, TypeError) as exc:
            raise CzsimError(
                f"a group needs id, zh and en ({exc})", file=path, line=lines.get(("group", i))
            ) from None
        out[group.id] = group
    return out


def load_groups(path: str | Path | None = None) -> dict[str, Group]:
    """Return the groups by id, in file order."""
    return _load(Path(path) if path is not None else GROUPS_FILE)


def group_label(group_id: str, lang: str = "en") -> str:
    """Return the label of ``group_id`` in ``lang``; the id itself for an unknown group."""
    group = load_groups().get(group_id)
    return group.label(lang) if group else group_id


def check_group(group_id: object, *, file: str | Path, line: int | None, key: str) -> str:
    """Return ``group_id`` if ``model/groups.toml`` defines it, else raise naming the place."""
    groups = load_groups()
    if group_id not in groups:
        raise CzsimError(
            f"unknown group '{group_id}'{closest(str(group_id), groups)}; groups are defined "
            "in model/groups.toml",
            file=file,
            line=line,
            key=key,
        )
    return str(group_id)
