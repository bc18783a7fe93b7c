"""``eval.takeover_value``: the value of a takeover by latent type and decision, and the posterior rule."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from agents.oracle import LATENT_TYPES
from eval.takeover_value import (
    ROUNDS,
    PosteriorRule,
    _finish,
    _main,
    break_even,
    posterior_rule,
    takeover_values,
    value_table,
)
from hitl_env.envs import SUPERVISOR_ID
from hitl_env.io import loads
from hitl_env.rewards import COMPONENTS, DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def chat_env():
    return gym.make(SUPERVISOR_ID, credit="chat").unwrapped


@pytest.fixture(scope="module")
def sampled(chat_env):
    return takeover_values(chat_env, range(40), progress=False)


def test_playing_both_branches_leaves_the_shift_as_algorithm_only_plays_it(chat_env) -> None:
    samples, obs = takeover_values(chat_env, [3], progress=False)
    env = gym.make(SUPERVISOR_ID, credit="chat").unwrapped
    seen, chats = [], 0
    o, info = env.reset(seed=3)
    while True:
        done, foreseen, vec = False, None, np.zeros(len(COMPONENTS))
        while not done:
            if info["action_mask"][1]:
                seen.append(o.copy())
                if foreseen is None:  # the copy, left to the AI, plays out what the env then does
                    foreseen = _finish(copy.deepcopy(env), 0)
            o, _, done, _, info = env.step(0)
            vec += info["vector_reward"]
        if foreseen is not None:
            chats += 1
            np.testing.assert_array_equal(foreseen, vec)
        if env.decision is None:
            break
        o, info = env.reset()
    assert chats > 20 and len(samples) == len(seen) and np.array_equal(obs, np.array(seen))
    assert list(samples.columns) == ["seed", "decision", "type", "value", *COMPONENTS]
    weights = np.array([DEFAULT_WEIGHTS[c] for c in COMPONENTS])
    np.testing.assert_allclose(samples["value"], samples[list(COMPONENTS)].to_numpy() @ weights, atol=1e-9)


def test_the_same_shifts_give_the_same_values(chat_env, sampled) -> None:
    again, obs = takeover_values(chat_env, range(40), progress=False)
    pd.testing.assert_frame_equal(again, sampled[0])
    assert np.array_equal(obs, sampled[1])


def test_a_takeover_costs_the_labour_of_an_on_track_chat_and_rescues_a_misread_one(sampled) -> None:
    table = value_table(sampled[0], n_boot=500).set_index(["type", "decision"])
    assert set(table.index.get_level_values("type")) == set(LATENT_TYPES)
    assert (table["lo"] <= table["value"]).all() and (table["value"] <= table["hi"]).all()
    on = table.loc["on_track"]
    assert (on["hi"] < 0).all()  # the AI would have closed it alone: the worker's minutes are lost
    assert (on["worker_time"] < -2).all()  # minutes of hand handling added
    first = table.xs(1, level="decision")
    assert first.loc["misread", "lo"] > 0 and first.loc["beyond", "lo"] > 0  # caught at once, a takeover pays
    assert first.loc["misread", "abandonment"] > 0 and first.loc["misread", "rating"] > 0
    assert (table["shifts"] <= 40).all() and (table.loc[("on_track", 1), "shifts"] == 40)


def test_a_cell_seen_in_one_shift_has_no_interval() -> None:
    s = pd.DataFrame({"seed": [0, 0, 1, 1, 1], "decision": [1, 2, 1, 1, 1], "type": [2, 2, 2, 2, 2],
                      "value": [-3.0, -1.0, -2.0, -4.0, -3.0], **{c: 0.0 for c in COMPONENTS}})  # fmt: skip
    table = value_table(s, n_boot=200).set_index("decision")
    assert table.loc[1, "n"] == 4 and table.loc[1, "shifts"] == 2 and table.loc[1, "value"] == -3.0
    assert table.loc[1, "lo"] <= -3.0 <= table.loc[1, "hi"]
    assert table.loc[2, "shifts"] == 1 and np.isnan(table.loc[2, "lo"]) and np.isnan(table.loc[2, "hi"])


def test_break_even_is_the_on_track_chance_at_which_gain_and_loss_cancel() -> None:
    s = pd.DataFrame({"decision": [1, 1, 1, 1, 2, 2, 3, 3, 4],
                      "type": [0, 1, 2, 2, 2, 1, 2, 0, 2],
                      "value": [1.0, 3.0, -4.0, -2.0, -1.0, -0.5, 0.5, 1.0, -1.0]})  # fmt: skip
    even = break_even(s).set_index("decision")
    assert even.loc[1, "on_track_share"] == 0.5 and even.loc[1, "gain"] == 2.0 and even.loc[1, "loss"] == 3.0
    assert even.loc[1, "pays_below"] == pytest.approx(2.0 / 5.0)  # 0.6 * 2 = 0.4 * 3
    assert even.loc[2, "pays_below"] == 0.0  # no gain on the other chats: a takeover never pays
    assert even.loc[3, "pays_below"] == 1.0  # no loss on on-track ones: it always pays
    assert np.isnan(even.loc[4, "pays_below"])  # only on-track chats: nothing to weigh


class _Fixed:
    """A stand-in classifier with a fixed posterior over the types it was fitted on."""

    def __init__(self, classes, proba) -> None:
        self.classes_, self.proba = np.array(classes), np.array([proba])

    def predict_proba(self, x):
        return self.proba


def test_the_posterior_rule_takes_over_when_the_expected_value_is_positive_and_the_mask_allows() -> None:
    values = np.zeros((6, 3))
    values[1] = [1.0, 2.0, -3.0]
    values[2] = [0.5, 0.5, -3.0]
    obs = np.zeros(gym.make(SUPERVISOR_ID).observation_space.shape, np.float32)
    obs[ROUNDS] = 1
    allowed, forbidden = {"action_mask": np.array([1, 1])}, {"action_mask": np.array([1, 0])}
    assert PosteriorRule(_Fixed([0, 1, 2], [0.4, 0.3, 0.3]), values).act(obs, allowed) == 1  # 0.4 + 0.6 - 0.9 > 0
    assert PosteriorRule(_Fixed([0, 1, 2], [0.4, 0.3, 0.3]), values).act(obs, forbidden) == 0
    assert PosteriorRule(_Fixed([0, 2], [0.5, 0.5]), values).act(obs, allowed) == 0  # 0.5 - 1.5 < 0
    obs[ROUNDS] = 2
    rule = PosteriorRule(_Fixed([0, 1, 2], [0.4, 0.3, 0.3]), values)
    assert rule.act(obs, allowed) == 0  # 0.35 - 0.9 < 0: later, the same posterior no longer pays
    assert (rule.decisions, rule.takeovers) == (1, 0)


def test_the_fitted_rule_reads_the_type_from_the_observation(sampled) -> None:
    samples, obs = sampled
    fit = (samples["seed"] < 30).to_numpy()
    rule = posterior_rule(samples[fit].reset_index(drop=True), obs[fit])
    assert rule.values.shape == (6, len(LATENT_TYPES))
    assert rule.values[1, LATENT_TYPES.index("on_track")] == pytest.approx(
        samples[fit].query("decision == 1 and type == 2")["value"].mean()
    )
    held_out = samples["type"].to_numpy()[~fit]
    accuracy = (rule.classifier.predict(obs[~fit]) == held_out).mean()
    assert accuracy > np.bincount(held_out).max() / len(held_out)  # better than the majority type, out of sample


def test_sampling_needs_one_chat_an_episode() -> None:
    with pytest.raises(ValueError, match='credit="chat"'):
        takeover_values(gym.make(SUPERVISOR_ID).unwrapped, [0], progress=False)


def test_the_command_prints_the_tables_and_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "tv.json"
    _main(["--shifts", "3", "--seeds", "2", "--seed", "100", "--json", str(out)])
    text = capsys.readouterr().out
    assert "break-even" in text and "posterior rule on seeds 100-101" in text
    got = loads(out.read_text())
    assert got["shifts"] == 3 and got["rating"] == "dense" and got["posterior_rule"]["seeds"] == [100, 101]
    assert {r["type"] for r in got["values"]} == set(LATENT_TYPES)


@pytest.mark.parametrize(("args", "message"), [
    (["--shifts", "0"], "--shifts must be at least 1"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--shifts", "50", "--seed", "10"], "overlap the sampled shifts 0-49"),
    (["--set", "ai.nope=1"], "unknown key 'ai.nope'"),
    (["--weight", "nope=1"], "unknown reward component 'nope'"),
    (["--set", "experiment.workers=3"], "experiment.workers"),
])  # fmt: skip
def test_bad_arguments_are_one_line_usage_errors(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        _main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_json_path_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_:
        _main(["--json", str(blocker / "tv.json")])
    assert exit_.value.code == 2 and f"--json: cannot create {blocker}" in capsys.readouterr().err
