"""The summary of ``hitl-rct --seeds N``: the replications judged as DOMAIN.md's "How calibration
is judged" does.

Over the seeds, every figure gets its mean estimate beside its accept range; every estimate with
a standard error its median SE and, where the paper gives it stars, the z the paper's estimate
would have with that SE (:func:`eval.calibration.power_z`) beside the band its stars imply
(:data:`eval.calibration.STAR_BANDS`); every figure the paper reports as not significant the
number of seeds with p >= 0.05. :func:`criteria` turns these and the findings' counts into
DOMAIN.md's six criteria, each with its failing figures.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from eval.calibration import (
    FINDINGS_ESTIMATE_SHARE,
    NOT_SIGNIFICANT,
    NS_ALPHA,
    NS_SHARE,
    log_duration_se,
    power_z,
    seeds_needed,
)
from eval.rct_report import Row, target_rows

# The sections whose every seed must be inside its range (DOMAIN.md: "at every seed").
EVERY_SEED = ("baseline", "escalation share")


def _finite(xs: list[float | None] | None) -> list[float]:
    return [x for x in xs or [] if x is not None and math.isfinite(x)]


def _inside(value: float | None, row: Row) -> bool:
    return value is not None and math.isfinite(value) and row.target is not None and row.target.ok(value)


def figure_summary(rows: list[Row | None]) -> dict[str, Any]:
    """One figure over the seeds: its rows at each seed (None where a seed lacks it).

    Returns:
        ``section, figure, paper, stars, accept`` (None where DOMAIN.md has no range);
        ``values, true, se, p`` at each seed (``true``, ``se`` and ``p`` None where the figure has
        none); ``inside`` (seeds inside the range); ``mean`` (over the seeds with a finite value)
        and ``mean_inside``; ``median_se`` (in the figure's units) and, for durations,
        ``median_se_log`` (of the log-duration coefficient); for a starred figure ``z``, the
        paper's estimate over the median SE (log scale for durations), its ``z_band`` ([lo, hi],
        hi None for ***) and ``z_inside``; for an n.s. figure ``p_ns``, the seeds with p >= 0.05,
        and ``p_ns_needed``. Keys that do not apply are None.
    """
    first = next(r for r in rows if r is not None)
    t, n = first.target, len(rows)
    values = [r.value if r else None for r in rows]
    true, se, p = ([getattr(r, k) if r else None for r in rows] for k in ("true", "se", "p"))
    mean = statistics.fmean(_finite(values)) if _finite(values) else None
    out: dict[str, Any] = {
        "section": first.section, "figure": first.figure, "paper": first.paper, "stars": t.stars if t else None,
        "accept": [t.lo, t.hi] if t else None, "values": values,
        "true": None if all(x is None for x in true) else true,
        "se": None if all(x is None for x in se) else se, "p": None if all(x is None for x in p) else p,
        "inside": sum(_inside(v, first) for v in values) if t else None,
        "mean": mean, "mean_inside": _inside(mean, first) if t else None,
        "median_se": statistics.median(_finite(se)) if _finite(se) else None, "median_se_log": None,
        "z": None, "z_band": None, "z_inside": None, "p_ns": None, "p_ns_needed": None,
    }  # fmt: skip
    if first.figure == "duration_pct":
        se_log = _finite([log_duration_se(v, s) if v is not None and s is not None else None
                          for v, s in zip(values, se, strict=True)])  # fmt: skip
        out["median_se_log"] = statistics.median(se_log) if se_log else None
    if t is not None and t.band is not None:
        z_se = out["median_se_log"] if first.figure == "duration_pct" else out["median_se"]
        z = power_z(t, first.figure, z_se) if z_se is not None else None
        lo, hi = t.band
        out.update(z=z, z_band=[lo, hi if math.isfinite(hi) else None], z_inside=z is not None and lo <= z <= hi)
    if t is not None and t.stars == NOT_SIGNIFICANT:
        out.update(p_ns=sum(x >= NS_ALPHA for x in _finite(p)), p_ns_needed=seeds_needed(NS_SHARE, n))
    return out


def criteria(figures: list[dict[str, Any]], findings: list[dict[str, Any]], n: int) -> dict[str, dict[str, Any]]:
    """DOMAIN.md's criteria over ``n`` seeds, each ``{"rule", "pass", "failing"}``.

    ``failing`` names the figures (``"DiD all rating"``) or findings (``"finding 6"``) that fail it.

    Args:
        figures: :func:`figure_summary` of every figure.
        findings: each finding's ``number``, ``holds`` and ``holds_true`` at each seed.
        n: the number of seeds.
    """
    name = [f"{f['section']} {f['figure']}" for f in figures]
    judged = [f["stars"] for f in figures]  # "" for descriptive statistics, None for no target
    ns, est = seeds_needed(NS_SHARE, n), seeds_needed(FINDINGS_ESTIMATE_SHARE, n)
    failing = {
        "baseline": [k for k, f in zip(name, figures, strict=True)
                     if f["section"] in EVERY_SEED and f["inside"] < n],
        "mean_inside": [k for k, f, s in zip(name, figures, judged, strict=True) if s and not f["mean_inside"]],
        "not_significant": [k for k, f in zip(name, figures, strict=True)
                            if f["stars"] == NOT_SIGNIFICANT and f["p_ns"] < ns],
        "power": [k for k, f in zip(name, figures, strict=True) if f["z_band"] is not None and not f["z_inside"]],
        "findings_true": [f"finding {f['number']}" for f in findings if sum(f["holds_true"]) < n],
        "findings_estimates": [f"finding {f['number']}" for f in findings if sum(f["holds"]) < est],
    }  # fmt: skip
    rules = {
        "baseline": "baseline table and escalation shares inside their ranges at every seed",
        "mean_inside": "every DiD and per-type figure's mean estimate over the seeds inside its range",
        "not_significant": f"figures the paper reports as n.s.: p >= {NS_ALPHA:g} at {ns} or more of {n} seeds",
        "power": "every starred figure's z (paper estimate / median simulated SE) inside its band",
        "findings_true": f"findings 1-10 hold on the true effects at all {n} seeds",
        "findings_estimates": f"findings 1-10 hold on the estimates at {est} or more of {n} seeds",
    }
    return {k: {"rule": rules[k], "pass": not failing[k], "failing": failing[k]} for k in rules}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Replications of the experiment (results with ``findings`` and ``findings_true``) in one summary.

    Returns:
        ``preset``, ``seeds``, ``n_workers``; ``figures``: every row of
        :func:`eval.rct_report.target_rows` over the seeds (:func:`figure_summary`);
        ``findings``: each finding's ``holds`` and ``holds_true`` at each seed and their counts
        ``n_holds`` and ``n_holds_true``; at each seed, ``all_inside`` (every figure with an
        accept range inside it), ``all_hold`` and ``all_hold_true`` (every finding holds);
        ``criteria`` (:func:`criteria`) and ``criteria_pass`` (all of them pass);
        ``runtime_s``, the replications' total.
    """
    tables = [{(row.section, row.figure): row for row in target_rows(r)} for r in runs]
    figures = [figure_summary([rows.get(key) for rows in tables]) for key in tables[0]]
    findings_ = []
    for j, f in enumerate(runs[0]["findings"]):
        holds, holds_true = ([r[k][j]["holds"] for r in runs] for k in ("findings", "findings_true"))
        findings_.append({"number": f["number"], "claim": f["claim"], "holds": holds, "holds_true": holds_true,
                          "n_holds": sum(holds), "n_holds_true": sum(holds_true)})  # fmt: skip
    all_inside = [all(_inside(row.value, row) for row in rows.values() if row.target) for rows in tables]
    judged = criteria(figures, findings_, len(runs))
    return {"preset": runs[0]["preset"], "seeds": [r["seed"] for r in runs], "n_workers": runs[0]["n_workers"],
            "figures": figures, "findings": findings_, "all_inside": all_inside,
            "all_hold": [all(f["holds"] for f in r["findings"]) for r in runs],
            "all_hold_true": [all(f["holds"] for f in r["findings_true"]) for r in runs],
            "criteria": judged, "criteria_pass": all(c["pass"] for c in judged.values()),
            "runtime_s": sum(r["runtime_s"] for r in runs)}  # fmt: skip


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def _span(xs: list[float | None] | None) -> str:
    xs = _finite(xs)
    return f"{_f(min(xs), 4)} to {_f(max(xs), 4)}" if xs else "-"


