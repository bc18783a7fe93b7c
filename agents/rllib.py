"""RLlib checkpoints behind the common policy interface: an RLModule acting greedily with the mask.

A checkpoint is the folder ``Algorithm.save`` writes (it holds ``rllib_checkpoint.json``): by
``hitl-train`` with a ``backend: rllib`` config (``runs/x/checkpoint``, with the run's ``run.json``
one folder up), or by a user's own ``algo.save(path)``. Its modules are under
``learner_group/learner/rl_module/<module id>``: a team checkpoint (``hitl_team_v3``) has a
``router`` and a ``supervisor`` module, a single-agent one ``default_policy``. The module for a
kind of decision (:func:`module_for`) is the one of that name, else ``default_policy`` of a run
on that kind's env (``run.json``) or, without ``run.json``, with that kind's observation space.

:class:`RLlibPolicy` takes the module's action logits for the observation and returns the argmax
over the allowed actions (RLlib's action-masking module, whose observations are
``{"observations", "action_mask"}``, or any module on the plain observation). A ``run.json``
of a run that did not finish, or one that lists the checkpoint's files with other hashes, is
refused as for saved stable-baselines3 models. Ray is imported only here, only when a
checkpoint loads.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import masked

MARKER = "rllib_checkpoint.json"
MODULES = Path("learner_group", "learner", "rl_module")
SINGLE = "default_policy"
FINISHED = ("completed", "interrupted")


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is an RLlib algorithm checkpoint (a folder with ``rllib_checkpoint.json``)."""
    return (Path(path) / MARKER).is_file()


