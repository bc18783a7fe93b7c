"""Workers, shifts and arrivals, drawn vectorized before the event loop runs.

Everything here depends only on the config and a seed, never on the dynamics, so the same
customers arrive whatever the policies do (common random numbers across arms and policies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hitl_env.config import Config

DAY_S = 86_400.0
HOUR_S = 3_600.0


@dataclass
class Workers:
    """Per-worker attributes of the whole operation (index = worker id), and its days' shocks."""

    speed: np.ndarray  # reply-lag multiplier (lognormal, mean 1)
    skill: np.ndarray  # added to the resolution chance
    empathy: np.ndarray  # share of empathetic messages
    treated: np.ndarray  # bool: randomized to the treatment arm
    shift_start_h: np.ndarray  # int hour of the daily shift start
    monitoring: np.ndarray  # multiplier of the attention a supervised AI chat demands (lognormal, mean 1)
    speed_drift: np.ndarray  # (workers, days) day-to-day multiplier of the reply lag (AR(1) in logs)
    care_drift: np.ndarray  # (workers, days) day-to-day satisfaction offset of the chats handled (AR(1))
    day_rate: np.ndarray  # (days,) arrival-rate multiplier of each day, shared by every team
    day_work: np.ndarray  # (days,) work multiplier of each day's chats, shared by every team

    def take(self, idx: np.ndarray | slice) -> Workers:
        """The workers ``idx`` (a team), with the operation's day shocks."""
        shared = ("day_rate", "day_work")
        return Workers(*(getattr(self, k) if k in shared else getattr(self, k)[idx] for k in self.__dataclass_fields__))


def _ar1(rng: np.random.Generator, n: int, days: int, sd: float, rho: float) -> np.ndarray:
    """``(n, days)`` stationary AR(1) paths with marginal sd ``sd`` and day-to-day correlation ``rho``."""
    z = rng.standard_normal((n, days)) * sd
    x = np.empty_like(z)
    if days:
        x[:, 0] = z[:, 0]
    innovation = math.sqrt(1.0 - rho * rho)
    for d in range(1, days):
        x[:, d] = rho * x[:, d - 1] + innovation * z[:, d]
    return x


def draw_workers(cfg: Config, rng: np.random.Generator) -> Workers:
    """Draw heterogeneous workers and randomize them into arms."""
    n = cfg.experiment.workers
    w = cfg.workers
    # one child stream per attribute: the arm split never shifts the workers' other draws
    r = dict(zip(Workers.__dataclass_fields__, rng.spawn(len(Workers.__dataclass_fields__)), strict=True))
    treated = np.zeros(n, dtype=bool)
    treated[r["treated"].permutation(n)[: cfg.experiment.n_treated]] = True
    weights = np.asarray(cfg.arrivals.shift_start_weights, dtype=float)
    days, a = cfg.experiment.days, cfg.arrivals
    speed_drift = _ar1(r["speed_drift"], n, days, w.speed_drift_sd, w.drift_persistence)
    return Workers(
        speed=r["speed"].lognormal(-0.5 * w.speed_sd**2, w.speed_sd, n),
        skill=r["skill"].normal(0.0, w.skill_sd, n),
        empathy=np.clip(r["empathy"].normal(w.empathy_mean, w.empathy_sd, n), 0.0, 1.0),
        treated=treated,
        shift_start_h=r["shift_start_h"].choice(24, size=n, p=weights / weights.sum()),
        monitoring=r["monitoring"].lognormal(-0.5 * w.monitoring_sd**2, w.monitoring_sd, n),
        speed_drift=np.exp(speed_drift - 0.5 * w.speed_drift_sd**2),
        care_drift=_ar1(r["care_drift"], n, days, w.care_drift_sd, w.drift_persistence),
        day_rate=r["day_rate"].lognormal(-0.5 * a.day_rate_sd**2, a.day_rate_sd, days),
        day_work=r["day_work"].lognormal(-0.5 * a.day_work_sd**2, a.day_work_sd, days),
    )


