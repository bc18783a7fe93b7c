"""Training with Ray RLlib (new API stack, PPO): the single-agent envs masked, and the team with a
router policy and one supervisor policy shared by the workers, through a policy mapping.

``hitl-train CONFIG`` runs a config with ``backend: rllib`` (:class:`train.config.RLlibConfig`)
through :func:`train_run`; ``hitl-train CONFIG --tune`` sweeps its ``tune.grid`` through
:func:`tune_run`. :func:`algo_config` builds the ``PPOConfig``: the env is a class of
:mod:`train.rllib_env` (:class:`~train.rllib_env.RLlibEnv` or
:class:`~train.rllib_env.RLlibTeamEnv`), which travels to every env runner by reference and
registers the ``hitl_env`` envs there itself; the RLModule is RLlib's action-masking module
(``ActionMaskingTorchRLModule``), so masked actions are never sampled. :func:`init_ray` joins the
cluster of the config's ``address`` (or ``RAY_ADDRESS``), else starts a local Ray.
:func:`team_config` and :func:`train_team` are the same for the team from Python. A checkpoint
is read back by :mod:`agents.rllib` (``hitl-eval``, ``hitl-rct``). Requires ``pip install
'hitl-env[rllib]'``; ray is imported only here, only when a run starts.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hitl_env.multi_agent import ROUTER
from train.config import TEAM_ID, RLlibConfig, build

POLICIES = ("router", "supervisor")
"""The team's policies (module ids of a team checkpoint); a single-agent checkpoint has ``default_policy``."""
PROGRESS_COLUMNS = ("iteration", "env_steps", "episodes", "episode_return_mean", "router_return_mean",
                    "supervisor_return_mean", "seconds")  # fmt: skip


