"""``Supervisor-v2(credit="chat")``: an episode is one AI chat, credited with its own outcome."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

from hitl_env.config import ConfigError
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.rewards import chat_components, scalarize
from train.config import load_train_config
from train.envs import EpisodeStats


def chat_episodes(env: gym.Env, seed: int, n: int, policy=lambda obs: 0) -> list[dict]:
    """``n`` chat episodes from ``seed`` on: each one's chat, rewards, first observation and actions."""
    base = env.unwrapped
    out = []
    obs, info = env.reset(seed=seed)
    for _ in range(n):
        ep = {"chat": base._focal.focal, "first": obs.copy(), "rewards": [], "chats": set(), "sim": base.sim}
        done = False
        while not done:
            ep["chats"].add(base.decision[1].chat)
            obs, reward, done, truncated, info = env.step(policy(obs))
            assert not truncated
            ep["rewards"].append(reward)
        ep["vector"] = info["vector_reward"]
        out.append(ep)
        obs, info = env.reset()
    return out


def test_an_episode_is_one_chat_from_its_first_decision_with_its_own_outcome_as_the_reward() -> None:
    env = gym.make(SUPERVISOR_ID, credit="chat")
    base = env.unwrapped
    eps = chat_episodes(env, 0, 300, policy=lambda obs: int(obs[2] < -0.5))  # take over frustrated-looking chats
    shifts = {id(ep["sim"]) for ep in eps}
    assert len(shifts) >= 3, "the episodes go on into the next shifts"
    for ep in eps:
        assert ep["chats"] == {ep["chat"]}, "every decision of an episode is on its chat"
        assert ep["first"][0] == 1.0, "an episode starts at its chat's first decision (one AI round)"
        assert all(r == 0.0 for r in ep["rewards"][:-1])
        sim = ep["sim"]
        expected = chat_components(sim.rec, sim.t_arr, ep["chat"], "dense")
        assert np.allclose(ep["vector"], expected, atol=1e-4)
        assert ep["rewards"][-1] == pytest.approx(scalarize(ep["vector"], base.settings.weights))
    # chats of one shift come in the order of their first decisions, each once
    first = [ep["chat"] for ep in eps if ep["sim"] is eps[0]["sim"]]
    assert len(first) == len(set(first)) > 10
    steps = sum(len(ep["rewards"]) for ep in eps)
    assert 1.2 < steps / len(eps) < 4


def test_left_to_the_ai_the_chats_close_as_in_the_shift_episode() -> None:
    """Never taking over, the chat episodes replay the shift of ``credit="shift"``: the same chats
    close at the same times with the same outcomes."""
    chat, shift = gym.make(SUPERVISOR_ID, credit="chat"), gym.make(SUPERVISOR_ID)
    eps = chat_episodes(chat, 5, 40)
    shift.reset(seed=5)
    done = False
    while not done:
        _, _, done, _, _ = shift.step(0)
    one = [ep for ep in eps if ep["sim"] is eps[0]["sim"]]
    a, b = one[0]["sim"].rec, shift.unwrapped.sim.rec
    for ep in one:
        c = ep["chat"]
        assert a["end_t"][c] == b["end_t"][c] and a["satisfaction"][c] == b["satisfaction"][c]
        assert a["escalation"][c] == b["escalation"][c]


def test_the_same_seed_gives_the_same_chat_episodes() -> None:
    a = chat_episodes(gym.make(SUPERVISOR_ID, credit="chat"), 3, 60, policy=lambda obs: int(obs[4] < 0.4))
    b = chat_episodes(gym.make(SUPERVISOR_ID, credit="chat"), 3, 60, policy=lambda obs: int(obs[4] < 0.4))
    assert [e["chat"] for e in a] == [e["chat"] for e in b]
    assert [e["rewards"] for e in a] == [e["rewards"] for e in b]


def test_a_shift_without_decisions_is_a_one_step_episode_each_time() -> None:
    env = gym.make(SUPERVISOR_ID, preset="mmn_abandonment", credit="chat", shift_hours=0.5)
    for seed in (0, None, None):
        obs, info = env.reset(seed=seed)
        assert not obs.any() and info["action_mask"].tolist() == [1, 0]
        _, reward, done, _, _ = env.step(0)
        assert done and reward == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"credit": "day"}, "credit must be one of"), ({"credit": "chat", "scope": "team"}, 'needs scope="ai"')],
)
def test_bad_credit_arguments_are_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(SUPERVISOR_ID, **kwargs)


