"""RLlib: the adapters, ``hitl-train`` RLlib configs and Tune, and RLlib checkpoints in ``hitl-eval``.

Needs ray (the ``rllib`` extra, in the test extra so that CI runs it); skipped where it is not
installed. One Ray session serves the module (2 CPUs); the training is tiny: a team of 3 for 1
hour, 400-step iterations, 2 env runners for the team.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

ray = pytest.importorskip("ray")
pytest.importorskip("ray.rllib")

from hitl_env.config import load_config  # noqa: E402
from hitl_env.multi_agent import ROUTER, parallel_env  # noqa: E402
from train.rllib_env import RLlibEnv, RLlibTeamEnv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"team_size": 3, "shift_hours": 1.0}
TINY = ["--set", "env.team_size=3", "--set", "env.shift_hours=1.0", "--set", "hyperparameters.num_epochs=1",
        "--set", "hyperparameters.train_batch_size_per_learner=400", "--set", "hyperparameters.minibatch_size=100",
        "--set", "model.fcnet_hiddens=[16]", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def ray_session():
    from train.rllib import init_ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


def _train(*argv: str) -> int:
    from train.cli import main

    return main([*argv, *TINY])


def test_only_the_due_agent_observes_and_each_chat_counts_once() -> None:
    env, team = RLlibTeamEnv(SMALL), parallel_env(**SMALL)
    obs, _ = env.reset(seed=4)
    team_obs, _ = team.reset(seed=4)
    rng, total, router_total, steps, done = np.random.default_rng(0), 0.0, 0.0, 0, False
    while not done:
        (agent,) = obs  # one agent a step, the due one
        assert agent == team.due_agent
        assert env.observation_spaces[agent].contains(obs[agent])
        np.testing.assert_array_equal(obs[agent]["observations"], team_obs[agent]["observation"])
        action = int(obs[agent]["action_mask"][1] and rng.random() < 0.5)
        obs, rewards, terminated, _, _ = env.step({agent: action})
        team_obs, team_rewards, *_ = team.step({agent: action})
        total += sum(rewards.values())
        router_total += team_rewards[ROUTER]  # the PettingZoo router scores every chat of the team
        done, steps = terminated["__all__"], steps + 1
    assert steps > 20 and obs == {}
    assert total == pytest.approx(router_total, abs=1e-3)  # every chat once: the team's return


def test_the_single_agent_adapter_is_the_env_with_its_mask() -> None:
    import gymnasium as gym

    from hitl_env.envs import SUPERVISOR_ID

    kwargs = {"team_size": 4, "shift_hours": 2.0}
    env, plain = RLlibEnv({"env_id": SUPERVISOR_ID, **kwargs}), gym.make(SUPERVISOR_ID, **kwargs)
    obs, _ = env.reset(seed=2)
    ref, info = plain.reset(seed=2)
    done, steps = False, 0
    while not done:
        assert env.observation_space.contains(obs)
        np.testing.assert_array_equal(obs["observations"], ref)
        np.testing.assert_array_equal(obs["action_mask"], info["action_mask"])
        obs, reward, terminated, truncated, _ = env.step(steps % 2)
        ref, ref_reward, ref_terminated, ref_truncated, info = plain.step(steps % 2)
        assert (reward, terminated, truncated) == (ref_reward, ref_terminated, ref_truncated)
        done, steps = terminated or truncated, steps + 1
    assert steps > 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "hyperparameters.lrr=0.1"], "unknown key 'hyperparameters.lrr'.*allowed: .*lr,"),
        (["--set", "model.fcnet_hidden=[8]"], "unknown key 'model.fcnet_hidden'.*allowed: .*fcnet_hiddens"),
        (["--set", "env.id=hitl_train/SharedSupervisor-v2"], "env.id=.*choices: .*hitl_team_v3"),
        (["--set", "hyperparameters.minibatch_size=5000"], "minibatch_size=5000 is larger than the train batch"),
        (["--set", "tune.grid={hyperparameters.lr: [-1]}"], r"tune.grid.hyperparameters.lr=-1: .*above 0"),
        (["--set", "tune.grid={seed: []}"], "tune.grid.seed must be a non-empty list"),
        (["--set", "tune.grids={}"], "unknown key 'tune.grids'"),
        (["--resume", "x.zip"], "backend rllib runs cannot be resumed"),
    ],
)
def test_bad_rllib_configs_are_one_line_usage_errors(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    from train.cli import main

    assert main([str(ROOT / "configs/rllib_team.yaml"), *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hitl-train: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()


def test_tune_needs_an_rllib_config(tmp_path: Path, capsys) -> None:
    from train.cli import main

    assert main([str(ROOT / "configs/train_supervisor.yaml"), "--tune", "--out", str(tmp_path / "o")]) == 2
    assert "--tune sweeps configs with backend: rllib" in capsys.readouterr().err


def test_the_team_config_trains_with_2_env_runners_and_hitl_eval_scores_its_checkpoint(
    tmp_path: Path, ray_session: None, capsys
) -> None:
    from eval.evaluate import main as evaluate

    out = tmp_path / "team"
    assert _train(str(ROOT / "configs/rllib_team.yaml"), "--set", "iterations=2", "--out", str(out)) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and run["backend"] == "rllib" and run["env_id"] == "hitl_team_v3"
    assert run["config"]["num_env_runners"] == 2 and run["iterations"] == 2 and run["num_env_steps"] >= 800
    assert any(f.startswith("checkpoint/learner_group/learner/rl_module/supervisor/") for f in run["files"])
    rows = list(csv.DictReader((out / "progress.csv").read_text().splitlines()))
    assert [r["iteration"] for r in rows] == ["1", "2"] and float(rows[-1]["router_return_mean"]) < 0
    # the folder rules: a second run into it is refused
    assert _train(str(ROOT / "configs/rllib_team.yaml"), "--set", "iterations=1", "--out", str(out)) == 2
    assert "is not empty" in capsys.readouterr().err

    for env, baseline in (("supervisor", "algorithm_only"), ("router", "rule_based")):
        ev = tmp_path / f"eval-{env}"
        argv = ["--env", env, "--policies", f"{out / 'checkpoint'},{baseline}", "--seeds", "2", "--no-curves"]
        assert evaluate([*argv, "--out", str(ev)]) == 0
        summary = json.loads((ev / "summary.json").read_text())
        assert str(out / "checkpoint") in summary["policies"]

    # a checkpoint file changed since the run listed it is refused
    from agents.loading import load

    cfg = load_config("taobao_2024")
    policy = load("supervisor", str(out / "checkpoint"), cfg)
    obs = np.zeros(policy.observation_space.shape, np.float32)
    assert policy.act(obs, {"action_mask": np.array([1, 0], np.int8)}) == 0
    state = out / "checkpoint/learner_group/learner/rl_module/router/metadata.json"
    state.write_text(state.read_text() + " ")
    with pytest.raises(ValueError, match="is not the file"):
        load("router", str(out / "checkpoint"), cfg)


def test_a_supervisor_sweep_writes_its_results_table(tmp_path: Path, ray_session: None) -> None:
    config = yaml.safe_load((ROOT / "configs/rllib_supervisor.yaml").read_text())
    config["tune"] = {"grid": {"hyperparameters.lr": [1.0e-4, 3.0e-4]}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "sweep"
    argv = [str(tmp_path / "sweep.yaml"), "--tune", "--set", "iterations=1", "--set", "num_env_runners=0"]
    assert _train(*argv, "--set", "hyperparameters.train_batch_size_per_learner=200", "--out", str(out)) == 0
    rows = list(csv.DictReader((out / "tune.csv").read_text().splitlines()))
    assert [(r["trial"], r["hyperparameters.lr"], r["iteration"]) for r in rows] == [("0", "0.0001", "1"),
                                                                                    ("1", "0.0003", "1")]  # fmt: skip
    assert all(float(r["env_steps"]) >= 200 and r["episode_return_mean"] for r in rows)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and run["tune"] and run["trials"] == 2 and "tune.csv" in run["files"]


def test_a_single_agent_checkpoint_without_run_json_is_told_by_its_spaces(tmp_path: Path, ray_session: None) -> None:
    from agents.loading import load
    from eval.policies import env_of_spec

    out = tmp_path / "sup"
    argv = ["--set", "iterations=1", "--set", "num_env_runners=1", "--set", "env.id=hitl_env/Router-v3"]
    assert _train(str(ROOT / "configs/rllib_supervisor.yaml"), *argv, "--out", str(out)) == 0
    (out / "run.json").unlink()  # as a user's own algo.save(): the module's observation space tells the kind
    cfg = load_config("taobao_2024")
    assert env_of_spec(str(out / "checkpoint"), cfg) == "router"
    policy = load("router", str(out / "checkpoint"), cfg)
    assert policy.act(np.zeros(policy.observation_space.shape, np.float32), {}) in (0, 1)
    with pytest.raises(ValueError, match="is a router checkpoint, not a supervisor one"):
        load("supervisor", str(out / "checkpoint"), cfg)


def test_hitl_bench_rllib_refuses_a_run_it_cannot_time(capsys) -> None:
    from eval.bench import main

    assert main(["--rllib", "--rllib-iterations", "1", "--env-steps", "0", "--train-steps", "0"]) == 2
    assert "--rllib needs --rllib-iterations of at least 2" in capsys.readouterr().err
