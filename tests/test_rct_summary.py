"""The ``hitl-rct --seeds`` summary judged as DOMAIN.md's "How calibration is judged" does: mean
estimates against accept ranges, median SEs and the paper's z against its stars' band, n.s.
figures' p over the seeds, the findings' counts, and the criteria, on hand-made per-seed results.
"""

from __future__ import annotations

import json
import math

import pytest

from eval.calibration import (
    BASELINE,
    DID,
    ESCALATION_EFFECTS,
    ESCALATION_SHARES,
    FINDINGS_ESTIMATE_SHARE,
    NS_SHARE,
    STAR_BANDS,
    Target,
    log_duration_se,
    power_z,
    seeds_needed,
)
from eval.rct import finite_or_none
from eval.rct_summary import format_summary, summarize

Z = 2.2  # inside every star's band: >= 2.06, 1.57-3.22, 1.32-2.45


def _estimate(outcome: str, t: Target) -> dict[str, float]:
    """An estimate at the paper's value with an SE giving the paper's estimate |z| = Z, or n.s."""
    if t.stars == "n.s.":
        return {"estimate": 0.0, "se": 1.0, "p": 0.5, "true": 0.0}
    # durations: the pct SE whose log-duration SE is |ln(1 + v/100)| / Z
    se = abs(math.log1p(t.value / 100)) / Z * (100 + t.value) if outcome == "duration_pct" else abs(t.value) / Z
    return {"estimate": t.value, "se": se, "p": 0.001, "true": t.value}


def _results(seed: int) -> dict:
    """One seed's results with every figure at the paper's and every finding holding."""
    escalations = {k: {"share": t.value, "n": 1000} for k, t in ESCALATION_SHARES.items()}
    for (kind, outcome), t in ESCALATION_EFFECTS.items():
        escalations[kind][outcome] = _estimate(outcome, t)
    did: dict = {}
    for (sample, outcome), t in DID.items():
        did.setdefault(sample, {})[outcome] = _estimate(outcome, t)
    spill = {"estimate": -20.0, "se": 2.0, "p": 0.001, "true": -20.0}
    findings = [{"number": k, "claim": f"claim {k}", "figures": "", "holds": True} for k in range(1, 11)]
    return {"preset": "taobao_2024", "seed": seed, "n_workers": 647, "runtime_s": 30.0,
            "baseline": {k: t.value for k, t in BASELINE.items()}, "escalations": escalations, "did": did,
            "spillover": dict.fromkeys(("concurrency_pct", "switch_aways_pct", "away_time_pct"), spill),
            "effort": {"emotional": {"empathy": 0.3}}, "timing": {"emotional": {"takeover_round": 5.0}},
            "findings": findings, "findings_true": json.loads(json.dumps(findings))}  # fmt: skip


def _figures(summary: dict) -> dict[tuple[str, str], dict]:
    return {(f["section"], f["figure"]): f for f in summary["figures"]}


def test_seeds_needed_and_the_star_bands() -> None:
    assert [seeds_needed(NS_SHARE, n) for n in (20, 10, 5, 3, 2, 1)] == [14, 7, 4, 3, 2, 1]
    assert [seeds_needed(FINDINGS_ESTIMATE_SHARE, n) for n in (20, 10, 5, 3, 2, 1)] == [12, 6, 3, 2, 2, 1]
    # DOMAIN.md's bands are the star thresholds 2.576, 1.96 and 1.645 widened by 25% each way
    assert STAR_BANDS["***"] == (2.06, math.inf)
    assert STAR_BANDS["**"] == (1.57, 3.22) and STAR_BANDS["*"] == (1.32, 2.45)
    assert round(2.576 / 1.25, 2) == 2.06 and round(1.96 / 1.25, 2) == 1.57 and round(2.576 * 1.25, 2) == 3.22
    assert round(1.645 / 1.25, 2) == 1.32 and round(1.96 * 1.25, 2) == 2.45


