"""``hitl-bench``: how fast the simulator, the envs and training run, next to yardsticks timed in the same run.

One command prints every table (the slow ones behind flags) and ``--out DIR`` writes them all to
``DIR/bench.json``:

* **simulator vs SimPy M/M/10**: simulated chats per wall second (``--jobs`` processes, one by
  default) next to customers per wall second of a classic process-based SimPy M/M/10 queue at
  load 0.9, run in the same process. Target ratio: 2.5 or more.
* **full scale** (``--full``): the whole experiment (the preset's 647 workers and 31 days) on all
  cores, next to the rate that finishes it in 60 s.
* **envs** (:mod:`eval.bench_envs`; ``--env-steps 0`` skips them): ``Supervisor-v2``,
  ``Router-v3`` and the PettingZoo team env (AEC and parallel) under four action mixes (masked
  ``action_space.sample()``, unmasked ``action_space.sample()``, the paper's policies, always 0),
  each next to CartPole-v1 stepped by the same loop and mix, with the split between reset and
  step time.
* **training** (:mod:`eval.bench_e2e`; ``--train-steps 0`` skips it): ``hitl-train``'s steps per
  second on the main job's config and the env's share of its wall time, next to SB3 PPO on
  CartPole-v1 with the same settings.
* **RLlib** (:mod:`eval.bench_rllib`, ``--rllib``): RLlib PPO's env steps per second on
  ``Supervisor-v2`` with 1 and 2 env runners, next to ``hitl-train``'s SB3 loop on the same env
  and batch.
* **commands** (``--memory``, ``--rct-seeds N``): ``hitl-sim`` and ``hitl-rct`` at full scale in
  child processes, their wall time and peak memory; ``hitl-rct --seeds N --no-records``'s wall
  time. ``--all`` turns on ``--full --memory --rct-seeds 20`` (about 10 minutes on 2 cores).

Yardsticks and measured runs alternate (yardstick, measured, yardstick, ...) ``--repeats`` times
and each rate pools its runs (total items over total seconds), so a busy neighbour on a shared
machine slows both sides alike; the env table also gives the spread of the per-repeat ratios.

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
from eval.bench_e2e import (
    RCT_ONE_SEED_BUDGET_S,
    RCT_SEED_BUDGET_S,
    TRAIN_CONFIG,
    command_rows,
    format_command_table,
    format_train_table,
    train_config,
    train_rows,
)
from eval.bench_envs import env_table, format_env_table
from hitl_env.cli import check_shorthands, output_dir
from hitl_env.config import ConfigError, parse_overrides, with_overrides
from hitl_env.io import OutputError, command_line, prepare_out, write_json
from hitl_env.procs import interrupted

PROG = "hitl-bench"
DEFAULT_WORKERS = 100
DEFAULT_YARDSTICK_CUSTOMERS = 200_000
SIMPY_SERVERS = 10
SIMPY_LOAD = 0.9
RATIO_TARGET = 2.5
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
        description="How fast the simulator, the envs and training run, next to yardsticks timed in the same run.",
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
        default=10_000,
        help="steps per env, action mix and repeat, against CartPole-v1; 0 skips the env table (default: %(default)s)",
    )
    p.add_argument(
        "--yardstick-customers",
        type=_pos_int,
        default=DEFAULT_YARDSTICK_CUSTOMERS,
        help="customers per SimPy yardstick run (default: %(default)s)",
    )
    p.add_argument(
        "--repeats",
        type=_pos_int,
        default=3,
        help="timed runs of each measured side, alternated with its yardstick's (default: %(default)s)",
    )
    p.add_argument(
        "--train-steps",
        type=_nonneg_int,
        default=4096,
        help="hitl-train steps per run, against SB3 PPO on CartPole-v1; 0 skips training (default: %(default)s)",
    )
    p.add_argument(
        "--train-config", default=str(TRAIN_CONFIG), metavar="YAML", help="hitl-train config (default: the main job's)"
    )
    p.add_argument(
        "--train-set", action="append", default=[], metavar="KEY=VALUE", help="override a training config key"
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help=f"hitl-sim and hitl-rct (one seed) at full scale in child processes: wall time and peak memory "
        f"(hitl-rct's budget {RCT_ONE_SEED_BUDGET_S:g} s; about a minute on 2 cores)",
    )
    p.add_argument(
        "--rct-seeds",
        type=_nonneg_int,
        default=0,
        metavar="N",
        help=f"time hitl-rct --seeds N --no-records at full scale (budget {RCT_SEED_BUDGET_S:g} s a seed; "
        "20 takes minutes); 0 skips it (default)",
    )
    p.add_argument(
        "--rllib",
        action="store_true",
        help="RLlib PPO's env steps/s with 1 and 2 env runners next to SB3's on Supervisor-v2 (needs the rllib "
        "extra; about 2 minutes)",
    )
    p.add_argument(
        "--rllib-batch", type=_pos_int, default=2048, help="env steps an update, every learner (default: %(default)s)"
    )
    p.add_argument(
        "--rllib-iterations",
        type=_pos_int,
        default=4,
        help="updates a learner, the first untimed (default: %(default)s)",
    )
    p.add_argument("--all", action="store_true", help="--full --memory --rct-seeds 20")
    p.add_argument("--out", type=output_dir, default=None, metavar="DIR", help="write DIR/bench.json (DIR empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier bench.json in --out")
    p.add_argument("--fail-below", action="store_true", help="exit 1 when a row misses its target")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.all:
        args.full, args.memory, args.rct_seeds = True, True, args.rct_seeds or 20
    try:
        overrides = parse_overrides(args.set)
        if args.workers is not None:
            check_shorthands(overrides, {"--workers": ("experiment.workers",)})
            overrides["experiment.workers"] = args.workers
        elif not args.full:
            overrides.setdefault("experiment.workers", DEFAULT_WORKERS)
        cfg = hitl_env.load_config(args.preset, overrides=overrides)
        args.train_overrides = parse_overrides(args.train_set)
        if args.train_steps:
            train_config(args.train_config, args.train_overrides, args.train_steps)  # refuse a bad one before any work
        if args.rllib:
            from train.config import rllib_missing

            if rllib_missing():
                raise ConfigError(f"--rllib: {rllib_missing()}")
            if args.rllib_iterations < 2 or args.rllib_batch < 2 * 256:
                raise ConfigError("--rllib needs --rllib-iterations of at least 2 and --rllib-batch of at least 512")
        if args.out is not None:
            prepare_out(args.out, PROG, args.overwrite)
    except (ConfigError, OutputError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, cfg, overrides)
    except KeyboardInterrupt:
        return interrupted(PROG)


def _run(args: argparse.Namespace, cfg: hitl_env.Config, overrides: dict) -> int:
    def log(msg: str) -> None:
        _log(msg, args.quiet)

    e = cfg.experiment
    log(f"{PROG}: preset {args.preset}, {e.workers} workers x {e.days} days, seed {args.seed}, {args.repeats} repeats")
    log(f"  loading the compiled event loop (not timed): {warm_up(cfg, args.seed):.2f} s")
    rows = [ratio_row(cfg, args)]
    if args.full:
        rows.append(full_scale_row(cfg, args))
    print(format_table(rows))
    envs = env_table(args.env_steps, args.repeats, args.seed, log=log) if args.env_steps else []
    if envs:
        print(f"\nenvs ({args.env_steps:,} steps per env, mix and repeat; {args.repeats} repeats, interleaved):")
        print(format_env_table(envs))
    training = []
    if args.train_steps:
        training = train_rows(args.train_config, args.train_overrides, args.train_steps, args.repeats, log)
        print(f"\ntraining ({args.train_steps:,} steps a run; {args.repeats} runs each, interleaved):")
        print(format_train_table(training))
    rllib = []
    if args.rllib:
        from eval.bench_rllib import format_rllib_table, rllib_rows

        rllib = rllib_rows(args.rllib_batch, args.rllib_iterations, log)
        print(f"\nRLlib vs SB3 (PPO, {args.rllib_batch:,} steps an update, {args.rllib_iterations - 1} timed updates):")
        print(format_rllib_table(rllib))
    commands = command_rows(args.preset, args.seed, args.memory, args.rct_seeds, log)
    if commands:
        print("\ncommands (child processes, one run each):")
        print(format_command_table(commands))
    verdicts = [r.ok for r in rows] + [r.ok for r in envs] + [r.ok for r in commands]
    ok = all(v is not False for v in verdicts)
    if args.out is not None:
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
            "env_steps": args.env_steps,
            "train_steps": args.train_steps,
            "train_config": args.train_config,
            "train_overrides": args.train_overrides,
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "hitl_env": hitl_env.__version__,
            "rows": [r.to_dict() for r in rows],
            "env_rows": [r.to_dict() for r in envs],
            "train_rows": [r.to_dict() for r in training],
            "command_rows": [r.to_dict() for r in commands],
            "rllib_rows": [r.to_dict() for r in rllib],
            "ok": ok,
            "command": command_line(PROG, args.argv),
            "status": "complete",
        }
        path = args.out / "bench.json"
        write_json(path, json.loads(json.dumps(report, default=str)))
        log(f"wrote {path}")
    return 1 if args.fail_below and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
