"""What a takeover buys: its value by the chat's latent type and AI round, and how much of it the
observation lets a policy collect.

``python -m eval.takeover_value`` plays ``Supervisor-v2`` shifts (seeds ``0..N-1``, 200 by
default) with ``credit="chat"`` under ``algorithm_only``. At every decision where a takeover is
allowed it copies the env and plays the decision both ways from the same state, random streams
included (common random numbers, until the two branches first differ; then each draws on): take
the chat over now, or let the AI continue; every later decision on the chat is left to the AI.
The difference of the chat's reward vector, weighted as the env weights it, is the takeover's
value there: one number per decision, with the chat's latent type
(:data:`agents.oracle.LATENT_TYPES`: ``beyond`` the AI's capability; ``misread``, within it but
the AI answers the wrong question; ``on_track``) and the decision (the AI round after which it
comes; from the fifth on, pooled).

It prints the mean value by type and decision (95% CIs, bootstrap over shifts), the mean
difference of each component (unweighted), and at each decision the break-even: a takeover pays
in expectation only where the chance that the chat is on track is below ``gain / (gain + loss)``,
``gain`` the mean value on the other chats and ``loss`` minus the value on on-track ones.

Then one step of policy iteration from ``algorithm_only``, with what a supervisor can see: a
gradient-boosted classifier (scikit-learn) learns the chat's latent type from the observation on
the same shifts, and the rule "take over when the expected value of a takeover, the types' mean
values at this decision weighted by their posterior, is above 0" is played on fresh seeds (from
1000) against ``algorithm_only`` on whole shifts (the env's default ``credit="shift"``), paired,
with a 95% bootstrap CI. Its gain estimates how much of the takeover's value the observation
carries (an estimate, not a bound: the posterior is fitted on a sample, and the values leave out
the worker's other chats); the value table says how much there is with perfect information.

Values are the chat's own outcome (``credit="chat"``): what a takeover does to the worker's other
chats is not in them; the shift evaluation includes it.

Example::

    python -m eval.takeover_value --preset taobao_2024 --json runs/takeover_value.json
"""

from __future__ import annotations

import argparse
import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from tqdm import tqdm

from agents import make
from agents.base import masked
from agents.oracle import LATENT_TYPES, latent_type
from eval.episodes import run_episode
from eval.evaluate import EvalError, parse_weights
from eval.stats import bootstrap_ci, resample_indices
from hitl_env.config import ConfigError, parse_overrides
from hitl_env.envs import SUPERVISOR_ID
from hitl_env.envs.observations import SUPERVISOR_FIELDS, field_index
from hitl_env.io import write_json
from hitl_env.rewards import COMPONENTS

LAST_DECISION = 5
"""Decisions from this one on are pooled in the tables (few chats get that far)."""
ROUNDS = field_index(SUPERVISOR_FIELDS, "ai_rounds")


def _finish(env: Any, action: int) -> np.ndarray:
    """Play the episode's chat to its close from ``action``, then letting the AI continue; its reward vector."""
    _, _, done, _, info = env.step(action)
    vec = info["vector_reward"].astype(np.float64)
    while not done:
        _, _, done, _, info = env.step(0)
        vec += info["vector_reward"]
    return vec