def test_targets_carry_domain_md_per_type_table() -> None:
    t = ESCALATION_EFFECTS
    assert (t["emotional", "rating"].value, t["emotional", "rating"].lo, t["emotional", "rating"].hi) == (
        -0.928, -1.178, -0.678)  # fmt: skip
    human = t["human", "retrial_pp"]
    assert (human.value, human.lo, human.hi, human.stars) == (-3.2, -6.0, 0.0, "*")
    assert (t["none", "duration_pct"].lo, t["none", "duration_pct"].hi) == (-74.6, -54.6)
    assert [k for k, v in t.items() if v.stars == "n.s."] == [
        ("technical", "rating"), ("technical", "retrial_pp"), ("none", "retrial_pp")]  # fmt: skip
    assert [k for k, v in DID.items() if v.stars not in ("n.s.", "***")] == [
        ("ineligible", "duration_pct"), ("ineligible", "rating")]  # fmt: skip
    assert all(v.band is None for v in BASELINE.values())
    with pytest.raises(ValueError, match="stars must be"):
        Target(1.0, 0.0, 2.0, "****")


def test_power_z_uses_the_log_scale_for_durations() -> None:
    # AI-ineligible rating +0.091 **: DOMAIN.md's example, SE 0.035-0.046 unwidened
    assert power_z(DID["ineligible", "rating"], "rating", 0.04) == pytest.approx(2.275)
    # -16.8%: ln(0.832) = -0.18392; the percent SE 6.8 of an estimate of -15% is 0.08 in log points
    assert log_duration_se(-15.0, 6.8) == pytest.approx(0.08)
    assert power_z(DID["eligible", "duration_pct"], "duration_pct", 0.08) == pytest.approx(2.29904, abs=1e-5)


def test_figures_at_the_paper_pass_every_criterion() -> None:
    s = summarize([_results(0), _results(1), _results(2)])
    assert s["criteria_pass"] and all(c["pass"] and c["failing"] == [] for c in s["criteria"].values())
    assert list(s["criteria"]) == ["baseline", "mean_inside", "not_significant", "power", "findings_true",
                                   "findings_estimates"]  # fmt: skip
    f = _figures(s)
    assert f["DiD eligible", "rating"]["z"] == pytest.approx(Z)
    assert f["escalation emotional", "duration_pct"]["z"] == pytest.approx(Z)
    assert f["escalation human", "retrial_pp"]["paper"] == "-3.2 pp" and f["escalation human", "retrial_pp"][
        "accept"] == [-6.0, 0.0]  # fmt: skip
    assert f["escalation none", "retrial_pp"]["p_ns"] == 3 and f["escalation none", "retrial_pp"]["p_ns_needed"] == 3
    assert f["baseline", "rating"]["z"] is None and f["baseline", "rating"]["se"] is None
    assert f["spillover", "concurrency_pct"]["median_se"] == 2.0 and f["spillover", "concurrency_pct"]["z"] is None


def test_mean_median_se_z_and_p_over_seeds() -> None:
    runs = [_results(s) for s in range(3)]
    for r, est, se_log in zip(runs, (-20.0, -10.0, -15.0), (0.05, 0.1, 0.08), strict=True):
        r["did"]["eligible"]["duration_pct"].update(estimate=est, se=se_log * (100 + est))  # pct SEs 4.0, 9.0, 6.8
    for r, est, se in zip(runs, (-0.30, -0.50, -0.55), (0.10, 0.20, 0.15), strict=True):
        r["did"]["eligible"]["rating"].update(estimate=est, se=se)
    for r, se in zip(runs, (0.05, 0.06, 0.04), strict=True):
        r["did"]["ineligible"]["rating"]["se"] = se
    for r, est, se in zip(runs, (-0.6, -0.4, float("nan")), (0.1, 0.3, float("nan")), strict=True):
        r["escalations"]["human"]["rating"].update(estimate=est, se=se)
    for r in runs:
        r["did"]["all"]["duration_pct"]["se"] = 0.02 * (100 - 3.2)  # at the estimate -3.2%
    for r, p in zip(runs, (0.3, 0.01, 0.5), strict=True):
        r["did"]["all"]["rating"]["p"] = p
    s = summarize(runs)
    f = _figures(s)
    dur = f["DiD eligible", "duration_pct"]
    assert dur["mean"] == pytest.approx(-15.0) and dur["mean_inside"] and dur["inside"] == 2
    assert dur["median_se"] == pytest.approx(6.8) and dur["median_se_log"] == pytest.approx(0.08)
    assert dur["z"] == pytest.approx(abs(math.log(0.832)) / 0.08) == pytest.approx(2.29904, abs=1e-5)
    assert dur["z_band"] == [2.06, None] and dur["z_inside"]
    rating = f["DiD eligible", "rating"]
    assert rating["mean"] == pytest.approx(-0.45) and rating["median_se"] == pytest.approx(0.15)
    assert rating["z"] == pytest.approx(0.412 / 0.15) and rating["z_inside"]
    assert f["DiD ineligible", "rating"]["z"] == pytest.approx(0.091 / 0.05) and f["DiD ineligible", "rating"][
        "z_band"] == [1.57, 3.22]  # fmt: skip
    human = f["escalation human", "rating"]  # a seed without an estimate: mean and median of the other two
    assert human["mean"] == pytest.approx(-0.5) and human["median_se"] == pytest.approx(0.2)
    assert human["z"] == pytest.approx(0.524 / 0.2) and human["z_inside"]  # 2.62, inside 1.57-3.22
    weak = f["DiD all", "duration_pct"]  # SE of the log coefficient 0.02: z 1.63 < 2.06
    assert weak["z"] == pytest.approx(abs(math.log(0.968)) / 0.02) and not weak["z_inside"]
    ns = f["DiD all", "rating"]
    assert (ns["p_ns"], ns["p_ns_needed"], ns["p"]) == (2, 3, [0.3, 0.01, 0.5])
    assert s["criteria"]["power"]["failing"] == ["DiD all duration_pct"]
    assert s["criteria"]["not_significant"]["failing"] == ["DiD all rating"]
    assert s["criteria"]["mean_inside"]["pass"] and not s["criteria_pass"]
    strict = json.loads(json.dumps(finite_or_none(s), allow_nan=False))  # strict JSON: NaN is null
    assert _figures(strict)["escalation human", "rating"]["se"] == [0.1, 0.3, None]


