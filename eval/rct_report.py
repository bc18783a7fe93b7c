"""The report of one ``hitl-rct`` run: the table beside the paper, the check of findings 1-10 and
the plot (the summary of replications over seeds is :mod:`eval.rct_summary`).

The paper's figures, accept ranges and stars come from DOMAIN.md through
:mod:`eval.calibration`: the baseline table, the escalation shares, the difference-in-differences
table and the per-escalation-type effects. The effort, timing and spillover magnitudes have no
DOMAIN.md figure: they are shown without one and checked only through the qualitative findings
(:func:`findings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from eval.calibration import BASELINE, DID, ESCALATION_EFFECTS, ESCALATION_SHARES, NOT_SIGNIFICANT, Target

OUTCOMES = ("duration_pct", "rating", "retrial_pp")
UNITS = {"duration_pct": "%", "rating": "", "retrial_pp": " pp"}


def paper_label(outcome: str, t: Target) -> str:
    """The paper's figure as printed: ``-16.8%``, ``-0.412``, ``+6.0 pp`` or ``n.s.``."""
    if t.stars == NOT_SIGNIFICANT:
        return NOT_SIGNIFICANT
    return f"{t.value:+.3f}" if outcome == "rating" else f"{t.value:+.1f}{UNITS[outcome]}"


class Row(NamedTuple):
    """One reported figure: its simulated value, true effect, SE and p (None where it has none)
    beside the paper's figure as printed and its target (None where DOMAIN.md gives none)."""

    section: str
    figure: str
    value: float | None
    true: float | None
    paper: str
    target: Target | None
    se: float | None = None
    p: float | None = None


@dataclass(frozen=True)
class Finding:
    """One of DOMAIN.md's findings 1-10, the figures it rests on, and whether they show it."""

    number: int
    claim: str
    figures: str
    holds: bool

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "claim": self.claim, "figures": self.figures, "holds": bool(self.holds)}


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def target_rows(results: dict[str, Any]) -> list[Row]:
    """Every reported figure of one run (:class:`Row`), the paper's beside it where DOMAIN.md has one."""
    rows: list[Row] = []
    for k, t in BASELINE.items():
        rows.append(Row("baseline", k, results["baseline"][k], None, f"{t.value:g}", t))
    for k, t in ESCALATION_SHARES.items():
        rows.append(Row("escalation share", k, results["escalations"][k]["share"], None, f"{t.value:g}", t))
    for (sample, outcome), t in DID.items():
        e = results["did"][sample][outcome]
        label = paper_label(outcome, t)
        rows.append(Row(f"DiD {sample}", outcome, e["estimate"], e["true"], label, t, e["se"], e["p"]))
    for kind, e in results["escalations"].items():
        for outcome in OUTCOMES:
            t, x = ESCALATION_EFFECTS.get((kind, outcome)), e[outcome]
            label = paper_label(outcome, t) if t else ""
            rows.append(Row(f"escalation {kind}", outcome, x["estimate"], x["true"], label, t, x["se"], x["p"]))
    for key, e in results["spillover"].items():
        rows.append(Row("spillover", key, e["estimate"], e["true"], "", None, e["se"], e["p"]))
    for section in ("effort", "timing"):
        for kind, values in results[section].items():
            rows.extend(Row(f"{section} {kind}", k, v, None, "", None) for k, v in values.items())
    return rows


def format_table(results: dict[str, Any]) -> str:
    """Every figure beside the paper's and its accept range, then the findings (estimates, then true effects)."""
    head = f"{'section':<22}{'figure':<24}{'simulated':>11}{'true':>11}{'paper':>9}  {'accept':<18}ok"
    lines = [head, "-" * len(head)]
    for section, name, value, true, paper, t, *_ in target_rows(results):
        accept = f"[{t.lo:g}, {t.hi:g}]" if t else ""
        ok = ("yes" if t.ok(value) else "NO") if t and value is not None and math.isfinite(value) else ""
        lines.append(f"{section:<22}{name:<24}{_f(value):>11}{_f(true):>11}{paper:>9}  {accept:<18}{ok}")
    lines.append("")
    true = {f["number"]: f for f in results.get("findings_true", [])}
    for f in results.get("findings", []):
        t = true.get(f["number"])
        word = "holds" if f["holds"] else "FAILS"
        line = f"finding {f['number']:>2} {word}: {f['claim']}: {f['figures']}"
        if t is not None and t["figures"] != f["figures"]:  # effort and timing are means, with no true effect
            line += f" (true effects: {'holds' if t['holds'] else 'FAILS'}: {t['figures']})"
        lines.append(line)
    return "\n".join(lines)