@dataclass
class Chats:
    """Latent and observable attributes of a team's arriving chats, sorted by arrival."""

    t: np.ndarray  # arrival time (s)
    category: np.ndarray  # category index
    work: np.ndarray  # work units a human needs
    solvable: np.ndarray  # bool: within the AI's capability
    misread: np.ndarray  # bool: the AI misreads it (loops with no progress, no technical flag)
    ai_need: np.ndarray  # AI rounds to resolve (if solvable)
    tech_round: np.ndarray  # AI round at which the technical trigger fires (if not solvable)
    patience: np.ndarray  # patience while queued (s)
    f0: np.ndarray  # initial frustration
    u_resolve: np.ndarray
    u_rate: np.ndarray
    z_rating: np.ndarray
    u_retrial: np.ndarray
    u_silent: np.ndarray
    u_route: np.ndarray  # the uniform a randomized router may use

    def __len__(self) -> int:
        return len(self.t)


def shifts(cfg: Config, start_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Online intervals ``(start, end)`` in seconds, shape ``(workers, days)``."""
    days = np.arange(cfg.experiment.days) * DAY_S
    start = days[None, :] + start_h[:, None] * HOUR_S
    end = np.minimum(start + cfg.arrivals.shift_hours * HOUR_S, cfg.experiment.days * DAY_S)
    return start, end


def draw_chats(cfg: Config, workers: Workers, rng: np.random.Generator) -> Chats:
    """Draw a team's arrivals: a Poisson stream per online worker, pooled into one queue.

    The superposition is a non-homogeneous Poisson process whose rate at time t is
    ``rate_per_worker_hour * (workers online at t)`` times the day's shock; the hour-of-day
    profile follows the shift starts of the team's ``workers``.
    """
    start, end = shifts(cfg, workers.shift_start_h)
    rate = cfg.arrivals.rate_per_worker_hour / HOUR_S
    counts = rng.poisson(rate * (end - start) * workers.day_rate[None, :]).ravel()
    n = int(counts.sum())
    t = np.sort(np.repeat(start.ravel(), counts) + rng.random(n) * np.repeat((end - start).ravel(), counts))
    # One child stream per attribute, so changing one parameter never shifts another's draws.
    r = dict(zip(Chats.__dataclass_fields__, rng.spawn(len(Chats.__dataclass_fields__)), strict=True))
    cats, days = list(cfg.categories.values()), cfg.experiment.days
    weights = np.array([c.weight for c in cats])
    category = r["category"].choice(len(cats), size=n, p=weights / weights.sum())
    mean_work = np.array([c.work for c in cats])[category]
    shape = 3.0
    ai, mon, pat, emo = cfg.ai, cfg.monitor, cfg.patience, cfg.emotion
    solvable = r["solvable"].random(n) < np.array([c.ai_solvable for c in cats])[category]
    return Chats(
        t=t,
        category=category,
        work=r["work"].gamma(shape, mean_work / shape) * workers.day_work[np.minimum(t // DAY_S, days - 1).astype(int)],
        solvable=solvable,
        misread=solvable & (r["misread"].random(n) < ai.misread),
        ai_need=1 + r["ai_need"].poisson(ai.rounds_to_resolve - 1.0, n),
        tech_round=1 + r["tech_round"].poisson(mon.technical_rounds - 1.0, n),
        patience=r["patience"].exponential(pat.queue_mean_s, n),
        f0=r["f0"].normal(emo.initial_mean, emo.initial_sd, n) * emo.enabled,
        u_resolve=r["u_resolve"].random(n),
        u_rate=r["u_rate"].random(n),
        z_rating=r["z_rating"].standard_normal(n),
        u_retrial=r["u_retrial"].random(n),
        u_silent=r["u_silent"].random(n),
        u_route=r["u_route"].random(n),
    )