def takeover_values(env: Any, seeds: Sequence[int], progress: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """The value of a takeover at every allowed decision of ``seeds``' shifts under ``algorithm_only``.

    ``env``: an unwrapped ``Supervisor-v2`` with ``credit="chat"``. Returns one row per decision
    (``seed``, ``decision``, ``type``, ``value`` and one column per reward component: take over
    minus let the AI continue) and the observations at those decisions, row for row.
    """
    if getattr(env, "credit", None) != "chat":
        raise ValueError('takeover values need a Supervisor-v2 env with credit="chat" (one chat an episode)')
    weights = np.asarray(env.settings.weights, np.float64)
    rows, seen = [], []
    for seed in tqdm(seeds, desc="takeover values", unit="shift", disable=not progress, leave=False):
        obs, info = env.reset(seed=seed)
        while True:
            done = False
            while not done:
                if info["action_mask"][1]:
                    diff = _finish(copy.deepcopy(env), 1) - _finish(copy.deepcopy(env), 0)
                    rows.append((seed, min(int(obs[ROUNDS]), LAST_DECISION),
                                 latent_type(env.sim, env.decision[1].chat), float(diff @ weights), *diff))  # fmt: skip
                    seen.append(obs.copy())
                obs, _, done, _, info = env.step(0)
            if env.decision is None:  # the shift is over
                break
            obs, info = env.reset()  # the shift's next chat
    table = pd.DataFrame(rows, columns=["seed", "decision", "type", "value", *COMPONENTS])
    return table, np.array(seen, np.float32).reshape(len(rows), *env.observation_space.shape)


def value_table(samples: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean value of a takeover by type and decision (``n`` decisions in ``shifts`` shifts), with a
    95% CI (bootstrap over shifts; NaN when fewer than 2 shifts hold the cell) and the mean of each
    component."""
    shifts = np.unique(samples["seed"])
    idx = resample_indices(len(shifts), n_boot, seed)
    rows = []
    for (t, k), g in samples.groupby(["type", "decision"], sort=True):
        per = g.groupby("seed")["value"].agg(["sum", "count"]).reindex(shifts, fill_value=0)
        held = int((per["count"] > 0).sum())
        lo = hi = float("nan")
        if held >= 2:  # (a resample that misses the cell has no mean: left out)
            with np.errstate(invalid="ignore", divide="ignore"):
                boot = per["sum"].to_numpy()[idx].sum(axis=1) / per["count"].to_numpy()[idx].sum(axis=1)
            lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        parts = {c: g[c].mean() for c in COMPONENTS}
        rows.append({"type": LATENT_TYPES[t], "decision": int(k), "n": len(g), "shifts": held,
                     "value": g["value"].mean(), "lo": lo, "hi": hi, **parts})  # fmt: skip
    return pd.DataFrame(rows)


def break_even(samples: pd.DataFrame) -> pd.DataFrame:
    """At each decision: the share of on-track chats, and the largest chance of being on track at
    which a takeover still pays in expectation: 0 where it never pays (no gain on the other chats),
    1 where it always does (no loss on on-track ones), NaN where one kind of chat is missing."""
    rows = []
    for k, g in samples.groupby("decision", sort=True):
        on = g["type"] == LATENT_TYPES.index("on_track")
        gain, loss = g.loc[~on, "value"].mean(), -g.loc[on, "value"].mean()
        if gain > 0 and loss > 0:
            pays = gain / (gain + loss)
        else:  # (comparisons with NaN are False: NaN stays)
            pays = 0.0 if gain <= 0 < loss else 1.0 if loss <= 0 < gain else float("nan")
        rows.append({"decision": int(k), "n": len(g), "on_track_share": on.mean(), "gain": gain,
                     "loss": loss, "pays_below": pays})  # fmt: skip
    return pd.DataFrame(rows)


class PosteriorRule:
    """Take over when the posterior-weighted mean value of a takeover at this decision is above 0.

    ``classifier``: fitted on observations to :data:`~agents.oracle.LATENT_TYPES` indices (``predict_proba``);
    ``values``: the mean value by type (columns) and decision (rows ``1..LAST_DECISION``, row 0
    unused), a type missing at a decision taking its mean over all decisions.
    """

    name = "posterior_rule"

    def __init__(self, classifier: Any, values: np.ndarray) -> None:
        self.classifier, self.values = classifier, values
        self.decisions = self.takeovers = 0

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        if not info["action_mask"][1]:
            return 0
        k = min(max(int(obs[ROUNDS]), 1), LAST_DECISION)
        p = np.zeros(len(LATENT_TYPES))
        p[self.classifier.classes_] = self.classifier.predict_proba(obs[None])[0]
        a = int(p @ self.values[k] > 0)
        self.decisions += 1
        self.takeovers += a
        return masked(a, info)


def posterior_rule(samples: pd.DataFrame, observations: np.ndarray, seed: int = 0) -> PosteriorRule:
    """Fit the type classifier and the value matrix of :class:`PosteriorRule` on ``samples``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    # early stopping on a held-out tenth's log-loss: the rule weighs values by the posterior, so
    # it needs calibrated probabilities, not an overfitted ranking
    y = samples["type"].to_numpy()
    held_out = np.unique(y, return_counts=True)[1].min() >= 10  # (a stratified tenth: a few of each type)
    clf = HistGradientBoostingClassifier(max_iter=500, learning_rate=0.05, early_stopping=held_out, random_state=seed)
    with threadpool_limits(1):  # (OpenMP threads spin: on a busy 2-core machine they slow it tenfold)
        clf.fit(observations, y)
    overall = samples.groupby("type")["value"].mean().reindex(range(len(LATENT_TYPES)), fill_value=0.0).to_numpy()
    values = np.tile(overall, (LAST_DECISION + 1, 1))
    for (t, k), v in samples.groupby(["type", "decision"])["value"].mean().items():
        values[k, t] = v
    return PosteriorRule(clf, values)


def compare(env: Any, rule: PosteriorRule, seeds: Sequence[int], rating: str, boot_seed: int,
            progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """The rule against ``algorithm_only`` on whole shifts of ``env`` (``credit="shift"``), paired."""
    from threadpoolctl import threadpool_limits

    never = make("algorithm_only")
    a, b, taken = [], [], []
    with threadpool_limits(1):  # one observation a call: OpenMP's threads would only spin
        for s in tqdm(seeds, desc="posterior rule vs algorithm_only", unit="shift", disable=not progress, leave=False):
            ep = run_episode(env, rule, s, "supervisor", rating)
            a.append(ep["return"])
            taken.append(ep["esc_human"])
            b.append(run_episode(env, never, s, "supervisor", rating)["return"])
    x, y = np.array(a), np.array(b)
    diff, lo, hi = bootstrap_ci(x - y, resample_indices(len(seeds), 2000, boot_seed))
    return {"seeds": [int(s) for s in seeds], "return": float(x.mean()), "algorithm_only": float(y.mean()),
            "diff": diff, "diff_lo": lo, "diff_hi": hi, "ai_chats_taken_over": float(np.nanmean(taken)),  # shifts' mean
            "decisions_taken_over": rule.takeovers / max(rule.decisions, 1)}  # fmt: skip


def _main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m eval.takeover_value", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="taobao_2024")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--weight", action="append", default=[], metavar="COMPONENT=W",
                    help=f"reward weight of a component ({', '.join(COMPONENTS)})")  # fmt: skip
    ap.add_argument("--rating", choices=("dense", "sparse"), default="dense")
    ap.add_argument("--shifts", type=int, default=200, help="shifts sampled, seeds 0..N-1 (default 200)")
    ap.add_argument("--seeds", type=int, default=100, help="fresh shifts of the rule's test (default 100)")
    ap.add_argument("--seed", type=int, default=1000, help="first fresh seed (default 1000)")
    ap.add_argument("--json", type=Path, help="write the tables and the test here")
    args = ap.parse_args(argv)
    for name in ("shifts", "seeds"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be at least 1")
    if args.seed < args.shifts:
        ap.error(f"the fresh seeds from {args.seed} overlap the sampled shifts 0-{args.shifts - 1}")
    if args.json is not None:  # before minutes of work, not after
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            ap.error(f"--json: cannot create {args.json.parent}: {e.strerror}")
        if args.json.is_dir() or not os.access(args.json.parent, os.W_OK):
            ap.error(f"--json: cannot write {args.json}")
    try:
        kwargs = {"preset": args.preset, "overrides": parse_overrides(args.overrides),
                  "reward_weights": parse_weights(args.weight), "rating": args.rating}  # fmt: skip
        chat_env = gym.make(SUPERVISOR_ID, credit="chat", **kwargs).unwrapped
        shift_env = gym.make(SUPERVISOR_ID, **kwargs).unwrapped
    except (ValueError, ConfigError, EvalError) as e:
        ap.error(str(e))
    samples, observations = takeover_values(chat_env, range(args.shifts))
    if samples["type"].nunique() < 2:
        ap.error(f"the posterior rule needs chats of two latent types or more; {args.shifts} shifts of "
                 f"{args.preset} have {len(samples)} takeover decisions of {samples['type'].nunique()}")  # fmt: skip
    values, even = value_table(samples), break_even(samples)
    rule = posterior_rule(samples, observations)
    test = compare(shift_env, rule, range(args.seed, args.seed + args.seeds), args.rating, args.seed)
    pd.set_option("display.width", 200)
    print(f"{SUPERVISOR_ID}, {args.preset}: value of a takeover (take over now minus let the AI continue), "
          f"{len(samples)} decisions of {args.shifts} shifts under algorithm_only; value: weighted (95% CI over "
          "shifts); components unweighted (rating points, minutes, repeat contacts, abandonments)")  # fmt: skip
    print(values.to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
    print("break-even: a takeover pays only where P(on track) < pays_below")
    print(even.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"posterior rule on seeds {args.seed}-{args.seed + args.seeds - 1}: takes over "
          f"{test['ai_chats_taken_over']:.1%} of AI chats; minus algorithm_only {test['diff']:+.2f} "
          f"[95% CI {test['diff_lo']:+.2f}, {test['diff_hi']:+.2f}] a shift")  # fmt: skip
    if args.json:
        write_json(args.json, {"preset": args.preset, "overrides": args.overrides, "weight": args.weight,
                               "rating": args.rating, "shifts": args.shifts, "values": values.to_dict("records"),
                               "break_even": even.to_dict("records"), "posterior_rule": test})  # fmt: skip


if __name__ == "__main__":
    _main()
