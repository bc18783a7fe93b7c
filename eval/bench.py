"""``hitl-bench``: how fast the simulator runs, next to yardsticks measured in the same run.

Each row of the report compares a measured rate with a yardstick rate and their ratio with a
target ratio:

* ``simulator vs SimPy M/M/10``: simulated chats per wall second (``--jobs`` processes, one by
  default) next to customers per wall second of a classic process-based SimPy M/M/10 queue at
  load 0.9, run in the same process. Target ratio: 0.5 or more.
* ``full scale`` (with ``--full``): the whole experiment (the preset's 647 workers and 31 days)
  on all cores, next to the rate that finishes it in 60 s; ratio 1 or more means it took 60 s
  or less.

The yardstick and the simulator are alternated (yardstick, simulator, yardstick, ...) and each
rate pools its runs (total items over total seconds), so a busy neighbour on a shared machine
slows both sides alike.

Exit codes: 0 done (1 with ``--fail-below`` when a row misses its target), 2 a config error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import hitl_env
from hitl_env.cli import check_shorthands, output_dir
from hitl_env.config import ConfigError, parse_overrides, with_overrides
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID

PROG = "hitl-bench"
DEFAULT_WORKERS = 100
DEFAULT_YARDSTICK_CUSTOMERS = 200_000
SIMPY_SERVERS = 10
SIMPY_LOAD = 0.9
RATIO_TARGET = 0.5
FULL_BUDGET_S = 60.0


@dataclass
class Row:
    """One benchmark row: a measured rate next to a yardstick rate and a target for their ratio."""

    name: str
    rate: float  # measured items per wall second
    unit: str
    yardstick: str
    yardstick_rate: float
    yardstick_unit: str
    ratio: float  # rate / yardstick_rate
    target: float  # the ratio should be >= target
    seconds: float  # wall seconds of the measured side, all runs
    count: int  # items of the measured side, all runs

    @property
    def ok(self) -> bool:
        return math.isfinite(self.ratio) and self.ratio >= self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def make_row(
    name: str, unit: str, count: int, seconds: float, yardstick: str, y_unit: str, y_rate: float, target: float
) -> Row:
    """A row from the measured side's items and seconds and the yardstick's rate."""
    rate = count / seconds if seconds > 0 else math.inf
    ratio = rate / y_rate if y_rate > 0 else math.inf
    return Row(name, rate, unit, yardstick, y_rate, y_unit, ratio, target, seconds, count)


# ---------------------------------------------------------------------------------------------
# Yardstick: a classic SimPy M/M/c queue


def simpy_mmc(customers: int, seed: int, servers: int = SIMPY_SERVERS, load: float = SIMPY_LOAD) -> tuple[int, float]:
    """Run a process-based SimPy M/M/``servers`` queue for ``customers`` customers.

    Poisson arrivals at rate ``load * servers`` (service rate 1); each customer is a process
    that requests a server of a :class:`simpy.Resource`, holds it for an exponential service
    time and releases it. Returns (customers served, wall seconds).
    """
    import simpy

    rng = np.random.default_rng(seed)
    mean_interarrival = 1.0 / (load * servers)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=servers)
    served = 0

    def customer(env: simpy.Environment):  # type: ignore[no-untyped-def]
        nonlocal served
        with server.request() as req:
            yield req
            yield env.timeout(rng.exponential(1.0))
        served += 1

    def source(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(customers):
            yield env.timeout(rng.exponential(mean_interarrival))
            env.process(customer(env))

    env.process(source(env))
    t0 = time.perf_counter()
    env.run()
    return served, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# The simulator


def _progress_bar(total: int, desc: str, enabled: bool) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A ``simulate(progress=...)`` callback drawing a tqdm bar of teams, and its closer."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="team", file=sys.stderr, leave=False, disable=None)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


def warm_up(cfg: hitl_env.Config, seed: int) -> float:
    """Load the compiled event loop (once per process, compiling it on a new machine); seconds."""
    t0 = time.perf_counter()
    hitl_env.simulate(with_overrides(cfg, {"experiment.workers": 1, "experiment.days_pre": 1}), seed)
    return time.perf_counter() - t0


def time_simulator(cfg: hitl_env.Config, seed: int, n_jobs: int | None, desc: str, progress: bool) -> tuple[int, float]:
    """Simulate once; return (chats, wall seconds)."""
    n_teams = -(-cfg.experiment.workers // cfg.experiment.team_size)
    callback, close = _progress_bar(n_teams, desc, progress)
    try:
        t0 = time.perf_counter()
        df = hitl_env.simulate(cfg, seed, n_jobs=n_jobs, progress=callback)
        seconds = time.perf_counter() - t0
    finally:
        close()
    return len(df), seconds


# ---------------------------------------------------------------------------------------------
# The benchmark


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def ratio_row(cfg: hitl_env.Config, args: argparse.Namespace) -> Row:
    """Simulator (``--jobs`` processes) vs SimPy M/M/10, alternated ``--repeats`` times."""
    y_count = s_count = 0
    y_seconds = s_seconds = 0.0
    show = not args.quiet
    for i in range(args.repeats + 1):
        n, s = simpy_mmc(args.yardstick_customers, args.seed + i)
        y_count, y_seconds = y_count + n, y_seconds + s
        _log(f"  SimPy M/M/{SIMPY_SERVERS}: {n:,} customers in {s:.2f} s ({n / s:,.0f}/s)", args.quiet)
        if i == args.repeats:
            break
        n, s = time_simulator(cfg, args.seed, args.jobs, "simulator", show)
        s_count, s_seconds = s_count + n, s_seconds + s
        _log(f"  simulator (n_jobs={args.jobs}): {n:,} chats in {s:.2f} s ({n / s:,.0f}/s)", args.quiet)
    e = cfg.experiment
    return make_row(
        f"simulator, {e.workers} workers x {e.days} days, n_jobs={args.jobs}",
        "chats/s",
        s_count,
        s_seconds,
        f"SimPy M/M/{SIMPY_SERVERS} (load {SIMPY_LOAD})",
        "customers/s",
        y_count / y_seconds,
        RATIO_TARGET,
    )


def full_scale_row(cfg: hitl_env.Config, args: argparse.Namespace) -> Row:
    """The whole experiment on all cores vs the rate that finishes it within the budget."""
    n, s = time_simulator(cfg, args.seed, None, "full scale", not args.quiet)
    _log(f"  full scale (n_jobs=all, {os.cpu_count()} cores): {n:,} chats in {s:.2f} s", args.quiet)
    e = cfg.experiment
    return make_row(
        f"full scale, {e.workers} workers x {e.days} days, n_jobs=all",
        "chats/s",
        n,
        s,
        f"{FULL_BUDGET_S:g} s budget ({n:,} chats)",
        "chats/s",
        n / FULL_BUDGET_S,
        1.0,
    )


def time_env_steps(env_id: str, steps: int, seed: int, **kwargs: Any) -> tuple[int, float]:
    """``steps`` raw steps of a Gymnasium env (action 0, reset at each episode end), timed."""
    import gymnasium as gym

    env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
    env.reset(seed=seed)
    episode = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            episode += 1
            env.reset(seed=seed + episode)
    return steps, time.perf_counter() - t0


def env_rows(args: argparse.Namespace) -> list[Row]:
    """Raw env steps per second of the RL envs against Gymnasium's CartPole-v1."""
    rows = []
    y_count, y_seconds = time_env_steps("CartPole-v1", args.env_steps, args.seed)
    for env_id in (SUPERVISOR_ID, ROUTER_ID):
        n, s = time_env_steps(env_id, args.env_steps, args.seed)
        _log(f"  {env_id}: {n:,} steps in {s:.2f} s ({n / s:,.0f}/s)", args.quiet)
        rows.append(make_row(f"{env_id} raw step", "steps/s", n, s, "CartPole-v1", "steps/s", y_count / y_seconds, 0.1))
    return rows


