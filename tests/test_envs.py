"""The Gymnasium envs: API checkers, determinism, masks, rewards, rendering, errors."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

import hitl_env  # noqa: F401  (registers the envs)
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.base import EPISODE_KEYS
from hitl_env.envs.observations import ROUTER_FIELDS, SUPERVISOR_FIELDS, field_index
from hitl_env.multi_agent import TeamParallelEnv
from hitl_env.rewards import COMPONENTS, DEFAULT_WEIGHTS, chat_components, vector_reward
from hitl_env.sim.kernel import HUMAN_INIT

ENVS = (SUPERVISOR_ID, ROUTER_ID)
PRESETS = ("taobao_2024", "mmn_abandonment")
RULE_ELIGIBLE = field_index(ROUTER_FIELDS, "rule_eligible")
SMALL = {"team_size": 4, "shift_hours": 2.0}


def rollout(env: gym.Env, seed: int, policy=lambda obs, info: 0, steps: int = 10**6) -> list:
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    for _ in range(steps):
        obs, r, term, trunc, info = env.step(policy(obs, info))
        out.append((obs, r, term, trunc, info))
        if term or trunc:
            break
    return out


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("env_id", ENVS)
def test_gymnasium_and_sb3_checkers_pass_without_warnings(env_id: str, preset: str) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id, preset=preset, **SMALL).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
        sb3_check_env(env, warn=True)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("env_id", ENVS)
def test_pickle_round_trip_continues_identically(env_id: str, preset: str) -> None:
    env = gym.make(env_id, preset=preset, **SMALL)
    env.reset(seed=5)
    for _ in range(3):
        if env.unwrapped.decision is None:  # a shift with no decision (no AI): pickle at the start
            break
        env.step(0)
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(20):
        a, b = env.step(1), clone.step(1)
        assert data_equivalence(a, b, exact=True)
        if a[2]:
            break


@pytest.mark.parametrize("env_id", ENVS)
def test_same_seed_same_trajectory_different_seed_differs(env_id: str) -> None:
    def flip(obs, info):
        return int(info["action_mask"][1] and obs.sum() % 2 > 1)

    a = rollout(gym.make(env_id, **SMALL), seed=11, policy=flip)
    b = rollout(gym.make(env_id, **SMALL), seed=11, policy=flip)
    c = rollout(gym.make(env_id, **SMALL), seed=12, policy=flip)
    assert data_equivalence(a, b, exact=True)
    assert not data_equivalence(a, c)


def test_supervisor_episode_holds_the_teams_takeover_decisions() -> None:
    env = gym.make(SUPERVISOR_ID)  # the documented default: 10 workers, 8 hours
    steps = rollout(env, seed=0)
    # about 11.3 arrivals per worker-hour, 5.8% eligible, a few AI rounds each: ~100-200 decisions
    assert 60 <= len(steps) - 1 <= 300
    assert steps[-1][2] is True  # terminated at the end of the shift's work
    obs = steps[1][0]
    rounds, confidence = field_index(SUPERVISOR_FIELDS, "ai_rounds"), field_index(SUPERVISOR_FIELDS, "confidence")
    assert obs[rounds] >= 1 and 0 <= obs[confidence] <= 1 and obs[len(SUPERVISOR_FIELDS) :].sum() == 1


def test_router_gets_every_arrival_and_the_rule_marks_eligibility() -> None:
    env = gym.make(ROUTER_ID, **SMALL)
    obs, _ = env.reset(seed=3)
    n, eligible = 0, 0
    done = False
    while not done:
        eligible += int(obs[RULE_ELIGIBLE])
        n += 1
        obs, _, done, _, _ = env.step(int(obs[RULE_ELIGIBLE]))
    sim = env.unwrapped.sim
    assert n == len(sim.t_arr) > 50
    assert sum(sim.rec["eligible"]) == eligible


def test_masked_router_action_acts_as_human() -> None:
    env = gym.make(ROUTER_ID, **SMALL)
    _, info = env.reset(seed=1)
    sent_masked = 0
    done = False
    while not done:
        masked = info["action_mask"][1] == 0
        sent_masked += masked
        c = env.unwrapped.decision[1].chat
        _, _, done, _, info = env.step(1)
        if masked:
            assert env.unwrapped.sim.rec["eligible"][c] == 0
    assert sent_masked > 0  # complaints and account security came up and were kept from the AI


def test_vector_reward_is_the_weighted_components_and_sparse_rating_is_rarer() -> None:
    weights = {"rating": 2.0, "duration": 0.0, "worker_time": 0.0, "retrial": 1.0, "abandonment": 0.0}
    for rating in ("dense", "sparse"):
        env = gym.make(ROUTER_ID, reward_weights=weights, rating=rating, **SMALL)
        steps = rollout(env, seed=4, policy=lambda obs, info: int(obs[RULE_ELIGIBLE]))
        vecs = np.array([s[4]["vector_reward"] for s in steps[1:]])
        rewards = np.array([s[1] for s in steps[1:]])
        w = np.array([weights[k] for k in COMPONENTS])
        np.testing.assert_allclose(rewards, vecs.astype(np.float64) @ w, rtol=1e-5, atol=1e-4)
        assert env.unwrapped.reward_space.shape == (len(COMPONENTS),)
        closed = sum(1 for c in env.unwrapped.sim.rec["end_t"] if c == c)
        assert -vecs[:, COMPONENTS.index("abandonment")].sum() <= closed
        if rating == "sparse":
            rated = sum(env.unwrapped.sim.rec["rated"])
            assert 0.08 * closed < rated < 0.3 * closed
    assert set(DEFAULT_WEIGHTS) == set(COMPONENTS)


@pytest.mark.parametrize("rating", ["dense", "sparse"])
def test_the_compiled_reward_sums_chat_components_to_the_bit(rating: str) -> None:
    """vector_reward (compiled: kernel.chat_rewards) against chat_components, the definition, summed
    in float64 in the same order: the same float32 vectors, bit for bit."""
    env = gym.make(SUPERVISOR_ID, **SMALL)
    rollout(env, seed=4, policy=lambda obs, info: int(obs[field_index(SUPERVISOR_FIELDS, "ai_rounds")] == 2))
    sim = env.unwrapped.sim
    closed = [c for c, t in enumerate(sim.rec["end_t"]) if t == t]
    took = [c for c in closed if sim.rec["escalation"][c] == HUMAN_INIT]  # worker time from the takeover
    assert len(closed) > 100 and took and not all(sim.rec["routed_ai"][closed])
    for chats in (closed, closed[::-7], took, [closed[0]], []):
        for ai_only in (False, True):
            want = np.zeros(len(COMPONENTS))
            for c in chats:
                if sim.rec["routed_ai"][c] or not ai_only:
                    want += chat_components(sim.rec, sim.t_arr, c, rating)
            got = vector_reward(sim, chats, rating, ai_only)
            assert got.dtype == np.float32 and got.tobytes() == want.astype(np.float32).tobytes(), (chats[:3], ai_only)
    assert vector_reward(sim, closed, rating)[2] < vector_reward(sim, closed, rating, ai_only=True)[2] < 0


@pytest.mark.parametrize("bad", [[10**7], [-1], [0.0], [[0, 1]]])
def test_the_compiled_reward_refuses_what_is_not_a_chat_index(bad: list) -> None:
    env = gym.make(SUPERVISOR_ID, **SMALL)
    env.reset(seed=0)
    sim = env.unwrapped.sim
    with pytest.raises(IndexError, match="chat"):
        vector_reward(sim, bad, "dense")
    assert vector_reward(sim, range(3), "dense").dtype == np.float32  # (a range, or numpy ints, are indices)


def test_masks_of_hand_built_views_take_numpy_bools() -> None:
    from hitl_env.envs.observations import SupervisorObs
    from hitl_env.sim.hooks import RoundView

    obs = gym.make(SUPERVISOR_ID).unwrapped.obs
    assert isinstance(obs, SupervisorObs)
    for flag, want in ((np.True_, [1, 1]), (1.0, [1, 1]), (False, [1, 0])):
        view = RoundView(0, 0, 0.0, 0.0, 1, 0.0, 0.0, 0.5, 0, 1, 1, 0, flag, 0.5)  # type: ignore[arg-type]
        mask = obs.mask(view)
        assert mask.tolist() == want and mask.dtype == np.int8
        mask[1] = 7  # a copy: the next mask is unchanged
    assert obs.mask(view).tolist() == [1, 0]


def test_supervisor_scope_scores_the_ai_chats_or_the_whole_team() -> None:
    sums = {}
    for scope in ("ai", "team"):
        env = gym.make(SUPERVISOR_ID, scope=scope, **SMALL)
        steps = rollout(env, seed=2, policy=lambda obs, info: int(obs[field_index(SUPERVISOR_FIELDS, "reading")] < -1))
        sums[scope] = np.sum([s[4]["vector_reward"] for s in steps[1:]], axis=0, dtype=np.float64)
        sim = env.unwrapped.sim
        closed = [c for c, t in enumerate(sim.rec["end_t"]) if t == t]
        first = steps[0][1]["time_s"]  # chats closed before the first decision are not scored
        scored = [c for c in closed if sim.rec["end_t"][c] > first and (scope == "team" or sim.rec["routed_ai"][c])]
        expect = np.sum([chat_components(sim.rec, sim.t_arr, c, "dense") for c in scored], axis=0)
        np.testing.assert_allclose(sums[scope], expect, rtol=1e-4, atol=1e-2)
    # the same shift and actions: the team scope adds the human-handled chats' worker time
    wt = COMPONENTS.index("worker_time")
    assert sums["team"][wt] < sums["ai"][wt] < 0
    with pytest.raises(ValueError, match=r"scope must be one of \('ai', 'team'\), got 'all'"):
        gym.make(SUPERVISOR_ID, scope="all")


@pytest.mark.parametrize("env_id", ENVS)
def test_render_modes(env_id: str) -> None:
    text = gym.make(env_id, render_mode="ansi", **SMALL)
    text.reset(seed=0)
    frame = text.render()
    assert frame.startswith("time ") and frame.count("\nworker ") == SMALL["team_size"]
    image = gym.make(env_id, render_mode="rgb_array", **SMALL)
    image.reset(seed=0)
    img = image.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert (img != 255).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rating": "often"}, "rating must be one of"),
        pytest.param(  # gymnasium.make warns about the unknown mode before the env raises
            {"render_mode": "video"},
            "render_mode must be one of",
            marks=pytest.mark.filterwarnings("ignore:.*render_mode='video'.*:UserWarning"),
        ),
        ({"reward_weights": {"speed": 1.0}}, "unknown reward component 'speed'"),
        ({"reward_weights": dict.fromkeys(COMPONENTS, 0.0)}, "every reward weight is 0"),
        ({"team_size": 0}, "team_size must be a positive integer"),
        ({"start_hour": 20, "shift_hours": 8.0}, r"shift_hours must be a number in \(0, 4\]"),
        ({"shift_hours": "1"}, r"shift_hours must be a number in \(0, 15\] for start_hour=9, got '1'"),
        ({"team_size": 2.0}, "team_size must be a positive integer, got 2.0"),
        ({"overrides": {"ai.misread": 2}}, r"ai.misread=2.0 is outside the allowed range"),
        ({"overrides": "ai.misread=0.2"}, "overrides must be a mapping of dotted keys to values, got str"),
        ({"overrides": {("ai", "misread"): 0.2}}, "override keys must be dotted strings"),
        ({"reward_weights": [1.0, 0.05]}, "reward weights must be a mapping of component to weight, got list"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(SUPERVISOR_ID, **kwargs)


@pytest.mark.parametrize("key", list(EPISODE_KEYS))
def test_overrides_an_episode_sets_itself_are_refused(key: str) -> None:
    # the episode would replace them (one team, one shift, every worker with the AI) without a word
    value = [1.0] * 24 if key == "arrivals.shift_start_weights" else 1
    section, field = key.split(".")
    for overrides in ({key: value}, {section: {field: value}}):
        with pytest.raises(ValueError, match=rf"overrides: {key} is set by the env \({EPISODE_KEYS[key]}\)"):
            gym.make(SUPERVISOR_ID, overrides=overrides)
        with pytest.raises(ValueError, match=rf"overrides: {key} is set by the env"):
            TeamParallelEnv(overrides=overrides)


def test_other_overrides_reach_the_episode() -> None:
    overrides = {"ai.misread": 0.25, "service.max_concurrency": 3}
    cfg = gym.make(ROUTER_ID, overrides=overrides, team_size=4).unwrapped.cfg
    assert (cfg.ai.misread, cfg.service.max_concurrency, cfg.experiment.team_size) == (0.25, 3, 4)


def test_numpy_scalars_are_fine_arguments() -> None:
    kwargs = {"team_size": np.int64(2), "start_hour": np.int32(9), "shift_hours": np.float32(2.0)}
    env = gym.make(SUPERVISOR_ID, overrides={"ai.misread": np.float64(0.25)}, **kwargs).unwrapped
    assert env.cfg.experiment.team_size == 2 and type(env.cfg.experiment.team_size) is int
    assert env.cfg.ai.misread == 0.25


def test_step_before_reset_and_after_the_end_fail_clearly() -> None:
    env = gym.make(SUPERVISOR_ID, preset="mmn_abandonment", **SMALL).unwrapped
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    _, reward, terminated, _, _ = env.step(0)  # no AI in this preset: one step, no reward
    assert terminated and reward == 0.0
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    with pytest.raises(ValueError, match="action must be 0 or 1"):
        env.reset(seed=0)
        env.step(2)


def test_the_decision_space_samples_as_gymnasium_does_only_faster() -> None:
    from gymnasium.spaces import Discrete

    from hitl_env.envs.observations import BinaryAction

    masks = [np.array(m, np.int8) for m in ([1, 1], [1, 0], [1, 1], [0, 1], [0, 0], [1, 1])]
    for seed in range(50):
        ours, theirs = BinaryAction(seed=seed), Discrete(2, seed=seed)
        p = np.array([0.3, 0.7])
        got = [ours.sample(mask=m) for m in masks * 5] + [ours.sample(), ours.sample(probability=p)]
        want = [theirs.sample(mask=m) for m in masks * 5] + [theirs.sample(), theirs.sample(probability=p)]
        assert got == want and all(type(a) is type(b) for a, b in zip(got, want, strict=True))
    assert BinaryAction() == Discrete(2) and gym.make(SUPERVISOR_ID).action_space == Discrete(2)
    with pytest.raises(AssertionError, match="dtype of the sample mask"):  # anything else: Gymnasium's checks
        BinaryAction().sample(mask=np.array([1, 1]))
