"""The report of ``hitl-rct``: the table beside the paper, the check of findings 1-10, the plot,
and the summary of replications over seeds.

The paper's figures and accept ranges come from DOMAIN.md: the baseline table and escalation
shares from :mod:`eval.calibration`, the difference-in-differences table from :data:`DID`. The
per-type effects, effort, timing and spillover magnitudes have no DOMAIN.md figure: they are
shown without one and checked only through the qualitative findings (:func:`findings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.calibration import BASELINE, ESCALATION_SHARES, Target

# DOMAIN.md's DiD table: (paper's figure as printed, accept range). "n.s." is "not significant".
DID: dict[tuple[str, str], tuple[str, Target]] = {
    ("all", "duration_pct"): ("-3.2%", Target(-3.2, -4.5, -2.0)),
    ("all", "rating"): ("n.s.", Target(0.0, -0.05, 0.05)),
    ("all", "retrial_pp"): ("n.s.", Target(0.0, -1.5, 1.5)),
    ("eligible", "duration_pct"): ("-16.8%", Target(-16.8, -22.0, -12.0)),
    ("eligible", "rating"): ("-0.412", Target(-0.412, -0.52, -0.30)),
    ("eligible", "retrial_pp"): ("n.s.", Target(0.0, -2.0, 2.0)),
    ("ineligible", "duration_pct"): ("-1.8%", Target(-1.8, -3.0, -0.5)),
    ("ineligible", "rating"): ("+0.091", Target(0.091, 0.03, 0.15)),
    ("ineligible", "retrial_pp"): ("n.s.", Target(0.0, -1.5, 1.5)),
}
OUTCOMES = ("duration_pct", "rating", "retrial_pp")


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


def target_rows(results: dict[str, Any]) -> list[tuple[str, str, float, float | None, str, Target | None]]:
    """Rows (section, figure, simulated, true, paper, accept range) of every reported figure."""
    rows: list[tuple[str, str, float, float | None, str, Target | None]] = []
    for k, t in BASELINE.items():
        rows.append(("baseline", k, results["baseline"][k], None, f"{t.value:g}", t))
    for k, t in ESCALATION_SHARES.items():
        rows.append(("escalation share", k, results["escalations"][k]["share"], None, f"{t.value:g}", t))
    for (sample, outcome), (label, t) in DID.items():
        e = results["did"][sample][outcome]
        rows.append((f"DiD {sample}", outcome, e["estimate"], e["true"], label, t))
    for kind, e in results["escalations"].items():
        for outcome in OUTCOMES:
            rows.append((f"escalation {kind}", outcome, e[outcome]["estimate"], e[outcome]["true"], "", None))
    for key, e in results["spillover"].items():
        rows.append(("spillover", key, e["estimate"], e["true"], "", None))
    for section in ("effort", "timing"):
        for kind, values in results[section].items():
            rows.extend((f"{section} {kind}", k, v, None, "", None) for k, v in values.items())
    return rows


def format_table(results: dict[str, Any]) -> str:
    """Every figure beside the paper's and its accept range, then the findings (estimates, then true effects)."""
    head = f"{'section':<22}{'figure':<24}{'simulated':>11}{'true':>11}{'paper':>9}  {'accept':<18}ok"
    lines = [head, "-" * len(head)]
    for section, name, value, true, paper, t in target_rows(results):
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
            selection. Effort and timing (findings 8 and 9) are means, the same either way.
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
        _effort_finding(eff),
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


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Replications of the experiment (results with ``findings`` and ``findings_true``) in one summary.

    Returns:
        ``preset``, ``seeds``, ``n_workers``; ``figures``: every row of :func:`target_rows` with
        its value and true effect at each seed and, where it has an accept range, at how many
        seeds it is ``inside``; ``findings``: each finding's ``holds`` and ``holds_true`` at each
        seed; at each seed, ``all_inside`` (every figure with an accept range inside it),
        ``all_hold`` and ``all_hold_true`` (every finding holds); ``runtime_s``, the
        replications' total.
    """
    tables = [{(row[0], row[1]): row for row in target_rows(r)} for r in runs]
    figures = []
    for (section, name), (*_, paper, t) in tables[0].items():
        values = [rows[section, name][2] if (section, name) in rows else None for rows in tables]
        true = [rows[section, name][3] if (section, name) in rows else None for rows in tables]
        figures.append({
            "section": section, "figure": name, "paper": paper, "accept": [t.lo, t.hi] if t else None,
            "values": values, "true": None if all(x is None for x in true) else true,
            "inside": sum(_inside(v, t) for v in values) if t else None,
        })  # fmt: skip
    findings_ = [
        {"number": f["number"], "claim": f["claim"], "holds": [r["findings"][j]["holds"] for r in runs],
         "holds_true": [r["findings_true"][j]["holds"] for r in runs]}
        for j, f in enumerate(runs[0]["findings"])
    ]  # fmt: skip
    all_inside = [all(_inside(row[2], row[5]) for row in rows.values() if row[5]) for rows in tables]
    return {"preset": runs[0]["preset"], "seeds": [r["seed"] for r in runs], "n_workers": runs[0]["n_workers"],
            "figures": figures, "findings": findings_, "all_inside": all_inside,
            "all_hold": [all(f["holds"] for f in r["findings"]) for r in runs],
            "all_hold_true": [all(f["holds"] for f in r["findings_true"]) for r in runs],
            "runtime_s": sum(r["runtime_s"] for r in runs)}  # fmt: skip


def _inside(value: float | None, target: Target) -> bool:
    return value is not None and math.isfinite(value) and target.ok(value)


def _span(xs: list[float | None] | None) -> str:
    xs = [x for x in xs or [] if x is not None and math.isfinite(x)]
    return f"{_f(min(xs), 4)} to {_f(max(xs), 4)}" if xs else "-"


def format_summary(summary: dict[str, Any]) -> str:
    """The replications' summary: each figure's range over the seeds, then the findings' counts."""
    seeds, n = summary["seeds"], len(summary["seeds"])
    head = f"{'section':<22}{'figure':<24}{'paper':>9}  {'accept':<18}{'over the seeds':<24}{'inside':<8}true"
    lines = [f"{summary['preset']}, {summary['n_workers']} workers, seeds {', '.join(map(str, seeds))}", head,
             "-" * len(head)]  # fmt: skip
    for row in summary["figures"]:
        accept = f"[{row['accept'][0]:g}, {row['accept'][1]:g}]" if row["accept"] else ""
        inside = f"{row['inside']}/{n}" if row["accept"] else ""
        lines.append(f"{row['section']:<22}{row['figure']:<24}{row['paper']:>9}  {accept:<18}"
                     f"{_span(row['values']):<24}{inside:<8}{_span(row['true'])}")  # fmt: skip
    lines.append("")
    for f in summary["findings"]:
        est, true = sum(f["holds"]), sum(f["holds_true"])
        at = ", ".join(str(s) for s, h in zip(seeds, f["holds"], strict=True) if h)
        where = "" if est in (0, n) else f" (seeds {at})"
        lines.append(f"finding {f['number']:>2}: {f['claim']}: holds at {est}/{n} seeds{where}, "
                     f"on the true effects at {true}/{n}")  # fmt: skip
    lines.append("")
    lines.append(f"every figure inside its accept range at {_count(seeds, summary['all_inside'])}; every finding "
                 f"holds at {_count(seeds, summary['all_hold'])}, on the true effects at "
                 f"{_count(seeds, summary['all_hold_true'])}")  # fmt: skip
    return "\n".join(lines)


