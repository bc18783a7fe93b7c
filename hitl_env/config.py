"""One frozen, validated configuration tree, loaded from YAML presets.

Every numeric field declares its allowed range with :func:`param`; building a config checks
every field, and unknown keys or out-of-range values raise :class:`ConfigError` naming the
dotted key and the allowed range. Nothing is clamped.

Times are in seconds unless a field name says otherwise. "Frustration" is the latent negative
emotion of a customer (0 is neutral, positive is frustrated); the observed sentiment is its
negative plus noise.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

INF = math.inf
_PRESET_DIRS = (Path(__file__).parent / "_presets", Path(__file__).parent.parent / "configs")


class ConfigError(ValueError):
    """A configuration key is unknown or its value is out of range."""


class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only, hashable dict (the categories of a frozen config)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the config is frozen; build a new one with load_config(..., overrides)")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; read it as the number every user means."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def param(default: Any, lo: float = -INF, hi: float = INF, doc: str = "") -> Any:
    """A config field with an allowed closed range [lo, hi] and a one-line description."""
    return field(default=default, metadata={"range": (lo, hi), "doc": doc})


class _Section:
    """Base of every config section: validates ranges after construction."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            lo, hi = f.metadata.get("range", (-INF, INF))
            value = getattr(self, f.name)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if numeric and (not math.isfinite(value) or not (lo <= value <= hi)):
                raise ConfigError(f"{f.name}={value!r} is outside the allowed range [{lo}, {hi}]")


@dataclass(frozen=True)
class Category(_Section):
    """An issue category: its share of arrivals and its latent difficulty."""

    weight: float = param(1.0, 0.0, INF, "relative arrival weight (normalized over categories)")
    eligible: bool = param(False, doc="the rule-based router marks this category AI-eligible")
    work: float = param(5.0, 0.1, 100.0, "mean work units a human needs to resolve a chat")
    ai_solvable: float = param(0.0, 0.0, 1.0, "probability the issue is within the AI's capability")
    attention: float = param(1.0, 0.0, 50.0, "attention a human-handled chat of this category demands")
    ai_allowed: bool = param(True, doc="a router may send this category to the AI (policy action mask)")
    keyword_share: float = param(0.0, 0.0, 1.0, "share of the category's chats the router's keywords mark eligible")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eligible and not self.ai_allowed:
            raise ConfigError("eligible=true needs ai_allowed=true: the rule would send the category to the AI")
        if self.keyword_share > 0 and not self.ai_allowed:
            raise ConfigError("keyword_share > 0 needs ai_allowed=true: the rule would send chats to the AI")


@dataclass(frozen=True)
class Experiment(_Section):
    workers: int = param(647, 1, 100_000, "number of workers")
    team_size: int = param(10, 1, 1000, "workers sharing one arrival queue")
    treatment_share: float = param(302 / 647, 0.0, 1.0, "share of workers randomized to treatment")
    days_pre: int = param(14, 0, 3650, "days before the AI is switched on for treated workers")
    days_post: int = param(17, 0, 3650, "days with the AI on for treated workers")

    @property
    def days(self) -> int:
        return self.days_pre + self.days_post

    @property
    def n_treated(self) -> int:
        """Workers randomized to treatment: ``round(treatment_share * workers)``."""
        return round(self.treatment_share * self.workers)


@dataclass(frozen=True)
class Arrivals(_Section):
    rate_per_worker_hour: float = param(11.3, 1e-6, 1e6, "Poisson rate of arrivals per online worker")
    shift_hours: float = param(3.0, 0.01, 24.0, "length of a worker's daily shift")
    shift_start_weights: tuple[float, ...] = param((1.0,) * 24, doc="weights of the 24 shift-start hours")
    day_rate_sd: float = param(0.0, 0.0, 3.0, "log-sd of a day's arrival rate around its mean (busier days)")
    day_work_sd: float = param(0.0, 0.0, 3.0, "log-sd of a day's work per chat around its mean (harder days)")

    def __post_init__(self) -> None:
        super().__post_init__()
        w = self.shift_start_weights
        if len(w) != 24 or not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
            raise ConfigError("shift_start_weights must be 24 finite, non-negative weights with a positive sum")


