"""The end-to-end rows of ``hitl-bench``: what users wait for.

* **Training**: ``hitl-train``'s learning loop on a training config (the main job's,
  ``configs/train_supervisor.yaml``, by default) for a short budget, built by hitl-train's own
  functions (``make_vec_env``, ``build_model``, ``callbacks``; no evaluation or checkpoints),
  next to stable-baselines3 PPO on CartPole-v1 with the same vector env, network and
  hyperparameters, alternated in the same run. The env's share is the share of ``learn``'s
  wall time the learner spends waiting on the vector env (``reset``, ``step``,
  ``env_method``, e.g. the action masks): with ``vec_env: subproc`` the envs step in worker
  processes, pipes included.
* **Commands**: a command run in a child process (this interpreter, this checkout), its wall
  time and its peak memory: ``ru_maxrss`` of ``os.wait4``, the largest resident set of the
  process and the children it waited for (one process, not their sum).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import hitl_env

ROOT = Path(hitl_env.__file__).resolve().parents[1]
TRAIN_CONFIG = ROOT / "configs" / "train_supervisor.yaml"
RCT_ONE_SEED_BUDGET_S = 30.0
"""``hitl-rct`` at full scale, one seed, end to end."""
RCT_SEED_BUDGET_S = 15.0
"""``hitl-rct --seeds N --no-records`` at full scale, per seed (20 seeds in 5 minutes)."""


@dataclass
class TrainRow:
    """Training steps per second of one learner, pooled over its runs."""

    name: str
    algorithm: str
    env: str
    steps: int
    seconds: float  # wall seconds inside learn(), all runs
    env_seconds: float  # of those, waiting on the vector env
    runs: int
    rate: float = 0.0
    env_share: float = 0.0
    ratio: float | None = None  # rate over the yardstick's (the SB3 CartPole row has none)

    def __post_init__(self) -> None:
        self.rate = self.steps / self.seconds if self.seconds > 0 else float("inf")
        self.env_share = self.env_seconds / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _timed_vec_env(venv: Any) -> Any:
    """``venv`` wrapped so that the seconds spent in it add up in ``.env_s``."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Timed(VecEnvWrapper):
        env_s = 0.0

        def _timed(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.env_s += time.perf_counter() - t

        def reset(self) -> Any:
            return self._timed(self.venv.reset)

        def step_async(self, actions: Any) -> None:
            self._timed(self.venv.step_async, actions)

        def step_wait(self) -> Any:
            return self._timed(self.venv.step_wait)

        def env_method(self, *args: Any, **kwargs: Any) -> Any:
            return self._timed(self.venv.env_method, *args, **kwargs)

    return Timed(venv)


def train_config(path: str | Path, overrides: Mapping[str, Any], steps: int) -> Any:
    """The training config of ``path`` with ``overrides``, ``steps`` steps, no evaluation or checkpoints."""
    from train.config import load_train_config

    return load_train_config(path, {**overrides, "total_timesteps": steps, "eval_freq": 0, "checkpoint_freq": 0})


def run_hitl_train(cfg: Any) -> tuple[int, float, float]:
    """One ``hitl-train`` learning loop on ``cfg``; (steps, learn seconds, env seconds)."""
    import torch

    from train.cli import build_model, callbacks
    from train.envs import make_vec_env

    torch.set_num_threads(cfg.torch_threads)
    venv = _timed_vec_env(make_vec_env(cfg.env, cfg.n_envs, cfg.seed, cfg.vec_env))
    try:
        with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp:
            model = build_model(cfg, venv, Path(tmp), None)
            cbs = callbacks(cfg, Path(tmp), True, None, False)
            venv.env_s = 0.0
            t0 = time.perf_counter()
            model.learn(cfg.total_timesteps, callback=cbs)
            seconds = time.perf_counter() - t0
            return int(model.num_timesteps), seconds, venv.env_s
    finally:
        venv.close()


def run_sb3_cartpole(cfg: Any) -> tuple[int, float, float]:
    """SB3 PPO on CartPole-v1 with ``cfg``'s vector env, network and hyperparameters; as above."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from train.config import activation

    torch.set_num_threads(cfg.torch_threads)
    vec_cls = SubprocVecEnv if cfg.vec_env == "subproc" and cfg.n_envs > 1 else DummyVecEnv
    venv = _timed_vec_env(make_vec_env("CartPole-v1", n_envs=cfg.n_envs, seed=cfg.seed, vec_env_cls=vec_cls))
    policy_kwargs = dict(cfg.to_dict()["policy_kwargs"])
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = activation(policy_kwargs["activation_fn"])
    try:
        model = PPO("MlpPolicy", venv, seed=cfg.seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs,
                    **_ppo_hyperparameters(cfg))  # fmt: skip
        venv.env_s = 0.0
        t0 = time.perf_counter()
        model.learn(cfg.total_timesteps)
        return int(model.num_timesteps), time.perf_counter() - t0, venv.env_s
    finally:
        venv.close()


def _ppo_hyperparameters(cfg: Any) -> dict[str, Any]:
    """``cfg``'s hyperparameters that plain PPO takes (a MaskablePPO config's are PPO's)."""
    import inspect

    from stable_baselines3 import PPO

    accepted = inspect.signature(PPO.__init__).parameters
    return {k: v for k, v in cfg.to_dict()["hyperparameters"].items() if k in accepted}


def train_rows(
    path: str | Path, overrides: Mapping[str, Any], steps: int, repeats: int, log: Callable[[str], None] | None = None
) -> list[TrainRow]:
    """``hitl-train`` next to SB3 PPO on CartPole-v1, alternated ``repeats`` times (CartPole first)."""
    cfg = train_config(path, overrides, steps)
    totals = {"pole": [0, 0.0, 0.0], "hitl": [0, 0.0, 0.0]}
    for r in range(repeats):
        for key, run in (("pole", run_sb3_cartpole), ("hitl", run_hitl_train)):
            n, s, e = run(cfg)
            totals[key] = [totals[key][0] + n, totals[key][1] + s, totals[key][2] + e]
            if log:
                name = "SB3 PPO CartPole-v1" if key == "pole" else f"hitl-train {cfg.algorithm} {cfg.env.id}"
                log(f"  {name} run {r + 1}: {n:,} steps in {s:.2f} s ({n / s:,.0f}/s), env {100 * e / s:.0f}%")
    pole = TrainRow("SB3 PPO on CartPole-v1 (yardstick)", "PPO", "CartPole-v1", *totals["pole"], repeats)
    hitl = TrainRow(f"hitl-train on {Path(path).name}", cfg.algorithm, cfg.env.id, *totals["hitl"], repeats)
    hitl.ratio = hitl.rate / pole.rate
    return [pole, hitl]


# ---------------------------------------------------------------------------------------------
# Commands in a child process


@dataclass
class CommandRow:
    """One command run in a child process: wall time, peak memory, exit status."""

    name: str
    command: list[str]
    seconds: float
    peak_mb: float  # ru_maxrss: the largest process of the command's tree
    returncode: int
    budget_s: float | None = None  # the wall time it should stay within

    @property
    def ok(self) -> bool | None:
        if self.returncode != 0:
            return False
        return None if self.budget_s is None else self.seconds <= self.budget_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def run_command(name: str, module: str, args: list[str], budget_s: float | None = None) -> CommandRow:
    """``python -m module args`` in a child process running this checkout; its wall time and peak memory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-m", module, *args]
    with tempfile.TemporaryFile() as err_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
    if code != 0:
        print(f"hitl-bench: {name} exited with {code}: {' '.join(err.split())[-300:]}", file=sys.stderr)
    return CommandRow(name, [module, *args], seconds, usage.ru_maxrss / 1024.0, code, budget_s)


def command_rows(preset: str, seed: int, memory: bool, rct_seeds: int, log: Callable[[str], None]) -> list[CommandRow]:
    """The full-scale commands in child processes: ``hitl-sim`` and ``hitl-rct`` one seed (``memory``),
    ``hitl-rct --seeds rct_seeds --no-records`` (when ``rct_seeds``)."""
    runs: list[tuple[str, str, list[str], float | None]] = []
    if memory:
        runs += [
            ("hitl-sim, full scale", "hitl_env.cli", ["--seed", str(seed)], None),
            ("hitl-rct, full scale, one seed", "eval.rct", ["--seed", str(seed)], RCT_ONE_SEED_BUDGET_S),
        ]
    if rct_seeds:
        args = ["--seed", str(seed), "--seeds", str(rct_seeds), "--no-records"]
        runs.append((f"hitl-rct --seeds {rct_seeds} --no-records", "eval.rct", args, RCT_SEED_BUDGET_S * rct_seeds))
    rows = []
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp:
        for i, (name, module, extra, budget) in enumerate(runs):
            row = run_command(name, module, [*extra, "--preset", preset, "--out", f"{tmp}/{i}", "--quiet"], budget)
            log(f"  {name}: {row.seconds:.1f} s, peak {row.peak_mb:,.0f} MB, exit {row.returncode}")
            rows.append(row)
    return rows


def _table(head: list[str], body: list[list[str]], numeric: set[int]) -> str:
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def fmt(line: list[str]) -> str:
        cells = (c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    return "\n".join([fmt(head), rule, *(fmt(line) for line in body)])


def format_train_table(rows: list[TrainRow]) -> str:
    """Training steps per second, the env's share, and the ratio to the SB3 CartPole yardstick."""
    head = ["training", "algorithm", "env", "steps/s", "env share", "ratio", "steps", "learn s", "runs"]
    body = [
        [r.name, r.algorithm, r.env, f"{r.rate:,.0f}", f"{100 * r.env_share:.0f}%",
         "-" if r.ratio is None else f"{r.ratio:.3f}", f"{r.steps:,}", f"{r.seconds:.2f}", str(r.runs)]
        for r in rows
    ]  # fmt: skip
    note = "env share: of learn()'s wall time, the learner waiting on the vector env (reset, step, action masks)"
    return _table(head, body, {3, 4, 5, 6, 7, 8}) + "\n" + note


def format_command_table(rows: list[CommandRow]) -> str:
    """Each command's wall time, peak memory and budget."""
    head = ["command", "wall s", "peak MB", "budget s", "status"]
    body = [
        [r.name, f"{r.seconds:.1f}", f"{r.peak_mb:,.0f}", "-" if r.budget_s is None else f"<= {r.budget_s:g}",
         {None: "-", True: "OK", False: "below" if r.returncode == 0 else f"exit {r.returncode}"}[r.ok]]
        for r in rows
    ]  # fmt: skip
    note = "peak MB: ru_maxrss of the command's largest process (its pool workers are separate processes)"
    return _table(head, body, {1, 2}) + "\n" + note
