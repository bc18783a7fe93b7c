"""Run the whole operation: draw workers, split them into teams, simulate, collect records."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hitl_env.config import Config
from hitl_env.procs import die_with_parent, stop_pool
from hitl_env.sim.decisions import DECISIONS
from hitl_env.sim.hooks import Router, Supervisor
from hitl_env.sim.population import DAY_S, HOUR_S, draw_chats, draw_workers
from hitl_env.sim.size import check_size
from hitl_env.sim.team import ESCALATIONS, TeamSim


@dataclass
class TeamJob:
    cfg: Config
    team: int
    first_worker: int
    workers: object  # population.Workers of this team
    seed: np.random.SeedSequence
    router: Router | None
    supervisor: Supervisor


def team_jobs(
    cfg: Config, seed: int, router: Router | None = None, supervisor: Supervisor | None = None
) -> list[TeamJob]:
    """Split the operation into independent teams, each with its own seed stream.

    Workers are drawn and randomized once from ``seed``; team ``k`` gets child stream ``k``, so
    results do not depend on how teams are spread over processes.
    """
    root = np.random.SeedSequence(seed)
    worker_seed, *team_seeds = root.spawn(1 + _n_teams(cfg))
    workers = draw_workers(cfg, np.random.default_rng(worker_seed))
    supervisor = supervisor or DECISIONS["takeover"].default_hook(cfg)
    size = cfg.experiment.team_size
    return [
        TeamJob(cfg, k, k * size, workers.take(slice(k * size, (k + 1) * size)), s, router, supervisor)
        for k, s in enumerate(team_seeds)
    ]


def _n_teams(cfg: Config) -> int:
    return -(-cfg.experiment.workers // cfg.experiment.team_size)


def team_hook(hook: Any, job: TeamJob) -> Any:
    """The hook team ``job.team`` decides with.

    A hook may define ``for_team(team, workers)``, returning the hook for one team: one that
    needs the team's workers (their shift starts) or a random stream of its own per team, so
    that the records do not depend on how teams are spread over processes. It is called where
    the team is simulated, so what it builds (a loaded model) never crosses processes. Any
    other hook decides for every team as it is.
    """
    bind = getattr(hook, "for_team", None)
    return hook if bind is None else bind(job.team, job.workers)


def build_team(job: TeamJob) -> TeamSim:
    """The team's simulation, ready to :meth:`~TeamSim.run`."""
    arrivals_seed, dynamics_seed = job.seed.spawn(2)
    chats = draw_chats(job.cfg, job.workers, np.random.default_rng(arrivals_seed))
    router, supervisor = team_hook(job.router, job), team_hook(job.supervisor, job)
    return TeamSim(job.cfg, job.workers, chats, np.random.default_rng(dynamics_seed), router, supervisor)


def run_team(job: TeamJob) -> pd.DataFrame:
    """Simulate one team to the end and return its records."""
    sim = build_team(job)
    if sim.run() is not None:
        raise TypeError(
            "a router or supervisor hook returned PENDING: route() and takeover() must return True or False in "
            "simulate(); only TeamSim.run/decide lets you answer decisions yourself"
        )
    return team_records(sim, job)


