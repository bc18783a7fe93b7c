"""The PettingZoo envs: API checkers, determinism, pickling, reward attribution, and the core's
default operation reproduced when every agent follows the default heuristics."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

from hitl_env.config import load_config
from hitl_env.envs import RouterEnv, SupervisorEnv
from hitl_env.envs.base import episode_config
from hitl_env.envs.observations import ROUTER_FIELDS, field_index
from hitl_env.multi_agent import ROUTER, TeamAECEnv, TeamParallelEnv, env, parallel_env
from hitl_env.rewards import DEFAULT_WEIGHTS, chat_components, scalarize
from hitl_env.sim.decisions import default_supervisor
from hitl_env.sim.population import draw_chats, draw_workers
from hitl_env.sim.team import TeamSim

PRESETS = ["taobao_2024", "mmn_abandonment"]
RULE_ELIGIBLE = field_index(ROUTER_FIELDS, "rule_eligible")
SMALL = {"team_size": 3, "shift_hours": 2.0}

# Warnings of PettingZoo's checkers that describe this env's design, not defects: heterogeneous
# spaces, dict observations carrying the action mask, zeros for agents whose decision is not
# due, and the agent name "router".
pytestmark = [
    pytest.mark.filterwarnings("ignore:Agents have different observation space sizes"),
    pytest.mark.filterwarnings("ignore:Observation is not a NumPy array"),
    pytest.mark.filterwarnings("ignore:Observation numpy array is all zeros"),
    pytest.mark.filterwarnings("ignore:Observation space for each agent probably should be"),
    pytest.mark.filterwarnings("ignore:Observations are different shapes"),
    pytest.mark.filterwarnings("ignore:We recommend agents to be named"),
]


def masked_random(seed: int, p: float = 0.3) -> Callable[[np.ndarray], int]:
    """A seeded policy that picks 1 with probability ``p`` where the mask allows it."""
    rng = np.random.default_rng(seed)
    return lambda mask: int(bool(mask[1]) and rng.random() < p)


# ----------------------------------------------------------------------------- PettingZoo checkers
@pytest.mark.parametrize("preset", PRESETS)
def test_pettingzoo_checkers(preset: str) -> None:
    api_test(env(preset=preset, **SMALL), num_cycles=1000)
    parallel_api_test(parallel_env(preset=preset, **SMALL), num_cycles=1000)
    seed_test(lambda: env(preset=preset, **SMALL), num_cycles=500)
    parallel_seed_test(lambda: parallel_env(preset=preset, **SMALL), num_cycles=500)


def test_agents_and_cached_spaces() -> None:
    e = TeamAECEnv(**SMALL)
    assert e.possible_agents == ["router", "supervisor_0", "supervisor_1", "supervisor_2"]
    router_box, sup_box = RouterEnv(**SMALL).observation_space, SupervisorEnv(**SMALL).observation_space
    for a in e.possible_agents:
        assert e.observation_space(a) is e.observation_space(a)
        assert e.action_space(a) is e.action_space(a)
        assert e.action_space(a).n == 2
        assert e.reward_space(a).shape == (len(DEFAULT_WEIGHTS),)
        box = e.observation_space(a)["observation"]
        expected = router_box if a == ROUTER else sup_box
        assert box.shape == expected.shape and np.array_equal(box.low, expected.low)
        assert np.array_equal(box.high, expected.high)
    assert e.observation_space("supervisor_0") is not e.observation_space("supervisor_1")


# ----------------------------------------------------------------------------- episodes
def run_aec(e: Any, policy: Callable[[Any, dict], int]) -> list[tuple]:
    """Play an AEC env to the end; the (agent, observation, reward, termination, info) seen."""
    seen = []
    for agent in e.agent_iter():
        obs, reward, term, trunc, info = e.last()
        seen.append((agent, obs, reward, term, info))
        e.step(None if term or trunc else policy(agent, obs))
    return seen


def run_parallel(e: TeamParallelEnv, policy: Callable[[Any, dict], int], obs: dict) -> list[tuple]:
    """Play a parallel env to the end from ``obs``; the step results."""
    seen = []
    while e.agents:
        out = e.step({a: policy(a, obs[a]) for a in e.agents})
        obs = out[0]
        seen.append(out)
    return seen


@pytest.mark.parametrize("make", [TeamAECEnv, TeamParallelEnv])
def test_same_seed_same_episode_other_seed_other_episode(make: type) -> None:
    def episode(seed: int) -> list:
        e = make(**SMALL)
        act = masked_random(0)
        first = e.reset(seed=seed)
        if isinstance(e, TeamAECEnv):
            return run_aec(e, lambda a, o: act(o["action_mask"]))
        return [first, *run_parallel(e, lambda a, o: act(o["action_mask"]), first[0])]

    a, b, c = episode(7), episode(7), episode(8)
    assert len(a) > 20
    assert data_equivalence(a, b, exact=True)
    assert not data_equivalence(a, c)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("api", ["aec", "parallel"])
def test_pickle_round_trip(preset: str, api: str) -> None:
    e = env(preset=preset, **SMALL) if api == "aec" else parallel_env(preset=preset, **SMALL)
    reset_out = e.reset(seed=5)
    act = masked_random(1)
    if api == "aec":
        for _ in range(10):
            e.step(act(e.last()[0]["action_mask"]))
    else:
        obs = reset_out[0]
        for _ in range(10):
            obs = e.step({a: act(obs[a]["action_mask"]) for a in e.agents})[0]
    twin = pickle.loads(pickle.dumps(e))
    runs = []
    for x in (e, twin):
        act = masked_random(2)  # the same actions for both
        if api == "aec":
            runs.append(run_aec(x, lambda a, o, act=act: act(o["action_mask"])))
        else:
            runs.append(run_parallel(x, lambda a, o, act=act: act(o["action_mask"]), obs))
    assert len(runs[0]) > 20
    assert data_equivalence(runs[0], runs[1], exact=True)


def test_degenerate_preset_only_the_router_acts() -> None:
    """Without AI (``mmn_abandonment``) supervisors never act, get nothing, and end with the shift."""
    e = env(preset="mmn_abandonment", **SMALL)
    e.reset(seed=0)
    seen = run_aec(e, lambda a, o: 1)
    live = [s for s in seen if not s[3]]
    assert {s[0] for s in live} == {ROUTER}
    assert len(live) == len(e.unwrapped.sim.t_arr) > 30  # one router decision per arrival
    dead = [s for s in seen if s[3]]
    assert sorted(s[0] for s in dead) == e.possible_agents
    assert all(s[2] == 0.0 for s in seen if s[0] != ROUTER)
    assert not e.agents and sum(e.unwrapped.sim.rec["routed_ai"]) == 0


# ----------------------------------------------------------------------------- rewards
def components(sim: TeamSim, chats: Any) -> np.ndarray:
    """The summed reward components of ``chats``, from the records (the definition the env's compiled sum follows)."""
    return np.sum([chat_components(sim.rec, sim.t_arr, c, "dense") for c in chats], axis=0)


def test_rewards_router_all_chats_supervisor_own_ai_chats() -> None:
    e = TeamParallelEnv(team_size=4, shift_hours=3.0)
    obs, _ = e.reset(seed=3)
    act = masked_random(4)
    totals = {a: np.zeros(len(DEFAULT_WEIGHTS)) for a in e.possible_agents}
    weights = np.array(list(DEFAULT_WEIGHTS.values()))
    for _, rewards, _, _, infos in run_parallel(e, lambda a, o: act(o["action_mask"]), obs):
        for a, r in rewards.items():
            assert r == pytest.approx(scalarize(infos[a]["vector_reward"], weights))
            totals[a] += infos[a]["vector_reward"]
    rec = e.sim.rec
    n = len(e.sim.t_arr)
    assert all(not np.isnan(rec["end_t"][c]) for c in range(n))  # every chat closed in the episode
    np.testing.assert_allclose(totals[ROUTER], components(e.sim, range(n)), rtol=1e-4)
    for w in range(4):
        mine = [c for c in range(n) if rec["routed_ai"][c] and rec["worker"][c] == w]
        assert mine, "every worker should have AI chats in this shift"
        np.testing.assert_allclose(totals[f"supervisor_{w}"], components(e.sim, mine), rtol=1e-4)


def test_aec_last_reward_is_the_reward_since_the_agent_last_acted() -> None:
    e = TeamAECEnv(**SMALL)
    e.reset(seed=2)
    weights = np.array(list(DEFAULT_WEIGHTS.values()))
    act, checked = masked_random(5), 0
    for _ in e.agent_iter():
        obs, reward, term, _, info = e.last()
        assert reward == pytest.approx(scalarize(info["vector_reward"], weights), rel=1e-5, abs=1e-4)
        checked += reward != 0.0
        e.step(None if term else act(obs["action_mask"]))
    assert checked > 5


# ----------------------------------------------------------------------------- the single-agent envs
@pytest.mark.parametrize("single", [RouterEnv, SupervisorEnv])
def test_observations_and_rewards_are_those_of_the_single_agent_envs(single: type) -> None:
    """With the other decisions made as the single-agent env's core makes them, the agents in its
    place see the same observations and earn the same rewards in total as the single-agent env."""
    size = {"team_size": 4, "shift_hours": 5.0}
    gym_env, ma = single(**size), TeamAECEnv(**size)
    act = masked_random(6)
    obs, _ = gym_env.reset(seed=11)
    expected, gym_total, done = [], np.zeros(len(DEFAULT_WEIGHTS)), False
    while not done:
        expected.append(obs)
        obs, _, done, _, info = gym_env.step(act(gym_env.action_masks()))
        gym_total += info["vector_reward"]

    ma.reset(seed=11)
    act, paper = masked_random(6), default_supervisor(gym_env.cfg)
    ours = (lambda a: a == ROUTER) if single is RouterEnv else (lambda a: a != ROUTER)
    seen, ma_total = [], np.zeros(len(DEFAULT_WEIGHTS))
    for agent in ma.agent_iter():
        obs, _, term, _, info = ma.last()
        if ours(agent):
            ma_total += info["vector_reward"]  # the vector since the agent last acted
        if term:
            ma.step(None)
        elif ours(agent):
            seen.append(obs["observation"])
            ma.step(act(obs["action_mask"]))
        elif agent == ROUTER:
            ma.step(int(obs["observation"][RULE_ELIGIBLE]))  # the category rule, as in Supervisor-v2
        else:
            ma.step(int(paper.takeover(ma.decision[1])))  # the paper's workers, as in Router-v3
    assert len(seen) > 10
    assert data_equivalence(seen, expected, exact=True)
    np.testing.assert_allclose(ma_total, gym_total, rtol=1e-4)


# ----------------------------------------------------------------------------- reproduction of the core
def core_run(preset: str, seed: int, team_size: int, shift_hours: float) -> TeamSim:
    """The core with its default hooks, run on the team a Gymnasium-seeded reset draws from ``seed``."""
    cfg = episode_config(load_config(preset), team_size, shift_hours, 9)
    rng, _ = seeding.np_random(seed)
    workers_ss, arrivals_ss, dynamics_ss = np.random.SeedSequence(int(rng.integers(2**63))).spawn(3)
    workers = draw_workers(cfg, np.random.default_rng(workers_ss))
    chats = draw_chats(cfg, workers, np.random.default_rng(arrivals_ss))
    sim = TeamSim(cfg, workers, chats, np.random.default_rng(dynamics_ss), None, default_supervisor(cfg))
    assert sim.run() is None
    return sim


def outcome_means(sims: list[TeamSim]) -> dict[str, float]:
    """Per-chat means pooled over shifts: duration, rating over rated chats, escalation shares."""
    rec = {k: np.concatenate([np.asarray(s.rec[k], float) for s in sims]) for k in ("end_t", "rated", "rating")}
    arrival = np.concatenate([np.asarray(s.t_arr) for s in sims])
    escalation = np.concatenate([np.asarray(s.rec["escalation"])[np.asarray(s.rec["routed_ai"]) == 1] for s in sims])
    means = {"duration_s": float(np.mean(rec["end_t"] - arrival))}
    means["rating"] = float(np.mean(rec["rating"][rec["rated"] == 1]))
    for k, name in enumerate(("none", "technical", "emotional", "human")):
        means[f"escalation_{name}"] = float(np.mean(escalation == k))
    return means


@pytest.mark.parametrize("api", ["aec", "parallel"])
def test_default_heuristics_reproduce_the_core_exactly(api: str) -> None:
    """20 seeded shifts: agents following the defaults give the core's records, chat by chat."""
    size = {"team_size": 4, "shift_hours": 3.0}
    paper = default_supervisor(episode_config(load_config("taobao_2024"), 4, 3.0, 9))
    counts = {"route": 0, "takeover": 0, "taken": 0}
    env_sims, core_sims = [], []
    for seed in range(20):
        e = TeamAECEnv(**size) if api == "aec" else TeamParallelEnv(**size)

        def default(agent: str, obs: dict, e: Any = e) -> int:
            if api == "parallel" and agent != e.due_agent:
                return 0
            kind, view = e.decision
            counts[kind] += 1
            if kind == "route":
                return int(obs["observation"][RULE_ELIGIBLE])  # the category rule
            take = int(paper.takeover(view))
            counts["taken"] += take
            return take

        first = e.reset(seed=seed)
        run_aec(e, default) if api == "aec" else run_parallel(e, default, first[0])
        env_sims.append(e.sim)
        core_sims.append(core_run("taobao_2024", seed, **size))
        for k, column in core_sims[-1].rec.items():
            np.testing.assert_array_equal(np.asarray(e.sim.rec[k]), np.asarray(column), err_msg=f"{k}, seed {seed}")
    assert counts["route"] == sum(len(s.t_arr) for s in core_sims) > 500
    assert counts["takeover"] > 200 and counts["taken"] > 10
    assert outcome_means(env_sims) == outcome_means(core_sims)


# ----------------------------------------------------------------------------- masks, errors, rendering
def test_masked_action_acts_as_no_op() -> None:
    """Always answering 1: chats of categories that may not go to the AI still go to humans."""
    e = TeamAECEnv(**SMALL)
    e.reset(seed=4)
    allowed = [c.ai_allowed for c in load_config("taobao_2024").categories.values()]
    masks = {ROUTER: set(), "supervisor": set()}
    for agent in e.agent_iter():
        obs, _, term, _, info = e.last()
        if not term:
            assert np.array_equal(obs["action_mask"], info["action_mask"])
            masks[ROUTER if agent == ROUTER else "supervisor"].add(tuple(obs["action_mask"]))
        e.step(None if term else 1)
    assert masks[ROUTER] == {(1, 0), (1, 1)}
    rec, category = e.sim.rec, e.sim.category
    assert [rec["eligible"][c] for c in range(len(category))] == [int(allowed[k]) for k in category]


def test_bad_actions_and_arguments_fail_with_a_message() -> None:
    with pytest.raises(ValueError, match="team_size"):
        TeamParallelEnv(team_size=0)
    e = TeamParallelEnv(**SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        e.step({})
    e.reset(seed=0)
    with pytest.raises(ValueError, match="whose decision is due"):
        e.step({a: 0 for a in e.agents if a != e.due_agent})
    with pytest.raises(ValueError, match="must be 0 or 1"):
        e.step({e.due_agent: 2})
    for not_a_mapping in ([0], None):
        with pytest.raises(ValueError, match="actions must map agent names to actions"):
            e.step(not_a_mapping)  # type: ignore[arg-type]
    a = TeamAECEnv(**SMALL)
    a.reset(seed=0)
    with pytest.raises(ValueError, match="must be 0 or 1"):
        a.step(None)


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render(mode: str) -> None:
    e = env(render_mode=mode, **SMALL)
    e.reset(seed=0)
    for _ in range(20):
        e.step(0)
    out = e.render()
    if mode == "ansi":
        assert "queue" in out and out.count("\nworker ") == 3
    else:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
