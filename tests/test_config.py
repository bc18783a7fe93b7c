"""Loading and validating the configuration tree: unknown keys, ranges, types, no clamping."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hitl_env.config import Category, Config, ConfigError, apply_overrides, load_config, parse_overrides, preset_names

PRESETS = ("taobao_2024", "mmn_abandonment", "promotion_day", "wider_scope")
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def _category() -> str:
    """A category of the default preset (whichever it holds first)."""
    return next(iter(load_config().categories))


def _error(overrides: dict[str, Any], preset: str = "taobao_2024") -> str:
    with pytest.raises(ConfigError) as info:
        load_config(preset, overrides)
    return str(info.value)


def _scalar_fields() -> list[tuple[str, dataclasses.Field, Any]]:
    """Every scalar field of the default config as (dotted key, field, default value)."""
    cfg = load_config()
    out = []
    for section in dataclasses.fields(Config):
        value = getattr(cfg, section.name)
        if section.name == "categories":
            name = next(iter(value))
            prefix, value = f"categories.{name}", value[name]
        else:
            prefix = section.name
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if isinstance(v, (bool, int, float, str)):
                out.append((f"{prefix}.{f.name}", f, v))
    return out


SCALARS = _scalar_fields()
NUMERIC = [(k, f, v) for k, f, v in SCALARS if isinstance(v, (int, float)) and not isinstance(v, bool)]
BOUNDED_BELOW = [(k, f, v) for k, f, v in NUMERIC if math.isfinite(f.metadata["range"][0])]
BOUNDED_ABOVE = [(k, f, v) for k, f, v in NUMERIC if math.isfinite(f.metadata["range"][1])]


def _field(key: str) -> dataclasses.Field:
    [f] = [f for k, f, _ in SCALARS if k == key]
    return f


def getattr_dotted(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


# ----------------------------------------------------------------------------------- unknown keys
@pytest.mark.parametrize(
    "key",
    ["bogus", "service.bogus", "experiment.bogus_field", "categories.{cat}.bogus"],
    ids=["top-level section", "nested field", "experiment field", "category field"],
)
def test_unknown_key_names_the_dotted_key(key):
    key = key.format(cat=_category())
    msg = _error({key: 1})
    assert key in msg, msg


def test_unknown_category_via_overrides_names_the_key():
    msg = _error({"categories.no_such_category.weight": 1.0})
    assert "categories.no_such_category" in msg, msg
    assert _category() in msg, msg  # lists the categories that exist


def test_unknown_key_in_a_yaml_file_names_the_dotted_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("service:\n  max_concurrency: 3\n  bogus: 1\n")
    with pytest.raises(ConfigError, match=r"service\.bogus"):
        load_config(path)


def test_override_through_a_scalar_is_rejected():
    msg = _error({"experiment.workers.extra": 3})
    assert "experiment.workers.extra" in msg, msg


# ----------------------------------------------------------------------------------- ranges
@pytest.mark.parametrize(
    ("key", "value"),
    [("experiment.workers", 0), ("ai.frustrating_reply", 1.5), ("categories.{cat}.weight", -1)],
)
def test_out_of_range_names_the_key_and_the_range(key, value):
    key = key.format(cat=_category())
    lo, hi = _field(key).metadata["range"]
    msg = _error({key: value})
    assert key in msg and f"[{lo}, {hi}]" in msg, msg


@pytest.mark.parametrize(("key", "f", "default"), BOUNDED_BELOW, ids=[k for k, _, _ in BOUNDED_BELOW])
def test_every_lower_bound_is_closed_and_enforced(key, f, default):
    lo = f.metadata["range"][0]
    assert getattr_dotted(load_config("taobao_2024", {key: lo}), key) == lo
    below = lo - 1 if type(default) is int else math.nextafter(lo, -math.inf)
    msg = _error({key: below})
    assert key in msg, msg


@pytest.mark.parametrize(("key", "f", "default"), BOUNDED_ABOVE, ids=[k for k, _, _ in BOUNDED_ABOVE])
def test_every_upper_bound_is_closed_and_enforced(key, f, default):
    hi = f.metadata["range"][1]
    assert getattr_dotted(load_config("taobao_2024", {key: hi}), key) == hi
    above = hi + 1 if type(default) is int else math.nextafter(hi, math.inf)
    msg = _error({key: above})
    assert key in msg, msg


@pytest.mark.parametrize("key", ["ai.frustrating_reply", "arrivals.rate_per_worker_hour", "categories.{cat}.weight"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_rejected(key, value):
    """A config that validates must simulate; inf (e.g. a category weight) breaks normalization."""
    key = key.format(cat=_category())
    msg = _error({key: value})
    assert key in msg, msg


def test_other_structural_checks():
    assert "shift_start_weights" in _error({"arrivals.shift_start_weights": [1.0] * 23})
    assert "shift_start_weights" in _error({"arrivals.shift_start_weights": [0.0] * 24})
    assert "shift_start_weights" in _error({"arrivals.shift_start_weights": [-1.0] + [1.0] * 23})
    assert "finite" in _error({"arrivals.shift_start_weights": [math.nan] + [1.0] * 23})
    assert "finite" in _error({"arrivals.shift_start_weights": [math.inf] + [1.0] * 23})
    assert "service.model" in _error({"service.model": "erlang"})
    zero = {f"categories.{name}.weight": 0.0 for name in load_config().categories}
    assert "categories" in _error(zero)


# ----------------------------------------------------------------------------------- types
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("experiment.workers", "ten"),  # string for an integer
        ("experiment.workers", "10"),  # numeric string for an integer
        ("ai.frustrating_reply", "0.5"),  # string for a number
        ("experiment.workers", 2.5),  # non-integral number for an integer
        ("experiment.workers", True),  # bool for an integer
        ("ai.frustrating_reply", False),  # bool for a number
        ("monitor.technical", 1),  # number for a bool
        ("emotion.enabled", "yes"),  # string for a bool
        ("service.model", 3),  # number for a string
        ("arrivals.shift_start_weights", "flat"),  # string for a list
        ("arrivals.shift_start_weights", [1.0] * 23 + ["x"]),  # list with a non-number
        ("ai.frustrating_reply", None),  # missing value
        ("service", 3),  # scalar for a section
        ("categories", [1, 2]),  # list for the category mapping
        ("categories.{cat}", 1.0),  # scalar for a category
    ],
)
def test_wrong_types_fail_naming_the_key(key, value):
    key = key.format(cat=_category())
    msg = _error({key: value})
    assert key in msg, msg


def test_integral_float_for_an_integer_is_accepted_as_int():
    cfg = load_config("taobao_2024", {"experiment.workers": 12.0})
    assert cfg.experiment.workers == 12 and isinstance(cfg.experiment.workers, int)


# ----------------------------------------------------------------------------------- no clamping
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_in_range_values_are_kept_unchanged(data):
    key, f, default = data.draw(st.sampled_from(NUMERIC), label="field")
    lo, hi = f.metadata["range"]
    if type(default) is int:
        value = data.draw(st.integers(int(lo), int(min(hi, lo + 10_000))), label="value")
    else:
        lo, hi = max(lo, -1e12), min(hi, 1e12)
        value = data.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False), label="value")
    cfg = load_config("taobao_2024", {key: value})
    got = getattr_dotted(cfg, key)
    assert got == value and type(got) is type(default)


def test_config_is_frozen():
    cfg = load_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.experiment.workers = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.ai = cfg.ai  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.categories[_category()].weight = 2.0  # type: ignore[misc]


def test_categories_mapping_is_frozen_too():
    """The tree is frozen throughout: the category mapping cannot be changed in place either."""
    cfg = load_config()
    name = _category()
    with pytest.raises((TypeError, AttributeError, dataclasses.FrozenInstanceError)):
        cfg.categories["added"] = Category()  # type: ignore[index]
    with pytest.raises((TypeError, AttributeError, dataclasses.FrozenInstanceError)):
        del cfg.categories[name]  # type: ignore[attr-defined]
    assert list(cfg.categories) == list(load_config().categories)


def test_overrides_do_not_touch_the_input():
    data = {"experiment": {"workers": 3}}
    out = apply_overrides(data, {"experiment.workers": 4, "ai.reply_s": 2.0})
    assert data == {"experiment": {"workers": 3}}
    assert out == {"experiment": {"workers": 4}, "ai": {"reply_s": 2.0}}


# ----------------------------------------------------------------------------------- parse_overrides
def test_parse_overrides_types_values():
    got = parse_overrides(["a.b=3", "x=true", "y=[1,2]", "z=0.25", "s=rounds", " k.l = 7 "])
    assert got == {"a.b": 3, "x": True, "y": [1, 2], "z": 0.25, "s": "rounds", "k.l": 7}
    assert type(got["a.b"]) is int and type(got["z"]) is float and got["x"] is True
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


def test_parse_overrides_reads_scientific_notation_as_numbers():
    """``--set arrivals.rate_per_worker_hour=1e-3`` must give a number (PyYAML's 1.1 rules read '1e-3' as text)."""
    got = parse_overrides(["a=1e-3", "b=2.5e3", "c=1E6"])
    assert got == {"a": 1e-3, "b": 2500.0, "c": 1e6}
    cfg = load_config("taobao_2024", parse_overrides(["arrivals.rate_per_worker_hour=1e-3"]))
    assert cfg.arrivals.rate_per_worker_hour == 1e-3


@pytest.mark.parametrize("item", ["novalue", "=3", "  =3"])
def test_parse_overrides_rejects_malformed_items(item):
    with pytest.raises(ConfigError):
        parse_overrides([item])


def test_parse_overrides_rejects_invalid_yaml_values_with_the_item():
    with pytest.raises(ConfigError, match=r"--set 'ai.misread=\[' is not valid YAML \(line 1, column 2\)"):
        parse_overrides(["ai.misread=["])


def test_parsed_overrides_load():
    cfg = load_config("taobao_2024", parse_overrides(["experiment.workers=12", "monitor.emotional=false"]))
    assert cfg.experiment.workers == 12 and cfg.monitor.emotional is False


# ----------------------------------------------------------------------------------- files, presets
def test_load_yaml_file_by_path(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("experiment:\n  workers: 7\n  team_size: 7\nservice:\n  max_concurrency: 2\n")
    for p in (path, str(path)):
        cfg = load_config(p)
        assert cfg.experiment.workers == 7 and cfg.service.max_concurrency == 2
        assert cfg.ai == Config().ai  # fields left out take the defaults
    cfg = load_config(path, {"experiment.workers": 3})
    assert cfg.experiment.workers == 3


def test_invalid_yaml_file_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("experiment:\n  workers: 7\n  team_size: [7\n")
    with pytest.raises(ConfigError, match=r"broken.yaml' is not valid YAML \(line 4, column 1\): expected ',' or"):
        load_config(path)


def test_an_empty_yaml_file_is_refused_and_an_empty_mapping_gives_the_defaults(tmp_path):
    for text in ("", "# only a comment\n"):  # a file that lost its content must not run the defaults
        (tmp_path / "empty.yaml").write_text(text)
        with pytest.raises(ConfigError, match="is empty; a config file must set its fields"):
            load_config(tmp_path / "empty.yaml")
    (tmp_path / "defaults.yaml").write_text("{}\n")
    assert load_config(tmp_path / "defaults.yaml") == Config()


def test_a_binary_file_is_not_a_config(tmp_path):
    (tmp_path / "blob.yaml").write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="is not a YAML config \\(not UTF-8 text\\)"):
        load_config(tmp_path / "blob.yaml")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_non_mapping_yaml_is_an_error(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError):
        load_config(path)


def test_unknown_preset_lists_the_presets():
    msg = _error({}, preset="no_such_preset")
    assert "no_such_preset" in msg
    names = preset_names()
    assert set(PRESETS) <= set(names)
    for name in names:
        assert name in msg, msg


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_name_and_its_file_agree(preset):
    assert load_config(preset) == load_config(CONFIG_DIR / f"{preset}.yaml")


# ----------------------------------------------------------------------------------- to_dict
@pytest.mark.parametrize("preset", PRESETS)
def test_to_dict_round_trips_through_yaml(preset, tmp_path):
    cfg = load_config(preset, {"experiment.workers": 13, "ai.frustrating_reply": 0.1 + 0.2})
    data = cfg.to_dict()
    json.dumps(data)  # plain types only
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    again = load_config(path)
    assert again == cfg
    assert again.to_dict() == data
    assert list(again.categories) == list(cfg.categories)  # category order is kept


def test_default_config_round_trips(tmp_path):
    path = tmp_path / "default.yaml"
    path.write_text(yaml.safe_dump(Config().to_dict()))
    assert load_config(path) == Config()


def test_a_config_file_without_a_suffix_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "mine").write_text("experiment: {workers: 3}\n")
    hint = r"unknown preset '.*mine' \(a config file path needs a suffix, such as .yaml\); presets: "
    with pytest.raises(ConfigError, match=hint):
        load_config(tmp_path / "mine")
    listed = "mmn_abandonment, promotion_day, taobao_2024, wider_scope"
    with pytest.raises(ConfigError, match=rf"unknown preset 'mine'; presets: {listed}$"):
        load_config("mine")


