"""``hitl-sim``: simulate a preset and write the chat records and a summary.

Example::

    hitl-sim --preset taobao_2024 --workers 50 --days 7 --seed 1 --out runs/demo
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from hitl_env.config import Config, ConfigError, load_config, override_keys, parse_overrides, with_overrides
from hitl_env.sim.run import simulate
from hitl_env.sim.team import ESCALATIONS

OUTCOMES = (
    "duration_s", "rounds", "messages", "reply_lag_mean_s", "wait_s", "queue_wait_s", "concurrency",
    "switch_aways", "away_time_s", "rating", "rated", "retrial", "resolved", "abandoned",
)  # fmt: skip


def finite_or_none(x: Any) -> Any:
    """``x`` with numpy scalars as Python ones and non-finite floats as None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    if hasattr(x, "item") and not hasattr(x, "__len__"):  # a numpy scalar
        x = x.item()
    return None if isinstance(x, float) and not math.isfinite(x) else x


def output_dir(value: str) -> Path:
    """An ``--out`` argument (an argparse ``type``): a directory that exists or can be created.

    Checked when the command line is parsed, so a bad path is a usage error before any work.
    """
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
    p.add_argument("--out", required=True, type=output_dir, help="output directory")
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
    return with_overrides(cfg, extra) if extra else cfg


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
    except ConfigError as e:
        print(f"hitl-sim: error: {e}", file=sys.stderr)
        return 2
    if args.jobs is not None and args.jobs < 1:
        print("hitl-sim: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.seed < 0:
        print(f"hitl-sim: error: --seed must be a non-negative integer, got {args.seed}", file=sys.stderr)
        return 2
    from tqdm.auto import tqdm

    n_teams = -(-cfg.experiment.workers // cfg.experiment.team_size)
    bar = tqdm(total=n_teams, unit="team", desc="simulating", disable=args.quiet)
    t0 = time.perf_counter()
    df = simulate(cfg, args.seed, n_jobs=args.jobs, progress=lambda k: bar.update(k - bar.n))
    runtime = time.perf_counter() - t0
    bar.close()
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(args.out / "records.parquet", index=False)
    summary = {"preset": args.preset, "seed": args.seed, **summarize(df, cfg, runtime), "config": cfg.to_dict()}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    m = {k: float("nan") if v is None else v for k, v in summary["means"].items()}  # None: no chat
    print(
        f"{len(df):,} chats in {runtime:.1f} s ({summary['chats_per_s']:,.0f}/s); "
        f"duration {m['duration_s']:.0f} s, rating {m['rating']:.2f}, retrial {m['retrial']:.1%} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
