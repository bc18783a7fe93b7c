"""Estimators of the virtual field experiment, each beside the true causal effect.

The paper-style estimators work on the records of one run (``actual``), as the authors worked
on Taobao's logs. The simulator can also replay the same workers and the same customers with
nobody treated (``counterfactual``: ``experiment.treatment_share = 0``, common random numbers;
row ``i`` of both runs is the same arriving customer), so each estimate gets its true value:

* **Difference-in-differences** (:func:`did_table`). Chat-level regression
  ``y ~ treat_post + load | worker_id + day + category`` (pyfixest ``feols``), standard errors
  clustered by worker; ``treat_post`` is 1 for chats of treated workers in the post period, so
  the treatment varies by worker-day (the paper's worker-day DiD) while every chat counts once;
  category fixed effects control the customer mix, ``load`` (the worker's chats that day) the
  workload. Chats never assigned (reneged in the queue) have no worker and are dropped. Rating
  uses rated chats only. *True*: the mean, over the post-period chats assigned to treated
  workers in the actual run (of the sample), of the chat's outcome in the actual run minus the
  same chat's outcome in the counterfactual run (the ATT). ``true_control`` is the same for
  control workers' chats: the treatment reaches them through the shared team queue, and the
  DiD estimates ``true - true_control`` rather than ``true``.
* **Escalation types** (:func:`escalation_effects`). Each treated AI-eligible chat of a type is
  matched 1:1 (nearest neighbour, with replacement) to a control-arm post-period AI-eligible
  chat of the same category, on day, hour, log queue wait and the worker's pre-period mean log
  duration (standardized); the estimate is the mean paired difference, its SE the paired one
  (sd / sqrt(n)), p from a t test with n - 1 degrees of freedom. Rating pairs are matched
  among rated chats. *True*: the same chats in the counterfactual run.
* **Spillover** (:func:`spillover`): the DiD on AI-ineligible chats of concurrency,
  switch-aways and time away, in percent of the implied counterfactual mean of the treated
  post-period chats, ``100 b / (m - b)`` (SE by the delta method; NaN where that mean is 0, as
  when nobody switches away); *true* ``100 (mean actual - mean counterfactual) / mean
  counterfactual`` over the same chats as the DiD's true effect.

Units: ``duration_pct`` is ``100 (exp(b) - 1)`` of a log-duration difference ``b`` (true: of the
mean log-duration difference); ``retrial_pp`` percentage points; ``rating`` rating points.
True rating effects are differences of means over rated chats, each run's rated chats of the
same set of chats: the change in the average rating the operator would observe (the rating
draw ``U_rate`` is common to both runs, so the rated sets differ only where the end frustration
moves the chance to rate).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from hitl_env.sim.team import ESCALATIONS

SAMPLES = ("all", "eligible", "ineligible")
ESCALATED = ESCALATIONS[1:]  # technical, emotional, human: every type but "none"
TYPES = (*ESCALATED, "none")
SPILLOVER = {"concurrency_pct": "concurrency", "switch_aways_pct": "switch_aways", "away_time_pct": "away_time_s"}
EFFORT = {"worker_messages": "messages_worker", "round_share": "round_share", "reply_lag_s": "reply_lag_mean_s",
          "proactivity": "proactivity", "empathy": "empathy", "empathy_expected": "empathy_expected"}  # fmt: skip
TIMING = {"takeover_round": "takeover_round", "takeover_time_s": "takeover_time_s",
          "frustration_at_takeover": "frustration_takeover"}  # fmt: skip
MATCH_ON = ("day", "hour", "log_queue_wait", "worker_pre_log_duration")
FIXED_EFFECTS = ("worker_id", "day", "category")
FORMULA = "{y} ~ treat_post + load | " + " + ".join(FIXED_EFFECTS)
NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """An estimate with its standard error, two-sided p-value and the true effect."""

    estimate: float
    se: float
    p: float
    true: float = NAN

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "se": self.se, "p": self.p, "true": self.true}


def chat_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Lean numeric columns of a run's records, one row per chat, in the records' order."""
    assigned = df["worker_id"].notna().to_numpy()
    worker = df["worker_id"].fillna(-1).to_numpy(dtype=np.int64)
    day = df["day"].to_numpy(dtype=np.int64)
    post = (df["period"] == "post").to_numpy()
    treated = (df["arm"] == "treatment").fillna(False).to_numpy(dtype=bool)
    _, inverse, counts = np.unique(worker * 100_000 + day, return_inverse=True, return_counts=True)
    log_duration = np.log(df["duration_s"].clip(lower=1.0).to_numpy(dtype=float))
    pre_mean = pd.Series(log_duration[assigned & ~post]).groupby(worker[assigned & ~post]).mean()
    worker_pre = pd.Series(worker).map(pre_mean).fillna(pre_mean.mean() if len(pre_mean) else 0.0)
    return pd.DataFrame({
        "assigned": assigned, "worker_id": worker, "day": day, "post": post, "treated": treated,
        "treat_post": (treated & post).astype(float), "load": counts[inverse].astype(float),
        "category": df["category"].cat.codes.to_numpy(dtype=np.int64),
        "hour": df["hour"].to_numpy(dtype=float), "eligible": df["eligible"].to_numpy(),
        "routed_ai": df["routed_ai"].to_numpy(), "escalation": df["escalation"].astype(str).to_numpy(),
        "log_duration": log_duration, "log_queue_wait": np.log1p(df["queue_wait_s"].to_numpy(dtype=float)),
        "worker_pre_log_duration": worker_pre.to_numpy(dtype=float),
        "rated": df["rated"].to_numpy(), "resolved": df["resolved"].to_numpy(),
        "rating": df["rating"].to_numpy(dtype=float), "retrial_pp": 100.0 * df["retrial"].to_numpy(dtype=float),
        **{c: df[c].to_numpy(dtype=float) for c in SPILLOVER.values()},
    })  # fmt: skip