@dataclass(frozen=True)
class Service(_Section):
    model: str = param("rounds", doc="'rounds' (chat rounds) or 'exponential' (M/M/n service)")
    rate_per_hour: float = param(7.8, 1e-6, 1e6, "service rate mu of the exponential model")
    max_concurrency: int = param(5, 1, 50, "most chats a worker holds at once")
    customer_reply_s: float = param(52, 0.0, 3600.0, "mean time a customer takes to answer")
    reply_lag_s: float = param(7.5, 0.0, 3600.0, "mean worker reply lag, focused and alone")
    lag_sd: float = param(0.5, 0.0, 3.0, "log-sd of reply-lag noise within a worker")
    concurrency_slowdown: float = param(0.09, 0.0, 5.0, "reply lag grows by this per other held chat")
    switch_rate: float = param(0.2, 0.0, 20.0, "switch-aways per round per unit attention of other chats")
    away_s: float = param(30.0, 0.0, 3600.0, "mean time away per switch")
    handoff_read_s: float = param(20.0, 0.0, 3600.0, "time to read the AI transcript at an algorithmic escalation")
    takeover_read_s: float = param(20.0, 0.0, 3600.0, "time before the first reply after a hand takeover")
    close_s: float = param(15.0, 0.0, 3600.0, "time to close the chat after the last reply")
    max_rounds: int = param(200, 1, 10_000, "human rounds after which a customer with no resolution in sight leaves")


@dataclass(frozen=True)
class Workers(_Section):
    speed_sd: float = param(0.25, 0.0, 3.0, "log-sd of workers' reply-lag multipliers")
    skill_sd: float = param(0.1, 0.0, 1.0, "sd of workers' resolution skill around 0")
    empathy_mean: float = param(0.3, 0.0, 1.0, "mean share of empathetic worker messages")
    empathy_sd: float = param(0.05, 0.0, 1.0, "sd of workers' empathy")
    monitoring_sd: float = param(0.0, 0.0, 3.0, "log-sd of the attention each worker gives a supervised AI chat")
    speed_drift_sd: float = param(0.0, 0.0, 3.0, "log-sd of a worker's day-to-day drift in reply lag")
    care_drift_sd: float = param(0.0, 0.0, 5.0, "sd of a worker's day-to-day drift in care (satisfaction)")
    drift_persistence: float = param(0.0, 0.0, 1.0, "share of yesterday's drift a worker carries into today")
    skill_erosion: float = param(
        0.0, -0.1, 0.1, "resolution chance lost per post-period day per share of chats the AI took"
    )


@dataclass(frozen=True)
class Effort(_Section):
    frustration_slope: float = param(1.2, 0.0, 20.0, "effort falls as exp(-slope * excess frustration at handoff)")
    frustration_grace: float = param(0.85, -10.0, 10.0, "frustration at handoff that costs no effort")
    lateness_slope: float = param(0.08, 0.0, 20.0, "effort falls as exp(-slope * AI rounds before handoff)")
    lateness_grace_rounds: int = param(3, 0, 1000, "AI rounds before lateness lowers effort")
    floor: float = param(0.2, 0.01, 1.0, "lowest effort")
    takeover_boost: float = param(0.0, 0.0, 2.0, "effort multiplier above 1 of a worker who chose to take over")
    scope_exponent: float = param(1.0, 0.0, 5.0, "a worker does effort ** exponent of the work left before closing")
    reply_base: float = param(0.55, 0.0, 1.0, "probability of a worker reply per round at effort 0")
    proactive_base: float = param(0.6, 0.0, 1.0, "share of proactive replies at full effort")
    extra_message: float = param(0.0, 0.0, 1.0, "chance of a second worker message per reply at full effort")
    lag_exponent: float = param(0.7, 0.0, 5.0, "reply lag scales as effort ** -exponent")
    passive_progress: float = param(0.5, 0.0, 1.0, "work units a non-proactive reply achieves")
    nudge_s: float = param(35.0, 0.0, 3600.0, "mean time before a customer nudges an unanswered round")
    bonus: float = param(0.0, 0.0, 10.0, "bonus per recovered rating after an escalation (0: no incentive)")
    bonus_response: float = param(0.0, 0.0, 10.0, "share of the post-escalation effort gap one unit of bonus closes")
    fatigue_slope: float = param(
        0.0, 0.0, 10.0, "post-escalation effort falls as exp(-slope * frustrated customers inherited this shift)"
    )
    fatigue_threshold: float = param(
        1.0, -10.0, 10.0, "frustration at takeover above which an inherited customer tires the worker"
    )


