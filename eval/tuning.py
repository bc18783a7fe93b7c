"""The tuning protocol of ``hitl-eval --tune``: grid-tune each heuristic on seeds no evaluation uses.

Each policy with a grid (:func:`grid_of`) is played on every grid point over the tuning seeds
(default 0-19), on the env ``hitl-eval`` evaluates, so on its reward weights (``--weight``
included); the point with the highest mean return is chosen (the first in grid order on a tie).
Parameters the spec gives are kept and not tuned (``sentiment_threshold:level=-0.6`` is played as
given). Every other heuristic is played on the tuning seeds as given, so that the best tuned
heuristic is chosen on the tuning seeds too, never on the evaluation seeds. Saved models are
not played: no tuning touches them. ``hitl-eval`` then evaluates every policy, the tuned ones
at their chosen parameters, on fresh evaluation seeds (default 1000-1099; overlapping tuning
seeds are refused).

The grids, one home each:

========================  ===========================================================================
``sentiment_threshold``   ``level`` over :data:`eval.pareto.SENTIMENT_LEVELS`
``rounds_threshold``      ``k`` over :data:`eval.pareto.ROUNDS_K`
``paper_workers``         ``base`` over :data:`PAPER_BASES` and ``sentiment_slope`` over
                          :data:`PAPER_SLOPES` (``sentiment_level`` the run's config's)
``confidence_threshold``  ``threshold`` between consecutive scores (:func:`eval.pareto.score_cuts`);
                          without ``scores`` in the spec, each category's ``ai_solvable`` as its score
                          (:func:`eval.pareto.solvable_scores`, as in the Pareto plot's sweep)
``oracle``                :data:`ORACLE_GRID` (an upper bound: tuned, but never "the best heuristic")
========================  ===========================================================================
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eval import pareto
from eval.episodes import run_all
from eval.policies import Entry, EvalError, build_policy
from eval.stats import bootstrap_ci, resample_indices

PAPER_BASES = (0.0, 0.05, 0.1, 0.2, 0.4)
PAPER_SLOPES = (0.0, 0.1, 0.3, 1.0)
ORACLE_GRID: Mapping[str, tuple[Any, ...]] = {
    "misread_round": (1, 2, 3, None),
    "on_track_left": (0, 1, 2, 4, None),
    "technical_wait": (0, 1, 2, 4, None),
}
TUNE_SEEDS, TUNE_SEED = 20, 0
EVAL_SEEDS, EVAL_SEED = 100, 1000
"""The default seeds with ``--tune``: tuning on 0-19, evaluation on 1000-1099."""


def grid_of(kind: str, name: str, params: Mapping[str, Any], cfg: Any) -> dict[str, tuple[Any, ...]]:
    """The grid of policy ``name`` over the parameters ``params`` does not fix (empty: nothing to tune).

    ``params`` may gain fixed values the grid needs (``confidence_threshold``'s scores).
    """
    grids: dict[str, dict[str, tuple[Any, ...]]] = {
        "sentiment_threshold": {"level": pareto.SENTIMENT_LEVELS},
        "rounds_threshold": {"k": pareto.ROUNDS_K},
        "paper_workers": {"base": PAPER_BASES, "sentiment_slope": PAPER_SLOPES},
        "oracle": dict(ORACLE_GRID),
    }
    if kind == "router" and name == "confidence_threshold":
        scores = params.get("scores")
        values = list(scores.values()) if isinstance(scores, Mapping) else list(scores or [])
        if scores is None:
            values = list(pareto.solvable_scores(cfg).values())
        grids["confidence_threshold"] = {"threshold": tuple(pareto.score_cuts(values))}
    return {k: v for k, v in grids.get(name, {}).items() if k not in params}


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """``name:key=value,...`` that :func:`agents.parse_spec` reads back to the same parameters."""
    return name if not params else f"{name}:" + ",".join(f"{k}={v!r}" for k, v in params.items())


@dataclass
class Tuned:
    """One policy's tuning: the spec given, the grid, the chosen parameters and their spec."""

    given: str
    spec: str
    grid: dict[str, tuple[Any, ...]]
    params: dict[str, Any]
    tune_return: float

    @property
    def label(self) -> str:
        """Its label in the reports: the spec given with the chosen point, marked as tuned. It
        leaves out what the tuner filled in (a router ``confidence_threshold``'s ``scores``, ten
        categories long); ``spec`` has it all."""
        if not self.grid:
            return self.spec
        from agents.registry import parse_spec

        name, given = parse_spec(self.given)
        return f"{format_spec(name, {**given, **self.params})} (tuned)"


def tune(env: Any, kind: str, specs: list[str], cfg: Any, seeds: list[int], n_boot: int, rating: str,
         bar: Any) -> tuple[dict[str, Tuned], pd.DataFrame]:  # fmt: skip
    """Play every grid point of every heuristic spec on ``seeds``; each spec's choice and the table.

    Returns:
        The tuning of each heuristic spec (saved models are left out), and one row per spec and
        grid point: its parameters, mean return with a 95% bootstrap CI, and whether it was chosen.
    """
    from agents.loading import is_model_spec
    from agents.registry import parse_spec

    idx = resample_indices(len(seeds), n_boot, seeds[0])
    plans = []
    for given in (s for s in specs if not is_model_spec(s)):
        name, fixed = parse_spec(given)
        grid = grid_of(kind, name, fixed, cfg)
        if kind == "router" and name == "confidence_threshold" and grid and "scores" not in fixed:
            fixed["scores"] = pareto.solvable_scores(cfg)
        points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())] or [{}]
        plans.append((given, name, fixed, grid, points))
    bar.total = sum(len(plan[-1]) for plan in plans) * len(seeds)
    out, rows = {}, []
    for given, name, fixed, grid, points in plans:
        returns = []
        for point in points:
            spec = format_spec(name, {**fixed, **point}) if point else given
            entry = Entry(spec, spec, policy=build_policy(kind, spec, cfg, env))
            ret = run_all(env, [entry], seeds, kind, rating, bar)["return"].to_numpy(float)
            mean, lo, hi = bootstrap_ci(ret, idx)
            returns.append(mean)
            rows.append({"policy": given, "spec": spec, **{f"param_{k}": v for k, v in point.items()},
                         "return": mean, "return_lo": lo, "return_hi": hi, "seeds": len(seeds)})  # fmt: skip
        best = int(np.argmax(returns))  # the first of equal means
        rows[len(rows) - len(points) + best]["chosen"] = True
        chosen = points[best]
        spec = format_spec(name, {**fixed, **chosen}) if chosen else given
        out[given] = Tuned(given, spec, grid, chosen, returns[best])
    table = pd.DataFrame(rows)
    if not table.empty:
        table["chosen"] = table.get("chosen", pd.Series(dtype=object)).fillna(False).astype(bool)
    return out, table