def test_a_mapping_override_merges_into_its_section() -> None:
    preset = load_config("taobao_2024")
    cfg = load_config("taobao_2024", parse_overrides(["ai={misread: 0.2}", "categories.refund_status={weight: 3}"]))
    assert cfg.ai.misread == 0.2 and cfg.ai.handoff_resolve == preset.ai.handoff_resolve == 0.08  # kept, not reset
    assert cfg.categories["refund_status"] == dataclasses.replace(preset.categories["refund_status"], weight=3.0)
    assert cfg.arrivals == preset.arrivals and cfg.experiment == preset.experiment
    nested = load_config("taobao_2024", {"arrivals": {"shift_hours": 4.0}})
    assert nested.arrivals.shift_start_weights == preset.arrivals.shift_start_weights
    # `categories` itself is the one section a mapping replaces: a new set of categories
    assert list(load_config("taobao_2024", {"categories": {"general": {"weight": 1.0}}}).categories) == ["general"]


def test_numpy_scalars_are_read_as_numbers_and_contradictory_categories_refused() -> None:
    import numpy as np

    cfg = load_config("taobao_2024", {"experiment.workers": np.int64(20), "ai.misread": np.float32(0.25)})
    assert cfg.experiment.workers == 20 and type(cfg.experiment.workers) is int and cfg.ai.misread == 0.25
    with pytest.raises(ConfigError, match=r"categories\.complaint\.eligible=true needs ai_allowed=true"):
        load_config("taobao_2024", {"categories.complaint.eligible": True})


