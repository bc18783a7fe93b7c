"""``hitl-train`` with a ``backend: rllib`` config: a training run, or (``--tune``) a Tune sweep.

A training run writes to ``--out``: ``run.json`` (``running`` first; at the end ``completed``,
``interrupted`` or ``failed``, with every file's SHA-256), ``config.yaml``, ``progress.csv``
(one row per iteration, written as it goes) and ``checkpoint/`` (RLlib's checkpoint of the
algorithm, saved whole under a temporary name; :mod:`agents.rllib` loads its modules). A sweep
writes ``config.yaml``, ``tune/`` (Tune's own files), ``tune.csv`` (one row per trial: the grid
point and its last iteration) and ``run.json`` last. ``--out`` follows the rules of every run
folder (:func:`hitl_env.io.prepare_out`).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from hitl_env.io import atomic_path, file_record, prepare_out, write_json, write_text
from train.config import RLlibConfig

PROG = "hitl-train"


def run_record(cfg: RLlibConfig, argv: list[str], versions: dict[str, Any], tune: bool) -> dict[str, Any]:
    """``run.json`` of an RLlib run (its first fields are what :mod:`agents.rllib` reads)."""
    return {
        "backend": "rllib",
        "algorithm": cfg.algorithm,
        "env_id": cfg.env.id,
        "env_kwargs": cfg.env.kwargs(),
        "seed": cfg.seed,
        "tune": tune,
        "config": cfg.to_dict(),
        "versions": {**versions, "ray": _version("ray")},
        "command": [PROG, *argv],
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
    }


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def run_files(out: Path) -> dict[str, Any]:
    """Every file of an RLlib run folder but the manifest (Tune's own folder left out), with size and SHA-256."""
    paths = [p for p in out.rglob("*") if p.is_file() and p.name != "run.json" and not p.name.startswith(".")
             and not p.relative_to(out).as_posix().startswith("tune/")]  # fmt: skip
    return {p.relative_to(out).as_posix(): file_record(p) for p in sorted(paths)}


def main(cfg: RLlibConfig, args: argparse.Namespace, argv: list[str], versions: dict[str, Any],
         error: Callable[[str], int]) -> int:  # fmt: skip
    """Run ``cfg`` (``args.tune``: sweep it) into ``args.out``; the exit status."""
    from hitl_env.io import OutputError

    out: Path = args.out
    record = run_record(cfg, argv, versions, bool(args.tune))
    t0, ray_was_up = time.perf_counter(), _ray_up()
    try:
        prepare_out(out, PROG, args.overwrite)
        write_json(out / "run.json", record)
        write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if args.tune:
            _tune(cfg, out, record, args.quiet)
        else:
            _train(cfg, out, record, args.quiet)
    except OutputError as e:
        return error(str(e))
    except KeyboardInterrupt:
        _finish(out, record, "interrupted", t0)
        print(f"\n{PROG}: interrupted; the checkpoint of the last finished iteration is in {out / 'checkpoint'}",
              file=sys.stderr)  # fmt: skip
        return 130
    except ConnectionError as e:  # no Ray cluster at the address, or one that refuses us (its auth token)
        _finish(out, record, "failed", t0)
        return error(f"Ray: {e}; start the cluster (ray start --head) or fix address/RAY_ADDRESS (with Ray's token "
                     "authentication, set RAY_AUTH_MODE=token)")  # fmt: skip
    except (ValueError, TypeError, RuntimeError) as e:  # RLlib's and Ray's refusals of a config
        _finish(out, record, "failed", t0)
        return error(f"rllib: {type(e).__name__}: {e}")
    except Exception:
        _finish(out, record, "failed", t0)  # run.json must not say "running" forever
        raise
    finally:
        if not ray_was_up:  # a session the caller started stays up (tests, notebooks)
            _shutdown()
    _finish(out, record, "completed", t0)
    _report(cfg, out, record)
    return 0


def _train(cfg: RLlibConfig, out: Path, record: dict[str, Any], quiet: bool) -> None:
    from tqdm import tqdm

    from train.rllib import train_run

    bar = tqdm(total=cfg.iterations, desc=f"{cfg.algorithm} on {cfg.env.id}", unit="it", disable=quiet,
               file=sys.stderr)  # fmt: skip

    def on_iteration(row: dict[str, Any]) -> None:
        record.update(iterations=row["iteration"], num_env_steps=row["env_steps"],
                      episode_return_mean=row["episode_return_mean"])  # fmt: skip
        ret = row["episode_return_mean"]
        bar.set_postfix(steps=row["env_steps"], ret="-" if ret is None else f"{ret:.1f}", refresh=False)
        bar.update(1)

    try:
        rows, _ = train_run(cfg, out, on_iteration)
    finally:
        bar.close()
    record["checkpoint"] = "checkpoint"
    record["iterations"] = len(rows)


def _tune(cfg: RLlibConfig, out: Path, record: dict[str, Any], quiet: bool) -> None:
    from train.rllib import tune_run

    if not quiet:
        print(f"{PROG}: Tune: {max(len(cfg.grid()), 1)} trials of {cfg.iterations} iterations -> {out / 'tune'}",
              file=sys.stderr)  # fmt: skip
    rows = tune_run(cfg, out)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "tune.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    scored = [r for r in rows if r.get("episode_return_mean") is not None]
    best = max(scored, key=lambda r: r["episode_return_mean"]) if scored else None
    if any(key.startswith("env.reward_weights") for key in cfg.tune.get("grid") or {}):
        best = None  # each trial's return is on its own objective: no ranking across weights
    record.update(trials=len(rows), best_trial=best)


def _finish(out: Path, record: dict[str, Any], status: str, t0: float) -> None:
    record.update(status=status, runtime_s=round(time.perf_counter() - t0, 2), files=run_files(out))
    write_json(out / "run.json", record)


def _report(cfg: RLlibConfig, out: Path, record: dict[str, Any]) -> None:
    seconds = record["runtime_s"]
    if record["tune"]:
        best = record.get("best_trial")
        grid = cfg.grid()[0] if cfg.grid() else {}
        if best:
            point = ", ".join(f"{k}={best[k]}" for k in grid)
            text = f"best: {point} (episode return mean {best['episode_return_mean']:.2f})"
        else:
            text = "no best trial (the grid varies the reward weights, or no episode ended)"
        print(f"swept {record['trials']} trials of {cfg.algorithm} on {cfg.env.id} in {seconds:.0f} s; {text} "
              f"-> {out / 'tune.csv'}")  # fmt: skip
        return
    ret = record.get("episode_return_mean")
    ret_text = f"; episode return mean {ret:.2f}" if ret is not None else ""
    steps = record.get("num_env_steps", 0)
    print(f"trained {cfg.algorithm} (RLlib) on {cfg.env.id} for {record.get('iterations')} iterations, "
          f"{steps:,} env steps, in {seconds:.0f} s{ret_text} -> {out / 'checkpoint'}")  # fmt: skip


def _ray_up() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return bool(ray.is_initialized())


def _shutdown() -> None:
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