def policy_of(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """The policy an agent acts with: ``router``, or the ``supervisor`` policy every worker shares."""
    return "router" if agent_id == ROUTER else "supervisor"


def algo_config(cfg: RLlibConfig) -> Any:
    """The RLlib ``PPOConfig`` of a run's config."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    from train.rllib_env import RLlibEnv, RLlibTeamEnv

    kwargs = cfg.env.kwargs()
    module = RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=cfg.to_dict()["model"])
    config = (
        PPOConfig()
        .env_runners(num_env_runners=cfg.num_env_runners, num_envs_per_env_runner=cfg.num_envs_per_env_runner)
        .training(**cfg.to_dict()["hyperparameters"])
        .debugging(seed=cfg.seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=20)
    )
    if cfg.env.id == TEAM_ID:
        return (
            config.environment(RLlibTeamEnv, env_config=kwargs)
            .multi_agent(policies=set(POLICIES), policy_mapping_fn=policy_of)
            .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=dict.fromkeys(POLICIES, module)))
        )
    return config.environment(RLlibEnv, env_config={"env_id": cfg.env.id, **kwargs}).rl_module(rl_module_spec=module)


def init_ray(cfg: RLlibConfig | None = None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at the config's ``address`` (or ``RAY_ADDRESS``), else start a local Ray.

    ``address: auto`` joins the cluster ``ray start`` runs on this machine; without an address a
    new local Ray starts even where one runs.
    A local Ray gets at least one CPU per env runner and one for the learner, so a run of more
    env runners than cores starts (they share the cores). Does nothing if Ray is already up.
    """
    import ray

    if ray.is_initialized():
        return
    address = (cfg.address if cfg is not None else None) or os.environ.get("RAY_ADDRESS") or None
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address:
        ray.init(address=address, **quiet)
        return
    runners = cfg.num_env_runners if cfg is not None else 0
    # "local": a new Ray, never a cluster that `ray start` left on this machine (address "auto" joins that)
    ray.init(address="local", num_cpus=num_cpus or max(os.cpu_count() or 1, runners + 1), **quiet)


def iteration_row(result: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """One row of ``progress.csv`` from an RLlib training result."""
    runners = result.get("env_runners", {})
    agents = runners.get("agent_episode_returns_mean") or {}
    supervisors = [v for k, v in agents.items() if k != ROUTER]
    return {
        "iteration": int(result.get("training_iteration", 0)),
        "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
        "episodes": int(runners.get("num_episodes_lifetime", 0)),
        "episode_return_mean": _number(runners.get("episode_return_mean")),
        "router_return_mean": _number(agents.get(ROUTER)),
        "supervisor_return_mean": _number(sum(supervisors) / len(supervisors)) if supervisors else None,
        "seconds": round(seconds, 3),
    }


def _number(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def train_run(cfg: RLlibConfig, out: Path, on_iteration: Callable[[dict[str, Any]], None] | None = None,
              checkpoint: str = "checkpoint") -> tuple[list[dict[str, Any]], Path]:  # fmt: skip
    """Train ``cfg.iterations`` iterations, logging each to ``out/progress.csv``; save the checkpoint.

    Ctrl-C (KeyboardInterrupt) saves the checkpoint of the last finished iteration, then
    re-raises. Returns the rows of ``progress.csv`` and the checkpoint's folder ``out/checkpoint``.
    """
    import torch

    torch.set_num_threads(cfg.torch_threads)
    init_ray(cfg)
    algo = algo_config(cfg).build_algo()
    rows: list[dict[str, Any]] = []
    path = Path(out).resolve() / checkpoint
    try:
        t0 = time.perf_counter()
        with _CsvLog(Path(out) / "progress.csv") as log:
            try:
                for _ in range(cfg.iterations):
                    rows.append(iteration_row(algo.train(), time.perf_counter() - t0))
                    log.write(rows[-1])
                    if on_iteration is not None:
                        on_iteration(rows[-1])
            finally:
                _save(algo, path)
    finally:
        algo.stop()
    return rows, path


def _save(algo: Any, path: Path) -> None:
    """``algo.save`` into a temporary folder, renamed into place (a checkpoint is whole or absent)."""
    import shutil

    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


class _CsvLog:
    """``progress.csv``, one row per iteration, flushed as it goes (read it while training runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _CsvLog:
        self.file = open(self.path, "w", newline="")
        self.writer = csv.DictWriter(self.file, PROGRESS_COLUMNS)
        self.writer.writeheader()
        return self

    def write(self, row: Mapping[str, Any]) -> None:
        self.writer.writerow(row)
        self.file.flush()

    def __exit__(self, *exc: Any) -> None:
        self.file.close()


# ----------------------------------------------------------------------------- Tune
def tune_run(cfg: RLlibConfig, out: Path) -> list[dict[str, Any]]:
    """Sweep ``cfg.tune.grid`` with Ray Tune: one trial per grid point, ``cfg.iterations`` iterations each.

    Each trial trains the config with its grid point set (validated before anything starts, by
    :func:`train.config.build`), seeded with the config's seed. Tune's own files go to
    ``out/tune``; returns one row per trial, in grid order: the grid point, then the last
    iteration's :func:`iteration_row`.
    """
    from ray import tune
    from ray.rllib.algorithms.ppo import PPO

    base = {k: v for k, v in cfg.to_dict().items() if k != "tune"}
    points = cfg.grid() or [{}]
    init_ray(cfg)
    resources = PPO.default_resource_request(algo_config(cfg))
    trainable = tune.with_resources(_trainable, resources)
    concurrent = int(cfg.tune.get("max_concurrent_trials", 0)) or None
    tuner = tune.Tuner(
        tune.with_parameters(trainable, base=base),
        param_space={"point": tune.grid_search(list(range(len(points)))), "points": points},
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrent, reuse_actors=False),
        run_config=tune.RunConfig(
            storage_path=str(Path(out).resolve() / "tune"), name="sweep", verbose=0,
            stop={"training_iteration": cfg.iterations},
        ),
    )  # fmt: skip
    results = tuner.fit()
    rows = []
    for result in results:
        if result.error is not None:
            raise RuntimeError(f"trial {result.config['point']} failed: {result.error}")
        point = points[result.config["point"]]
        metrics = {k: result.metrics.get(k) for k in PROGRESS_COLUMNS}
        rows.append({"trial": result.config["point"], **point, **metrics})
    return sorted(rows, key=lambda r: r["trial"])


def _trainable(config: dict[str, Any], base: dict[str, Any]) -> None:
    """One Tune trial: the config at grid point ``config["point"]``, reporting each iteration."""
    from ray import tune

    from hitl_env.config import apply_overrides

    cfg = build(apply_overrides(base, config["points"][config["point"]]))
    import torch

    torch.set_num_threads(cfg.torch_threads)
    algo = algo_config(cfg).build_algo()
    try:
        t0 = time.perf_counter()
        for _ in range(cfg.iterations):
            tune.report(iteration_row(algo.train(), time.perf_counter() - t0))
    finally:
        algo.stop()


# ----------------------------------------------------------------------------- from Python
def team_config(env_config: dict[str, Any] | None = None, num_env_runners: int = 2, hidden: int = 64,
                train_batch: int = 2000, minibatch: int = 250, epochs: int = 4, seed: int = 0) -> Any:  # fmt: skip
    """The RLlib PPO config of the team (``env_config``: the team env's arguments)."""
    cfg = build({
        "backend": "rllib", "env": {"id": TEAM_ID, **(env_config or {})}, "num_env_runners": num_env_runners,
        "seed": seed, "model": {"fcnet_hiddens": [hidden, hidden]},
        "hyperparameters": {"train_batch_size_per_learner": train_batch, "minibatch_size": minibatch,
                            "num_epochs": epochs},
    })  # fmt: skip
    return algo_config(cfg)


def train_team(config: Any, iterations: int, out: Path) -> tuple[list[dict[str, Any]], Path]:
    """Train ``iterations`` iterations and save a checkpoint in ``out``; each iteration's results."""
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(iterations)]
        path = Path(algo.save(str(Path(out).resolve())).checkpoint.path)
    finally:
        algo.stop()
    return results, path
