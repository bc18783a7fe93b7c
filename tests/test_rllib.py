"""The RLlib adapter and team training: observations only for the due agent, each chat once.

Needs ray (the ``rllib`` extra, in the test extra so that CI runs it); skipped where it is not
installed. The training is tiny: a team of 3 for 1 hour, 2 iterations of 400 steps, 2 env runners.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from hitl_env.multi_agent import ROUTER, parallel_env  # noqa: E402
from train.rllib_env import RLlibTeamEnv  # noqa: E402

SMALL = {"team_size": 3, "shift_hours": 1.0}


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


def test_trains_the_team_for_2_iterations_with_2_env_runners(tmp_path: Path) -> None:
    from train.rllib import team_config, train_team

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = team_config(SMALL, num_env_runners=2, hidden=16, train_batch=400, minibatch=100, epochs=1)
        results, checkpoint = train_team(config, 2, tmp_path / "ckpt")
    finally:
        ray.shutdown()
    runners = results[-1]["env_runners"]
    assert runners["num_env_steps_sampled_lifetime"] >= 800
    assert set(runners["agent_episode_returns_mean"]) >= {ROUTER, "supervisor_0"}
    assert np.isfinite(runners["episode_return_mean"])
    assert (checkpoint / "learner_group").is_dir()
