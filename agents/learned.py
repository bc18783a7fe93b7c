"""Learned policies: a saved stable-baselines3 model behind the common policy interface.

A training run (``hitl-train``) saves models as ``<name>.zip`` with a ``run.json`` beside them
(or in the parent folder, for checkpoints) naming the algorithm::

    {"algorithm": "MaskablePPO", "env_id": "hitl_env/Supervisor-v2", "env_kwargs": {...}}

A model saved by a user's own ``model.save(path)`` has no ``run.json``: its algorithm is read
off what the ``.zip`` itself saves (:func:`zip_info`). :func:`load_policy` loads either
(:mod:`agents.loading` checks a model against the decision it is to make). stable-baselines3
is imported only here, only when needed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import masked

ALGORITHMS = ("PPO", "MaskablePPO", "DQN", "A2C")


def algorithm_class(name: str) -> Any:
    """The stable-baselines3 (or sb3-contrib) class of an algorithm of :data:`ALGORITHMS`.

    Raises:
        ValueError: an unknown algorithm.
        ImportError: MaskablePPO without sb3-contrib.
    """
    if name == "MaskablePPO":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    import stable_baselines3

    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; algorithms: {', '.join(ALGORITHMS)}")
    return getattr(stable_baselines3, name)


FINISHED = ("completed", "interrupted")
"""The ``run.json`` statuses whose models may be used: the run ended and listed its files."""


class NoRunJson(ValueError):
    """A model has no ``run.json`` (saved by other code than ``hitl-train``)."""


def run_info(model_path: Path, check: bool = True) -> dict[str, Any]:
    """The ``run.json`` of a saved model (beside it, or one folder up for checkpoints).

    Args:
        model_path: the model's ``.zip``.
        check: also check the model is a file of the run ``run.json`` describes
            (:func:`check_model`); ``--resume`` does not, since it continues killed runs.

    Raises:
        NoRunJson: no ``run.json``.
        ValueError: a ``run.json`` that is not strict JSON or names no known algorithm (the
            message names the file), or (``check``) a model the run did not finish.
    """
    model_path = Path(model_path)
    for folder in (model_path.parent, model_path.parent.parent):
        path = folder / "run.json"
        if path.is_file():
            try:
                info = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
            except (ValueError, UnicodeDecodeError) as e:
                raise ValueError(f"{path} is not JSON ({' '.join(str(e).split())})") from None
            if not isinstance(info, dict):
                raise ValueError(f"{path} must hold a JSON object, got {type(info).__name__}")
            if info.get("algorithm") not in ALGORITHMS:
                raise ValueError(f"{path}: algorithm {info.get('algorithm')!r} is not one of {', '.join(ALGORITHMS)}")
            if check:
                check_model(model_path, path, info)
            return info
    raise NoRunJson(f"no run.json beside {model_path}: is it a model saved by hitl-train?")


def check_model(model_path: Path, run_json: Path, info: dict[str, Any]) -> None:
    """Raise ValueError unless the model is a file of the finished run that ``run_json`` describes.

    A ``run.json`` written by ``hitl-train`` lists every model of the run with its SHA-256 when
    the run ends (status ``completed`` or ``interrupted``). A status of ``running`` or ``failed``
    means the run never listed its files (killed, or still training); a model not listed, or
    listed with another hash, is not the run's. A ``run.json`` without a status or a file list
    (written by hand) is taken at its word.
    """
    from hitl_env.io import OutputError, check_file

    status = info.get("status")
    if status is not None and status not in FINISHED:
        raise ValueError(f"{model_path} comes from a run that did not finish ({run_json} says status {status!r}); "
                         "finish it with hitl-train --resume, or train again")  # fmt: skip
    files = info.get("files")
    if files is None:
        return
    rel = model_path.resolve().relative_to(run_json.parent.resolve()).as_posix()
    if rel not in files:
        raise ValueError(f"{model_path} is not listed in {run_json}: not a model of the run it describes")
    try:
        check_file(model_path, files[rel], run_json)
    except OutputError as e:
        raise ValueError(str(e)) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in strict JSON")


def zip_info(path: str | Path) -> dict[str, Any]:
    """What a stable-baselines3 ``.zip`` says of itself: its algorithm and its spaces.

    The algorithm is not saved as such; it is told by the policy class and the hyperparameters
    only it has (PPO's ``clip_range``, DQN's ``target_update_interval``).

    Returns:
        ``{"algorithm": one of ALGORITHMS, "observation_space": ..., "action_space": ...}``

    Raises:
        ValueError: not a stable-baselines3 model, or one of an algorithm not in :data:`ALGORITHMS`.
    """
    from stable_baselines3.common.save_util import load_from_zip_file

    try:
        data, _, _ = load_from_zip_file(path, device="cpu")
    except Exception as e:  # a file that is no zip, or a zip without SB3's entries
        raise ValueError(
            f"no run.json beside {path}, and it is not a stable-baselines3 model ({type(e).__name__}: {e})"
        ) from None
    if not data or "policy_class" not in data:
        raise ValueError(f"no run.json beside {path}, and it is not a stable-baselines3 model (no saved policy class)")
    policy = getattr(data["policy_class"], "__name__", str(data["policy_class"]))
    if "Maskable" in policy:
        algorithm = "MaskablePPO"
    elif "target_update_interval" in data and "exploration_rate" in data:
        algorithm = "DQN"
    elif policy.endswith("ActorCriticPolicy") and "rollout_buffer_class" in data:
        algorithm = "PPO" if "clip_range" in data else "A2C"
    else:
        raise ValueError(f"{path} is a model of policy {policy}; models of {', '.join(ALGORITHMS)} can be loaded")
    return {"algorithm": algorithm, "observation_space": data.get("observation_space"),
            "action_space": data.get("action_space")}  # fmt: skip


def algorithm_of(path: Path) -> str:
    """The algorithm of a saved model: its ``run.json``'s, else what its ``.zip`` tells."""
    try:
        return str(run_info(path).get("algorithm", ""))
    except NoRunJson:
        return zip_info(path)["algorithm"]


