"""``hitl-eval --tune``: grid-tuning on tuning seeds, evaluation on fresh seeds, the report.

Runs are tiny (a team of 3 for 1 hour, 2 tuning seeds, 2 evaluation seeds); the checks are exact:
the chosen point is the argmax of the tuning table, the table's returns are the env's returns
on those seeds under the run's weights, and the same seeds give the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import agents
import hitl_env
from eval import pareto, tuning
from eval.evaluate import main
from hitl_env.envs import SUPERVISOR_ID

ENV = {"team_size": 3, "shift_hours": 1.0}
TINY = ["--team-size", "3", "--shift-hours", "1", "--tune-seeds", "2", "--seeds", "2", "--bootstrap", "100",
        "--quiet", "--no-plot"]  # fmt: skip
WEIGHT = ["--weight", "worker_time=0.5"]


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tune")
    policies = "always_takeover,rounds_threshold,sentiment_threshold:level=-0.6,oracle"
    assert main(["--tune", "--policies", policies, *TINY, *WEIGHT, "--out", str(out)]) == 0
    return out


def test_the_chosen_point_is_the_best_on_the_tuning_seeds(tuned_run: Path) -> None:
    table = pd.read_csv(tuned_run / "tuning.csv")
    summary = json.loads((tuned_run / "summary.json").read_text())
    t = summary["tuning"]
    assert t["seeds"] == [0, 1] and summary["seeds"] == [1000, 1001]  # the defaults: 0.., and fresh seeds 1000..
    rounds = table[table["policy"] == "rounds_threshold"]
    assert rounds["param_k"].tolist() == list(pareto.ROUNDS_K)
    best = rounds.loc[rounds["return"].idxmax()]
    assert rounds["chosen"].sum() == 1 and best["chosen"]
    label = f"{best['spec']} (tuned)"
    assert t["policies"][label]["params"] == {"k": int(best["param_k"])}
    assert t["policies"][label]["tune_return"] == pytest.approx(best["return"])
    assert label in summary["policies"] and summary["policies"][label]["tuned"]["given"] == "rounds_threshold"
    oracle = table[table["policy"] == "oracle"]
    assert len(oracle) == np.prod([len(v) for v in tuning.ORACLE_GRID.values()])
    # a spec whose parameters are given is played as given; untunable ones are one point
    for spec in ("sentiment_threshold:level=-0.6", "always_takeover", "algorithm_only"):
        assert table.loc[table["policy"] == spec, "spec"].tolist() == [spec]
        assert spec in summary["policies"]


def test_the_tuning_returns_are_the_envs_under_the_runs_weights(tuned_run: Path) -> None:
    table = pd.read_csv(tuned_run / "tuning.csv").set_index("spec")
    env = gym.make(SUPERVISOR_ID, reward_weights={"worker_time": 0.5}, **ENV)
    for spec in ("rounds_threshold:k=2", "always_takeover"):
        direct = np.mean([agents.episode_return(env, agents.from_spec(spec), s) for s in (0, 1)])
        assert table.loc[spec, "return"] == pytest.approx(direct, rel=1e-12)
    spec = "oracle:misread_round=1,on_track_left=None,technical_wait=None"
    direct = np.mean([agents.episode_return(env, agents.make("oracle", env=env), s) for s in (0, 1)])
    assert table.loc[spec, "return"] == pytest.approx(direct, rel=1e-12)


def test_the_best_heuristic_is_chosen_on_the_tuning_seeds_and_bounds_are_not_candidates(tuned_run: Path) -> None:
    summary = json.loads((tuned_run / "summary.json").read_text())
    t = summary["tuning"]
    observable = {k: v for k, v in t["policies"].items() if not v["given"].startswith("oracle")}
    assert t["best_heuristic"] == max(observable, key=lambda k: observable[k]["tune_return"])
    kinds = {label: p["kind"] for label, p in summary["policies"].items()}
    assert [k for label, k in kinds.items() if label.startswith("oracle")] == ["upper_bound"]
    vs = t["vs_best_heuristic"]
    assert vs[t["best_heuristic"]]["diff"] == 0.0 and set(vs) == set(summary["policies"])


def test_same_seed_same_numbers(tuned_run: Path, tmp_path: Path) -> None:
    policies = "always_takeover,rounds_threshold,sentiment_threshold:level=-0.6,oracle"
    assert main(["--tune", "--policies", policies, *TINY, *WEIGHT, "--out", str(tmp_path)]) == 0
    for name in ("tuning.csv", "summary.csv", "episodes.csv"):
        assert (tmp_path / name).read_bytes() == (tuned_run / name).read_bytes(), name
    a, b = (json.loads((d / "summary.json").read_text())["tuning"] for d in (tuned_run, tmp_path))
    assert a == b


def test_router_confidence_threshold_is_tuned_over_the_score_cuts(tmp_path: Path) -> None:
    args = ["--tune", "--policies", "confidence_threshold", *TINY, "--out", str(tmp_path)]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "tuning.csv")
    assert table.loc[table["policy"] == "rule_based", "spec"].tolist() == ["rule_based"]  # the baseline, as given
    table = table[table["policy"] == "confidence_threshold"]
    cfg = hitl_env.load_config("taobao_2024")
    cuts = pareto.score_cuts(pareto.solvable_scores(cfg).values())
    assert table["param_threshold"].tolist() == cuts
    chosen = table[table["chosen"]].iloc[0]
    assert chosen["return"] == table["return"].max()
    assert "scores=" in chosen["spec"]
    # the reports label it by what was given and chosen, the filled-in scores left to its spec
    summary = json.loads((tmp_path / "summary.json").read_text())
    label = f"confidence_threshold:threshold={float(chosen['param_threshold'])!r} (tuned)"
    assert label in summary["policies"] and summary["policies"][label]["spec"] == chosen["spec"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tune", "--seed", "1"], "overlap (seed 1)"),
        (["--tune", "--tune-seed", "999", "--tune-seeds", "5"], "overlap (seed 1000)"),
        (["--tune-seeds", "3"], "--tune-seeds and --tune-seed belong to --tune"),
        (["--tune", "--tune-seeds", "0"], "--tune-seeds must be at least 1"),
    ],
)
def test_errors(args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--policies", "rounds_threshold", *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and not (tmp_path / "out").exists(), err


def test_grids_and_specs() -> None:
    cfg = hitl_env.load_config("taobao_2024")
    assert tuning.grid_of("supervisor", "sentiment_threshold", {}, cfg) == {"level": pareto.SENTIMENT_LEVELS}
    assert tuning.grid_of("supervisor", "sentiment_threshold", {"level": -1.0}, cfg) == {}
    assert tuning.grid_of("supervisor", "paper_workers", {"base": 0.1}, cfg) == {"sentiment_slope": tuning.PAPER_SLOPES}
    assert tuning.grid_of("supervisor", "always_takeover", {}, cfg) == {}
    for name, params in [("oracle", {"misread_round": None, "technical_wait": 2}), ("rounds_threshold", {"k": 4}),
                         ("confidence_threshold", {"threshold": 0.45, "scores": {"refund_status": 0.9}})]:  # fmt: skip
        assert agents.parse_spec(tuning.format_spec(name, params)) == (name, params)


def test_a_saved_model_is_compared_with_every_heuristic_and_the_gap_to_the_bound(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    env = gym.make(SUPERVISOR_ID, **ENV)
    model = tmp_path / "model.zip"
    PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=0, device="cpu", policy_kwargs={"net_arch": [4]}).save(model)
    out = tmp_path / "out"
    policies = f"{model},always_takeover,rounds_threshold,oracle"
    assert main(["--tune", "--policies", policies, *TINY, "--seeds", "4", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    t = summary["tuning"]
    report = t["learned"][str(model)]
    returns = pd.read_csv(out / "episodes.csv").pivot(index="seed", columns="policy", values="return")
    heuristics = [label for label, p in summary["policies"].items() if p["kind"] == "heuristic"]
    assert set(report["vs_heuristics"]) == set(heuristics) and "algorithm_only" in heuristics
    for h, d in report["vs_heuristics"].items():
        assert d["diff"] == pytest.approx((returns[str(model)] - returns[h]).mean())
        assert d["ci"][0] <= d["diff"] <= d["ci"][1]
    assert report["beats_all"] == all(d["ci"][0] > 0 for d in report["vs_heuristics"].values())
    (bound,) = report["gap_closed"]
    best = t["best_heuristic"]
    gap = (returns[bound] - returns[best]).mean()
    assert report["gap_closed"][bound] == pytest.approx((returns[str(model)] - returns[best]).mean() / gap)