def test_wrong_types_for_the_entry_points_are_named() -> None:
    import hitl_env

    for bad in (None, 5):
        with pytest.raises(ConfigError, match=f"a preset name or a YAML path is needed, got {bad}"):
            load_config(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"config must be a Config \(hitl_env.load_config\(...\)\), got str"):
        hitl_env.simulate("taobao_2024")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- base
def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def test_promotion_day_is_taobao_2024_with_its_listed_differences() -> None:
    promo, base = _flat(load_config("promotion_day").to_dict()), _flat(load_config("taobao_2024").to_dict())
    assert promo.keys() == base.keys()
    changed = {k: (base[k], promo[k]) for k in base if promo[k] != base[k]}
    assert changed == {
        "arrivals.rate_per_worker_hour": (11.3, 28.25),
        "categories.product_inquiry.ai_solvable": (0.0, 0.3),
    }


def test_wider_scope_is_taobao_2024_with_product_inquiries_given_to_the_ai() -> None:
    wider, base = _flat(load_config("wider_scope").to_dict()), _flat(load_config("taobao_2024").to_dict())
    changed = {k: (base[k], wider[k]) for k in base if wider[k] != base[k]}
    assert changed == {
        "categories.product_inquiry.eligible": (False, True),
        "categories.product_inquiry.ai_solvable": (0.0, 0.3),
    }