def module_ids(path: str | Path) -> list[str]:
    """The module ids a checkpoint holds."""
    folder = Path(path) / MODULES
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def run_json(path: str | Path) -> dict[str, Any] | None:
    """The ``run.json`` of the ``hitl-train`` run a checkpoint belongs to (one folder up), checked; None if none.

    Raises:
        ValueError: not strict JSON, a run that did not finish, or checkpoint files other than
            those the run listed.
    """
    from hitl_env.io import OutputError, check_file, loads

    path = Path(path)
    manifest = path.parent / "run.json"
    if not manifest.is_file():
        return None
    try:
        info = loads(manifest.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{manifest} is not JSON ({' '.join(str(e).split())})") from None
    if not isinstance(info, dict) or info.get("backend") != "rllib":
        return None  # another tool's run.json: the checkpoint speaks for itself
    if info.get("status") not in FINISHED:
        raise ValueError(f"{path} comes from a run that did not finish ({manifest} says status "
                         f"{info.get('status')!r}); train again")  # fmt: skip
    files = info.get("files") or {}
    prefix = path.resolve().relative_to(manifest.parent.resolve()).as_posix() + "/"
    listed = {rel: rec for rel, rec in files.items() if rel.startswith(prefix)}
    if not listed:
        raise ValueError(f"{path} is not listed in {manifest}: not the checkpoint of the run it describes")
    try:
        for rel, rec in listed.items():
            check_file(manifest.parent / rel, rec, manifest)
    except OutputError as e:
        raise ValueError(str(e)) from None
    return info


def module_for(kind: str, path: str | Path, observation_spaces: Mapping[str, Any]) -> str:
    """The id of the module that makes ``kind`` decisions in a checkpoint.

    Args:
        kind: ``supervisor`` or ``router``.
        path: the checkpoint.
        observation_spaces: each kind's observation space (``Box``) under the run's config.

    Raises:
        ValueError: no such module, or a single-agent checkpoint of the other kind.
    """
    ids = module_ids(path)
    if kind in ids:
        return kind
    if SINGLE not in ids:
        raise ValueError(f"{path} holds the modules {', '.join(ids) or 'none'}; none makes {kind} decisions")
    found = checkpoint_kind(path, observation_spaces)
    if found != kind:
        raise ValueError(f"{path} is a {found} checkpoint, not a {kind} one")
    return SINGLE


def checkpoint_kind(path: str | Path, observation_spaces: Mapping[str, Any]) -> str | None:
    """The kind of decision a checkpoint makes (None: both, a team checkpoint).

    A single-agent checkpoint's kind is its run's env (``run.json``), else told by its module's
    observation space.

    Raises:
        ValueError: a single-agent module whose observations are neither kind's.
    """
    ids = module_ids(path)
    if all(k in ids for k in observation_spaces):
        return None
    if SINGLE not in ids:
        return next((k for k in observation_spaces if k in ids), None)
    info = run_json(path)
    if info is not None:
        from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID

        by_env = {SUPERVISOR_ID: "supervisor", ROUTER_ID: "router"}
        if info.get("env_id") in by_env:
            return by_env[info["env_id"]]
    have = _observations(load_module(str(Path(path) / MODULES / SINGLE)).observation_space)
    for kind, space in observation_spaces.items():
        if have == space:
            return kind
    shapes = ", ".join(f"{k} {s.shape}" for k, s in observation_spaces.items())
    raise ValueError(f"{path} observes {have}, which is neither env's observation space under this config ({shapes})")


def _observations(space: Any) -> Any:
    """The plain observation space of a module's (the masking module's Dict holds it as ``observations``)."""
    return space["observations"] if hasattr(space, "spaces") and "observations" in space.spaces else space


def load_module(folder: str) -> Any:
    """An RLModule from its checkpoint folder, once per process (per file version)."""
    state = Path(folder) / "module_state.pkl"
    return _load_module(folder, state.stat().st_mtime_ns if state.exists() else 0)


@functools.lru_cache(maxsize=8)
def _load_module(folder: str, mtime_ns: int) -> Any:
    try:
        from ray.rllib.core.rl_module.rl_module import RLModule
    except ImportError as e:
        raise ValueError(f"loading an RLlib checkpoint needs Ray RLlib ({e}): pip install 'hitl-env[rllib]'") from None
    import logging

    import torch

    torch.set_num_threads(1)
    log = logging.getLogger("ray.rllib")
    level = log.level
    log.setLevel(logging.ERROR)  # (RLlib's example masking module warns of its deprecated base class)
    try:
        module = RLModule.from_checkpoint(folder)
    finally:
        log.setLevel(level)
    module.eval()
    return module


class RLlibPolicy:
    """An RLlib module acting greedily; masked actions become 0 like every policy's.

    Args:
        module: a torch RLModule with a discrete action space (its observation a ``Box``, or the
            action-masking module's ``{"observations", "action_mask"}``).
        name: a label for reports.
    """

    def __init__(self, module: Any, name: str) -> None:
        import torch

        self.module, self.name, self._torch = module, name, torch
        self.dict_obs = _observations(module.observation_space) is not module.observation_space
        self.observation_space = _observations(module.observation_space)

    def scores(self, obs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The module's action logits for one observation (``mask``: the allowed actions, for a masking module)."""
        torch = self._torch
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(1, -1)
        if self.dict_obs:
            m = np.ones(2, np.float32) if mask is None else np.asarray(mask, np.float32)
            x = {"observations": x, "action_mask": torch.as_tensor(m).reshape(1, -1)}
        with torch.no_grad():
            out = self.module.forward_inference({"obs": x})
        return out["action_dist_inputs"][0].numpy()

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        mask = np.asarray(info.get("action_mask", (1, 1)), dtype=bool)
        scores = np.where(mask, self.scores(obs, mask), -np.inf)
        return masked(int(np.argmax(scores)), info)

    def reset(self, seed: int | None = None) -> None:
        pass

    def __repr__(self) -> str:
        return f"RLlibPolicy({self.name!r})"


def load_checkpoint(kind: str, path: str | Path, observation_spaces: Mapping[str, Any]) -> RLlibPolicy:
    """The policy of the module making ``kind`` decisions in an RLlib checkpoint.

    Raises:
        ValueError: not a checkpoint, a run that did not finish, no module of that kind,
            observations of another shape (another preset's categories), or no Ray RLlib.
    """
    path = Path(path)
    if not is_checkpoint(path):
        raise ValueError(f"{str(path)!r} is not an RLlib checkpoint (no {MARKER})")
    run_json(path)  # a run that did not finish, or files it did not write, are refused
    module_id = module_for(kind, path, observation_spaces)
    module = load_module(str((path / MODULES / module_id).resolve()))
    policy = RLlibPolicy(module, f"RLlib:{path.parent.name}/{path.name}:{module_id}")
    want, have = tuple(policy.observation_space.shape), tuple(observation_spaces[kind].shape)
    if want != have:
        raise ValueError(f"{path} ({module_id}) expects observations of shape {want}; this config's are {have}")
    return policy
