"""Run folders that no interruption leaves looking complete, and no second run leaves mixed.

Every command that writes a run folder (``hitl-sim``, ``hitl-rct``, ``hitl-eval``, ``hitl-whatif``,
``hitl-train``, ``hitl-bench``) follows the same protocol:

1. :func:`prepare_out`: a non-empty ``--out`` is refused unless ``--overwrite`` is given, and
   ``--overwrite`` first removes the manifest, then every file the commands write
   (:data:`OUTPUTS`), so no earlier run's file survives beside a new one. It refuses to empty a
   folder holding anything these commands do not write (``--out ~ --overwrite`` deletes nothing).
2. Each file is written under a temporary name (``.tmp-<pid>-<name>``) and renamed into place
   (:func:`atomic_path`), so a file either is whole or is not there.
3. The manifest (``summary.json``, ``results.json``, ``run.json``) comes last, with
   ``"status": "complete"`` and each file's size, SHA-256 and (tables) row count
   (:func:`write_manifest`). :func:`read_manifest` is how readers check a run before using it.

JSON is strict everywhere (:func:`dumps`): non-finite floats are written as ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

COMPLETE = "complete"
TMP_PREFIX = ".tmp-"
OUTPUTS: dict[str, tuple[str, ...]] = {
    "hitl-sim": ("summary.json", "records.parquet"),
    "hitl-rct": ("results.json", "summary.json", "records.parquet", "counterfactual.parquet", "estimates.png",
                 "seed_*"),
    "hitl-eval": ("summary.json", "episodes.csv", "summary.csv", "curves.csv", "tuning.csv", "pareto.png", "sweep"),
    "hitl-train": ("run.json", "config.yaml", "final_model.zip", "best_model.zip", "interrupted_model.zip",
                   "eval", "checkpoints", "tb", "progress.csv", "checkpoint", "tune.csv", "tune"),
    "hitl-bench": ("bench.json",),
    "hitl-whatif": ("results.json", "whatif.csv", "whatif.png", "estimates.csv"),
}  # fmt: skip
"""What each command writes in its ``--out`` (names or glob patterns), manifest first."""
MANIFESTS = ("run.json", "results.json", "summary.json")


class OutputError(ValueError):
    """An ``--out`` that cannot take a run, or a run folder that is not complete."""


# ----------------------------------------------------------------------------- strict JSON
def finite_or_none(x: Any) -> Any:
    """``x`` with numpy scalars and arrays as Python values and non-finite floats as None (JSON has no NaN)."""
    if isinstance(x, Mapping):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    if hasattr(x, "item") and not hasattr(x, "__len__"):  # a numpy scalar
        x = x.item()
    return None if isinstance(x, float) and not math.isfinite(x) else x


def dumps(data: Any) -> str:
    """Strict JSON of ``data`` (NaN and infinities as null), indented, with a final newline."""
    return json.dumps(finite_or_none(data), indent=2, allow_nan=False) + "\n"


def _no_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def loads(text: str) -> Any:
    """Parse strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` are errors."""
    return json.loads(text, parse_constant=_no_constant)


# ----------------------------------------------------------------------------- atomic files
@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` when the block ends.

    The temporary name keeps the suffix (writers that infer a format from it still work). If the
    block raises (Ctrl-C included), the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON (:func:`dumps`) to ``path`` atomically."""
    write_text(path, dumps(data))


def file_record(path: Path, rows: int | None = None) -> dict[str, Any]:
    """What a manifest says of a file: its size, SHA-256 and (tables) row count."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    out: dict[str, Any] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    if rows is not None:
        out["rows"] = int(rows)
    return out


def command_line(prog: str, argv: Iterable[str] | None) -> list[str]:
    """The command as run: ``prog`` and its arguments."""
    return [prog, *(sys.argv[1:] if argv is None else argv)]


def write_manifest(out: Path, name: str, data: Mapping[str, Any], files: Mapping[str, int | None]) -> None:
    """Write the run's manifest last: ``data``, ``"status": "complete"`` and each file's record.

    Args:
        out: the run folder.
        name: the manifest's file name (``summary.json``, ``results.json``).
        data: what the manifest says of the run (seed, config, command, results).
        files: each output's path relative to ``out``, with its row count (None: not a table).
    """
    record = {**data, "status": COMPLETE, "finished": now(),
              "files": {f: file_record(out / f, rows) for f, rows in files.items()}}  # fmt: skip
    write_json(out / name, record)


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_manifest(out: Path, name: str, check_files: bool = True) -> dict[str, Any]:
    """The manifest of a complete run, after checking every file it lists is the one it describes.

    Raises:
        OutputError: no manifest, not strict JSON, a status other than complete, or a listed
            file missing or changed since (another run's, or a partial write).
    """
    path = Path(out) / name
    if not path.is_file():
        raise OutputError(f"{path} does not exist: the run did not finish (or this is not a run folder)")
    try:
        data = loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise OutputError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise OutputError(f"{path} must hold a JSON object")
    if data.get("status") != COMPLETE:
        raise OutputError(f"{path}: the run is not complete (status {data.get('status')!r})")
    if check_files:
        for rel, rec in (data.get("files") or {}).items():
            check_file(Path(out) / rel, rec, path)
    return data


def check_file(path: Path, rec: Mapping[str, Any], manifest: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` is the file ``rec`` (from ``manifest``) describes."""
    if not path.is_file():
        raise OutputError(f"{path}, listed in {manifest}, is missing")
    have = file_record(path)
    if have["bytes"] != rec.get("bytes") or have["sha256"] != rec.get("sha256"):
        raise OutputError(f"{path} is not the file {manifest} describes (written by another run, or changed)")


# ----------------------------------------------------------------------------- the output folder
def prepare_out(out: Path, prog: str, overwrite: bool) -> None:
    """Make ``out`` ready for a run of ``prog``: refuse a non-empty one, or clear it with ``overwrite``.

    Raises:
        OutputError: ``out`` is not empty and ``overwrite`` is false, or it holds a file that no
            command writes (so ``--overwrite`` would delete something that is not a run's).
    """
    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        entries = sorted(p.name for p in out.iterdir())
        if not overwrite:
            shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
            raise OutputError(f"--out {str(out)!r} is not empty ({shown}); give --overwrite to replace the "
                              "earlier run, or another --out")  # fmt: skip
        patterns = {p for names in OUTPUTS.values() for p in names} | {TMP_PREFIX + "*"}
        foreign = [e for e in entries if not any(Path(e).match(p) for p in patterns)]
        if foreign:
            raise OutputError(f"--overwrite: {str(out)!r} holds {foreign[0]!r}, which no hitl command writes; "
                              "clear it yourself or choose another --out")  # fmt: skip
        for name in (*MANIFESTS, *entries):  # manifests first: a half-cleared folder never looks complete
            p = out / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"--out {str(out)!r}: {e.strerror or e}") from None
    probe = out / f"{TMP_PREFIX}{os.getpid()}-probe"
    try:  # an unwritable folder fails now, not after the simulation
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputError(f"--out {str(out)!r} is not writable: {e.strerror or e}") from None