def _sample(frame: pd.DataFrame, sample: str) -> np.ndarray:
    return {"all": np.ones(len(frame), bool), "eligible": frame["eligible"].to_numpy(),
            "ineligible": ~frame["eligible"].to_numpy()}[sample]  # fmt: skip


def fit_did(frame: pd.DataFrame, ys: list[str], mask: np.ndarray) -> dict[str, Estimate]:
    """The ``treat_post`` coefficient of the DiD regression of each of ``ys`` on the chats in ``mask``.

    One pyfixest call for all ``ys`` (it demeans them together). NaN where the sample cannot
    identify it: no treated or no control post-period chats, no treated worker with chats both
    before and after the switch (the worker fixed effects absorb the rest), or a sample so small
    that the fixed effects absorb everything (a policy that sends almost no chat to the AI), or
    no more chats than parameters (an exact fit, with an SE of 0). The checks count only the
    chats left once the fixed effects' singletons are dropped, as pyfixest drops them (on a
    sample that leaves none it aborts the process).
    """
    import pyfixest as pf

    d = frame.loc[mask & frame["assigned"].to_numpy(), ["worker_id", "day", "category", "treat_post", "load", *ys]]
    none = dict.fromkeys(ys, Estimate(NAN, NAN, NAN))
    kept = d[_without_singletons(d, FIXED_EFFECTS)]  # what pyfixest fits; it aborts on an empty sample
    treated_post = kept["treat_post"].to_numpy() > 0
    control_post = (kept["day"].to_numpy() >= frame.loc[frame["post"], "day"].min()) & ~treated_post
    if not treated_post.any() or not control_post.any():
        return none
    if not kept.groupby("worker_id", observed=True)["treat_post"].nunique().gt(1).any():
        return none
    fixed_levels = sum(kept[c].nunique() for c in FIXED_EFFECTS) - (len(FIXED_EFFECTS) - 1)
    if len(kept) <= fixed_levels + 2:  # no residual degrees of freedom (treat_post and load): a perfect fit
        return none
    # pyfixest notes the singleton fixed effects it drops, and divides by a zero SE (an outcome
    # that never varies, e.g. nobody switching away): NaN statistics, no warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = pf.feols(FORMULA.format(y=" + ".join(ys)), data=d, vcov={"CRV1": "worker_id"}, copy_data=False,
                           store_data=False)  # fmt: skip
        except ValueError as e:  # every regressor collinear with the fixed effects
            if "collinear" not in str(e):
                raise
            return none
        models = {k.split("~")[0].strip(): m for k, m in fit.all_fitted_models.items()} if len(ys) > 1 else {ys[0]: fit}
        out = {}
        for y in ys:
            coef, se, p = models[y].coef(), models[y].se(), models[y].pvalue()
            # pyfixest drops treat_post where it is collinear with the fixed effects
            k = "treat_post"
            out[y] = Estimate(float(coef[k]), float(se[k]), float(p[k])) if k in coef.index else none[y]
    return out