@dataclass(frozen=True)
class Emotion(_Section):
    enabled: bool = param(True, doc="customers carry a frustration state")
    initial_mean: float = param(0.2, -5.0, 5.0, "mean initial frustration (slightly negative mood)")
    initial_sd: float = param(0.3, 0.0, 5.0, "sd of initial frustration")
    decay: float = param(0.9, 0.0, 1.0, "share of frustration carried to the next round")
    noise_sd: float = param(0.08, 0.0, 5.0, "sd of the per-round frustration shock")
    progress_relief: float = param(0.08, 0.0, 5.0, "frustration relief per unit of progress")
    lag_expect_s: float = param(20.0, 0.0, 3600.0, "reply lag a customer expects")
    lag_per_min: float = param(0.5, 0.0, 20.0, "frustration per minute of lag beyond expectation")
    queue_per_min: float = param(0.2, 0.0, 20.0, "frustration per minute waiting in queue")
    resolution_relief: float = param(0.6, 0.0, 10.0, "frustration relief when the issue is resolved")


@dataclass(frozen=True)
class AI(_Section):
    reply_s: float = param(6.0, 0.0, 3600.0, "AI reply time")
    rounds_to_resolve: float = param(3, 1.0, 100.0, "mean rounds the AI needs on a solvable issue")
    misread: float = param(0.3, 0.0, 1.0, "chance the AI misreads an in-capability issue and loops unflagged")
    frustrating_reply: float = param(0.18, 0.0, 1.0, "chance an AI reply frustrates (style, misreading)")
    frustrating_jump: float = param(0.45, 0.0, 10.0, "frustration added by a frustrating reply")
    loop_frustration: float = param(0.02, 0.0, 10.0, "frustration per stalling reply beyond capability")
    misread_frustration: float = param(0.15, 0.0, 10.0, "frustration per round while the AI misreads the issue")
    progress: float = param(0.8, 0.0, 10.0, "work units per AI round on a solvable issue")
    style_penalty: float = param(1.0, 0.0, 4.0, "rating penalty of the AI's style on AI-alone chats")
    gatekeeper_penalty: float = param(0.0, 0.0, 4.0, "rating penalty when a person had to take the chat from the AI")
    resolution_quality: float = param(0.9, 0.0, 1.0, "chance an issue the AI closes is truly resolved")
    handoff_work: float = param(0.8, 0.0, 2.0, "work share left after escalation (1 if the AI cannot solve)")
    handoff_resolve: float = param(0.0, 0.0, 1.0, "resolution chance added after escalation (0 if the AI cannot solve)")
    max_rounds: int = param(30, 1, 1000, "AI rounds after which the AI hands over (counted technical)")
    monitoring_attention: float = param(0.3, 0.0, 50.0, "attention a supervised AI chat demands")
    escalated_attention: float = param(1.0, 0.0, 50.0, "attention an escalated chat demands after takeover")
    confidence_gap: float = param(0.2, 0.0, 0.5, "confidence above 0.5 on solvable issues, below otherwise")
    confidence_noise: float = param(0.4, 0.0, 1.0, "width of the uniform noise on the confidence signal")
    confidence_rounds: float = param(1.0, 1.0, 100.0, "AI rounds over which the confidence gap opens fully")


@dataclass(frozen=True)
class Monitor(_Section):
    technical: bool = param(True, doc="the technical trigger is on")
    technical_rounds: float = param(2.5, 1.0, 100.0, "mean AI rounds before the technical trigger fires")
    emotional: bool = param(True, doc="the sentiment (emotional) trigger is on")
    emotional_threshold: float = param(1.0, -10.0, 10.0, "fires when the reading falls below -threshold")
    emotional_rounds: int = param(2, 1, 100, "consecutive rounds below the threshold before it fires")
    sentiment_noise: float = param(0.25, 0.0, 10.0, "sd of the sentiment reading around -frustration")
    predictive: bool = param(False, doc="the predictive (trend) sentiment trigger is on")
    trend_threshold: float = param(0.3, 0.0, 10.0, "predictive trigger: fires when the reading falls by more than this")
    predictive_level: float = param(0.5, -10.0, 10.0, "predictive trigger: and the reading is below -level")


@dataclass(frozen=True)
class Supervisor(_Section):
    base: float = param(0.02, 0.0, 1.0, "per-round takeover chance of the default (paper) workers")
    sentiment_slope: float = param(0.16, 0.0, 10.0, "added chance per unit of negative reading")
    sentiment_level: float = param(0.2, -10.0, 10.0, "reading below -level adds to the chance")
    max_hand_chats: int = param(4, 0, 50, "a worker handling this many chats by hand cannot take over another")
    specialized_share: float = param(
        0.0, 0.0, 1.0, "share of each team's treated workers who only supervise AI chats (0: integrated roles)"
    )