def test_a_base_merges_section_and_category_fields(tmp_path: Path) -> None:
    text = "base: taobao_2024\nai: {misread: 0.1}\ncategories:\n  complaint: {work: 9.0}\n"
    (tmp_path / "mine.yaml").write_text(text)
    cfg, ref = load_config(tmp_path / "mine.yaml"), load_config("taobao_2024")
    assert cfg == load_config("taobao_2024", {"ai.misread": 0.1, "categories.complaint.work": 9.0})
    assert cfg.ai.rounds_to_resolve == ref.ai.rounds_to_resolve and list(cfg.categories) == list(ref.categories)
    (tmp_path / "child.yaml").write_text("base: mine.yaml\nai: {misread: 0.2}\n")  # relative to the file's folder
    expected = {"ai.misread": 0.2, "categories.complaint.work": 9.0}
    assert load_config(tmp_path / "child.yaml") == load_config("taobao_2024", expected)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("base: [taobao_2024]\n", "base must be a preset name or a YAML path"),
        ("base: no_such_preset\n", "loop.yaml: base 'no_such_preset': unknown preset 'no_such_preset'"),
        ("base: missing.yaml\n", "loop.yaml: base 'missing.yaml': config file .*missing.yaml' does not exist"),
        ("base: loop.yaml\n", "cycle"),
        ("base: taobao_2024\nai: {no_such_field: 1}\n", "no_such_field"),
    ],
)
def test_a_bad_base_is_a_config_error(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "loop.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(tmp_path / "loop.yaml")
