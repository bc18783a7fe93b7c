"""``hitl-train``: train a policy on a ``hitl_env`` env from a YAML config.

Example::

    hitl-train configs/train_supervisor.yaml --set total_timesteps=50000 --seed 1 --out runs/sup

Writes to ``DIR``: ``run.json`` (what :func:`agents.learned.load_policy` reads: algorithm, env
id and env kwargs; also the full config, seed, versions, status (``running``, then
``completed``, ``interrupted`` or ``failed``), timesteps, runtime and best evaluation),
``config.yaml`` (the resolved config, loadable as a config), ``final_model.zip``,
``best_model.zip`` (best mean return on the separately seeded evaluation envs),
``eval/evaluations.npz``, ``checkpoints/model_<steps>_steps.zip`` and ``tb/`` (TensorBoard).
Models and ``config.yaml`` are written under temporary names and renamed into place; when the
run ends, ``run.json`` lists every model with its SHA-256 (``files``), and the policy loader
refuses a model that a finished run's ``run.json`` does not list (:func:`agents.learned.check_model`).
A non-empty ``DIR`` is refused unless ``--overwrite`` is given (which first deletes the files a
run writes), or ``--resume`` continues a model of the run in ``DIR``.

On-policy algorithms (PPO, MaskablePPO, A2C) train whole rollouts of ``n_steps * n_envs``
steps: a ``total_timesteps`` that is not a multiple trains up to the next multiple, and the
command says so. A checkpoint is saved after the update of the rollout that reached its step
count (weights, optimizer state and counters of that point: ``model_4096_steps.zip`` is the
model of a run of 4096 steps). ``--resume CHECKPOINT`` continues from it up to
``total_timesteps``, with new episodes (the envs are reset and reseeded from ``seed +
steps``; an episode under way at the checkpoint is not continued), so a resumed run is
reproducible but not identical to the uninterrupted one. Ctrl-C saves
``interrupted_model.zip`` and exits with status 130.

A config with ``backend: rllib`` trains with Ray RLlib instead (:mod:`train.rllib_cli`: ``run.json``,
``config.yaml``, ``progress.csv``, ``checkpoint/``), and ``--tune`` sweeps its ``tune.grid``
with Ray Tune (``tune.csv``).
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import re
import sys
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from hitl_env.cli import output_dir
from hitl_env.config import ConfigError, parse_overrides
from hitl_env.io import OutputError, file_record, prepare_out, write_json, write_text
from train.config import OFF_POLICY, RLlibConfig, TrainConfig, activation, algorithm_class, load_train_config

PROG = "hitl-train"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("config", type=Path, help="training config (YAML), e.g. configs/train_supervisor.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field by dotted key; repeatable")  # fmt: skip
    p.add_argument("--seed", type=int, help="seed of the run (overrides the config's seed)")
    p.add_argument("--out", required=True, type=output_dir, help="output directory (must be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in --out")
    p.add_argument("--resume", type=Path, metavar="MODEL", help="continue from a checkpoint or saved model")
    p.add_argument("--tune", action="store_true",
                   help="backend rllib: sweep the config's tune.grid with Ray Tune, writing tune.csv")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def versions() -> dict[str, str | None]:
    """Versions of Python and the packages a run depends on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("hitl-env", "torch", "stable-baselines3", "sb3-contrib", "gymnasium", "pettingzoo", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def run_record(cfg: TrainConfig, argv: list[str], resume: Path | None) -> dict[str, Any]:
    """``run.json``: the saved-model contract of :mod:`agents.learned`, then the run's details."""
    return {
        "algorithm": cfg.algorithm,
        "env_id": cfg.env.id,
        "env_kwargs": cfg.env.kwargs(),
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "versions": versions(),
        "command": [PROG, *argv],
        "resumed_from": str(resume) if resume else None,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
    }


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flat ``a.b`` keys with TensorBoard-friendly values (lists as text)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v if isinstance(v, (int, float, str, bool)) else str(v)
    return out


def build_model(cfg: TrainConfig, venv: Any, out: Path, resume: Path | None) -> Any:
    """A new model from the config, or the model of ``resume`` continuing on ``venv``."""
    cls = algorithm_class(cfg.algorithm)
    if resume is not None:
        try:
            model = cls.load(resume, env=venv, device="cpu", tensorboard_log=str(out / "tb"))
        except Exception as e:  # another env's spaces, not a model of this algorithm, not a model at all
            message = " ".join(str(e).split()) or type(e).__name__
            raise ConfigError(f"--resume: cannot continue {str(resume)!r} on this config: {message}") from None
        checkpoint = re.fullmatch(r"(.*)_(\d+)_steps\.zip", resume.name)  # CheckpointCallback's names
        if cfg.algorithm in OFF_POLICY and checkpoint:
            buffer = resume.with_name(f"{checkpoint[1]}_replay_buffer_{checkpoint[2]}_steps.pkl")
            if buffer.is_file():
                model.load_replay_buffer(buffer)
        model.set_random_seed((cfg.seed + model.num_timesteps) % 2**31)  # new episodes, reproducibly
        return model
    policy_kwargs = dict(cfg.to_dict()["policy_kwargs"])
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = activation(policy_kwargs["activation_fn"])
    try:
        return cls("MlpPolicy", venv, seed=cfg.seed, device="cpu", verbose=0, tensorboard_log=str(out / "tb"),
                   policy_kwargs=policy_kwargs, **cfg.to_dict()["hyperparameters"])  # fmt: skip
    except (TypeError, ValueError, AssertionError) as e:
        raise ConfigError(f"hyperparameters or policy_kwargs rejected by {cfg.algorithm}: {e}") from None


def callbacks(cfg: TrainConfig, out: Path, quiet: bool, eval_env: Any, resume: bool) -> list[Any]:
    """Statistics, config, progress, checkpoint and evaluation callbacks of a run."""
    from train.callbacks import Checkpoints, ConfigLogger, EpisodeStatsLogger, ProgressBar, SaveBest, eval_callback

    config_yaml = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    cbs = [EpisodeStatsLogger(), ConfigLogger(config_yaml, _flat(cfg.to_dict())), ProgressBar(disable=quiet)]
    if cfg.checkpoint_freq:
        off_policy = cfg.algorithm in OFF_POLICY
        cbs.append(Checkpoints(cfg.checkpoint_freq, out / "checkpoints", save_replay_buffer=off_policy))
    if cfg.eval_freq:
        cbs.append(eval_callback(
            cfg.algorithm == "MaskablePPO", eval_env, n_eval_episodes=cfg.eval_episodes,
            eval_freq=max(cfg.eval_freq // cfg.n_envs, 1), log_path=str(out / "eval"),
            callback_on_new_best=SaveBest(out / "best_model.zip"), deterministic=True, verbose=0,
            eval_seed=cfg.eval_seed,
            resume_from=str(out / "eval" / "evaluations.npz") if resume else None,
        ))  # fmt: skip
    return cbs


def _error(message: str) -> int:
    message = " ".join(message.split())  # one line, whatever the message held (e.g. printed spaces)
    print(f"{PROG}: error: {message if len(message) <= 400 else message[:397] + '...'}", file=sys.stderr)
    return 2


def _configure(args: argparse.Namespace) -> TrainConfig | RLlibConfig:
    overrides = parse_overrides(args.overrides)
    if args.seed is not None:
        overrides["seed"] = args.seed
    cfg = load_train_config(args.config, overrides)
    if isinstance(cfg, RLlibConfig):
        if args.resume is not None:
            raise ConfigError("--resume continues stable-baselines3 runs; backend rllib runs cannot be resumed yet")
        return cfg
    if args.tune:
        raise ConfigError("--tune sweeps configs with backend: rllib (e.g. configs/rllib_supervisor.yaml)")
    if args.resume is not None:
        from agents.learned import run_info

        if not args.resume.is_file():
            raise ConfigError(f"--resume: no saved model at {str(args.resume)!r}")
        try:
            saved = run_info(args.resume, check=False).get("algorithm")
        except ValueError as e:
            raise ConfigError(f"--resume: {e}") from None
        if saved != cfg.algorithm:
            raise ConfigError(f"--resume: the model was trained with {saved}, the config says {cfg.algorithm}")
    return cfg


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        cfg = _configure(args)
    except ConfigError as e:
        return _error(str(e))
    if isinstance(cfg, RLlibConfig):
        from train import rllib_cli

        return rllib_cli.main(cfg, args, argv, versions(), _error)
    import torch

    from train.envs import make_vec_env

    torch.set_num_threads(cfg.torch_threads)
    warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
    out: Path = args.out
    venv = eval_env = None
    code = 130  # unless training ends otherwise: Ctrl-C may come at any point
    try:
        _prepare(args)
        venv = make_vec_env(cfg.env, cfg.n_envs, cfg.seed, cfg.vec_env)
        # evaluations score whole shifts, whatever the training episodes (env.credit)
        eval_cfg = dataclasses.replace(cfg.env, credit="shift")
        eval_env = make_vec_env(eval_cfg, 1, cfg.eval_seed, "dummy") if cfg.eval_freq else None
        model = build_model(cfg, venv, out, args.resume)
        remaining = cfg.total_timesteps - model.num_timesteps
        if remaining <= 0:
            raise ConfigError(f"--resume: the model has {model.num_timesteps} steps, total_timesteps is "
                              f"{cfg.total_timesteps}; raise it with --set total_timesteps=N")  # fmt: skip
        _note_rollouts(model, cfg, remaining)
        record = run_record(cfg, argv, args.resume)
        write_json(out / "run.json", record)
        write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        code = _learn(model, cfg, args, out, record, eval_env, remaining)
    except (ConfigError, OutputError) as e:
        code = _error(str(e))
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted before training started", file=sys.stderr)
    finally:
        for env in (venv, eval_env):
            _close(env, stop=code == 130)
    return code


def _prepare(args: argparse.Namespace) -> None:
    """Ready ``--out``: empty, cleared with ``--overwrite``, or the folder of the run ``--resume`` continues."""
    out: Path = args.out
    continues = args.resume is not None and out.resolve() in (args.resume.resolve().parent,
                                                               args.resume.resolve().parent.parent)  # fmt: skip
    if continues and args.overwrite:
        raise OutputError("--overwrite would delete the run that --resume continues; give another --out")
    if continues:
        return
    prepare_out(out, PROG, args.overwrite)


def _note_rollouts(model: Any, cfg: TrainConfig, remaining: int) -> None:
    """Say so when an on-policy run will train past ``total_timesteps`` (it trains whole rollouts)."""
    rollout = getattr(model, "n_steps", None)
    if cfg.algorithm in OFF_POLICY or not rollout:
        return
    rollout *= cfg.n_envs
    steps = -(-remaining // rollout) * rollout
    if steps != remaining:
        print(f"{PROG}: note: {cfg.algorithm} trains whole rollouts of {rollout} steps (n_steps * n_envs): "
              f"{model.num_timesteps + steps} steps, not total_timesteps={cfg.total_timesteps}",
              file=sys.stderr)  # fmt: skip


def _learn(model: Any, cfg: TrainConfig, args: argparse.Namespace, out: Path, record: dict[str, Any],
           eval_env: Any, remaining: int) -> int:  # fmt: skip
    cbs, t0 = callbacks(cfg, out, args.quiet, eval_env, args.resume is not None), time.perf_counter()
    try:
        interval = {"log_interval": cfg.log_interval} if cfg.log_interval else {}
        model.learn(remaining, callback=cbs, reset_num_timesteps=args.resume is None, tb_log_name=cfg.algorithm,
                    **interval)  # fmt: skip
    except KeyboardInterrupt:
        from train.callbacks import ProgressBar

        for c in cbs:
            if isinstance(c, ProgressBar):
                c.close()
        save_model(model, out / "interrupted_model.zip")
        _finish(out, record, model, cbs, "interrupted", t0)
        print(f"\n{PROG}: interrupted at {model.num_timesteps:,} steps; saved {out / 'interrupted_model.zip'}",
              file=sys.stderr)  # fmt: skip
        return 130
    except Exception:
        _finish(out, record, model, cbs, "failed", t0)  # run.json must not say "running" forever
        raise
    save_model(model, out / "final_model.zip")
    best = _finish(out, record, model, cbs, "completed", t0)
    best_text = f"; best eval mean return {best:.2f}" if best is not None else ""
    print(f"trained {cfg.algorithm} on {cfg.env.id} for {model.num_timesteps:,} steps in "
          f"{time.perf_counter() - t0:.0f} s{best_text} -> {out}")  # fmt: skip
    return 0


def _finish(out: Path, record: dict[str, Any], model: Any, cbs: list[Any], status: str, t0: float) -> float | None:
    """Complete ``run.json`` with the outcome; the best evaluation's mean return (None without one)."""
    best = next((float(c.best_mean_reward) for c in cbs if hasattr(c, "best_mean_reward")), None)
    if best is not None and best == float("-inf"):
        best = None
    record.update(status=status, num_timesteps=int(model.num_timesteps),
                  runtime_s=round(time.perf_counter() - t0, 2), best_eval_mean_reward=best,
                  files=run_files(out))  # fmt: skip
    write_json(out / "run.json", record)
    return best


def run_files(out: Path) -> dict[str, Any]:
    """Each model, replay buffer, evaluation log and config of a run folder, with its size and SHA-256."""
    patterns = ("*.zip", "checkpoints/*.zip", "checkpoints/*.pkl", "eval/evaluations.npz", "config.yaml")
    paths = sorted({p for pattern in patterns for p in out.glob(pattern) if not p.name.startswith(".")})
    return {p.relative_to(out).as_posix(): file_record(p) for p in paths}


def save_model(model: Any, path: Path) -> None:
    """``model.save`` under a temporary name, renamed into place."""
    from hitl_env.io import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)


def _close(env: Any, stop: bool) -> None:
    """Close a vector env; ``stop``: terminate its workers instead (after Ctrl-C a step may be half-read)."""
    if env is None:
        return
    workers = getattr(env.venv, "processes", [])
    if stop and workers:
        for p in workers:
            p.terminate()
        for p in workers:
            p.join(5)
        env.venv.closed = True
    else:
        env.close()


if __name__ == "__main__":
    raise SystemExit(main())