@dataclass(frozen=True)
class Patience(_Section):
    queue_mean_s: float = param(300.0, 1e-3, 1e7, "mean exponential patience while queued")
    hazard_base: float = param(0.003, 0.0, 1.0, "chance per round of leaving a chat")
    hazard_slope: float = param(0.03, 0.0, 1.0, "added chance per unit of frustration")
    silent_share: float = param(0.5, 0.0, 1.0, "share of leavers who leave silently")
    silent_timeout_s: float = param(120.0, 0.0, 3600.0, "time a worker waits before closing a silent chat")


@dataclass(frozen=True)
class Outcome(_Section):
    resolve_base: float = param(0.8, 0.0, 1.0, "resolution chance at full effort and mean skill")
    resolve_effort: float = param(0.4, 0.0, 1.0, "resolution chance lost per unit of effort shortfall")
    rate_base: float = param(0.178, 0.0, 1.0, "chance a neutral customer rates")
    rate_frustration: float = param(0.03, -1.0, 1.0, "added chance to rate per unit of end frustration")
    rating_base: float = param(2.83, -10.0, 10.0, "satisfaction of an unresolved, neutral chat")
    rating_resolved: float = param(0.9, 0.0, 10.0, "satisfaction added by resolution")
    rating_peak: float = param(0.5, 0.0, 10.0, "satisfaction lost per unit of peak frustration")
    rating_end: float = param(0.7, 0.0, 10.0, "satisfaction lost per unit of end frustration")
    rating_noise: float = param(0.9, 0.0, 10.0, "sd of satisfaction noise before the cut points")
    rating_cuts: tuple[float, ...] = param((1.5, 2.5, 3.5, 4.5), doc="satisfaction above the k-th cut rates above k")

    def __post_init__(self) -> None:
        super().__post_init__()
        c = self.rating_cuts
        if len(c) != 4 or not all(math.isfinite(x) for x in c) or any(a >= b for a, b in itertools.pairwise(c)):
            raise ConfigError(f"rating_cuts must be 4 finite, increasing numbers, got {list(c)}")

    retrial_base: float = param(0.375, 0.0, 1.0, "7-day retrial chance of a resolved, calm customer")
    retrial_unresolved: float = param(0.2, 0.0, 1.0, "added retrial chance when unresolved")
    retrial_frustration: float = param(0.05, 0.0, 1.0, "added retrial chance per unit of end frustration")


@dataclass(frozen=True)
class Config(_Section):
    """The whole simulator configuration (frozen; build with :func:`load_config`)."""

    experiment: Experiment = field(default_factory=Experiment)
    arrivals: Arrivals = field(default_factory=Arrivals)
    categories: FrozenDict[str, Category] = field(default_factory=lambda: FrozenDict(general=Category()))
    service: Service = field(default_factory=Service)
    workers: Workers = field(default_factory=Workers)
    effort: Effort = field(default_factory=Effort)
    emotion: Emotion = field(default_factory=Emotion)
    ai: AI = field(default_factory=AI)
    monitor: Monitor = field(default_factory=Monitor)
    supervisor: Supervisor = field(default_factory=Supervisor)
    patience: Patience = field(default_factory=Patience)
    outcome: Outcome = field(default_factory=Outcome)

    def __post_init__(self) -> None:
        if self.service.model not in ("rounds", "exponential"):
            raise ConfigError(f"service.model={self.service.model!r} must be 'rounds' or 'exponential'")
        if not self.categories or sum(c.weight for c in self.categories.values()) <= 0:
            raise ConfigError("categories must hold at least one category with positive weight")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain nested dicts and lists (YAML- and JSON-ready)."""
        return _plain(dataclasses.asdict(self))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _build(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from nested mappings, rejecting unknown keys and bad types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'} must be a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"unknown key {where + unknown[0]!r}; allowed: {', '.join(sorted(known))}")
    kwargs = {k: _coerce(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{path}.{e}" if path else str(e)) from None


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if origin in (dict, FrozenDict):
        _, vt = get_args(tp)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} must be a mapping")
        return FrozenDict({str(k): _coerce(vt, v, f"{path}.{k}") for k, v in value.items()})
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be a list")
        return tuple(_coerce(float, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Union:
        tp = get_args(tp)[0]
    return _scalar(tp, value, path)


def _scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{path} must be true or false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path} must be an integer, got {value!r}")
    if tp is int:
        return int(value)  # numpy integers too
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{path} must be a string, got {value!r}")
    return value


def read_yaml(text: str, source: str = "the text") -> Any:
    """Parse YAML as this project does everywhere (``1e-3`` is a number, not a string).

    Raises:
        ConfigError: ``source`` (a file name, a ``--set`` item) is not valid YAML; the message
            gives the line and column of the problem.
    """
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{source} is not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None


def preset_names() -> list[str]:
    """Names of the bundled YAML presets."""
    names = {p.stem for d in _PRESET_DIRS if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(n for n in names if not n.startswith(("train_", "rllib_")))  # (training configs)


def _read_yaml(preset_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A preset's or YAML file's fields. A file with ``base: NAME_OR_PATH`` holds only its
    differences from that config (a relative path is read from the file's folder): its fields
    merge into the base's, a category's fields into that category."""
    if not isinstance(preset_or_path, (str, Path)):
        raise ConfigError(f"a preset name or a YAML path is needed, got {preset_or_path!r}")
    path = Path(preset_or_path)
    if not path.suffix:
        for d in _PRESET_DIRS:
            if (d / f"{path}.yaml").is_file():
                path = d / f"{path}.yaml"
                break
        else:
            hint = " (a config file path needs a suffix, such as .yaml)" if path.is_file() else ""
            raise ConfigError(f"unknown preset {str(preset_or_path)!r}{hint}; presets: {', '.join(preset_names())}")
    data = read_yaml_file(path)
    if "base" not in data:
        return data
    base = data.pop("base")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be a preset name or a YAML path, got {base!r}")
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: its bases form a cycle ({' -> '.join(p.name for p in _seen)} -> {path.name})")
    try:  # a path (it has a suffix) is read from the file's folder; else a preset name
        merged = _read_yaml(path.parent / base if Path(base).suffix else base, (*_seen, path.resolve()))
    except ConfigError as e:
        raise ConfigError(f"{path}: base {base!r}: {e}") from None
    for key, value in data.items():
        _merge(merged, key, value)
    return merged


