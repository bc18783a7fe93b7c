"""``hitl-sim``: simulate a preset and write the chat records and a summary.

Example::

    hitl-sim --preset taobao_2024 --workers 50 --days 7 --seed 1 --out runs/demo

Writes ``DIR/records.parquet`` and, last, ``DIR/summary.json`` (the manifest: seed, config,
command, ``"status": "complete"`` and the records' row count and SHA-256), each under a
temporary name renamed into place (:mod:`hitl_env.io`). A non-empty ``DIR`` is refused unless
``--overwrite`` is given. Exit codes: 0 done, 2 a usage, config or output error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from hitl_env.config import Config, ConfigError, load_config, override_keys, parse_overrides, with_overrides
from hitl_env.io import OutputError, atomic_path, command_line, finite_or_none, prepare_out, write_manifest
from hitl_env.procs import interrupted
from hitl_env.sim.run import simulate
from hitl_env.sim.size import TooLarge, check_size
from hitl_env.sim.team import ESCALATIONS

PROG = "hitl-sim"
__all__ = ["PROG", "build_parser", "check_shorthands", "config_from_args", "finite_or_none", "main", "output_dir"]

OUTCOMES = (
    "duration_s", "rounds", "messages", "reply_lag_mean_s", "wait_s", "queue_wait_s", "concurrency",
    "switch_aways", "away_time_s", "rating", "rated", "retrial", "resolved", "abandoned",
)  # fmt: skip


def output_dir(value: str) -> Path:
    """An ``--out`` argument (an argparse ``type``): a directory that exists or can be created.

    Checked when the command line is parsed, so a bad path is a usage error before any work.
    """
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path; give a directory (. for the current one)")
    path = Path(value)
    nearest = next(p for p in (path, *path.parents) if p.exists())
    if not nearest.is_dir():
        where = "" if nearest == path else f" ({str(nearest)!r} is a file)"
        raise argparse.ArgumentTypeError(f"{value!r} cannot be a directory{where}")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{value!r}: no permission to write in {str(nearest)!r}")
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hitl-sim", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: taobao_2024)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field by dotted key; repeatable")  # fmt: skip
    p.add_argument("--days", type=int, help="total days; split pre/post in the preset's proportion")
    p.add_argument("--workers", type=int, help="number of workers (experiment.workers)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--out", required=True, type=output_dir, help="output directory (must be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def check_shorthands(overrides: dict[str, Any], given: dict[str, tuple[str, ...]]) -> None:
    """Refuse a ``--set`` of a field that a shorthand flag given too sets (which one wins would be a guess).

    Args:
        overrides: the parsed ``--set`` items.
        given: each shorthand flag on the command line, with the dotted keys it sets.
    """
    set_ = override_keys(overrides)  # --set experiment={workers: 3} sets experiment.workers
    for flag, keys in given.items():
        for k in keys:
            if k in set_:
                raise ConfigError(f"{flag} and --set {k} set the same field; give one of them")


def config_from_args(preset: str, overrides: list[str], days: int | None, workers: int | None) -> Config:
    """The config of a command line: preset, then ``--set`` items, then the shorthands."""
    parsed = parse_overrides(overrides)
    check_shorthands(parsed, {flag: keys for flag, keys, v in (
        ("--workers", ("experiment.workers",), workers),
        ("--days", ("experiment.days_pre", "experiment.days_post"), days)) if v is not None})  # fmt: skip
    cfg = load_config(preset, parsed)
    extra: dict[str, Any] = {}
    if workers is not None:
        extra["experiment.workers"] = workers
    if days is not None:
        if days < 1:
            raise ConfigError(f"--days must be at least 1, got {days}")
        e = cfg.experiment
        pre = round(days * e.days_pre / e.days) if e.days else days
        extra.update({"experiment.days_pre": pre, "experiment.days_post": days - pre})
    cfg = with_overrides(cfg, extra) if extra else cfg
    if cfg.experiment.days < 1:
        raise ConfigError("the run has no day: experiment.days_pre + experiment.days_post must be at least 1")
    return cfg


def summarize(df: pd.DataFrame, cfg: Config, runtime_s: float) -> dict[str, Any]:
    """Counts and outcome means of a run (ratings over rated chats)."""
    routed = df[df["routed_ai"]]
    esc = routed["escalation"].value_counts(normalize=True)
    return {
        "n_chats": len(df),
        "n_workers": cfg.experiment.workers,
        "n_treatment": cfg.experiment.n_treated,
        "n_rated": int(df["rated"].sum()),
        "n_eligible": int(df["eligible"].sum()),
        "n_routed_ai": len(routed),
        "means": {k: _mean(df[k]) for k in OUTCOMES},
        "means_by_period": {p: {k: _mean(g[k]) for k in OUTCOMES} for p, g in df.groupby("period", observed=True)},
        "escalation_shares": {k: float(esc.get(k, 0.0)) for k in ESCALATIONS},
        "runtime_s": runtime_s,
        "chats_per_s": len(df) / runtime_s if runtime_s > 0 else None,
    }


def _mean(s: pd.Series) -> float | None:
    m = s.astype(float).mean()
    return None if pd.isna(m) else float(m)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args.preset, args.overrides, args.days, args.workers)
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        if args.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
        check_size(cfg)
        prepare_out(args.out, PROG, args.overwrite)
    except (ConfigError, OutputError, TooLarge) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, cfg, command_line(PROG, argv))
    except KeyboardInterrupt:
        return interrupted(PROG, f"; {args.out} holds no complete run")


def _run(args: argparse.Namespace, cfg: Config, command: list[str]) -> int:
    from tqdm.auto import tqdm

    n_teams = -(-cfg.experiment.workers // cfg.experiment.team_size)
    bar = tqdm(total=n_teams, unit="team", desc="simulating", disable=args.quiet)
    t0 = time.perf_counter()
    try:
        df = simulate(cfg, args.seed, n_jobs=args.jobs, progress=lambda k: bar.update(k - bar.n))
    finally:
        bar.close()
    runtime = time.perf_counter() - t0
    with atomic_path(args.out / "records.parquet") as tmp:
        df.to_parquet(tmp, index=False)
    summary = {"preset": args.preset, "seed": args.seed, **summarize(df, cfg, runtime), "config": cfg.to_dict(),
               "command": command}  # fmt: skip
    write_manifest(args.out, "summary.json", summary, {"records.parquet": len(df)})
    m = {k: float("nan") if v is None else v for k, v in summary["means"].items()}  # None: no chat
    print(
        f"{len(df):,} chats in {runtime:.1f} s ({summary['chats_per_s']:,.0f}/s); "
        f"duration {m['duration_s']:.0f} s, rating {m['rating']:.2f}, retrial {m['retrial']:.1%} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
