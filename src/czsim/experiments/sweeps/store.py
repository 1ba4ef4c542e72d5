"""A sweep's folder on disk: manifest, one file per finished chunk, final outputs.

Every file is written atomically (a temporary file in the same folder, then renamed), so an
interrupted sweep leaves only whole files behind and a rerun can trust each chunk it finds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO
from zlib import error as zlib_error

import numpy as np

from czsim.errors import CzsimError
from czsim.io import atomic_write, check_output_folder, write_text

MANIFEST = "manifest.json"
CHUNK_DIR = "chunks"
_RANGE = "__range__"  # (start, stop) of the chunk's runs, stored beside its outcomes
_SWEEP = "__sweep__"  # digest of the sweep's identity: a chunk of another sweep is not used


def _chunk_digest(path: Path) -> str | None:
    """Return the sweep digest stored in a chunk file, or None if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data[_SWEEP]) if _SWEEP in data.files else ""
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib_error):
        return None


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value))


class SweepStore:
    """The output folder of one sweep, or nothing at all when ``out`` is None.

    Parameters
    ----------
    out : path, optional
        Folder for the manifest, chunks and outputs.
    identity : mapping
        What makes two sweeps the same (model hash, scenario, method, n, seed, parameters
        and ranges, outcomes): JSON-serialisable.
    overwrite : bool
        Replace a folder that holds a different sweep.

    Raises
    ------
    CzsimError
        ``out`` is a file, or holds a different sweep (or other files) and ``overwrite`` is
        false.
    """

    def __init__(
        self, out: str | Path | None, identity: Mapping[str, Any], *, overwrite: bool = False
    ) -> None:
        self.out = Path(out) if out is not None else None
        self.identity = _jsonable(dict(identity))
        self.digest = hashlib.sha256(
            json.dumps(self.identity, sort_keys=True).encode("utf-8")
        ).hexdigest()
        self.resumed = False
        #: Chunk files found damaged or belonging to another sweep (computed again).
        self.rejected: list[str] = []
        #: True when the manifest was unreadable and the sweep was recognised by its chunks.
        self.rebuilt = False
        #: Runs per chunk of the sweep being resumed (None: a new sweep, or not recorded).
        self.previous_chunk_size: int | None = None
        if self.out is not None:
            self._check(overwrite)

    def _check(self, overwrite: bool) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise CzsimError("exists and is not a folder", file=out, key="out")
        check_output_folder(out)
        if not out.exists() or not any(out.iterdir()):
            return
        manifest_path = out / MANIFEST
        old: dict = {}
        if manifest_path.is_file():
            try:
                old = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            if not isinstance(old, dict):
                old = {}
        old_identity = old.get("identity")
        if old_identity == self.identity:
            self.resumed = True
            size = old.get("chunk_size")
            if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
                self.previous_chunk_size = size
            return
        if old_identity is None and self._chunks_are_ours():
            # The manifest is missing or damaged, but the chunks say they belong to this very
            # sweep: resume, and the manifest is written again from this definition.
            self.resumed = self.rebuilt = True
            return
        if not overwrite:
            if old_identity is None:
                raise CzsimError(
                    "folder holds files that are not a czsim sweep; choose another "
                    "--out or pass --overwrite",
                    file=out,
                    key="out",
                )
            differ = sorted(
                k
                for k in {*self.identity, *old_identity}
                if self.identity.get(k) != old_identity.get(k)
            )
            raise CzsimError(
                f"folder holds a different sweep (differs in {', '.join(differ)}); "
                "choose another --out or pass --overwrite",
                file=out,
                key="out",
            )
        self._clear(old)

    def _clear(self, old_manifest: Mapping[str, Any]) -> None:
        """Remove what an earlier sweep wrote here (its listed files, chunks and manifest).

        Anything else in the folder is left alone.
        """
        for name in old_manifest.get("files", []):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                (self.out / name).unlink()
        for chunk in (self.out / CHUNK_DIR).glob("chunk_*.npz"):
            chunk.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.out / MANIFEST).unlink()

    def _chunks_are_ours(self) -> bool:
        """Tell whether the folder holds chunk files and every readable one is of this sweep."""
        found = False
        for path in sorted((self.out / CHUNK_DIR).glob("chunk_*.npz")):
            digest = _chunk_digest(path)
            if digest is None:
                continue  # damaged: it will be computed again
            if digest != self.digest:
                return False
            found = True
        return found

    def chunk_path(self, index: int) -> Path:
        """File of chunk ``index`` (``chunks/chunk_00012.npz``)."""
        return self.out / CHUNK_DIR / f"chunk_{index:05d}.npz"

    def load_chunk(self, index: int, start: int, stop: int) -> dict[str, np.ndarray] | None:
        """Load the outcomes of a finished chunk covering runs ``start:stop``.

        Return None if there is no such file, it covers other runs (written with another
        chunk size) or cannot be read.
        """
        if self.out is None:
            return None
        path = self.chunk_path(index)
        if not path.is_file():
            return None
        try:
            # Every member is read in full, so zip's CRC-32 checks each array.
            with np.load(path, allow_pickle=False) as data:
                if _RANGE not in data.files or _SWEEP not in data.files:
                    raise ValueError("not a chunk of this sweep")
                if str(data[_SWEEP]) != self.digest:
                    raise ValueError("a chunk of another sweep")
                if tuple(data[_RANGE]) != (start, stop):
                    return None
                out = {k: data[k] for k in data.files if k not in (_RANGE, _SWEEP)}
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib_error):
            # Zero bytes, truncated, garbled, foreign: compute it again (and overwrite it).
            self.rejected.append(path.name)
            return None
        for values in out.values():
            if values.dtype.kind != "f" or values.shape[:1] != (stop - start,):
                self.rejected.append(path.name)
                return None
        return out

    def save_chunk(
        self, index: int, start: int, stop: int, outcomes: Mapping[str, np.ndarray]
    ) -> None:
        """Write a finished chunk (no-op without an output folder)."""
        if self.out is None:
            return

        def write(f: BinaryIO) -> None:
            buffer = io.BytesIO()
            np.savez(
                buffer,
                **{_RANGE: np.array([start, stop]), _SWEEP: np.array(self.digest)},
                **outcomes,
            )
            f.write(buffer.getvalue())

        atomic_write(self.chunk_path(index), write)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write ``manifest.json`` with this sweep's identity."""
        if self.out is None:
            return
        body = {"identity": self.identity, **manifest}
        write_text(self.out / MANIFEST, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