def test_baseline_every_seed_mean_inside_and_findings_counts() -> None:
    runs = [_results(s) for s in range(5)]
    runs[3]["baseline"]["rating"] = 3.80  # outside 3.47-3.67 at one seed only: the mean (3.616) is inside
    for r, est in zip(runs, (4.0, 3.0, 2.5, 2.0, 1.0), strict=True):  # AI-eligible retrial, n.s. within +-2 pp
        r["did"]["eligible"]["retrial_pp"]["estimate"] = est
    for j in (0, 1, 2):
        runs[j]["findings"][5]["holds"] = False  # finding 6 at 2 of 5 seeds: 3 needed
    runs[4]["findings"][3]["holds"] = False  # finding 4 at 4 of 5
    runs[4]["findings_true"][3]["holds"] = False  # and on the true effects at 4 of 5: all 5 needed
    s = summarize(runs)
    f = _figures(s)
    assert f["baseline", "rating"]["inside"] == 4 and f["baseline", "rating"]["mean"] == pytest.approx(3.616)
    assert f["DiD eligible", "retrial_pp"]["mean"] == pytest.approx(2.5) and not f["DiD eligible", "retrial_pp"][
        "mean_inside"]  # fmt: skip
    assert f["DiD eligible", "retrial_pp"]["inside"] == 2
    c = s["criteria"]
    assert c["baseline"]["failing"] == ["baseline rating"]
    assert c["mean_inside"]["failing"] == ["DiD eligible retrial_pp"]
    assert c["findings_estimates"]["failing"] == ["finding 6"]  # finding 4's 4/5 passes
    assert c["findings_true"]["failing"] == ["finding 4"]
    assert c["findings_estimates"]["rule"] == "findings 1-10 hold on the estimates at 3 or more of 5 seeds"
    assert [(x["n_holds"], x["n_holds_true"]) for x in s["findings"]][3:6] == [(4, 4), (5, 5), (2, 5)]
    text = format_summary(s)
    assert "  baseline table and escalation shares inside their ranges at every seed: FAIL: baseline rating" in text
    assert "findings 1-10 hold on the true effects at all 5 seeds: FAIL: finding 4" in text
    assert "p >= 0.05 at 4 or more of 5 seeds: pass" in text
    line = next(x for x in text.splitlines() if x.startswith("DiD eligible") and "duration_pct" in x and "%" in x)
    assert line.split()[3:5] == ["-16.8%", "***"]
    line = next(x for x in text.splitlines() if x.startswith("DiD eligible") and "retrial_pp" in x)
    assert line.split()[3:] == ["n.s.", "[-2,", "2]", "1", "to", "4", "2/5", "2.5", "NO", "0", "to", "0"]
