"""Policies from specs: heuristics by name with parameters, and models saved by ``hitl-train``.

One loader for every caller (the core's hooks, ``hitl-eval``, ``hitl-rct``, training's fixed
router). A spec is a heuristic's name with parameters (``"sentiment_threshold:level=-1"``,
:func:`agents.parse_spec`) or the path of a saved model; :func:`load` builds the policy for one
kind of decision and checks it against the run's config:

* a heuristic must be of that kind; one with a ``config`` parameter reads the run's config
  unless the spec gives one, and its categories must be the config's;
* an upper bound (``oracle``, :data:`agents.registry.REFERENCE_POLICIES`) comes unbound: it reads
  the simulator's latent state, and the caller binds it to its env (``hitl-eval`` does);
* a saved model must come from an env whose models make that kind of decision
  (:data:`MODEL_ENVS`, read from its ``run.json``), and expect the config's observations. A
  model without ``run.json`` (a user's own ``model.save(path)``) must have exactly that kind's
  observation and action spaces (:func:`model_kind`). Models load once per process (per file
  version), with torch on one thread (one observation per call, so more threads only cost).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.base import Policy
from agents.registry import (
    REFERENCE_POLICIES,
    ROUTER_POLICIES,
    SUPERVISOR_POLICIES,
    check_config,
    make,
    params_of,
    parse_spec,
)
from hitl_env.config import Config
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.observations import RouterObs, SupervisorObs
from hitl_env.sim.decisions import BY_AGENT

KINDS = tuple(BY_AGENT)  # the decisions' agents: "router", "supervisor"
POLICIES = {"supervisor": (*SUPERVISOR_POLICIES, *REFERENCE_POLICIES), "router": ROUTER_POLICIES}
"""The heuristics of each kind, the upper bounds (which need their env: :mod:`agents.oracle`) included."""
MODEL_ENVS: dict[str, list[str]] = {"supervisor": [SUPERVISOR_ID], "router": [ROUTER_ID]}
"""The envs whose saved models make each kind of decision (:func:`register_model_env` adds more)."""
_OBS = {"supervisor": SupervisorObs, "router": RouterObs}


def register_model_env(kind: str, env_id: str) -> None:
    """Accept models saved on ``env_id`` for ``kind`` decisions (the env observes and acts as that kind's)."""
    if env_id not in MODEL_ENVS[kind]:
        MODEL_ENVS[kind].append(env_id)


def is_model_spec(spec: str) -> bool:
    """Whether a spec names a saved model (``.zip``, an existing file, an RLlib checkpoint), not a heuristic."""
    from agents.rllib import is_checkpoint

    return spec.endswith(".zip") or Path(spec).is_file() or is_checkpoint(spec)


def observation_spaces(cfg: Config) -> dict[str, Any]:
    """Each kind's observation space under ``cfg``."""
    return {kind: _OBS[kind](cfg, 0.0, 1.0).space for kind in KINDS}


def load(kind: str, spec: str, cfg: Config, model_envs: Sequence[str] | None = None) -> Policy:
    """The ``kind`` policy of a spec: :func:`saved_model` or :func:`heuristic`.

    Raises:
        ValueError: see :func:`saved_model` and :func:`heuristic`.
    """
    return saved_model(kind, spec, cfg, model_envs) if is_model_spec(spec) else heuristic(kind, spec, cfg)


def heuristic(kind: str, spec: str, cfg: Config) -> Policy:
    """The ``kind`` heuristic of a spec; one with a ``config`` parameter reads ``cfg`` unless given.

    Raises:
        ValueError: an unknown name, a policy of the other kind, or a bad parameter.
    """
    name, params = parse_spec(spec)
    if name not in POLICIES[kind]:
        other = next(k for k in KINDS if k != kind)
        what = f"{name!r} is a {other} policy" if name in POLICIES[other] else f"unknown {kind} policy {name!r}"
        raise ValueError(
            f"{what}; {kind} policies: {', '.join(POLICIES[kind])}, or the path of a model saved by hitl-train"
        )
    if "config" in params_of(name) and "config" not in params:
        params["config"] = cfg
    policy = make(name, **params)
    check_config(policy, cfg)
    return policy


def saved_model(kind: str, path: str | Path, cfg: Config, model_envs: Sequence[str] | None = None) -> Policy:
    """A model saved by ``hitl-train`` for ``kind`` decisions, checked against ``cfg``'s observations.

    Args:
        kind: ``supervisor`` or ``router``.
        path: the model's ``.zip``, with its ``run.json`` beside it.
        cfg: the run's config.
        model_envs: the envs whose models are accepted (default: ``MODEL_ENVS[kind]``).

    Raises:
        ValueError: no such file, no or a bad ``run.json``, a model of another env, a file that is
            not a model, or observations of another shape (another preset's categories).
    """
    from agents.learned import NoRunJson, run_info
    from agents.rllib import is_checkpoint, load_checkpoint

    path = Path(path)
    if is_checkpoint(path):
        return load_checkpoint(kind, path, observation_spaces(cfg))
    if not path.is_file():
        raise ValueError(f"no saved model at {str(path)!r}")
    try:
        info = run_info(path)
    except json.JSONDecodeError as e:
        raise ValueError(f"the run.json of {path} is not JSON ({_one_line(e)})") from None
    except NoRunJson:  # a model saved by other code, checked by its spaces
        found = model_kind(path, cfg)
        if found != kind:
            raise ValueError(f"{path} is a {found} model (by its observation space), not a {kind} model") from None
        info = {"algorithm": "its saved"}
    else:
        env_id = info.get("env_id") if isinstance(info, dict) else None
        wanted = MODEL_ENVS[kind] if model_envs is None else model_envs
        if env_id not in wanted:
            raise ValueError(
                f"{path} is a model of {env_id or 'no env'}; a {kind} model is one of {' or '.join(wanted)}"
            )
    try:
        policy = _load(str(path.resolve()), path.stat().st_mtime_ns)
    except Exception as e:  # stable-baselines3 raises many kinds on a file that is not its model
        raise ValueError(f"cannot load {path} as a {info.get('algorithm')} model: {_one_line(e)}") from None
    want, have = tuple(policy.model.observation_space.shape), _OBS[kind](cfg, 0.0, 1.0).space.shape
    if want != have:
        raise ValueError(f"{path} expects observations of shape {want}; this config's are {have}")
    return policy


def model_kind(path: str | Path, cfg: Config) -> str:
    """The kind of decision a saved model without ``run.json`` makes, told by its spaces.

    A model makes ``kind`` decisions when its observation space is that kind's env's under
    ``cfg`` (shape and bounds) and its action space is ``Discrete(2)``.

    Raises:
        ValueError: not a stable-baselines3 model, or spaces of neither kind (named in the message).
    """
    import gymnasium as gym

    from agents.learned import zip_info

    saved = zip_info(path)
    obs, act = saved["observation_space"], saved["action_space"]
    if act != gym.spaces.Discrete(2):
        raise ValueError(f"{path} acts in {act}; the envs' actions are Discrete(2)")
    for kind in KINDS:
        if obs == _OBS[kind](cfg, 0.0, 1.0).space:
            return kind
    shapes = ", ".join(f"{k} {_OBS[k](cfg, 0.0, 1.0).space.shape}" for k in KINDS)
    raise ValueError(
        f"{path} observes {obs}, which is neither env's observation space under this config ({shapes}); "
        "was it trained on another preset, or with wrapped observations?"
    )


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Policy:
    """Load once per process (per file version)."""
    import torch

    from agents.learned import load_policy

    torch.set_num_threads(1)
    return load_policy(path)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__
