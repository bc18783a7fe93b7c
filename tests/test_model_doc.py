"""docs/MODEL.md stays true to the code.

1. Every field of the config tree appears in MODEL.md by its dotted name (category fields as
   ``categories.<name>.<field>``).
2. The ``taobao_2024`` values printed in MODEL.md's parameter tables (tables with a
   ``parameter`` and a ``taobao_2024`` column) and in its category table equal the loaded preset;
   every scalar field has a row, and no row names a field that does not exist. The M/M/n+M table
   matches the ``mmn_abandonment`` preset.
3. The records table lists exactly the columns (and dtypes) of a small ``simulate`` run.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest

import hitl_env
from hitl_env.config import Category, Config, load_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "MODEL.md"
CATEGORY_KEY = "categories.<name>.{}"
SMALL = {"experiment.workers": 3, "experiment.days_pre": 1, "experiment.days_post": 1}


# ----------------------------------------------------------------------------- config walking
def _config_values(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf field of a config (sub)tree; categories excluded."""
    out: dict[str, Any] = {}
    hints = get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_config_values(value, key + "."))
        elif issubclass(get_origin(hints[f.name]) or object, dict):
            continue  # per-category values: checked against the category table
        else:
            out[key] = value
    return out


def _dict_fields() -> dict[str, type]:
    """Config fields that are dicts of sections (``categories``), with the section type."""
    hints = get_type_hints(Config)
    out = {}
    for f in dataclasses.fields(Config):
        if issubclass(get_origin(hints[f.name]) or object, dict):
            out[f.name] = get_args(hints[f.name])[1]
    return out


def _all_keys() -> list[str]:
    keys = list(_config_values(Config()))
    for name, section in _dict_fields().items():
        keys += [f"{name}.<name>.{f.name}" for f in dataclasses.fields(section)]
    return keys


