"""hitl-signals: what the supervisor's observations predict, on a small real run.

One run of ``taobao_2024`` at 50 workers (seed 0, about 650 chats reach decision 1 and 250
decision 3) serves the tests of the machinery; the command's default scale (200 workers, about
2,600 chats at decision 1) serves the calibration checks: no single observation gives a chat's
latent type away, and predictions improve over the rounds (DOMAIN.md; docs/MODEL.md, "What the
supervisor's signals predict").
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hitl_env
from eval.signals import COLUMNS, DECISIONS, FIELDS, OUTCOMES, main, record_decisions, signal_table

SMALL = {"experiment.workers": 50}
PREDICTORS = (*FIELDS, "category", "logistic")


@pytest.fixture(scope="module")
def cfg() -> hitl_env.Config:
    return hitl_env.load_config("taobao_2024", SMALL)


@pytest.fixture(scope="module")
def views(cfg: hitl_env.Config) -> pd.DataFrame:
    return record_decisions(cfg, seed=0)


@pytest.fixture(scope="module")
def table(cfg: hitl_env.Config, views: pd.DataFrame) -> pd.DataFrame:
    return signal_table(cfg, seed=0, views=views)


def _auroc(table: pd.DataFrame, decision: int, predictor: str, outcome: str) -> float:
    row = table[(table["decision"] == decision) & (table["predictor"] == predictor) & (table["outcome"] == outcome)]
    assert len(row) == 1
    return float(row["auroc"].iloc[0])


def test_one_row_per_decision_predictor_and_outcome(table: pd.DataFrame) -> None:
    assert tuple(table.columns) == COLUMNS
    assert len(table) == len(DECISIONS) * len(PREDICTORS) * len(OUTCOMES)
    assert set(table["predictor"]) == set(PREDICTORS)
    assert not table.duplicated(["decision", "predictor", "outcome"]).any()


def test_decisions_are_counted_per_chat(views: pd.DataFrame, table: pd.DataFrame) -> None:
    # Without hand takeovers the supervisor is asked after every AI round the chat survives, so
    # a chat's k-th decision is its k-th round, and a chat at decision 3 was at decisions 1 and 2.
    assert (views["ai_rounds"] == views["decision"]).all()
    chats = {k: set(map(tuple, views.loc[views["decision"] == k, ["team", "chat"]].to_numpy())) for k in (1, 2, 3)}
    assert chats[3] <= chats[2] <= chats[1]
    n = table.groupby("decision")["chats"].agg(["min", "max"])
    assert (n["min"] == n["max"]).all()
    assert n.loc[1, "max"] == len(chats[1]) > n.loc[3, "max"] == len(chats[3]) > 100
    assert (table["positives"] <= table["chats"]).all()


def test_decisions_and_outcomes_match_the_records(cfg: hitl_env.Config, views: pd.DataFrame) -> None:
    # Under NeverTakeover a chat gets its k-th decision exactly when it has more than k AI rounds
    # (the decision is asked after round k and the next round follows), so the records of the
    # same run count the chats at each decision and the outcomes among them.
    records = hitl_env.simulate(cfg, 0, supervisor=hitl_env.sim.hooks.NeverTakeover())
    ai = records[records["routed_ai"]]
    esc = ai["escalation"].astype(str)
    outcome = {"technical": esc == "technical", "emotional": esc == "emotional",
               "ai_resolution": (esc == "none") & ai["resolved"]}  # fmt: skip
    for k in DECISIONS:
        at, later = views[views["decision"] == k], ai["ai_rounds"] > k
        assert len(at) == later.sum() > 100
        for name in OUTCOMES:
            assert at[name].sum() == (later & outcome[name]).sum(), (k, name)
    first = views[views["decision"] == 1]
    assert not (first["technical"] & first["emotional"]).any()
    assert not ((first["technical"] | first["emotional"]) & first["ai_resolution"]).any()


def test_auroc_is_orientation_free_and_in_range(table: pd.DataFrame) -> None:
    fields = table[table["predictor"] != "logistic"]
    assert fields["auroc"].between(0.5, 1.0).all()
    assert table["auroc"].between(0.5, 1.0).all()  # the fitted model too, on this run
    # ai_rounds is the decision itself: no information at a given decision
    assert (table.loc[table["predictor"] == "ai_rounds", "auroc"] == 0.5).all()


@pytest.fixture(scope="module")
def default_table() -> pd.DataFrame:
    return signal_table(hitl_env.load_config("taobao_2024", {"experiment.workers": 200}), seed=0)


def test_signals_are_informative_but_imperfect_and_improve_over_rounds(default_table: pd.DataFrame) -> None:
    """The issue's criteria: at the first decision no field above 0.85 and the whole observation
    not above 0.90, for every outcome; the whole observation predicts better at the third."""
    table = default_table
    fields = table[(table["decision"] == 1) & (table["predictor"] != "logistic")]
    assert fields["auroc"].max() <= 0.85, fields.sort_values("auroc").tail(3)
    for outcome in OUTCOMES:
        first, third = _auroc(table, 1, "logistic", outcome), _auroc(table, 3, "logistic", outcome)
        assert first <= 0.90 and third > first, (outcome, first, third)
    # informative: the confidence says something about the AI's capability from the first round on
    assert _auroc(table, 1, "confidence", "technical") > 0.55


def test_logistic_is_as_good_as_the_best_field(default_table: pd.DataFrame) -> None:
    # held out (half the chats) against in-sample fields: a small tolerance for the split's noise
    for (k, outcome), rows in default_table.groupby(["decision", "outcome"]):
        by = rows.set_index("predictor")["auroc"]
        best = by.drop("logistic").max()
        assert by["logistic"] >= best - 0.03, (k, outcome, by["logistic"], best)


def test_same_seed_same_table(cfg: hitl_env.Config, table: pd.DataFrame) -> None:
    again = signal_table(cfg, seed=0)
    pd.testing.assert_frame_equal(again, table)
    other = signal_table(cfg, seed=1)
    assert not np.allclose(other["auroc"], table["auroc"])


def test_command_prints_and_writes_the_table(tmp_path, capsys) -> None:
    path = tmp_path / "out" / "signals.json"
    assert main(["--workers", "20", "--seed", "2", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    assert "decision 1:" in text and "decision 3:" in text
    assert all(p in text for p in PREDICTORS)
    data = json.loads(path.read_text())
    assert (data["workers"], data["seed"]) == (20, 2)
    assert len(data["rows"]) == len(DECISIONS) * len(PREDICTORS) * len(OUTCOMES)
    assert set(data["rows"][0]) == set(COLUMNS)


@pytest.mark.parametrize(
    "argv", [["--workers", "0"], ["--seed", "-1"], ["--workers", "5", "--set", "experiment.workers=6"]]
)
def test_command_refuses_bad_arguments(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    assert "hitl-signals: error:" in capsys.readouterr().err
