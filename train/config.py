"""The training configuration: one frozen, validated tree, loaded from YAML with overrides.

A run is described by a YAML file (``configs/train_*.yaml``) and ``--set`` overrides by dotted
key (``--set hyperparameters.learning_rate=1e-4``, ``--set env.team_size=3``,
``--set env.overrides.ai.misread=0.2``). Every field is validated when the config is built:
an unknown key, a value of the wrong type or outside its range raises
:class:`~hitl_env.config.ConfigError` naming the key and what is allowed. Algorithm
hyperparameters are checked against the algorithm's constructor, ``policy_kwargs`` against its
policy's, so a typo fails with the list of valid names.

Schema (defaults in :class:`TrainConfig` and :class:`EnvConfig`)::

    algorithm: MaskablePPO          # PPO, MaskablePPO, DQN or A2C
    env:
      id: hitl_env/Supervisor-v2    # or hitl_env/Router-v3, hitl_train/SharedSupervisor-v2
      preset: taobao_2024           # simulator preset name or YAML path
      overrides: {}                 # simulator fields by dotted key, e.g. {ai.misread: 0.2}
      team_size: 10
      shift_hours: 8.0
      start_hour: 9
      reward_weights: {}            # component -> weight; unset ones keep their defaults
      rating: dense                 # or sparse
      router: null                  # SharedSupervisor only: the router's policy spec or model
      scope: ai                     # Supervisor-v2 only: the chats the reward scores (ai or team)
      credit: shift                 # Supervisor-v2, Router-v3: an episode is the shift, or one chat
                                    #   (chat; evaluations during training still score shifts)
    total_timesteps: 100000         # the budget, in env steps (decisions)
    seed: 0
    n_envs: 2
    vec_env: subproc                # or dummy
    torch_threads: 1
    hyperparameters: {}             # keyword arguments of the algorithm
    policy_kwargs: {}               # keyword arguments of its MlpPolicy (net_arch, activation_fn)
    log_interval: 0                 # log every N rollouts (DQN: episodes); 0: PPO 1, A2C 100, DQN 4
    eval_freq: 10000                # env steps between evaluations (0: none)
    eval_episodes: 10
    eval_seed: 1000000              # seed of the evaluation envs, reset before every evaluation
    checkpoint_freq: 50000          # env steps between checkpoints (0: none)

``backend: rllib`` selects Ray RLlib (PPO, new API stack; :mod:`train.rllib`) and its own schema
(defaults in :class:`RLlibConfig`; ``env`` as above, with the team env ``hitl_team_v3`` besides
the single-agent envs, and no ``router``)::

    backend: rllib
    algorithm: PPO
    env: {id: hitl_team_v3, ...}    # or hitl_env/Supervisor-v2, hitl_env/Router-v3
    iterations: 10                  # training iterations (each samples train_batch_size_per_learner steps)
    seed: 0
    num_env_runners: 2              # env runner actors (0: sample in the driver)
    num_envs_per_env_runner: 1
    torch_threads: 1
    address: null                   # HOST:6379, "auto" (this machine's cluster); null: RAY_ADDRESS or a local Ray
    hyperparameters: {}             # keyword arguments of PPOConfig.training (lr, gamma, lambda_, ...)
    model: {}                       # the RLModule's model_config (fcnet_hiddens, fcnet_activation)
    tune:                           # hitl-train --tune: a grid over any keys of this config
      grid: {hyperparameters.lr: [1.0e-4, 3.0e-4], env.reward_weights.rating: [1.0, 20.0]}
      max_concurrent_trials: 0      # 0: as many as the CPUs take
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from agents import learned
from agents.learned import ALGORITHMS
from hitl_env.config import INF, ConfigError, FrozenDict, apply_overrides, param, read_yaml_file
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.base import CREDITS
from hitl_env.envs.supervisor import SCOPES
from hitl_env.multi_agent import TeamParallelEnv
from hitl_env.rewards import RATING_MODES
from train import SHARED_SUPERVISOR_ID

ENV_IDS = (SUPERVISOR_ID, ROUTER_ID, SHARED_SUPERVISOR_ID)
BACKENDS = ("sb3", "rllib")
TEAM_ID = TeamParallelEnv.metadata["name"]
"""The PettingZoo team env (router and supervisors), which the rllib backend trains as a multi-agent env."""
RLLIB_ENV_IDS = (SUPERVISOR_ID, ROUTER_ID, TEAM_ID)
RLLIB_ALGORITHMS = ("PPO",)
VEC_ENVS = ("subproc", "dummy")
OFF_POLICY = ("DQN",)
ACTIVATIONS = ("tanh", "relu", "elu", "leaky_relu", "gelu", "silu")
# constructor arguments set by hitl-train itself, not by the config's hyperparameters
RESERVED = ("self", "policy", "env", "seed", "verbose", "tensorboard_log", "device", "_init_setup_model",
            "policy_kwargs", "stats_window_size")  # fmt: skip


def choice(default: Any, choices: tuple[Any, ...], doc: str = "") -> Any:
    """A field whose value must be one of ``choices``."""
    return field(default=default, metadata={"choices": choices, "doc": doc})


@dataclass(frozen=True)
class EnvConfig:
    """The env a run trains on: its id and the env's keyword arguments."""

    id: str = choice(SUPERVISOR_ID, ENV_IDS, "the env to train on")
    preset: str = param("taobao_2024", doc="simulator preset name or YAML path")
    overrides: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "simulator fields by dotted key"})
    team_size: int = param(10, 1, 1000, "workers in the team of an episode")
    shift_hours: float = param(8.0, 0.01, 24.0, "length of the episode's shift")
    start_hour: int = param(9, 0, 23, "hour the shift starts")
    reward_weights: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "reward component -> weight"})
    rating: str = choice("dense", RATING_MODES, "rating component: every chat's satisfaction, or given ratings")
    router: str | None = param(None, doc="SharedSupervisor only: the router (policy spec or saved model)")
    scope: str = choice("ai", SCOPES, "Supervisor-v2 only: the chats the reward scores (the AI's, or the team's)")
    credit: str = choice("shift", CREDITS, "Supervisor-v2 and Router-v3: an episode is the shift, or one chat")

    def kwargs(self) -> dict[str, Any]:
        """The env's keyword arguments (JSON-ready: the ``env_kwargs`` of ``run.json``)."""
        kw = {k: _thaw(getattr(self, k)) for k in ("preset", "overrides", "team_size", "shift_hours",
                                                    "start_hour", "reward_weights", "rating")}  # fmt: skip
        if self.id == SHARED_SUPERVISOR_ID:
            kw["router"] = self.router or "rule_based"
        for f in fields(self):  # (given only where set: run.json files of older runs lack them)
            if f.name in ("scope", "credit") and getattr(self, f.name) != f.default:
                kw[f.name] = getattr(self, f.name)
        return kw