def format_table(rows: list[Row]) -> str:
    """Plain aligned text: one line per row."""
    head = ["benchmark", "rate", "yardstick", "yardstick rate", "ratio", "target", "status", "wall s"]
    body = [
        [
            r.name,
            f"{r.rate:,.0f} {r.unit}",
            r.yardstick,
            f"{r.yardstick_rate:,.0f} {r.yardstick_unit}",
            f"{r.ratio:.3f}",
            f">= {r.target:g}",
            "OK" if r.ok else "below",
            f"{r.seconds:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    numeric = {1, 3, 4, 7}

    def fmt(line: list[str]) -> str:
        cells = (c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([fmt(head), rule, *(fmt(line) for line in body)])


def _nonneg_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _pos_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Simulated chats per second next to a SimPy M/M/10 yardstick measured in the same run.",
    )
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: %(default)s)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted config key (repeatable)"
    )
    p.add_argument(
        "--workers",
        type=_pos_int,
        default=None,
        help=f"workers to simulate (default: {DEFAULT_WORKERS}; with --full, the preset's)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help=f"full scale: the preset's workers and days, also timed on all cores against a {FULL_BUDGET_S:g} s budget",
    )
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the simulator and yardstick (default: 0)")
    p.add_argument("--jobs", type=_pos_int, default=1, help="simulator processes for the ratio row (default: 1)")
    p.add_argument(
        "--env-steps",
        type=_nonneg_int,
        default=20_000,
        help="raw steps per RL env row, against CartPole-v1; 0 skips the env rows (default: %(default)s)",
    )
    p.add_argument(
        "--yardstick-customers",
        type=_pos_int,
        default=DEFAULT_YARDSTICK_CUSTOMERS,
        help="customers per SimPy yardstick run (default: %(default)s)",
    )
    p.add_argument(
        "--repeats", type=_pos_int, default=1, help="simulator runs, each between two yardstick runs (default: 1)"
    )
    p.add_argument("--out", type=output_dir, default=None, metavar="DIR", help="write DIR/bench.json")
    p.add_argument("--fail-below", action="store_true", help="exit 1 when a row misses its target")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = parse_overrides(args.set)
        if args.workers is not None:
            check_shorthands(overrides, {"--workers": ("experiment.workers",)})
            overrides["experiment.workers"] = args.workers
        elif not args.full:
            overrides.setdefault("experiment.workers", DEFAULT_WORKERS)
        cfg = hitl_env.load_config(args.preset, overrides=overrides)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2

    e = cfg.experiment
    _log(f"{PROG}: preset {args.preset}, {e.workers} workers x {e.days} days, seed {args.seed}", args.quiet)
    _log(f"  loading the compiled event loop (not timed): {warm_up(cfg, args.seed):.2f} s", args.quiet)
    rows = [ratio_row(cfg, args)]
    if args.full:
        rows.append(full_scale_row(cfg, args))
    if args.env_steps:
        rows.extend(env_rows(args))

    print(format_table(rows))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {
            "preset": args.preset,
            "overrides": overrides,
            "workers": e.workers,
            "days": e.days,
            "seed": args.seed,
            "jobs": args.jobs,
            "full": args.full,
            "yardstick_customers": args.yardstick_customers,
            "repeats": args.repeats,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hitl_env": hitl_env.__version__,
            "rows": [r.to_dict() for r in rows],
            "ok": all(r.ok for r in rows),
        }
        path = args.out / "bench.json"
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        _log(f"wrote {path}", args.quiet)
    return 1 if args.fail_below and not all(r.ok for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
