"""Operations designs (``hitl_env.designs``) and ``hitl-whatif``: each design moves its mechanism's way.

Small runs: 60 workers, 10 days, everyone treated (the AI on from day 0), seed 0, about 19,400
chats, 1,100 of them AI-eligible and about 95 emotional escalations by default (seconds each).
Measured at that scale (default -> design): the frustration at takeover of emotional escalations
1.33 -> 0.90 (`earlier_detection`) and 0.71 (`predictive_detection`), sd about 0.3 (SE about 0.03
each); the effort after emotional escalations 0.53 -> 0.77 (`incentive`); the AI-routed share
5.75% -> 10.0%, 19.9%, 40.6% (`wider_scope_*`, binomial SE at most 0.4 pp). With every design
off the records equal the calibrated default's (``python -m tests.golden``; the options' defaults
are checked here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from eval.whatif import METRICS, effect_table, main
from hitl_env import load_config
from hitl_env.config import ConfigError
from hitl_env.designs import DESIGNS, design
from hitl_env.sim.run import simulate

SMALL = {"experiment.workers": 60, "experiment.days_pre": 0, "experiment.days_post": 10,
         "experiment.treatment_share": 1.0}  # fmt: skip


@pytest.fixture(scope="module")
def base_cfg():
    return load_config("taobao_2024", SMALL)


@pytest.fixture(scope="module")
def runs(base_cfg) -> dict[str, pd.DataFrame]:
    names = ["earlier_detection", "predictive_detection", "wider_scope_10", "wider_scope_20", "wider_scope_40",
             "incentive", "specialized"]  # fmt: skip
    out = {"default": simulate(base_cfg, 0)}
    out.update({n: simulate(DESIGNS[n].config(base_cfg), 0) for n in names})
    return out


def test_every_design_option_is_off_in_taobao_2024() -> None:
    cfg = load_config("taobao_2024")
    assert not cfg.monitor.predictive
    assert cfg.effort.bonus == 0.0 and cfg.effort.bonus_response == 0.0
    assert all(c.keyword_share == 0.0 for c in cfg.categories.values())
    assert cfg.supervisor.specialized_share == 0.0
    for d in DESIGNS.values():
        assert (d.config(cfg) == cfg) == (d.name == "integrated"), d.name


def test_designs_replay_the_same_customers(runs) -> None:
    base = runs["default"]
    for name, df in runs.items():
        assert len(df) == len(base), name
        assert (df["arrival_s"].to_numpy() == base["arrival_s"].to_numpy()).all(), name
        assert (df["category"] == base["category"]).all(), name


@pytest.mark.parametrize(("name", "most"), [("earlier_detection", 1.0), ("predictive_detection", 0.85)])
def test_earlier_detection_lowers_frustration_at_emotional_takeover(runs, name: str, most: float) -> None:
    def f(df: pd.DataFrame) -> float:
        return df.loc[df["escalation"] == "emotional", "frustration_takeover"].mean()

    assert f(runs["default"]) > 1.25  # measured 1.33
    assert f(runs[name]) < most  # measured 0.90 and 0.71
    assert f(runs[name]) < f(runs["default"]) - 0.3


@pytest.mark.parametrize(
    ("name", "target"), [("wider_scope_10", 0.10), ("wider_scope_20", 0.20), ("wider_scope_40", 0.40)]
)
def test_wider_scope_raises_the_ai_share_to_its_target(runs, name: str, target: float) -> None:
    assert abs(runs["default"]["routed_ai"].mean() - 0.058) < 0.01
    df = runs[name]
    assert abs(df["eligible"].mean() - target) < 0.015
    assert abs(df["routed_ai"].mean() - target) < 0.015


def test_incentive_raises_effort_after_emotional_escalations(runs) -> None:
    def effort(df: pd.DataFrame) -> float:
        return df.loc[df["escalation"] == "emotional", "effort"].mean()

    assert effort(runs["default"]) < 0.6  # measured 0.53
    assert effort(runs["incentive"]) > effort(runs["default"]) + 0.15  # measured 0.77
    calm = runs["default"]["escalation"] == "technical"
    assert runs["incentive"].loc[calm, "effort"].mean() >= runs["default"].loc[calm, "effort"].mean()


def test_unknown_design_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown design 'nope'; designs: earlier_detection"):
        design("nope")


def test_effect_table_ci_across_seeds() -> None:
    base = [dict.fromkeys(METRICS, 1.0), dict.fromkeys(METRICS, 2.0)]
    d = [dict.fromkeys(METRICS, 2.0), dict.fromkeys(METRICS, 4.0)]
    t = effect_table({"default": base, "x": d})
    row = t[t["metric"] == "rating"].iloc[0]
    assert row["effect"] == 1.5 and row["seeds"] == 2
    # diffs 1 and 2: sd 0.7071, t(0.975, 1) = 12.706, half-width 12.706 * 0.7071 / sqrt(2) = 6.353
    assert row["ci_high"] - row["effect"] == pytest.approx(6.353, abs=1e-3)


TINY = ["--workers", "30", "--days-pre", "1", "--days-post", "2", "--seeds", "2", "--jobs", "1", "--quiet"]


def test_cli_writes_table_plot_and_manifest(tmp_path: Path, capsys) -> None:
    out = tmp_path / "w"
    assert main(["--designs", "earlier_detection,wider_scope_20", *TINY, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"results.json", "whatif.csv", "whatif.png"}
    res = json.loads((out / "results.json").read_text())
    assert res["status"] == "complete" and res["seeds"] == [0, 1]
    table = pd.read_csv(out / "whatif.csv")
    assert len(table) == 2 * len(METRICS)
    share = table[(table["design"] == "wider_scope_20") & (table["metric"] == "ai_share")].iloc[0]
    assert share["effect"] > 0.03  # 14 pp more eligible, about half the workers treated
    assert main(["--designs", "incentive", *TINY, "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["--designs", "incentive", *TINY, "--out", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--designs", "nope"], "unknown design 'nope'"), (["--designs", ","], "needs at least one design"),
     (["--designs", "incentive,incentive"], "names a design twice"), (["--designs", "incentive", "--seeds", "0"],
     "--seeds must be at least 1"), (["--designs", "incentive", "--supervisor", "nope"], "--supervisor nope")],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    assert main([*args, "--workers", "10", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-whatif: error: ") and "\n" not in err and message in err


def test_specialized_raises_the_emotional_load_of_supervisors(runs, base_cfg) -> None:
    from eval.whatif import metrics, supervising_workers

    spec = DESIGNS["specialized"].config(base_cfg)
    assert len(supervising_workers(runs["default"], base_cfg)) == 60  # integrated: every treated worker
    assert len(supervising_workers(runs["specialized"], spec)) == 18  # 3 of 10 in each of 6 teams
    before, after = metrics(runs["default"], base_cfg), metrics(runs["specialized"], spec)
    # measured 0.072 -> 0.132 frustrated customers inherited per supervisor-hour
    assert before["supervisor_load"] == pytest.approx(before["emotional_load"])
    assert after["supervisor_load"] > 1.5 * before["supervisor_load"]
    assert after["ai_share"] == pytest.approx(before["ai_share"], abs=0.002)  # everyone treated: same AI chats


def test_fatigue_lowers_effort_after_escalations(base_cfg) -> None:
    """Speculative dynamics: at 40% AI scope a worker inherits more frustrated customers a shift."""
    from hitl_env.config import with_overrides

    wide = DESIGNS["wider_scope_40"].config(base_cfg)
    before = simulate(wide, 0)
    after = simulate(DESIGNS["fatigue"].config(wide), 0)
    esc = before["escalation"] != "none"
    assert before.loc[esc, "effort"].mean() == pytest.approx(0.984, abs=0.01)
    assert after.loc[after["escalation"] != "none", "effort"].mean() < 0.95  # measured 0.933
    strong = simulate(with_overrides(wide, {"effort.fatigue_slope": 1.0}), 0)
    assert strong.loc[strong["escalation"] != "none", "effort"].mean() < 0.75  # measured 0.688


def test_skill_erosion_lowers_resolution_of_hand_chats(runs, base_cfg) -> None:
    from hitl_env.config import with_overrides

    def resolved(df: pd.DataFrame) -> float:
        return df.loc[(df["human_rounds"] > 0) & ~df["abandoned"], "resolved"].mean()

    eroded = simulate(with_overrides(base_cfg, {"workers.skill_erosion": 0.05}), 0)
    assert resolved(runs["default"]) == pytest.approx(0.791, abs=0.005)
    assert resolved(eroded) < resolved(runs["default"]) - 0.01  # measured 0.776
    gained = simulate(with_overrides(base_cfg, {"workers.skill_erosion": -0.05}), 0)
    assert resolved(gained) > resolved(runs["default"]) + 0.01


def test_estimates_give_the_paper_style_did_beside_the_true_effect(tmp_path: Path) -> None:
    out = tmp_path / "e"
    args = ["--designs", "wider_scope_20", "--workers", "40", "--days-pre", "2", "--days-post", "3", "--seeds", "1",
            "--jobs", "1", "--quiet", "--no-plot", "--estimates", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    est = pd.read_csv(out / "estimates.csv")
    assert len(est) == 2 * 3 * 3  # default and one design; three samples; three figures
    row = est[(est["design"] == "wider_scope_20") & (est["sample"] == "eligible") & (est["figure"] == "duration_pct")]
    assert row["true"].iloc[0] < -5 and row["se"].iloc[0] > 0  # the AI shortens eligible chats
    assert json.loads((out / "results.json").read_text())["files"]["estimates.csv"]["rows"] == 18


def test_estimates_need_both_arms(tmp_path: Path, capsys) -> None:
    args = ["--designs", "incentive", "--workers", "10", "--set", "experiment.treatment_share=1", "--estimates"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    assert "needs workers in both arms" in capsys.readouterr().err