def test_the_training_config_passes_credit_to_the_envs_that_take_it() -> None:
    cfg = load_train_config(None, {"env.credit": "chat"})
    assert cfg.env.kwargs()["credit"] == "chat"
    assert "credit" not in load_train_config(None).env.kwargs()  # (run.json files of older runs lack it)
    assert (
        load_train_config(None, {"env.credit": "chat", "env.id": "hitl_env/Router-v3"}).env.kwargs()["credit"] == "chat"
    )
    with pytest.raises(ConfigError, match=r"env\.credit applies only to hitl_env/Supervisor-v2 and hitl_env/Router-v3"):
        load_train_config(None, {"env.credit": "chat", "env.id": "hitl_train/SharedSupervisor-v2"})
    with pytest.raises(ConfigError, match=r"env\.scope applies only to hitl_env/Supervisor-v2"):
        load_train_config(None, {"env.scope": "team", "env.id": "hitl_env/Router-v3"})
    with pytest.raises(ConfigError, match=r'needs env\.scope "ai"'):
        load_train_config(None, {"env.credit": "chat", "env.scope": "team"})


@pytest.mark.parametrize("policy", [lambda obs: 0, lambda obs: int(obs[2] < -0.5)])
def test_episode_stats_of_a_chat_episode_hold_its_components_and_every_shifts_kpis_once(policy) -> None:
    """Each shift's KPIs come with the episode of its last chat, for every shift (a chat episode
    never ends while later decisions of chats decided meanwhile are pending)."""
    env = EpisodeStats(gym.make(SUPERVISOR_ID, credit="chat", team_size=5, shift_hours=2.0))
    obs, _ = env.reset(seed=0)
    sims, ends = [env.unwrapped.sim], []
    while len(sims) < 30:
        done = False
        while not done:
            obs, _, done, _, info = env.step(policy(obs))
        stats = info["episode_stats"]
        assert {f"reward/{c}" for c in ("rating", "duration", "worker_time", "retrial", "abandonment")} <= set(stats)
        assert stats["reward/duration"] < 0
        if "kpi/ai_share" in stats:
            ends.append(env.unwrapped.sim)
            assert np.isfinite(env.unwrapped.sim.rec["end_t"]).all(), "the shift is over"
        obs, _ = env.reset()
        if env.unwrapped.sim is not sims[-1]:
            sims.append(env.unwrapped.sim)
    assert ends == sims[:-1], "every finished shift's KPIs were logged, once"


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID])
def test_pickle_round_trip_continues_identically(env_id: str) -> None:
    env = gym.make(env_id, credit="chat", team_size=5, shift_hours=2.0)
    env.reset(seed=5)
    for _ in range(7):
        _, _, done, _, _ = env.step(1)
        if done:
            env.reset()
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(60):
        a, b = env.step(1), clone.step(1)
        assert data_equivalence(a, b, exact=True)
        if a[2]:
            assert data_equivalence(env.reset(), clone.reset(), exact=True)


def test_a_reset_before_the_end_starts_at_the_next_chats_first_decision() -> None:
    env = gym.make(SUPERVISOR_ID, credit="chat")
    obs, _ = env.reset(seed=2)
    for _ in range(20):
        first = env.unwrapped._focal.focal
        obs, *_ = env.step(0)  # (episodes given up after one step; their chats are left to the AI)
        obs, _ = env.reset()
        assert obs[0] == 1.0 and env.unwrapped._focal.focal != first


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID])
def test_gymnasiums_env_checker_passes(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(env_id, credit="chat").unwrapped, skip_render_check=True)


def test_router_chat_episodes_are_one_routing_decision_each_with_that_chats_outcome() -> None:
    env = gym.make(ROUTER_ID, credit="chat", preset="promotion_day")
    base = env.unwrapped
    eps = chat_episodes(env, 0, 200, policy=lambda obs: int(obs[1] > 0.5))  # every chat that may go to the AI
    assert all(len(ep["rewards"]) == 1 and ep["chats"] == {ep["chat"]} for ep in eps)
    for ep in eps:
        sim = ep["sim"]
        assert np.allclose(ep["vector"], chat_components(sim.rec, sim.t_arr, ep["chat"], "dense"), atol=1e-4)
        assert ep["rewards"][0] == pytest.approx(scalarize(ep["vector"], base.settings.weights))
    one = [ep for ep in eps if ep["sim"] is eps[0]["sim"]]
    chats = [ep["chat"] for ep in one]
    assert chats == sorted(chats) and len(chats) > 10
    sim = one[0]["sim"]
    between = [c for c in range(chats[0], chats[-1]) if c not in set(chats)]
    assert between, "arrivals while a chat's episode is open are routed by the paper's rule"
    rule = sim.C.category  # the rule marks exactly the eligible categories
    eligible = np.array([c.eligible for c in base.cfg.categories.values()])
    assert (sim.rec["eligible"][between] == eligible[rule[between]]).all()
    taken = [ep["chat"] for ep in one]
    allowed = np.array([c.ai_allowed for c in base.cfg.categories.values()])
    assert (sim.rec["eligible"][taken] == allowed[rule[taken]]).all()