def findings(r: dict[str, Any], on: str = "estimate") -> list[Finding]:
    """Check DOMAIN.md's qualitative findings 1-10 (signs and orderings) on the results.

    Args:
        r: the results of :func:`eval.analysis.analyze` (with ``baseline``).
        on: ``"estimate"`` checks the paper-style estimates (finding 2 also asks that the
            AI-eligible rating loss be significant); ``"true"`` checks the true effects from the
            replay with common random numbers, free of the estimators' sampling noise and
            selection. Effort and timing (findings 8 and 9) are means, the same either way,
            except finding 8's empathy, which on the true effects is its expectation.
    """
    if on not in ("estimate", "true"):
        raise ValueError(f"on must be 'estimate' or 'true', got {on!r}")
    did, esc, eff, tim, sp = r["did"], r["escalations"], r["effort"], r["timing"], r["spillover"]
    d = {s: {o: did[s][o][on] for o in OUTCOMES} for s in did}
    e = {k: {o: esc[k][o][on] for o in (*OUTCOMES, "rating_resolved")} for k in esc}
    spill = {k: v[on] for k, v in sp.items()}
    significant = on == "true" or did["eligible"]["rating"]["p"] < 0.05
    p_note = f" (p {did['eligible']['rating']['p']:.2g})" if on == "estimate" else ""
    p_ret = f" (p {did['eligible']['retrial_pp']['p']:.2g})" if on == "estimate" else ""
    others = ("technical", "human")
    out = [
        Finding(1, "duration falls, strongly for AI-eligible, slightly for AI-ineligible chats",
                f"all {d['all']['duration_pct']:.1f}%, eligible {d['eligible']['duration_pct']:.1f}%, "
                f"ineligible {d['ineligible']['duration_pct']:.1f}%",
                d["eligible"]["duration_pct"] < d["ineligible"]["duration_pct"] < 0 and d["all"]["duration_pct"] < 0),
        Finding(2, "AI-eligible ratings fall substantially; retrial barely changes",
                f"eligible rating {d['eligible']['rating']:+.3f}{p_note}, "
                f"retrial {d['eligible']['retrial_pp']:+.2f} pp{p_ret}, "
                f"all {d['all']['retrial_pp']:+.2f} pp",
                d["eligible"]["rating"] < -0.2 and significant
                and abs(d["eligible"]["retrial_pp"]) < 2 and abs(d["all"]["retrial_pp"]) < 1.5),
        Finding(3, "AI-alone chats rated lower than matched human chats, even when resolved",
                f"AI alone {e['none']['rating']:+.3f}, resolved only {e['none']['rating_resolved']:+.3f}",
                e["none"]["rating"] < 0 and e["none"]["rating_resolved"] < 0),
        Finding(4, "technical escalations keep quality at the cost of a longer chat",
                f"rating {e['technical']['rating']:+.3f}, retrial {e['technical']['retrial_pp']:+.2f} pp, "
                f"duration {e['technical']['duration_pct']:+.1f}%",
                abs(e["technical"]["rating"]) < 0.15 and abs(e["technical"]["retrial_pp"]) < 3
                and e["technical"]["duration_pct"] > 0),
        Finding(5, "emotional escalations: lowest rating, higher retrial, longest chats",
                f"rating {e['emotional']['rating']:+.3f}, retrial {e['emotional']['retrial_pp']:+.2f} pp, "
                f"duration {e['emotional']['duration_pct']:+.1f}%",
                e["emotional"]["retrial_pp"] > 0 and all(
                    e["emotional"]["rating"] < e[k]["rating"] and e["emotional"]["duration_pct"] > e[k]["duration_pct"]
                    for k in others)),
        Finding(6, "human-initiated escalations: moderate rating loss, slightly lower retrial",
                f"rating {e['human']['rating']:+.3f}, retrial {e['human']['retrial_pp']:+.2f} pp",
                e["emotional"]["rating"] < e["human"]["rating"] < 0 and e["human"]["retrial_pp"] < 0),
        Finding(7, "rating order emotional < human-initiated < technical",
                " < ".join(f"{k} {e[k]['rating']:+.3f}" for k in ("emotional", "human", "technical")),
                e["emotional"]["rating"] < e["human"]["rating"] < e["technical"]["rating"]),
        _effort_finding(eff, on),
        Finding(9, "emotional escalations come later and at higher frustration",
                ", ".join(f"{k} round {tim[k]['takeover_round']:.2f} / {tim[k]['takeover_time_s']:.0f} s / "
                          f"f {tim[k]['frustration_at_takeover']:.2f}" for k in ("emotional", *others)),
                all(tim["emotional"][m] > tim[k][m] for k in others for m in tim["emotional"])),
        Finding(10, "AI-ineligible chats faster and better rated; fewer switch-aways, less time away, "
                    "concurrency unchanged",
                f"duration {d['ineligible']['duration_pct']:+.2f}%, rating {d['ineligible']['rating']:+.3f}, "
                f"concurrency {spill['concurrency_pct']:+.2f}%, switch-aways {spill['switch_aways_pct']:+.1f}%, "
                f"time away {spill['away_time_pct']:+.1f}%",
                d["ineligible"]["duration_pct"] < 0 and d["ineligible"]["rating"] > 0
                and abs(spill["concurrency_pct"]) < 2 and spill["switch_aways_pct"] < -5
                and spill["away_time_pct"] < -5),
    ]  # fmt: skip
    return out