class LearnedPolicy:
    """A trained model acting greedily; masked actions become 0 like every policy's.

    :meth:`act` returns what ``model.predict(obs, deterministic=True)`` (with the action mask,
    for MaskablePPO) returns: the argmax of the policy's action logits (DQN: Q-values) over the
    allowed actions. It computes that with one forward pass of the networks, about five times
    faster than ``predict`` per call.

    Args:
        model: a stable-baselines3 (or sb3-contrib) model with a discrete action space.
        name: a label for reports.
        masked_model: the model takes action masks (MaskablePPO).
    """

    def __init__(self, model: Any, name: str, masked_model: bool = False) -> None:
        import torch

        self.model, self.name, self.masked_model = model, name, masked_model
        self._torch = torch
        model.policy.set_training_mode(False)

    def scores(self, obs: np.ndarray) -> np.ndarray:
        """The model's action logits (DQN: Q-values) for one observation."""
        policy, torch = self.model.policy, self._torch
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(1, -1)
            if hasattr(policy, "q_net"):  # DQN
                out = policy.q_net(x)
            else:  # actor-critic (PPO, MaskablePPO, A2C)
                features = policy.extract_features(x, policy.pi_features_extractor)
                out = policy.action_net(policy.mlp_extractor.forward_actor(features))
        return out[0].numpy()

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        scores = self.scores(obs)
        if self.masked_model:
            scores = np.where(np.asarray(info.get("action_mask", (1, 1)), dtype=bool), scores, -np.inf)
        return masked(int(np.argmax(scores)), info)

    def reset(self, seed: int | None = None) -> None:
        pass

    def __repr__(self) -> str:
        return f"LearnedPolicy({self.name!r})"


def load_policy(path: str | Path) -> LearnedPolicy:
    """Load a saved stable-baselines3 model (by ``hitl-train``, with its ``run.json``, or any other)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no saved model at {str(path)!r}")
    algorithm = algorithm_of(path)
    model = algorithm_class(algorithm).load(path, device="cpu")
    return LearnedPolicy(model, f"{algorithm}:{path.stem}", masked_model=algorithm == "MaskablePPO")