@dataclass(frozen=True)
class TrainConfig:
    """A training run (see the module docstring for the YAML schema)."""

    backend: str = choice("sb3", BACKENDS, "the training library: sb3 (stable-baselines3) or rllib (RLlibConfig)")
    algorithm: str = choice("MaskablePPO", ALGORITHMS, "the learning algorithm")
    env: EnvConfig = field(default_factory=EnvConfig)
    total_timesteps: int = param(100_000, 1, 10**10, "the budget, in env steps")
    seed: int = param(0, 0, 2**31 - 1, "seed of the model, the training envs and the algorithm")
    n_envs: int = param(2, 1, 256, "training envs stepped in parallel")
    vec_env: str = choice("subproc", VEC_ENVS, "one process per env (subproc) or all in this one (dummy)")
    torch_threads: int = param(1, 1, 256, "threads of torch's CPU kernels")
    hyperparameters: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "the algorithm's arguments"})
    policy_kwargs: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "its MlpPolicy's arguments"})
    log_interval: int = param(0, 0, 10**9, "log every N rollouts (DQN: episodes); 0: the algorithm's default")
    eval_freq: int = param(10_000, 0, 10**10, "env steps between evaluations (0: none)")
    eval_episodes: int = param(10, 1, 100_000, "episodes per evaluation")
    eval_seed: int = param(1_000_000, 0, 2**31 - 1, "seed of the evaluation envs")
    checkpoint_freq: int = param(50_000, 0, 10**10, "env steps between checkpoints (0: none)")

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (YAML- and JSON-ready); loads back to an equal config."""
        return _thaw(dataclasses.asdict(self))


@dataclass(frozen=True)
class RLlibEnvConfig(EnvConfig):
    """The env of an RLlib run: a single-agent env, or the team env as a multi-agent env."""

    id: str = choice(SUPERVISOR_ID, RLLIB_ENV_IDS, "the env to train on")


@dataclass(frozen=True)
class RLlibConfig:
    """A training run with Ray RLlib (``backend: rllib``; see the module docstring for the YAML schema)."""

    backend: str = choice("rllib", BACKENDS, "the training library")
    algorithm: str = choice("PPO", RLLIB_ALGORITHMS, "the RLlib algorithm (new API stack)")
    env: RLlibEnvConfig = field(default_factory=RLlibEnvConfig)
    iterations: int = param(10, 1, 10**7, "training iterations")
    seed: int = param(0, 0, 2**31 - 1, "seed of the modules, the env runners' envs and the algorithm")
    num_env_runners: int = param(2, 0, 10_000, "env runner actors (0: sample in the driver)")
    num_envs_per_env_runner: int = param(1, 1, 1024, "envs each env runner steps")
    torch_threads: int = param(1, 1, 256, "threads of torch's CPU kernels, in the driver and every actor")
    address: str | None = param(None, doc="a Ray cluster's address; null: RAY_ADDRESS, else a local Ray")
    hyperparameters: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "PPOConfig.training's arguments"})
    model: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "the RLModule's model_config"})
    tune: FrozenDict = field(default_factory=FrozenDict, metadata={"doc": "--tune: grid, max_concurrent_trials"})

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (YAML- and JSON-ready); loads back to an equal config."""
        return _thaw(dataclasses.asdict(self))

    def grid(self) -> list[dict[str, Any]]:
        """The points of the ``tune.grid`` (dotted key -> value), in order, the last key varying fastest."""
        import itertools

        grid = _thaw(self.tune.get("grid") or {})
        return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