def _without_singletons(d: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """Rows left after dropping, until none is left, those alone in a level of a fixed effect."""
    codes = [pd.factorize(d[c])[0] for c in columns]
    keep = np.ones(len(d), bool)
    while True:
        alone = np.zeros(len(d), bool)
        for k in codes:
            alone |= keep & (np.bincount(k[keep], minlength=len(d))[k] == 1)
        if not alone.any():
            return keep
        keep &= ~alone


def pct(e: Estimate, true_diff: float = NAN) -> Estimate:
    """A log-point estimate as a percent change, ``100 (exp(b) - 1)``, SE by the delta method."""
    return Estimate(100 * np.expm1(e.estimate), 100 * np.exp(e.estimate) * e.se, e.p, float(100 * np.expm1(true_diff)))


def true_diffs(actual: pd.DataFrame, cf: pd.DataFrame, mask: np.ndarray) -> dict[str, float]:
    """Mean actual-minus-counterfactual differences over the chats in ``mask``.

    Log duration and retrial are paired chat differences; rating is the difference of the mean
    ratings of each run's rated chats among them.
    """
    if not mask.any():
        return {"log_duration": NAN, "rating": NAN, "retrial_pp": NAN}
    rated_a, rated_c = mask & actual["rated"].to_numpy(), mask & cf["rated"].to_numpy()
    rating = actual["rating"].to_numpy()[rated_a].mean() - cf["rating"].to_numpy()[rated_c].mean() if (
        rated_a.any() and rated_c.any()) else NAN  # fmt: skip
    return {
        "log_duration": float(np.mean(actual["log_duration"].to_numpy()[mask] - cf["log_duration"].to_numpy()[mask])),
        "rating": float(rating),
        "retrial_pp": float(np.mean(actual["retrial_pp"].to_numpy()[mask] - cf["retrial_pp"].to_numpy()[mask])),
    }


def _post_arm(frame: pd.DataFrame, sample: str, treated: bool) -> np.ndarray:
    arm = frame["treated"].to_numpy() if treated else ~frame["treated"].to_numpy()
    return _sample(frame, sample) & frame["assigned"].to_numpy() & frame["post"].to_numpy() & arm


def did_fits(frame: pd.DataFrame) -> dict[str, dict[str, Estimate]]:
    """The DiD regressions of every outcome on every sample (spillover outcomes on AI-ineligible chats)."""
    fits = {}
    for sample in SAMPLES:
        mask = _sample(frame, sample)
        ys = ["log_duration", "retrial_pp", *(SPILLOVER.values() if sample == "ineligible" else ())]
        fits[sample] = {**fit_did(frame, ys, mask), **fit_did(frame, ["rating"], mask & frame["rated"].to_numpy())}
    return fits


def did_table(
    actual: pd.DataFrame, cf: pd.DataFrame, fits: dict[str, dict[str, Estimate]]
) -> dict[str, dict[str, dict[str, float]]]:
    """DiD of duration, rating and retrial on all, AI-eligible and AI-ineligible chats, with true effects."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for sample in SAMPLES:
        true = true_diffs(actual, cf, _post_arm(actual, sample, True))
        spill = true_diffs(actual, cf, _post_arm(actual, sample, False))
        f = fits[sample]
        out[sample] = {
            "duration_pct": {**pct(f["log_duration"], true["log_duration"]).to_dict(),
                             "true_control": float(100 * np.expm1(spill["log_duration"]))},
            "rating": {**_with_true(f["rating"], true["rating"]).to_dict(), "true_control": spill["rating"]},
            "retrial_pp": {**_with_true(f["retrial_pp"], true["retrial_pp"]).to_dict(),
                           "true_control": spill["retrial_pp"]},
        }  # fmt: skip
    return out


def _with_true(e: Estimate, true: float) -> Estimate:
    return Estimate(e.estimate, e.se, e.p, float(true))


def spillover(actual: pd.DataFrame, cf: pd.DataFrame, fits: dict[str, Estimate]) -> dict[str, dict[str, float]]:
    """Attention spillover on AI-ineligible chats: concurrency, switch-aways, time away (percent).

    Args:
        actual: the actual run's :func:`chat_frame`.
        cf: the counterfactual run's.
        fits: the DiD estimates on AI-ineligible chats (:func:`did_fits`).
    """
    treated_post = _post_arm(actual, "ineligible", True)
    out = {}
    for key, col in SPILLOVER.items():
        e = fits[col]
        a, c = actual[col].to_numpy()[treated_post], cf[col].to_numpy()[treated_post]
        both = np.isfinite(a) & np.isfinite(c)
        true = 100 * (a[both].mean() / c[both].mean() - 1) if both.any() and c[both].mean() != 0 else NAN
        m = float(np.nanmean(a)) if a.size else NAN
        base = m - e.estimate  # the treated post-period mean implied without the treatment
        if not base:  # nobody switched away (one chat per worker, no switching): no percent change
            out[key] = Estimate(NAN, NAN, e.p, float(true)).to_dict()
            continue
        out[key] = Estimate(100 * e.estimate / base, 100 * e.se * m / base**2, e.p, float(true)).to_dict()
    return out


def match(treated: pd.DataFrame, pool: pd.DataFrame) -> np.ndarray:
    """Positions in ``pool`` of each treated chat's nearest neighbour within its category.

    Distances are over :data:`MATCH_ON`, standardized by the pool's standard deviations; -1
    where the category has no pool chat.
    """
    scale = pool[list(MATCH_ON)].std().replace(0.0, 1.0).fillna(1.0).to_numpy()
    x_t, x_p = treated[list(MATCH_ON)].to_numpy() / scale, pool[list(MATCH_ON)].to_numpy() / scale
    out = np.full(len(treated), -1, dtype=np.int64)
    cat_t, cat_p = treated["category"].to_numpy(), pool["category"].to_numpy()
    for cat in np.unique(cat_t):
        where_p = np.flatnonzero(cat_p == cat)
        if where_p.size:
            where_t = cat_t == cat
            out[where_t] = where_p[cKDTree(x_p[where_p]).query(x_t[where_t], k=1)[1]]
    return out


def paired(diff: np.ndarray) -> Estimate:
    """Mean of paired differences, its SE and a two-sided t-test p-value."""
    n = diff.size
    if n < 2:
        return Estimate(float(diff.mean()) if n else NAN, NAN, NAN)
    m, se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n))
    p = float(2 * stats.t.sf(abs(m / se), n - 1)) if se > 0 else (0.0 if m else 1.0)
    return Estimate(m, se, p)


def _matched_diff(actual: pd.DataFrame, chosen: np.ndarray, pool: np.ndarray, col: str) -> np.ndarray:
    t, p = actual[chosen], actual[pool]
    idx = match(t, p)
    ok = idx >= 0
    return t[col].to_numpy()[ok] - p[col].to_numpy()[idx[ok]]


def escalation_effects(actual: pd.DataFrame, cf: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Each escalation type's share, count and effects against 1:1 matched control chats."""
    pool = _post_arm(actual, "eligible", False)
    routed = actual["routed_ai"].to_numpy()
    rated, resolved = actual["rated"].to_numpy(), actual["resolved"].to_numpy()
    out: dict[str, dict[str, object]] = {}
    for kind in TYPES:
        chosen = routed & (actual["escalation"].to_numpy() == kind)
        true = true_diffs(actual, cf, chosen)
        dur = paired(_matched_diff(actual, chosen, pool, "log_duration"))
        rr = chosen & rated & resolved
        resolved_true = true_diffs(actual, cf, rr)["rating"]  # ratings of chats resolved in the actual run
        out[kind] = {
            "share": float(chosen.sum() / routed.sum()) if routed.any() else NAN,
            "n": int(chosen.sum()),
            "duration_pct": pct(dur, true["log_duration"]).to_dict(),
            "rating": _with_true(paired(_matched_diff(actual, chosen & rated, pool & rated, "rating")),
                                 true["rating"]).to_dict(),
            "retrial_pp": _with_true(paired(_matched_diff(actual, chosen, pool, "retrial_pp")),
                                     true["retrial_pp"]).to_dict(),
            "rating_resolved": _with_true(paired(_matched_diff(actual, rr, pool & rated & resolved, "rating")),
                                          resolved_true).to_dict(),
        }  # fmt: skip
    return out


def _means(df: pd.DataFrame, mask: np.ndarray, columns: dict[str, str]) -> dict[str, float]:
    sub = df.loc[mask, list(columns.values())]
    return {k: float(sub[c].astype(float).mean()) if len(sub) else NAN for k, c in columns.items()}


def effort_and_timing(df: pd.DataFrame) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Post-handoff effort and takeover timing by escalation type (means over the type's chats).

    Effort also gets ``control``: the same means over control workers' post-period AI-eligible
    chats (handled by hand from the start).
    """
    post = (df["period"] == "post").to_numpy()
    effort, timing = {}, {}
    for kind in ESCALATED:
        chosen = df["routed_ai"].to_numpy() & (df["escalation"] == kind).to_numpy()
        effort[kind], timing[kind] = _means(df, chosen, EFFORT), _means(df, chosen, TIMING)
    control = post & df["eligible"].to_numpy() & (df["arm"] == "control").fillna(False).to_numpy(dtype=bool)
    effort["control"] = _means(df, control, EFFORT)
    return effort, timing


def analyze(actual_records: pd.DataFrame, cf_records: pd.DataFrame) -> dict[str, object]:
    """Every estimate of the experiment, from the actual run and its counterfactual replay.

    Raises:
        ValueError: the runs do not replay the same customers (different arrivals).
    """
    if len(actual_records) != len(cf_records) or not np.array_equal(
        actual_records["arrival_s"].to_numpy(), cf_records["arrival_s"].to_numpy()
    ):
        raise ValueError("the counterfactual run does not replay the actual run's customers")
    actual, cf = chat_frame(actual_records), chat_frame(cf_records)
    effort, timing = effort_and_timing(actual_records)
    fits = did_fits(actual)
    return {
        "did": did_table(actual, cf, fits),
        "escalations": escalation_effects(actual, cf),
        "effort": effort,
        "timing": timing,
        "spillover": spillover(actual, cf, fits["ineligible"]),
    }