def _effort_finding(eff: dict[str, dict[str, float]], on: str) -> Finding:
    """Finding 8. On the true effects, empathy is its expectation (the handling workers' chance of
    an empathetic reply), free of the reply draws' noise (an SE of about 0.012 at full scale)."""
    em, others = eff["emotional"], ("technical", "human")
    lower = ("worker_messages", "round_share", "proactivity")
    empathy = "empathy_expected" if on == "true" else "empathy"
    holds = all(em[m] < eff[k][m] for k in others for m in lower) and all(
        em["reply_lag_s"] > eff[k]["reply_lag_s"] and abs(em[empathy] - eff[k][empathy]) < 0.02 for k in others
    )
    figures = "; ".join(
        f"{k}: messages {eff[k]['worker_messages']:.2f}, round share {eff[k]['round_share']:.2f}, "
        f"lag {eff[k]['reply_lag_s']:.1f} s, proactivity {eff[k]['proactivity']:.2f}, "
        f"{empathy.replace('_', ' ')} {eff[k][empathy]:.3f}"
        for k in ("emotional", *others)
    )
    return Finding(8, "after emotional escalations workers disengage, empathy the same", figures, holds)


def plot_estimates(results: dict[str, Any], path: Path) -> None:
    """Estimates with 95% CIs, the true effects and the paper's figures with their accept ranges."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), constrained_layout=True)
    units = {"duration_pct": "duration (%)", "rating": "rating (points)", "retrial_pp": "7-day retrial (pp)"}
    for j, outcome in enumerate(OUTCOMES):
        did = {s: results["did"][s][outcome] for s in results["did"]}
        _panel(axes[0, j], did, f"DiD: {units[outcome]}", {s: DID[(s, outcome)] for s in did})
        esc = {k: v[outcome] for k, v in results["escalations"].items()}
        paper = {k: ESCALATION_EFFECTS[(k, outcome)] for k in esc if (k, outcome) in ESCALATION_EFFECTS}
        _panel(axes[1, j], esc, f"escalation vs matched control: {units[outcome]}", paper)
    _panel(axes[0, 3], results["spillover"], "spillover, AI-ineligible chats (%)", {})
    axes[1, 3].axis("off")
    handles = [
        plt.Line2D([], [], marker="o", color="C0", label="estimate, 95% CI"),
        plt.Line2D([], [], marker="x", color="C3", linestyle="none", label="true effect (replay)"),
        plt.Line2D([], [], marker="D", color="k", linestyle="none", label="paper"),
        plt.Rectangle((0, 0), 1, 1, color="0.85", label="accept range"),
    ]
    axes[1, 3].legend(handles=handles, loc="center")
    run = f"hitl-rct {results.get('preset', '')} seed {results.get('seed', '')}"
    fig.suptitle(f"{run}: {results['n_chats']:,} chats, {results['n_treatment']}/{results['n_workers']} treated")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _panel(ax: Any, rows: dict[str, dict[str, float]], title: str, paper: dict[str, Target]) -> None:
    names = list(rows)
    for i, name in enumerate(names):
        e = rows[name]
        if name in paper:
            t = paper[name]
            ax.fill_betweenx([i - 0.35, i + 0.35], t.lo, t.hi, color="0.85", zorder=0)
            if t.stars != NOT_SIGNIFICANT:
                ax.plot(t.value, i, "kD", zorder=2)
        est, se = e["estimate"], e["se"]
        ci = 1.96 * se if se is not None and math.isfinite(se) else 0.0
        ax.errorbar(est, i, xerr=ci, fmt="o", color="C0", capsize=3, zorder=3)
        ax.plot(e["true"], i, "x", color="C3", markersize=9, zorder=4)
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