def check_seeds(tune_seeds: list[int], eval_seeds: list[int]) -> None:
    """Refuse evaluation seeds that tuning used.

    Raises:
        EvalError: the two ranges overlap.
    """
    both = sorted(set(tune_seeds) & set(eval_seeds))
    if both:
        raise EvalError(
            f"tuning seeds {tune_seeds[0]}-{tune_seeds[-1]} and evaluation seeds {eval_seeds[0]}-{eval_seeds[-1]} "
            f"overlap (seed {both[0]}): evaluate on seeds no tuning touched (--seed, --tune-seed)"
        )


def best_heuristic(tuned: Mapping[str, Tuned], entries: list[Entry]) -> str | None:
    """The label of the observable heuristic with the best mean return on the tuning seeds."""
    kinds = {e.spec: e.kind for e in entries}
    candidates = [t for t in tuned.values() if kinds.get(t.spec) == "heuristic"]
    return max(candidates, key=lambda t: t.tune_return).label if candidates else None


def report(tuned: Mapping[str, Tuned], seeds: list[int], best: str | None,
           vs_best: pd.DataFrame | None) -> dict[str, Any]:  # fmt: skip
    """``summary.json``'s ``tuning``: the seeds, each policy's grid and choice, the best heuristic,
    and every policy's paired difference from it on the evaluation seeds (``share``: of its |return|)."""
    out: dict[str, Any] = {
        "seeds": seeds,
        "objective": "mean return on the tuning seeds (the env's reward weights)",
        "policies": {t.label: {"given": t.given, "spec": t.spec, "grid": {k: list(v) for k, v in t.grid.items()},
                               "params": t.params, "tune_return": t.tune_return} for t in tuned.values()},
        "best_heuristic": best,
    }  # fmt: skip
    if best is not None and vs_best is not None:
        ret = vs_best[vs_best["metric"] == "return"].set_index("policy")
        base = abs(float(ret.loc[best, "mean"]))
        out["vs_best_heuristic"] = {
            pol: {"diff": r["diff"], "ci": [r["diff_lo"], r["diff_hi"]], "share": r["diff"] / base if base else None}
            for pol, r in ret.iterrows()
        }
    return out


