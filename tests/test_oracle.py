"""``oracle``: an upper bound that reads the latent state of the chat being decided, given its env.

Episodes are small (a team of 10 for 2 hours); the checks are exact: each action against the rule
applied to the latent state the test reads itself.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
import hitl_env
from agents.hooks import PolicyHook
from agents.oracle import NeedsEnv, Oracle
from hitl_env.envs import SUPERVISOR_ID

SMALL = {"team_size": 10, "shift_hours": 2.0}


def decisions(env: gym.Env, policy: agents.Policy, seed: int) -> list[tuple[dict, int, int]]:
    """One episode: per decision, the pending chat's latent state, the mask's takeover bit and the action."""
    sim_of = env.unwrapped
    policy.reset(seed)
    obs, info = env.reset(seed=seed)
    out, done = [], False
    while not done:
        action = policy.act(obs, info)
        sim = sim_of.sim
        if sim.pending is not None:
            c = sim.pending[1]
            latent = {"solvable": bool(sim.C.solvable[c]), "misread": bool(sim.C.misread[c]),
                      "left": int(sim.C.ai_need[c]) - int(sim.rec["ai_rounds"][c]),
                      "to_trigger": int(sim.C.tech_round[c]) - int(sim.rec["ai_rounds"][c]),
                      "rounds": int(sim.rec["ai_rounds"][c])}  # fmt: skip
            out.append((latent, int(info["action_mask"][1]), action))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return out


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({}, lambda x: x["solvable"] and x["misread"]),
        ({"misread_round": 2}, lambda x: x["solvable"] and x["misread"] and x["rounds"] >= 2),
        ({"misread_round": None, "on_track_left": 1},
         lambda x: x["solvable"] and not x["misread"] and x["left"] > 1),
        ({"misread_round": None, "technical_wait": 1}, lambda x: not x["solvable"] and x["to_trigger"] > 1),
        ({"misread_round": 1, "on_track_left": 0, "technical_wait": 0}, lambda x: True),
    ],
)  # fmt: skip
def test_the_oracle_acts_by_the_latent_type_of_the_chat(params: dict, rule) -> None:
    env = gym.make(SUPERVISOR_ID, **SMALL)
    oracle = agents.make("oracle", env=env, **params)
    steps = [step for seed in range(4) for step in decisions(env, oracle, seed)]
    assert len(steps) > 25
    kinds = {(x["solvable"], x["misread"]) for x, _, _ in steps}
    assert kinds == {(True, False), (True, True), (False, False)}  # every latent type is decided on
    for latent, allowed, action in steps:
        assert action == int(allowed and rule(latent)), (params, latent, allowed)


def test_taking_over_every_type_at_once_is_always_takeover() -> None:
    env = gym.make(SUPERVISOR_ID, **SMALL)
    everything = agents.make("oracle", env=env, misread_round=1, on_track_left=0, technical_wait=0)
    always = agents.make("always_takeover")
    for seed in range(3):
        assert agents.episode_return(env, everything, seed) == agents.episode_return(env, always, seed)


def test_without_its_env_the_oracle_refuses_to_act() -> None:
    env = gym.make(SUPERVISOR_ID, **SMALL)
    obs, info = env.reset(seed=0)
    with pytest.raises(NeedsEnv, match=r"latent state .*Oracle\(env=env\) or oracle.bind\(env\)"):
        agents.make("oracle").act(obs, info)
    other = gym.make(SUPERVISOR_ID, **SMALL)
    other.reset(seed=1)
    with pytest.raises(NeedsEnv, match="not its env's"):
        Oracle(env=other).act(obs, info)
    with pytest.raises(TypeError, match="no simulator"):
        Oracle().bind(object())


def test_its_parameters_are_checked() -> None:
    for params in ({"misread_round": 0}, {"on_track_left": -1}, {"technical_wait": 1.5}, {"misread_round": True}):
        with pytest.raises(ValueError, match="oracle: "):
            agents.make("oracle", **params)


def test_it_is_an_upper_bound_not_an_observable_policy() -> None:
    assert "oracle" not in agents.SUPERVISOR_POLICIES and agents.REFERENCE_POLICIES == ("oracle",)
    assert agents.needs_env(agents.make("oracle")) and not agents.needs_env(agents.make("always_takeover"))
    cfg = hitl_env.load_config("taobao_2024")
    with pytest.raises(ValueError, match="reads the latent state of a Gymnasium env's simulator"):
        PolicyHook("supervisor", "oracle", cfg)


def test_the_oracle_beats_the_observable_rule_it_refines() -> None:
    """Knowing which chats the AI misreads is worth something: on these 8 seeds the oracle's
    default rule (misread chats taken over at once, the rest left to the AI and its triggers) beats
    ``algorithm_only``, which takes nothing over, on every seed (the default reward)."""
    env = gym.make(SUPERVISOR_ID, **SMALL)
    seeds = range(8)
    oracle = np.array([agents.episode_return(env, agents.make("oracle", env=env), s) for s in seeds])
    never = np.array([agents.episode_return(env, agents.make("algorithm_only"), s) for s in seeds])
    assert (oracle - never).mean() > 0, oracle - never