def _yes(flag: bool | None) -> str:
    return "" if flag is None else ("yes" if flag else "NO")


def _band(band: list[float | None] | None) -> str:
    if band is None:
        return ""
    return f">= {band[0]:g}" if band[1] is None else f"[{band[0]:g}, {band[1]:g}]"


def _paper(f: dict[str, Any]) -> str:
    return f"{f['paper']} {f['stars']}" if f["stars"] and f["stars"] != NOT_SIGNIFICANT else f["paper"]


def format_summary(summary: dict[str, Any]) -> str:
    """The replications' summary: each figure over the seeds, power and significance, the findings'
    counts, then one verdict line per criterion."""
    seeds, n = summary["seeds"], len(summary["seeds"])
    head = (f"{'section':<22}{'figure':<24}{'paper':>12}  {'accept':<18}{'over the seeds':<24}{'inside':<8}"
            f"{'mean':>9} {'ok':<4}true")  # fmt: skip
    lines = [f"{summary['preset']}, {summary['n_workers']} workers, seeds {', '.join(map(str, seeds))}", head,
             "-" * len(head)]  # fmt: skip
    for f in summary["figures"]:
        accept = f"[{f['accept'][0]:g}, {f['accept'][1]:g}]" if f["accept"] else ""
        inside = f"{f['inside']}/{n}" if f["accept"] else ""
        lines.append(f"{f['section']:<22}{f['figure']:<24}{_paper(f):>12}  {accept:<18}{_span(f['values']):<24}"
                     f"{inside:<8}{_f(f['mean'], 4):>9} {_yes(f['mean_inside']):<4}{_span(f['true'])}")  # fmt: skip
    head = f"{'section':<22}{'figure':<24}{'paper':>12}  {'median SE':>10}{'z':>7}  {'band':<13}{'ok':<5}p >= 0.05"
    lines += ["", "power (z = paper / median SE; durations: ln(1 + pct/100) / SE of the log-duration coefficient) "
              "and n.s. figures' p", head, "-" * len(head)]  # fmt: skip
    for f in summary["figures"]:
        if f["stars"] and f["median_se"] is not None:
            se = f["median_se_log"] if f["figure"] == "duration_pct" else f["median_se"]
            band = _band(f["z_band"])
            ns = f"{f['p_ns']}/{n} (need {f['p_ns_needed']})" if f["p_ns"] is not None else ""
            lines.append(f"{f['section']:<22}{f['figure']:<24}{_paper(f):>12}  {_f(se):>10}{_f(f['z']):>7}  "
                         f"{band:<13}{_yes(f['z_inside']):<5}{ns}")  # fmt: skip
    lines.append("")
    for f in summary["findings"]:
        est, true = f["n_holds"], f["n_holds_true"]
        at = ", ".join(str(s) for s, h in zip(seeds, f["holds"], strict=True) if h)
        where = "" if est in (0, n) else f" (seeds {at})"
        lines.append(f"finding {f['number']:>2}: {f['claim']}: holds at {est}/{n} seeds{where}, "
                     f"on the true effects at {true}/{n}")  # fmt: skip
    lines.append("")
    lines.append(f"every figure inside its accept range at {_count(seeds, summary['all_inside'])}; every finding "
                 f"holds at {_count(seeds, summary['all_hold'])}, on the true effects at "
                 f"{_count(seeds, summary['all_hold_true'])}")  # fmt: skip
    lines.append(f"criteria over {n} seeds (DOMAIN.md, 'How calibration is judged'):")
    for c in summary["criteria"].values():
        verdict = "pass" if c["pass"] else f"FAIL: {', '.join(c['failing'])}"
        lines.append(f"  {c['rule']}: {verdict}")
    return "\n".join(lines)


def _count(seeds: list[int], flags: list[bool]) -> str:
    """``k/n seeds``, and which, unless it is none or all of them."""
    k, n = sum(flags), len(flags)
    which = "" if k in (0, n) else f" ({', '.join(str(s) for s, f in zip(seeds, flags, strict=True) if f)})"
    return f"{k}/{n} seeds{which}"
