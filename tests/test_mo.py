"""The multi-objective variants with MO-Gymnasium's own wrappers: the reward is the vector."""

from __future__ import annotations

import pickle

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from mo_gymnasium.wrappers import LinearReward, MORecordEpisodeStatistics
from mo_gymnasium.wrappers.vector import MOSyncVectorEnv

import hitl_env  # noqa: F401  (registers the envs)
from hitl_env.envs import MO_ROUTER_ID, MO_SUPERVISOR_ID, ROUTER_ID, SUPERVISOR_ID
from hitl_env.rewards import COMPONENTS, validate_weights

PAIRS = [(MO_SUPERVISOR_ID, SUPERVISOR_ID), (MO_ROUTER_ID, ROUTER_ID)]
SMALL = {"team_size": 4, "shift_hours": 2.0}
SEEDS = (0, 1, 2)


def policy(rng: np.random.Generator):
    """A random policy within the mask (both actions happen, so both kinds of step are covered)."""
    return lambda info: int(info["action_mask"][1] and rng.random() < 0.3)


def play(env: gym.Env, seed: int) -> tuple[list, dict]:
    """Rewards of one episode under :func:`policy`, and the last step's info."""
    act = policy(np.random.default_rng(seed))
    _, info = env.reset(seed=seed)
    rewards, done = [], False
    while not done:
        _, r, terminated, truncated, info = env.step(act(info))
        rewards.append(r)
        done = terminated or truncated
    return rewards, info


@pytest.mark.parametrize(("mo_id", "scalar_id"), PAIRS)
def test_the_reward_is_the_vector_in_reward_space(mo_id: str, scalar_id: str) -> None:
    env = gym.make(mo_id, **SMALL)
    assert env.unwrapped.reward_space.shape == (len(COMPONENTS),) and env.unwrapped.reward_dim == len(COMPONENTS)
    rewards, _ = play(env, 0)
    assert len(rewards) > 10
    for r in rewards:
        assert r.dtype == np.float32 and env.unwrapped.reward_space.contains(r)
    assert mo_gym.make(mo_id, **SMALL).unwrapped.reward_space == env.unwrapped.reward_space


@pytest.mark.parametrize(("mo_id", "scalar_id"), PAIRS)
@pytest.mark.parametrize("seed", SEEDS)
def test_mo_record_episode_statistics_return_is_the_sum_of_the_vectors(mo_id: str, scalar_id: str, seed: int) -> None:
    env = MORecordEpisodeStatistics(gym.make(mo_id, **SMALL), gamma=1.0)
    rewards, info = play(env, seed)
    recorded = info["episode"]["r"]
    assert recorded.shape == (len(COMPONENTS),)
    assert len(set(recorded.tolist())) > 1, "the components differ (not one scalar copied five times)"
    running = np.zeros(len(COMPONENTS), np.float32)  # the wrapper's own float32 accumulation
    for r in rewards:
        running += r
    np.testing.assert_array_equal(recorded, running)
    np.testing.assert_allclose(recorded, np.sum(np.asarray(rewards, np.float64), axis=0), rtol=1e-5, atol=1e-3)
    assert info["episode"]["l"] == len(rewards)


@pytest.mark.parametrize(("mo_id", "scalar_id"), PAIRS)
@pytest.mark.parametrize("seed", SEEDS)
def test_linear_reward_with_the_default_weights_is_the_scalar_env(mo_id: str, scalar_id: str, seed: int) -> None:
    weighted = LinearReward(gym.make(mo_id, **SMALL), weight=validate_weights(None))
    linear, info = play(weighted, seed)
    scalar, _ = play(gym.make(scalar_id, **SMALL), seed)
    assert len(linear) == len(scalar)
    np.testing.assert_allclose(linear, scalar, rtol=0, atol=1e-9)  # step by step
    assert sum(linear) == pytest.approx(sum(scalar), abs=1e-9)
    assert info["reward_weights"] is weighted.w


@pytest.mark.parametrize(("mo_id", "scalar_id"), PAIRS)
def test_everything_but_the_reward_is_the_scalar_envs(mo_id: str, scalar_id: str) -> None:
    mo_env, env = gym.make(mo_id, **SMALL), gym.make(scalar_id, **SMALL)
    assert mo_env.observation_space == env.observation_space and mo_env.action_space == env.action_space
    a, b = mo_env.reset(seed=3), env.reset(seed=3)
    assert data_equivalence(a, b, exact=True)
    for t in range(50):
        x, y = mo_env.step(t % 2), env.step(t % 2)
        np.testing.assert_array_equal(x[1], y[4]["vector_reward"])
        assert data_equivalence((x[0], *x[2:]), (y[0], *y[2:]), exact=True)
        if x[2]:
            break


def test_vector_envs_and_pickle() -> None:
    envs = MOSyncVectorEnv([lambda: gym.make(MO_SUPERVISOR_ID, **SMALL) for _ in range(2)])
    envs.reset(seed=0)
    _, rewards, *_ = envs.step(np.zeros(2, np.int64))
    assert rewards.shape == (2, len(COMPONENTS))
    env = gym.make(MO_ROUTER_ID, **SMALL)
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(env.step(1), clone.step(1), exact=True)


def test_mo_variants_take_no_reward_weights() -> None:
    with pytest.raises(TypeError, match="reward_weights"):
        gym.make(MO_SUPERVISOR_ID, reward_weights={"rating": 2.0})