# ----------------------------------------------------------------------------- loading
def load_train_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Any:
    """Load a training config from YAML (or the defaults when ``path`` is None) with overrides.

    Args:
        path: a YAML file.
        overrides: dotted keys to values, e.g. ``{"hyperparameters.n_steps": 256}``.

    Raises:
        ConfigError: an unknown key, a bad value, or a missing file; the message names the key.
    """
    data = {} if path is None else read_yaml_file(path)
    return build(_apply(data, overrides or {}))


def build(data: Mapping[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` (``backend: rllib``: an :class:`RLlibConfig`) from mappings."""
    backend = data.get("backend", "sb3")
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r} is not allowed; choices: {', '.join(BACKENDS)}")
    env = _env_section(data, RLlibEnvConfig if backend == "rllib" else EnvConfig)
    if backend == "rllib":
        return _build_rllib(data, env)  # type: ignore[return-value]
    cfg = _section(TrainConfig, {**data, "env": env}, "")
    _check_env(cfg.env)
    _check_algorithm(cfg)
    return cfg


def _env_section(data: Mapping[str, Any], cls: type) -> Any:
    env_data = data.get("env", {})
    if not isinstance(env_data, Mapping):
        raise ConfigError(f"env must be a mapping, got {type(env_data).__name__}")
    env_data = dict(env_data)
    if isinstance(env_data.get("overrides"), Mapping):
        env_data["overrides"] = _flatten(env_data["overrides"])
    return _section(cls, env_data, "env")


def _apply(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides; under ``env.overrides.`` the rest of the key is one simulator key."""
    nested, sim = {}, {}
    for key, value in overrides.items():
        if key.startswith("env.overrides."):
            sim[key.removeprefix("env.overrides.")] = value
        else:
            nested[key] = value
    try:
        data = apply_overrides(data, nested)
    except ConfigError as e:
        raise ConfigError(str(e).replace("is not a section", "is not a mapping")) from None
    if sim:
        env = data.setdefault("env", {})
        if not isinstance(env, dict):
            raise ConfigError("env must be a mapping")
        env["overrides"] = {**_flatten(env.get("overrides") or {}), **sim}
    return data


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"ai": {"misread": 0.2}}`` -> ``{"ai.misread": 0.2}`` (simulator keys are dotted)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _section(cls: type, data: Mapping[str, Any], path: str) -> Any:
    where = f"{path}." if path else ""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key {where + unknown[0]!r}; allowed: {', '.join(sorted(known))}")
    kwargs = {k: _value(known[k], v, where + k) for k, v in data.items()}
    return cls(**kwargs)


def _value(f: dataclasses.Field, value: Any, key: str) -> Any:  # type: ignore[type-arg]
    if f.name == "env" and isinstance(value, EnvConfig):
        return value
    if "choices" in f.metadata:
        if value not in f.metadata["choices"]:
            raise ConfigError(f"{key}={value!r} is not allowed; choices: {', '.join(f.metadata['choices'])}")
        return value
    if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
        value = _number(type(f.default), value, key)
        lo, hi = f.metadata["range"]
        if not lo <= value <= hi:
            raise ConfigError(f"{key}={value!r} is outside the allowed range [{lo}, {hi}]")
        return value
    if f.default_factory is FrozenDict:  # type: ignore[comparison-overlap]
        if value is None:
            return FrozenDict()
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return _freeze(value)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _number(tp: type, value: Any, key: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be {'an integer' if tp is int else 'a number'}, got {value!r}")
    if tp is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return int(value)
    if not math.isfinite(value):
        raise ConfigError(f"{key} must be finite, got {value!r}")
    return float(value)


def _freeze(x: Any) -> Any:
    if isinstance(x, Mapping):
        return FrozenDict({str(k): _freeze(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    return x


def _thaw(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _thaw(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_thaw(v) for v in x]
    return x


# ----------------------------------------------------------------------------- cross-field checks
def _check_env(env: EnvConfig) -> None:
    """The env's own validation (preset, simulator overrides, weights, shift), as one error."""
    from hitl_env.envs.base import episode_settings

    if env.router is not None and env.id != SHARED_SUPERVISOR_ID:
        raise ConfigError(f"env.router applies only to {SHARED_SUPERVISOR_ID}, not to {env.id}")
    if env.scope != "ai" and env.id != SUPERVISOR_ID:
        raise ConfigError(f"env.scope applies only to {SUPERVISOR_ID}, not to {env.id}")
    if env.credit != "shift" and env.id not in (SUPERVISOR_ID, ROUTER_ID):
        raise ConfigError(f"env.credit applies only to {SUPERVISOR_ID} and {ROUTER_ID}, not to {env.id}")
    if env.credit == "chat" and env.scope != "ai":
        raise ConfigError('env.credit "chat" scores the episode\'s own chat only: it needs env.scope "ai"')
    kw = env.kwargs()
    kw.pop("scope", None)
    kw.pop("credit", None)
    router = kw.pop("router", None)
    try:
        settings = episode_settings(**kw)
        if router is not None:
            from train.multi_agent import router_policy

            router_policy(router, settings.cfg)
    except ConfigError as e:
        raise ConfigError(f"env: {e}") from None
    except ValueError as e:
        raise ConfigError(f"env: {e}") from None


def algorithm_class(name: str) -> type:
    """The stable-baselines3 (or sb3-contrib) class of an algorithm name (:func:`agents.learned.algorithm_class`)."""
    try:
        return learned.algorithm_class(name)
    except ImportError:
        if name != "MaskablePPO":
            raise
        raise ConfigError("algorithm MaskablePPO needs sb3-contrib: pip install sb3-contrib") from None


# the numeric hyperparameters' types and ranges: closed [lo, hi], or above lo where lo is open
HYPERPARAMETER_RANGES: dict[str, tuple[type, float, float, bool]] = {
    "learning_rate": (float, 0.0, INF, True), "gamma": (float, 0.0, 1.0, False),
    "gae_lambda": (float, 0.0, 1.0, False), "ent_coef": (float, 0.0, INF, False), "vf_coef": (float, 0.0, INF, False),
    "max_grad_norm": (float, 0.0, INF, True), "clip_range": (float, 0.0, INF, True), "tau": (float, 0.0, 1.0, False),
    "exploration_fraction": (float, 0.0, 1.0, False), "exploration_initial_eps": (float, 0.0, 1.0, False),
    "exploration_final_eps": (float, 0.0, 1.0, False), "n_steps": (int, 1, INF, False),
    "batch_size": (int, 2, INF, False), "n_epochs": (int, 1, INF, False), "buffer_size": (int, 1, INF, False),
    "learning_starts": (int, 0, INF, False), "train_freq": (int, 1, INF, False),
    "gradient_steps": (int, 1, INF, False), "target_update_interval": (int, 1, INF, False),
}  # fmt: skip


def _check_values(hyperparameters: Mapping[str, Any], net_arch: Any) -> None:
    """Numeric hyperparameters in their ranges, layer sizes positive: a ConfigError, not an error mid-training."""
    for name, value in hyperparameters.items():
        if name not in HYPERPARAMETER_RANGES:
            continue
        kind, lo, hi, open_lo = HYPERPARAMETER_RANGES[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        inside = number and (value > lo if open_lo else value >= lo) and value <= hi
        if not inside or (kind is int and not isinstance(value, int)):
            what = "an integer" if kind is int else "a number"
            where = f"above {lo:g}" if open_lo else f"in [{lo:g}, {hi:g}]"
            raise ConfigError(f"hyperparameters.{name}={value!r} must be {what} {where}")
    layers = [*net_arch.get("pi", []), *net_arch.get("vf", [])] if isinstance(net_arch, Mapping) else net_arch
    if net_arch is not None and not (
        isinstance(layers, (list, tuple)) and all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                  for n in layers)):  # fmt: skip
        raise ConfigError(f"policy_kwargs.net_arch={net_arch!r} must list positive layer sizes (or pi/vf lists)")


def _check_algorithm(cfg: TrainConfig) -> None:
    cls = algorithm_class(cfg.algorithm)
    _check_names(cls.__init__, cfg.hyperparameters, "hyperparameters", f"of {cfg.algorithm}", RESERVED)
    policy = cls.policy_aliases["MlpPolicy"]
    reserved = ("self", "observation_space", "action_space", "lr_schedule")
    _check_names(policy.__init__, cfg.policy_kwargs, "policy_kwargs", f"of {policy.__name__}", reserved)
    _check_values(cfg.hyperparameters, cfg.policy_kwargs.get("net_arch"))
    act = cfg.policy_kwargs.get("activation_fn")
    if act is not None and act not in ACTIVATIONS:
        raise ConfigError(f"policy_kwargs.activation_fn={act!r} is not allowed; choices: {', '.join(ACTIVATIONS)}")
    if cfg.algorithm in ("PPO", "MaskablePPO"):
        n_steps = cfg.hyperparameters.get("n_steps", 2048)
        if isinstance(n_steps, int) and n_steps * cfg.n_envs < 2:
            raise ConfigError("hyperparameters.n_steps * n_envs must be at least 2")
        batch = cfg.hyperparameters.get("batch_size", 64)
        if isinstance(n_steps, int) and isinstance(batch, int) and batch > n_steps * cfg.n_envs:
            raise ConfigError(f"hyperparameters.batch_size={batch} is larger than the rollout "
                              f"(n_steps * n_envs = {n_steps * cfg.n_envs}); it must be at most that")  # fmt: skip


# ----------------------------------------------------------------------------- the rllib backend
# RLlib's numeric training arguments: types and ranges as in HYPERPARAMETER_RANGES
RLLIB_RANGES: dict[str, tuple[type, float, float, bool]] = {
    "lr": (float, 0.0, INF, True), "gamma": (float, 0.0, 1.0, False), "lambda_": (float, 0.0, 1.0, False),
    "entropy_coeff": (float, 0.0, INF, False), "vf_loss_coeff": (float, 0.0, INF, False),
    "clip_param": (float, 0.0, INF, True), "vf_clip_param": (float, 0.0, INF, True),
    "kl_coeff": (float, 0.0, INF, False), "grad_clip": (float, 0.0, INF, True),
    "train_batch_size_per_learner": (int, 1, INF, False), "minibatch_size": (int, 1, INF, False),
    "num_epochs": (int, 1, INF, False),
}  # fmt: skip
TUNE_KEYS = ("grid", "max_concurrent_trials")


def rllib_missing() -> str | None:
    """Why the rllib backend cannot run here (Ray RLlib not installed), or None."""
    try:
        import ray.rllib  # noqa: F401
    except ImportError as e:
        return f"backend rllib needs Ray RLlib ({e}): pip install 'hitl-env[rllib]'"
    return None


def _build_rllib(data: Mapping[str, Any], env: RLlibEnvConfig) -> RLlibConfig:
    cfg = _section(RLlibConfig, {**data, "env": env}, "")
    _check_env(cfg.env)
    missing = rllib_missing()
    if missing:
        raise ConfigError(missing)
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    names = set(inspect.signature(PPOConfig.training).parameters) | set(
        inspect.signature(AlgorithmConfig.training).parameters)  # fmt: skip
    reserved = {"self", "kwargs", "model", "learner_class", "learner_connector"}  # model: the model section
    _check_names_in(sorted(names - reserved), cfg.hyperparameters, "hyperparameters", "of PPOConfig.training")
    _check_names_in(sorted(f.name for f in fields(DefaultModelConfig)), cfg.model, "model", "of RLlib's model_config")
    _check_values_in(cfg.hyperparameters, RLLIB_RANGES)
    batch = cfg.hyperparameters.get("train_batch_size_per_learner", 4000)
    minibatch = cfg.hyperparameters.get("minibatch_size", 128)
    if isinstance(batch, int) and isinstance(minibatch, int) and minibatch > batch:
        raise ConfigError(f"hyperparameters.minibatch_size={minibatch} is larger than the train batch "
                          f"(train_batch_size_per_learner = {batch}); it must be at most that")  # fmt: skip
    hidden = cfg.model.get("fcnet_hiddens")
    if hidden is not None and not (isinstance(hidden, (list, tuple)) and all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in hidden)):  # fmt: skip
        raise ConfigError(f"model.fcnet_hiddens={_thaw(hidden)!r} must list positive layer sizes")
    _check_tune(cfg, data)
    return cfg


def _check_tune(cfg: RLlibConfig, data: Mapping[str, Any]) -> None:
    """``tune``: known keys, a grid of non-empty value lists whose every point is a valid config."""
    _check_names_in(TUNE_KEYS, cfg.tune, "tune", "of the tune section")
    concurrent = cfg.tune.get("max_concurrent_trials", 0)
    if isinstance(concurrent, bool) or not isinstance(concurrent, int) or concurrent < 0:
        raise ConfigError(f"tune.max_concurrent_trials={concurrent!r} must be an integer >= 0 (0: no limit)")
    grid = cfg.tune.get("grid") or {}
    if not isinstance(grid, Mapping):
        raise ConfigError(f"tune.grid must map dotted keys to lists of values, got {_thaw(grid)!r}")
    base = {k: v for k, v in data.items() if k != "tune"}
    for key, values in grid.items():
        if key.split(".")[0] in ("tune", "backend"):
            raise ConfigError(f"tune.grid.{key}: the grid cannot vary {key.split('.')[0]}")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"tune.grid.{key} must be a non-empty list of values, got {_thaw(values)!r}")
        for value in values:
            try:
                build(_apply(dict(base), {key: _thaw(value)}))
            except ConfigError as e:
                raise ConfigError(f"tune.grid.{key}={_thaw(value)!r}: {e}") from None
    if len(cfg.grid()) > 10_000:
        raise ConfigError(f"tune.grid has {len(cfg.grid())} points; at most 10000")


def _check_names_in(allowed: Any, given: Mapping[str, Any], key: str, of: str) -> None:
    for name in given:
        if name not in allowed:
            raise ConfigError(f"unknown key '{key}.{name}': not a parameter {of}; allowed: {', '.join(allowed)}")


def _check_values_in(given: Mapping[str, Any], ranges: Mapping[str, tuple[type, float, float, bool]]) -> None:
    for name, value in given.items():
        if name not in ranges:
            continue
        kind, lo, hi, open_lo = ranges[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        inside = number and (value > lo if open_lo else value >= lo) and value <= hi
        if not inside or (kind is int and not isinstance(value, int)):
            what = "an integer" if kind is int else "a number"
            where = f"above {lo:g}" if open_lo else f"in [{lo:g}, {hi:g}]"
            raise ConfigError(f"hyperparameters.{name}={value!r} must be {what} {where}")


def _check_names(fn: Any, given: Mapping[str, Any], key: str, of: str, reserved: tuple[str, ...]) -> None:
    allowed = sorted(set(inspect.signature(fn).parameters) - set(reserved) - {"args", "kwargs"})
    for name in given:
        if name not in allowed:
            hint = " (set by hitl-train)" if name in reserved else ""
            raise ConfigError(f"unknown key '{key}.{name}'{hint}: not a parameter {of}; allowed: {', '.join(allowed)}")


def activation(name: str) -> type:
    """The torch module of an activation name in :data:`ACTIVATIONS`."""
    import torch.nn as nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU,
            "silu": nn.SiLU}[name]  # fmt: skip


__all__ = [
    "ALGORITHMS",
    "ENV_IDS",
    "RLLIB_ENV_IDS",
    "TEAM_ID",
    "EnvConfig",
    "RLlibConfig",
    "TrainConfig",
    "build",
    "load_train_config",
]