def read_yaml_file(path: str | Path) -> dict[str, Any]:
    """The mapping a YAML config file holds.

    Raises:
        ConfigError: no such file, not UTF-8 text (a binary file), not YAML, empty (an empty
            file would silently run the defaults), or not a mapping at the top level.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{str(path)!r} is not a YAML config (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    data = read_yaml(text, repr(str(path)))
    if data is None:
        raise ConfigError(f"{str(path)!r} is empty; a config file must set its fields")
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings (as given to ``--set``); values are read as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE with a dotted key, got {item!r}")
        out[key.strip()] = read_yaml(raw, f"--set {item!r}") if raw.strip() else None
    return out


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a copy of nested ``data`` with dotted-key ``overrides`` set.

    A mapping value merges into the section it names, so the section's other fields keep their
    values (``{"ai": {"misread": 0.2}}`` is ``{"ai.misread": 0.2}``), except ``categories``
    itself, whose mapping replaces the whole set of categories. Unknown leaf keys are rejected
    when the config is built; a category must already exist.
    """
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of dotted keys to values, got {type(overrides).__name__}")
    data = copy.deepcopy(data)
    for key, value in (overrides or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"override keys must be dotted strings, got {key!r}")
        parts = key.split(".")
        if parts[0] == "categories" and len(parts) > 1 and parts[1] not in data.get("categories", {}):
            known = ", ".join(data.get("categories", {}))
            raise ConfigError(f"unknown key {key!r}: no category {parts[1]!r} (categories: {known})")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"unknown key {key!r}: {part!r} is not a section")
        if parts == ["categories"]:
            node["categories"] = value
        else:
            _merge(node, parts[-1], value)
    return data


def _merge(node: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, Mapping) and isinstance(node.get(key), dict):
        for k, v in value.items():
            _merge(node[key], k, v)
    else:
        node[key] = value


def override_keys(overrides: Mapping[str, Any] | None) -> set[str]:
    """The dotted keys ``overrides`` set, a mapping value's fields included (``{"ai": {"misread": 1}}``
    sets ``ai.misread``)."""
    keys: set[str] = set()
    for key, value in (overrides or {}).items():
        keys |= {f"{key}.{k}" for k in override_keys(value)} if isinstance(value, Mapping) else {key}
    return keys


def load_config(preset_or_path: str | Path = "taobao_2024", overrides: Mapping[str, Any] | None = None) -> Config:
    """Load a preset by name (``taobao_2024``, ``mmn_abandonment``) or a YAML file path.

    Args:
        preset_or_path: a bundled preset name or a path to a YAML file.
        overrides: dotted keys to values, e.g. ``{"experiment.workers": 20}``.

    Raises:
        ConfigError: an unknown key, a value of the wrong type or outside its allowed range.
    """
    data = apply_overrides(_read_yaml(preset_or_path), overrides)
    return _build(Config, data, "")


def with_overrides(cfg: Config, overrides: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with dotted-key ``overrides`` applied and validated."""
    return _build(Config, apply_overrides(cfg.to_dict(), overrides), "")