def _count(seeds: list[int], flags: list[bool]) -> str:
    """``k/n seeds``, and which, unless it is none or all of them."""
    k, n = sum(flags), len(flags)
    which = "" if k in (0, n) else f" ({', '.join(str(s) for s, f in zip(seeds, flags, strict=True) if f)})"
    return f"{k}/{n} seeds{which}"


def _effort_finding(eff: dict[str, dict[str, float]]) -> Finding:
    em, others = eff["emotional"], ("technical", "human")
    lower = ("worker_messages", "round_share", "proactivity")
    holds = all(em[m] < eff[k][m] for k in others for m in lower) and all(
        em["reply_lag_s"] > eff[k]["reply_lag_s"] and abs(em["empathy"] - eff[k]["empathy"]) < 0.02 for k in others
    )
    figures = "; ".join(
        f"{k}: messages {eff[k]['worker_messages']:.2f}, round share {eff[k]['round_share']:.2f}, "
        f"lag {eff[k]['reply_lag_s']:.1f} s, proactivity {eff[k]['proactivity']:.2f}, empathy {eff[k]['empathy']:.3f}"
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
        _panel(axes[1, j], esc, f"escalation vs matched control: {units[outcome]}", {})
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


def _panel(ax: Any, rows: dict[str, dict[str, float]], title: str, paper: dict[str, tuple[str, Target]]) -> None:
    names = list(rows)
    for i, name in enumerate(names):
        e = rows[name]
        if name in paper:
            label, t = paper[name]
            ax.fill_betweenx([i - 0.35, i + 0.35], t.lo, t.hi, color="0.85", zorder=0)
            if label != "n.s.":
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