# ----------------------------------------------------------------------------- doc parsing
def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every Markdown table as (section heading, header cells, body rows of cells)."""
    tables, heading, block = [], "", []
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            tables.append((heading, _cells(block[0]), [_cells(b) for b in block[2:]]))
        block = []
    return tables


def _code(cell: str) -> str | None:
    m = re.fullmatch(r"`([^`]+)`", cell)
    return m.group(1) if m else None


def _param_rows() -> list[tuple[str, str]]:
    """(dotted key, taobao_2024 cell) of every row of every parameter table."""
    rows = []
    for _, header, body in _tables(_doc()):
        if header[0] == "parameter" and "taobao_2024" in header:
            col = header.index("taobao_2024")
            for row in body:
                key = _code(row[0])
                assert key is not None, f"parameter table row without a `dotted.key`: {row}"
                rows.append((key, row[col]))
    return rows


def _matches(cell: str, value: Any) -> bool:
    cell = cell.strip().strip("`")
    if isinstance(value, bool):
        return cell == str(value).lower()
    if isinstance(value, str):
        return cell == value
    if isinstance(value, tuple):
        items = cell.strip("[]").split(",")
        return len(items) == len(value) and all(_matches(c, v) for c, v in zip(items, value, strict=True))
    try:
        return math.isclose(float(cell), float(value), rel_tol=1e-9, abs_tol=1e-12)
    except ValueError:
        return False


# ----------------------------------------------------------------------------- 1: names
@pytest.mark.parametrize("key", _all_keys())
def test_every_config_field_is_documented(key: str) -> None:
    assert f"`{key}`" in _doc(), f"config field {key} does not appear in docs/MODEL.md"


# ----------------------------------------------------------------------------- 2: values
@pytest.fixture(scope="module")
def taobao() -> dict[str, Any]:
    return _config_values(load_config("taobao_2024"))


def test_parameter_tables_name_only_real_fields() -> None:
    known = set(_all_keys())
    unknown = sorted({key for key, _ in _param_rows()} - known)
    assert not unknown, f"parameter tables name fields that do not exist: {unknown}"


def test_every_scalar_field_has_a_table_row(taobao: dict[str, Any]) -> None:
    documented = {key for key, _ in _param_rows()}
    missing = sorted(set(taobao) - documented)
    assert not missing, f"no parameter-table row (with a taobao_2024 value) for: {missing}"


def test_documented_values_match_taobao_2024(taobao: dict[str, Any]) -> None:
    wrong = [
        f"{key}: doc {cell!r}, preset {taobao[key]!r}"
        for key, cell in _param_rows()
        if key in taobao and not _matches(cell, taobao[key])
    ]
    assert not wrong, "docs/MODEL.md disagrees with taobao_2024:\n" + "\n".join(wrong)


def test_category_fields_are_marked_per_category() -> None:
    for key, cell in _param_rows():
        if key.startswith("categories."):
            assert cell == "per category", f"{key}: values belong in the category table, got {cell!r}"


def test_category_table_matches_taobao_2024() -> None:
    cats = load_config("taobao_2024").categories
    names = [f.name for f in dataclasses.fields(Category)]
    tables = [(h, b) for _, h, b in _tables(_doc()) if h[0] == "category"]
    assert len(tables) == 1, "expected one category table (first column 'category')"
    header, body = tables[0]
    assert header[1:] == names, f"category table columns {header[1:]} != Category fields {names}"
    rows = {_code(r[0]): r[1:] for r in body}
    assert list(rows) == list(cats), f"category table rows {list(rows)} != preset categories {list(cats)}"
    for name, cells in rows.items():
        for field_name, cell in zip(names, cells, strict=True):
            value = getattr(cats[name], field_name)
            assert _matches(cell, value), f"categories.{name}.{field_name}: doc {cell!r}, preset {value!r}"


def test_mmn_table_matches_mmn_abandonment() -> None:
    cfg = load_config("mmn_abandonment")
    tables = [b for _, h, b in _tables(_doc()) if "mmn_abandonment" in h]
    assert len(tables) == 1, "expected one table with an mmn_abandonment column"
    got = {}
    for row in tables[0]:
        numbers = re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", row[2].split("=")[-1])
        got[row[0]] = float(numbers[0])
    expected = {
        r"$\lambda$": cfg.experiment.workers * cfg.arrivals.rate_per_worker_hour,
        r"$\mu$": cfg.service.rate_per_hour,
        r"$\theta$": 3600.0 / cfg.patience.queue_mean_s,
        "$n$": cfg.experiment.workers,
    }
    assert set(got) == set(expected)
    for sym, value in expected.items():
        assert math.isclose(got[sym], value), f"{sym}: doc {got[sym]}, mmn_abandonment {value}"
    assert cfg.experiment.team_size >= cfg.experiment.workers, "mmn_abandonment is no longer one queue"


# ----------------------------------------------------------------------------- 3: records
@pytest.fixture(scope="module")
def records():
    return hitl_env.simulate(load_config("taobao_2024", SMALL), seed=0)


def _record_rows() -> dict[str, list[str]]:
    tables = [(h, b) for heading, h, b in _tables(_doc()) if heading == "Records" and h[0] == "column"]
    assert len(tables) == 1, "expected one records table (first column 'column') under '## Records'"
    header, body = tables[0]
    assert header[:2] == ["column", "dtype"]
    names = [_code(r[0]) for r in body]
    assert None not in names, "every records row starts with a `column` name"
    assert len(names) == len(set(names)), "a record column is documented twice"
    return {n: r for n, r in zip(names, body, strict=True)}


def test_record_columns_documented(records) -> None:
    documented = _record_rows()
    missing = [c for c in records.columns if c not in documented]
    extra = [c for c in documented if c not in records.columns]
    assert not missing, f"record columns missing from docs/MODEL.md: {missing}"
    assert not extra, f"docs/MODEL.md documents columns simulate does not return: {extra}"


def test_record_dtypes_documented(records) -> None:
    documented = _record_rows()
    wrong = [
        f"{c}: doc {documented[c][1]}, records {records[c].dtype}"
        for c in records.columns
        if c in documented and documented[c][1] != str(records[c].dtype)
    ]
    assert not wrong, "record dtypes differ from docs/MODEL.md:\n" + "\n".join(wrong)