def team_records(sim: TeamSim, job: TeamJob) -> pd.DataFrame:
    """One row per chat of a finished (or paused) team simulation."""
    r = {k: v.copy() for k, v in sim.rec.items()}  # the records are views of the running state
    C, cfg = sim.C, job.cfg
    worker = r["worker"]
    assigned = ~np.isnan(r["assign_t"])
    w_global = np.where(assigned, worker + job.first_worker, -1)
    treated = np.where(assigned, job.workers.treated[np.where(assigned, worker, 0)], False)
    day = (C.t // DAY_S).astype(np.int32)
    esc = r["escalation"]
    routed = r["routed_ai"].astype(bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_human = r["human_rounds"]
        rounds = n_human + r["ai_rounds"]
        out = {
            "team": np.full(len(C), job.team, dtype=np.int32),
            "worker_id": pd.array(np.where(assigned, w_global, 0), dtype="Int32").astype("Int32"),
            "arm": pd.Categorical(np.where(treated, "treatment", "control"), categories=["control", "treatment"]),
            "day": day,
            "period": pd.Categorical(
                np.where(day >= cfg.experiment.days_pre, "post", "pre"), categories=["pre", "post"]
            ),
            "hour": ((C.t % DAY_S) // HOUR_S).astype(np.int8),
            "category": pd.Categorical.from_codes(C.category, categories=list(cfg.categories)),
            "eligible": r["eligible"].astype(bool),
            "routed_ai": routed,
            "escalation": pd.Categorical.from_codes(esc, categories=list(ESCALATIONS)),
            "takeover_round": pd.array(np.where(esc > 0, r["takeover_round"], 0), dtype="Int32"),
            "takeover_time_s": r["takeover_t"],
            "arrival_s": C.t,
            "end_s": r["end_t"],
            "duration_s": r["end_t"] - C.t,
            "queue_wait_s": np.where(assigned, r["assign_t"] - C.t, r["end_t"] - C.t),
            "wait_s": r["first_reply_t"] - C.t,
            "rounds": rounds.astype(np.int32),
            "ai_rounds": r["ai_rounds"].astype(np.int32),
            "human_rounds": n_human.astype(np.int32),
            "messages_customer": rounds.astype(np.int32),  # one customer message per round
            "messages_worker": r["msg_worker"].astype(np.int32),
            "messages_ai": r["msg_ai"].astype(np.int32),
            "messages": (rounds + r["msg_worker"] + r["msg_ai"]).astype(np.int32),
            "reply_lag_mean_s": r["lag_sum"] / r["worker_rounds"],
            "reply_lag_sum_s": r["lag_sum"].astype(float),
            "concurrency": np.where(assigned, r["held_sum"] / (1 + rounds), np.nan),  # at assignment and each round
            "switch_aways": r["switches"].astype(np.int32),
            "away_time_s": r["away_s"].astype(float),
            "round_share": r["worker_rounds"] / n_human,
            "proactivity": r["proactive"] / r["worker_rounds"],
            "empathy": r["empathetic"] / r["worker_rounds"],
            "empathy_expected": np.where(
                r["worker_rounds"] > 0, job.workers.empathy[np.where(assigned, worker, 0)], np.nan
            ),
            "effort": np.where(n_human > 0, r["effort"], np.nan),
            "frustration_takeover": r["f_takeover"],
            "frustration_peak": r["f_peak"],
            "frustration_end": np.where(np.isnan(r["end_t"]), np.nan, r["f_end"]),
            "resolved": r["resolved"].astype(bool),
            "abandoned": r["abandoned"].astype(bool),
            "rated": r["rated"].astype(bool),
            "rating": r["rating"],
            "satisfaction": r["satisfaction"],
            "retrial": r["retrial"].astype(bool),
        }
    df = pd.DataFrame(out)
    df["worker_id"] = df["worker_id"].mask(~assigned)
    df["arm"] = df["arm"].mask(~assigned)
    df["takeover_round"] = df["takeover_round"].mask(esc == 0)
    return df


def simulate(
    config: Config,
    seed: int = 0,
    *,
    router: Router | None = None,
    supervisor: Supervisor | None = None,
    n_jobs: int | None = 1,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Simulate the operation and return one record per chat.

    Args:
        config: a :class:`~hitl_env.config.Config` (see :func:`hitl_env.load_config`).
        seed: the seed of every random draw; the same seed gives identical records.
        router: eligibility hook (default: the category rule of the config). Its True for a
            category whose ``ai_allowed`` is false acts as False (Router-v3's action mask).
        supervisor: takeover hook (default: the paper's workers, ``config.supervisor``). A hook
            with ``for_team`` is bound to each team (:func:`team_hook`).
        n_jobs: processes to spread teams over (None: all cores). Results do not depend on it.
        progress: called with the number of teams finished so far, after each team.

    Returns:
        A DataFrame sorted by arrival within team, with ``chat_id`` and ``customer_id``
        numbering the chats (each chat is a distinct customer contact).

    Raises:
        TypeError: ``config`` is not a Config (a preset name, say), a hook lacks its method or
            answers anything but a bool (numpy bools included), a hook cannot be pickled while
            ``n_jobs`` asks for processes, or ``progress`` is not callable.
        ValueError: ``seed`` is not a non-negative integer, ``n_jobs`` not a positive one.
        TooLarge: (a ValueError) the run's estimated memory exceeds what this process can get
            (:mod:`hitl_env.sim.size`); nothing is drawn.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a Config (hitl_env.load_config(...)), got {type(config).__name__}")
    for hook, method in ((router, "route"), (supervisor, "takeover")):
        if hook is not None and not callable(getattr(hook, method, None)) and not hasattr(hook, "for_team"):
            raise TypeError(f"a {method} hook needs a {method}(view) method, got {type(hook).__name__}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise ValueError(f"n_jobs must be a positive integer or None (all cores), got {n_jobs!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking the teams finished, got {type(progress).__name__}")
    check_seed(seed)
    check_size(config)
    jobs = team_jobs(config, int(seed), router, supervisor)
    n_jobs = os.cpu_count() or 1 if n_jobs is None else max(1, int(n_jobs))
    frames: list[pd.DataFrame] = []
    if n_jobs == 1 or len(jobs) == 1:
        for job in jobs:
            frames.append(run_team(job))
            if progress:
                progress(len(frames))
    else:
        _check_picklable(router, supervisor, n_jobs)
        # workers die with this process, and leave Ctrl-C to it (hitl_env.procs)
        pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), initializer=die_with_parent,
                                   initargs=(os.getpid(),))  # fmt: skip
        try:
            for df in pool.map(run_team, jobs, chunksize=max(1, len(jobs) // (4 * n_jobs))):
                frames.append(df)
                if progress:
                    progress(len(frames))
        except BaseException:
            stop_pool(pool)  # not shutdown(wait=True): it would finish every running team first
            raise
        pool.shutdown()
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "chat_id", np.arange(len(df), dtype=np.int64))
    df.insert(2, "customer_id", df["chat_id"].to_numpy())
    return df


def check_seed(seed: object, allow_none: bool = False) -> None:
    """Raise ValueError unless ``seed`` is a non-negative integer (a bool is not one), or None if allowed."""
    if seed is None and allow_none:
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        what = "a non-negative integer or None" if allow_none else "a non-negative integer"
        raise ValueError(f"seed must be {what}, got {seed!r}")


def _check_picklable(router: object, supervisor: object, n_jobs: int) -> None:
    """Hooks cross to the worker processes by pickle: refuse one that cannot, naming it."""
    for name, hook in (("router", router), ("supervisor", supervisor)):
        try:
            pickle.dumps(hook)
        except Exception as e:
            raise TypeError(
                f"the {name} hook {type(hook).__name__} cannot be sent to worker processes (n_jobs={n_jobs}): "
                f"{e}; define it at module level, or use n_jobs=1"
            ) from None


def timed_simulate(config: Config, seed: int = 0, **kw: object) -> tuple[pd.DataFrame, float]:
    """:func:`simulate` and its wall time in seconds."""
    t0 = time.perf_counter()
    df = simulate(config, seed, **kw)  # type: ignore[arg-type]
    return df, time.perf_counter() - t0
