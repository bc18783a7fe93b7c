"""``hitl-eval`` (and the one loader) on stable-baselines3 models saved by plain ``model.save``.

No ``run.json``: the algorithm is read off the ``.zip``, the env off the model's spaces. Models
are tiny (a few hundred steps of training, or none), episodes a team of 5 for 2 hours.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

from agents.learned import zip_info
from agents.loading import load, model_kind
from eval.evaluate import main
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.mo import MOSupervisorEnv

SMALL = {"team_size": 5, "shift_hours": 2.0}
ARGS = ["--seeds", "2", "--seed", "3", "--team-size", "5", "--shift-hours", "2", "--bootstrap", "100", "--no-plot",
        "--quiet"]  # fmt: skip


def _save(tmp_path: Path, algorithm: str, env_id: str, steps: int = 0) -> Path:
    """A model as a user would make it: ``PPO("MlpPolicy", env).learn(...).save(path)``, no run.json."""
    import sb3_contrib
    import stable_baselines3

    torch.set_num_threads(1)
    cls = getattr(stable_baselines3, algorithm, None) or getattr(sb3_contrib, algorithm)
    kwargs = {"n_steps": 64, "batch_size": 32, "n_epochs": 1} if "PPO" in algorithm else {}
    model = cls("MlpPolicy", gym.make(env_id, **SMALL), seed=0, **kwargs)
    if steps:
        model.learn(steps)
    path = tmp_path / algorithm / "user_model.zip"
    path.parent.mkdir()
    model.save(path)
    assert not (path.parent / "run.json").exists()
    return path


@pytest.fixture(scope="module")
def ppo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(tmp_path_factory.mktemp("plain"), "PPO", SUPERVISOR_ID, steps=128)


def greedy_return(path: Path, env_id: str, seed: int) -> float:
    """The episode's return under ``model.predict(obs, deterministic=True)``, the user's own loop."""
    from stable_baselines3 import PPO

    model, env = PPO.load(path, device="cpu"), gym.make(env_id, **SMALL)
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        action = int(model.predict(obs, deterministic=True)[0])
        obs, r, terminated, truncated, info = env.step(action if info["action_mask"][action] else 0)
        total += r
        done = terminated or truncated
    return total


def test_hitl_eval_scores_a_plain_ppo_save(ppo_path: Path, tmp_path: Path) -> None:
    assert main(["--policies", str(ppo_path), *ARGS, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "summary.json").read_text())
    assert report["env"] == SUPERVISOR_ID  # told by the model's observation space
    assert report["policies"][str(ppo_path)]["kind"] == "learned"
    episodes = pd.read_csv(tmp_path / "episodes.csv")
    mine = episodes[episodes["policy"] == str(ppo_path)].sort_values("seed")
    assert list(mine["seed"]) == [3, 4] and (mine["steps"] > 0).all()
    for seed, ret in zip(mine["seed"], mine["return"], strict=True):
        assert ret == pytest.approx(greedy_return(ppo_path, SUPERVISOR_ID, int(seed)), abs=1e-6)


@pytest.mark.parametrize(
    ("algorithm", "env_id", "kind"),
    [("PPO", ROUTER_ID, "router"), ("DQN", SUPERVISOR_ID, "supervisor"), ("A2C", ROUTER_ID, "router"),
     ("MaskablePPO", SUPERVISOR_ID, "supervisor")],
)  # fmt: skip
def test_algorithm_and_env_are_told_by_the_zip(tmp_path: Path, algorithm: str, env_id: str, kind: str) -> None:
    path = _save(tmp_path, algorithm, env_id)
    assert zip_info(path)["algorithm"] == algorithm
    cfg = gym.make(env_id, **SMALL).unwrapped.cfg
    assert model_kind(path, cfg) == kind
    policy = load(kind, str(path), cfg)
    assert policy.name == f"{algorithm}:user_model"
    other = "router" if kind == "supervisor" else "supervisor"
    with pytest.raises(ValueError, match=f"is a {kind} model .*not a {other} model"):
        load(other, str(path), cfg)
    assert main(["--policies", str(path), *ARGS, "--out", str(tmp_path / "ev")]) == 0
    assert json.loads((tmp_path / "ev" / "summary.json").read_text())["env"] == env_id


def test_a_model_of_other_spaces_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from stable_baselines3 import PPO

    path = tmp_path / "cartpole.zip"
    PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=64).save(path)
    assert main(["--policies", str(path), *ARGS, "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err.strip()
    assert "neither env's observation space" in err and "\n" not in err
    (tmp_path / "junk.zip").write_text("not a model")
    assert main(["--policies", str(tmp_path / "junk.zip"), *ARGS, "--out", str(tmp_path / "ev2")]) == 2
    assert "not a stable-baselines3 model" in capsys.readouterr().err


def test_a_model_of_the_mo_variant_is_a_supervisor_model(tmp_path: Path) -> None:
    """The MO variant observes as the scalar env, so a model of it (trained on a scalarized reward) loads."""
    env = MOSupervisorEnv(**SMALL)
    assert model_kind(_save(tmp_path, "PPO", SUPERVISOR_ID), env.cfg) == "supervisor"
    assert env.observation_space == gym.make(SUPERVISOR_ID, **SMALL).observation_space
    assert np.isfinite(env.observation_space.high).all()
