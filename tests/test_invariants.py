"""Invariants of the simulated records, over random valid configurations (property-based).

Configurations are drawn as override dicts on both presets: a small operation (2-20 workers,
teams of 1-10, 1-3 days: 0-2 pre-period and 1-3 post-period days) with random values, inside each
field's declared range (read from the dataclass metadata, so the tests follow the config as it
changes), for most fields of the behavioural sections. A few fields that set how many rounds a
chat lasts are drawn from a sub-range of their declared range to keep each run fast; the
arrival rate is chosen so that a run has a few hundred chats and every team expects arrivals.

Every simulation runs under a watchdog, so a configuration that never terminates fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import math
import signal
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hitl_env.config import Config, ConfigError, load_config
from hitl_env.sim.run import build_team, simulate, team_jobs
from hitl_env.sim.team import ESCALATIONS

PRESETS = ("taobao_2024", "mmn_abandonment")
SIM_TIMEOUT_S = 30.0  # a small run takes well under a second; past this it is not terminating
MAX_CHATS = 1000  # expected chats per random run

# Sections whose numeric and boolean fields are all drawn at random within their declared range.
RANDOM_SECTIONS = ("service", "workers", "effort", "emotion", "ai", "monitor", "supervisor", "patience", "outcome")

# Sub-ranges (still inside the declared range) for fields that set the number of rounds per chat
# (low progress, high round caps) or the arrival load; the rest use the full declared range.
SUB_RANGE: dict[str, tuple[float, float]] = {
    "effort.passive_progress": (0.2, 1.0),  # 0 can loop forever (see test_stuck_human_chat_terminates)
    "effort.floor": (0.1, 1.0),
    "ai.rounds_to_resolve": (1.0, 20.0),
    "ai.max_rounds": (1, 60),
    "monitor.technical_rounds": (1.0, 20.0),
    "service.rate_per_hour": (0.5, 1000.0),
}
INT_SPAN = 50  # integer fields not listed above: drawn from [lo, min(hi, lo + INT_SPAN)]
SKIP = {"service.model"}  # drawn separately


def _section_fields(section: str) -> list[Any]:
    return list(fields(type(getattr(Config(), section))))


def _field_strategy(key: str, f: Any) -> st.SearchStrategy[Any] | None:
    """Values of one config field inside its declared range, or None for non-scalar fields."""
    tp = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    lo, hi = f.metadata.get("range", (-math.inf, math.inf))
    if key in SUB_RANGE:
        sub_lo, sub_hi = SUB_RANGE[key]
        lo, hi = max(lo, sub_lo), min(hi, sub_hi)
    if tp == "bool":
        return st.booleans()
    if tp == "int":
        lo = int(lo) if math.isfinite(lo) else 0
        hi = int(min(hi, lo + INT_SPAN)) if key not in SUB_RANGE else int(hi)
        return st.integers(lo, hi)
    if tp == "float":
        lo = lo if math.isfinite(lo) else -1e6
        hi = hi if math.isfinite(hi) else 1e6
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return None


def _random_fields() -> dict[str, st.SearchStrategy[Any]]:
    out = {}
    for section in RANDOM_SECTIONS:
        for f in _section_fields(section):
            key = f"{section}.{f.name}"
            s = None if key in SKIP else _field_strategy(key, f)
            if s is not None:
                out[key] = s
    return out


@st.composite
def overrides(draw: st.DrawFn, preset: str | None = None, ai_on: bool = False) -> tuple[str, dict[str, Any]]:
    """A preset name and a dict of valid overrides giving a small, fast operation.

    With ``ai_on``, the operation is one where the AI handles chats: the rounds model, at least
    30% of workers treated and at least one AI-eligible category.
    """
    preset = preset or draw(st.sampled_from(PRESETS))
    base = load_config(preset)
    workers = draw(st.integers(2, 20))
    team_size = draw(st.integers(1, 10))
    days_post = draw(st.integers(1, 3))  # pre-only runs are covered by treatment_share = 0
    days_pre = draw(st.integers(0, 3 - days_post))
    days = days_pre + days_post
    ov: dict[str, Any] = {
        "experiment.workers": workers,
        "experiment.team_size": team_size,
        "experiment.days_pre": days_pre,
        "experiment.days_post": days_post,
        "experiment.treatment_share": draw(
            st.floats(0.3, 1.0) if ai_on else st.one_of(st.floats(0.3, 1.0), st.just(0.0), st.just(1.0))
        ),
        "service.model": "rounds" if ai_on else draw(st.sampled_from(["rounds", "exponential"])),
    }
    # arrival rate: at most MAX_CHATS expected in all, and at least 15 expected in the smallest team
    shift_h = base.arrivals.shift_hours
    smallest_team = workers % team_size or min(team_size, workers)
    hi = min(12.0, MAX_CHATS / (workers * days * shift_h))
    lo = min(hi, 15.0 / (smallest_team * days * shift_h))
    ov["arrivals.rate_per_worker_hour"] = draw(st.floats(lo, hi))
    # each other field keeps the preset's value or takes a random one (shrinks to the preset's)
    for key, strategy in _random_fields().items():
        if draw(st.booleans()):
            ov[key] = draw(strategy)
    for name in base.categories:
        if draw(st.booleans()):
            ov[f"categories.{name}.eligible"] = draw(st.booleans())
        if draw(st.booleans()):
            ov[f"categories.{name}.ai_solvable"] = draw(st.floats(0.0, 1.0))
    if ai_on and not any(ov.get(f"categories.{k}.eligible", c.eligible) for k, c in base.categories.items()):
        ov[f"categories.{draw(st.sampled_from(sorted(base.categories)))}.eligible"] = True
    for name in base.categories:  # the rule may send only categories the AI is allowed
        if ov.get(f"categories.{name}.eligible"):
            ov[f"categories.{name}.ai_allowed"] = True
    return preset, ov


class SimulationTimeout(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: float = SIM_TIMEOUT_S):
    """Raise SimulationTimeout in the block after ``seconds`` of wall time (SIGALRM).

    An exception raised inside a garbage-collector callback (Hypothesis installs one) would be
    swallowed, so the alarm skips those frames and repeats every second until it lands.
    """

    def on_alarm(signum: int, frame: Any) -> None:
        if frame is not None and (frame.f_code.co_name == "gc_callback" or "hypothesis" in frame.f_code.co_filename):
            return
        raise SimulationTimeout(f"simulation did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(cfg: Config, seed: int = 0, timeout: float = SIM_TIMEOUT_S, **kw: Any) -> pd.DataFrame:
    with watchdog(timeout):
        return simulate(cfg, seed, **kw)


# ------------------------------------------------------------------------------------- invariants
def _nonneg(df: pd.DataFrame, col: str) -> None:
    x = df[col].to_numpy(dtype=float)
    present = ~np.isnan(x)
    bad = present & ~(x >= 0)
    assert not bad.any(), f"{col} < 0 for chats {df.loc[bad, 'chat_id'].tolist()[:5]}: {x[bad][:5]}"
    assert np.isfinite(x[present]).all(), f"{col} not finite"


def _in_unit(df: pd.DataFrame, col: str) -> None:
    x = df[col].to_numpy(dtype=float)
    x = x[~np.isnan(x)]
    assert ((x >= 0) & (x <= 1)).all(), f"{col} outside [0, 1]: {x[(x < 0) | (x > 1)][:5]}"


def check_one_record_per_arrival(df: pd.DataFrame, cfg: Config, seed: int) -> None:
    """The records are exactly the arrivals, regenerated independently from the same seed."""
    n_total = 0
    for job in team_jobs(cfg, seed):
        arrivals = build_team(job).C.t
        mine = df.loc[df["team"] == job.team, "arrival_s"].to_numpy()
        assert len(mine) == len(arrivals), f"team {job.team}: {len(mine)} records for {len(arrivals)} arrivals"
        np.testing.assert_array_equal(mine, arrivals)
        n_total += len(arrivals)
    assert len(df) == n_total


def check_invariants(df: pd.DataFrame, cfg: Config) -> None:
    rounds_model = cfg.service.model == "rounds"
    n = len(df)
    # identifiers
    np.testing.assert_array_equal(df["chat_id"].to_numpy(), np.arange(n))
    assert df["customer_id"].is_unique
    # every chat ends, once, after it arrives
    end, arr = df["end_s"].to_numpy(dtype=float), df["arrival_s"].to_numpy(dtype=float)
    assert np.isfinite(end).all(), f"chats without an end: {df.loc[~np.isfinite(end), 'chat_id'].tolist()[:5]}"
    assert (end >= arr).all()
    np.testing.assert_allclose(df["duration_s"], end - arr, rtol=0, atol=1e-6)
    for team, g in df.groupby("team"):
        assert g["arrival_s"].is_monotonic_increasing, f"team {team} not sorted by arrival"
    # no negative times, and they nest: queue wait <= first reply <= end; takeover <= end
    for col in ("duration_s", "queue_wait_s", "wait_s", "reply_lag_mean_s", "reply_lag_sum_s", "away_time_s"):
        _nonneg(df, col)
    _nonneg(df, "takeover_time_s")
    eps = 1e-6 * np.maximum(1.0, np.abs(end))
    dur = df["duration_s"].to_numpy()
    qw, w, tk = (df[c].to_numpy(dtype=float) for c in ("queue_wait_s", "wait_s", "takeover_time_s"))
    assert (qw <= dur + eps).all()
    has_w = ~np.isnan(w)
    assert (w[has_w] >= qw[has_w] - eps[has_w]).all() and (w[has_w] <= dur[has_w] + eps[has_w]).all()
    has_tk = ~np.isnan(tk)
    assert (tk[has_tk] <= dur[has_tk] + eps[has_tk]).all()
    # counts
    for col in ("rounds", "ai_rounds", "human_rounds", "messages_customer", "messages_worker", "messages_ai"):
        assert (df[col] >= 0).all(), col
    assert (df["switch_aways"] >= 0).all()
    assert (df["messages"] == df["messages_customer"] + df["messages_worker"] + df["messages_ai"]).all()
    if rounds_model:
        assert (df["rounds"] == df["ai_rounds"] + df["human_rounds"]).all()
        assert (df.loc[df["wait_s"].notna(), "rounds"] >= 1).all(), "a chat got a reply with no round"
    # shares in [0, 1]; effort in [floor, 1] for human-handled chats, up to 1 + takeover_boost after
    # a hand takeover (the worker chose to step in)
    for col in ("round_share", "proactivity", "empathy", "empathy_expected"):
        _in_unit(df, col)
    # the expected empathy is there exactly where the drawn one is, and is one number per worker
    assert (df["empathy_expected"].isna() == df["empathy"].isna()).all()
    per_worker = df.dropna(subset=["empathy_expected"]).groupby("worker_id", observed=True)["empathy_expected"]
    assert (per_worker.nunique() == 1).all()
    handled = df[df["human_rounds"] > 0]
    eff = handled["effort"].to_numpy(dtype=float)
    chose = (handled["escalation"] == "human").to_numpy(bool)
    top = np.where(chose, 1 + cfg.effort.takeover_boost, 1.0)
    assert ((eff >= cfg.effort.floor - 1e-12) & (eff <= top + 1e-12)).all()
    assert (eff[~chose] <= 1 + 1e-12).all()
    # ratings: an integer 1..5 exactly when rated
    rated, rating = df["rated"].to_numpy(bool), df["rating"].to_numpy(dtype=float)
    np.testing.assert_array_equal(np.isnan(rating), ~rated)
    assert np.isin(rating[rated], [1.0, 2.0, 3.0, 4.0, 5.0]).all(), np.unique(rating[rated])
    # outcome flags
    resolved, abandoned = df["resolved"].to_numpy(bool), df["abandoned"].to_numpy(bool)
    assert not (resolved & abandoned).any(), "a chat both resolved and abandoned"
    # unassigned chats reneged from the queue
    unassigned = df["worker_id"].isna().to_numpy()
    np.testing.assert_array_equal(df["arm"].isna().to_numpy(), unassigned)
    assert abandoned[unassigned].all()
    assert (df.loc[unassigned, "rounds"] == 0).all() and df.loc[unassigned, "wait_s"].isna().all()
    # routing: routed_ai implies eligible, treatment arm, post period (and the rounds model)
    routed = df["routed_ai"].to_numpy(bool)
    treated = (df["arm"] == "treatment").fillna(False).to_numpy(bool)
    post = (df["period"] == "post").to_numpy(bool)
    eligible = df["eligible"].to_numpy(bool)
    assert not (routed & ~(eligible & treated & post)).any(), "routed to the AI outside eligible/treated/post"
    if rounds_model:
        np.testing.assert_array_equal(routed, eligible & treated & post & ~unassigned)
    else:
        assert not routed.any()
    # escalation: exactly one type per routed chat; none (and no takeover) for the others
    assert list(df["escalation"].cat.categories) == list(ESCALATIONS)
    esc = df["escalation"].astype(str).to_numpy()
    assert df["escalation"].notna().all()
    escalated = esc != "none"
    assert not (escalated & ~routed).any(), "escalation on a chat the AI never handled"
    tr = df["takeover_round"]
    np.testing.assert_array_equal(has_tk, escalated)
    np.testing.assert_array_equal(tr.notna().to_numpy(), escalated)
    np.testing.assert_array_equal(df["frustration_takeover"].notna().to_numpy(), escalated)
    assert (df.loc[~routed, ["ai_rounds", "messages_ai"]] == 0).all().all()
    assert (df.loc[routed, "ai_rounds"] >= 1).all()
    assert (df.loc[routed, "ai_rounds"] <= cfg.ai.max_rounds).all(), "the AI ran past ai.max_rounds"
    np.testing.assert_array_equal(tr[escalated].to_numpy(dtype=int), df.loc[escalated, "ai_rounds"].to_numpy())
    assert (df.loc[escalated, "human_rounds"] >= 1).all(), "an escalated chat never reached the human"
    assert (df.loc[routed & ~escalated, "human_rounds"] == 0).all(), "a human handled an AI-alone chat"
    # frustration: the peak bounds the takeover and the end values
    if rounds_model:
        peak = df["frustration_peak"].to_numpy(dtype=float)
        for col in ("frustration_takeover", "frustration_end"):
            x = df[col].to_numpy(dtype=float)
            ok = np.isnan(x) | (x <= peak + 1e-9 * np.maximum(1.0, np.abs(peak)))
            assert ok.all(), f"{col} above frustration_peak for chats {df.loc[~ok, 'chat_id'].tolist()[:5]}"


# ------------------------------------------------------------------------------------- properties
def _check_random_case(case: tuple[str, dict[str, Any]], seed: int) -> None:
    preset, ov = case
    cfg = load_config(preset, ov)
    df = run(cfg, seed)
    event(f"{preset}, {cfg.service.model}")
    event(f"routed to the AI: {'some' if df['routed_ai'].any() else 'none'}")
    event(f"escalated: {'some' if (df['escalation'] != 'none').any() else 'none'}")
    check_one_record_per_arrival(df, cfg, seed)
    check_invariants(df, cfg)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=overrides(), seed=st.integers(0, 2**32 - 1))
def test_records_hold_invariants_on_random_configs(case, seed):
    _check_random_case(case, seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=overrides(ai_on=True), seed=st.integers(0, 2**32 - 1))
def test_records_hold_invariants_with_the_ai_on(case, seed):
    _check_random_case(case, seed)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=overrides(), seed=st.integers(0, 2**32 - 2))
def test_same_seed_same_records_other_seed_differs(case, seed):
    preset, ov = case
    cfg = load_config(preset, ov)
    a, b = run(cfg, seed), run(cfg, seed)
    pd.testing.assert_frame_equal(a, b)
    c = run(cfg, seed + 1)
    assert len(a) > 0 and len(c) > 0
    assert len(a) != len(c) or not a.equals(c), "different seeds gave identical records"


def test_n_jobs_does_not_change_records():
    cfg = load_config(
        "taobao_2024",
        {"experiment.workers": 16, "experiment.team_size": 4, "experiment.days_pre": 1, "experiment.days_post": 1},
    )
    pd.testing.assert_frame_equal(run(cfg, 7, n_jobs=1), run(cfg, 7, n_jobs=2))


# ------------------------------------------------------------------- the default preset, small scale
@pytest.fixture(scope="module")
def default_small() -> tuple[Config, pd.DataFrame]:
    cfg = load_config("taobao_2024", {"experiment.workers": 20, "experiment.days_pre": 1, "experiment.days_post": 2})
    return cfg, run(cfg, 3)


def test_default_preset_small_invariants(default_small):
    cfg, df = default_small
    assert len(df) > 0
    check_one_record_per_arrival(df, cfg, 3)
    check_invariants(df, cfg)


def test_default_preset_small_rounds_and_shares(default_small):
    _, df = default_small
    # empathy is a per-worker chance: over a worker's chats the drawn share averages to it
    by = df.dropna(subset=["empathy"]).groupby("worker_id", observed=True)
    drawn = by.apply(lambda g: (g["empathy"] * g["human_rounds"]).sum() / g["human_rounds"].sum(), include_groups=False)
    assert np.abs(drawn - by["empathy_expected"].first()).max() < 0.08
    assert by["empathy_expected"].first().std() > 0.02
    replied = df["wait_s"].notna()
    assert replied.any()
    assert (df.loc[replied, "rounds"] >= 1).all()
    assert (df["messages"] == df[["messages_customer", "messages_worker", "messages_ai"]].sum(axis=1)).all()
    for col in ("round_share", "proactivity", "empathy"):
        x = df[col].dropna()
        assert len(x) > 0 and x.between(0.0, 1.0).all(), col
    # the AI is on for treated workers in the post period, so some chats reach it
    assert df["routed_ai"].any()
    assert set(df["escalation"].astype(str)) <= set(ESCALATIONS)


# ------------------------------------------------------------------ edge configurations (valid ones)
def _small(**extra: Any) -> dict[str, Any]:
    return {
        "experiment.workers": 2,
        "experiment.team_size": 1,
        "experiment.days_pre": 1,
        "experiment.days_post": 0,
        **extra,
    }


def test_team_without_arrivals_gives_records_of_the_other_teams():
    """At a low (valid) arrival rate a team may draw no chats; it adds no records, the others do."""
    cfg = load_config("taobao_2024", _small(**{"arrivals.rate_per_worker_hour": 0.3}))
    for seed in range(100):
        counts = [len(build_team(job).C) for job in team_jobs(cfg, seed)]
        if min(counts) == 0 < max(counts):
            break
    else:
        pytest.fail("no seed gives one empty and one non-empty team")
    df = run(cfg, seed)
    assert len(df) == sum(counts)
    check_one_record_per_arrival(df, cfg, seed)
    check_invariants(df, cfg)


def test_zero_days_gives_no_records():
    """``days_pre = days_post = 0`` is inside the declared ranges: either rejected, or no chats."""
    try:
        cfg = load_config("taobao_2024", _small(**{"experiment.days_pre": 0}))
    except ConfigError:
        return
    df = run(cfg, 0)
    assert len(df) == 0


def test_stuck_human_chat_terminates():
    """Every arrival must end, even when a human chat makes the least progress the ranges allow.

    Effort fields at the bottom of their declared ranges (no proactive replies, no progress from
    passive ones) and no hazard of leaving: the config must either be rejected or the run end.
    """
    keys = ("effort.proactive_base", "effort.passive_progress", "patience.hazard_base", "patience.hazard_slope")
    lowest = {}
    for key in keys:
        section, name = key.split(".")
        [f] = [f for f in _section_fields(section) if f.name == name]
        lowest[key] = f.metadata["range"][0]
    ov = _small(**lowest, **{"emotion.enabled": False, "arrivals.rate_per_worker_hour": 2.0})
    try:
        cfg = load_config("taobao_2024", ov)
    except ConfigError:
        return
    df = run(cfg, 0, timeout=10.0)
    assert np.isfinite(df["end_s"]).all()