def learned_report(learned: list[str], against: Mapping[str, pd.DataFrame], tuning: Mapping[str, Any],
                   entries: list[Entry]) -> dict[str, Any]:  # fmt: skip
    """``summary.json``'s ``tuning.learned``: each saved model's paired difference from every
    heuristic on the evaluation seeds (``against``: the summary with that heuristic as the
    baseline, for every heuristic of ``entries``), whether it beats them all (every CI above 0),
    and the share of the gap from the best heuristic to each upper bound that it closes."""
    bounds = [e.label for e in entries if e.kind == "upper_bound"]
    vs_best = tuning.get("vs_best_heuristic", {})
    out: dict[str, Any] = {}
    for model in learned:
        diffs = {}
        for h in (e.label for e in entries if e.kind == "heuristic"):
            table = against[h]
            r = table[(table["metric"] == "return") & (table["policy"] == model)].iloc[0]
            diffs[h] = {"diff": float(r["diff"]), "ci": [float(r["diff_lo"]), float(r["diff_hi"])]}
        gap = {}
        for b in bounds:
            whole = vs_best.get(b, {}).get("diff")
            if whole is not None and whole > 0:  # (a bound no better than the best heuristic leaves no gap)
                gap[b] = vs_best[model]["diff"] / whole
        out[model] = {"vs_heuristics": diffs, "beats_all": all(d["ci"][0] > 0 for d in diffs.values()),
                      "gap_closed": gap}  # fmt: skip
    return out


def format_report(tuning: Mapping[str, Any], entries: list[Entry]) -> str:
    """Lines for the terminal: each tuned choice, the best heuristic, and the upper bounds against it."""
    seeds = tuning["seeds"]
    lines = [f"tuned on seeds {seeds[0]}-{seeds[-1]} (mean return there):"]
    for label, t in tuning["policies"].items():
        if t["grid"]:
            lines.append(f"  {t['given']} -> {label} ({t['tune_return']:.2f})")
    best = tuning["best_heuristic"]
    if best is None:
        return "\n".join(lines)
    lines.append(f"best heuristic on the tuning seeds: {best}")
    bounds = [e.label for e in entries if e.kind != "heuristic"]
    for label in bounds:
        d = tuning["vs_best_heuristic"][label]
        share = "" if d["share"] is None else f", {100 * d['share']:+.1f}% of its |return|"
        lines.append(f"  {label} - {best}: {d['diff']:+.2f} [95% CI {d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]{share}")
    for model, r in tuning.get("learned", {}).items():
        worst, d = min(r["vs_heuristics"].items(), key=lambda kv: kv[1]["ci"][0])
        n, won = len(r["vs_heuristics"]), sum(v["ci"][0] > 0 for v in r["vs_heuristics"].values())
        lines.append(f"{model} beats {won} of the {n} heuristics (paired 95% CI above 0); closest, {worst}: "
                     f"{d['diff']:+.2f} [95% CI {d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]")  # fmt: skip
        for bound, share in r["gap_closed"].items():
            lines.append(f"  it closes {100 * share:.1f}% of the gap from the best heuristic to {bound}")
    return "\n".join(lines)
