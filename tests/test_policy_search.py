"""``eval.policy_search``: the linear rule acts as written, and the search is seeded."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents import make
from eval.policy_search import LinearRule, _main, compare, returns, search, standardization
from hitl_env.envs import SUPERVISOR_ID
from hitl_env.envs.observations import SUPERVISOR_FIELDS, field_index


@pytest.fixture(scope="module")
def env():
    return gym.make(SUPERVISOR_ID).unwrapped


def test_the_rule_reads_the_standardized_observation_and_honours_the_mask(env) -> None:
    mean, scale = standardization(env, [0])
    assert mean.shape == scale.shape == env.observation_space.shape and (scale > 0).all()
    w = np.zeros(1 + len(mean))
    w[1 + field_index(SUPERVISOR_FIELDS, "reading")] = -1.0  # take over when the reading is below its mean
    rule = LinearRule(w, mean, scale)
    obs = mean.astype(np.float32).copy()
    obs[field_index(SUPERVISOR_FIELDS, "reading")] -= scale[field_index(SUPERVISOR_FIELDS, "reading")]
    assert rule.act(obs, {"action_mask": np.array([1, 1])}) == 1
    assert rule.act(obs, {"action_mask": np.array([1, 0])}) == 0
    assert rule.act(mean + scale, {"action_mask": np.array([1, 1])}) == 0
    assert (rule.decisions, rule.takeovers) == (3, 1)


def test_a_rule_that_never_fires_plays_like_algorithm_only(env) -> None:
    mean, scale = standardization(env, [0])
    never = LinearRule(np.r_[-1.0, np.zeros(len(mean))], mean, scale)
    assert np.array_equal(returns(env, never, [3, 4], "dense"), returns(env, make("algorithm_only"), [3, 4], "dense"))


def test_the_search_is_seeded_and_compares_on_other_seeds(env) -> None:
    a = search(env, [0, 1], "dense", seed=0, iterations=1, progress=False)
    b = search(env, [0, 1], "dense", seed=0, iterations=1, progress=False)
    c = search(env, [0, 1], "dense", seed=1, iterations=1, progress=False)
    assert np.array_equal(a.w, b.w) and not np.array_equal(a.w, c.w)
    table = compare(env, a, "algorithm_only", "oracle", [1000, 1001], "dense", 1000)
    assert list(table["policy"]) == ["algorithm_only", "linear rule (searched)", "oracle (upper bound)"]
    assert table["diff"].iloc[0] == 0.0 and table["diff"].iloc[2] > 0  # the oracle gains on these shifts


@pytest.mark.parametrize(("args", "message"), [
    (["--seed", "5"], "overlap the tuning seeds 0-19"),
    (["--baseline", "nope"], "unknown supervisor policy 'nope'"),
    (["--set", "ai.nope=1"], "unknown key 'ai.nope'"),
    (["--seeds", "0"], "--seeds must be at least 1"),
])  # fmt: skip
def test_bad_arguments_are_one_line_usage_errors(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        _main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
