"""``hitl-signals``: how well each supervisor observation predicts how an AI chat ends.

For a preset simulated under the deployed system without hand takeovers
(:class:`~hitl_env.sim.hooks.NeverTakeover`, so the algorithmic outcomes are not censored by a
takeover), every takeover decision is recorded as the ``Supervisor-v2`` observation the
supervisor would get (:class:`~hitl_env.envs.observations.SupervisorObs`, built as
:class:`agents.hooks.SupervisorHook` builds it). Each chat's outcome comes from its record:

* ``technical``: a technical escalation (the monitor's trigger or the AI's round cap);
* ``emotional``: an emotional escalation (the sentiment trigger);
* ``ai_resolution``: no escalation and resolved (an AI-alone chat that solved the issue).

At decision ``k`` (the ``k``-th takeover decision of a chat, after its ``k``-th AI round; only
chats the AI has not yet resolved, escalated or lost get one), each predictor's AUROC for each
outcome is computed over the chats that reached that decision:

* every field of ``SUPERVISOR_FIELDS``: orientation-free, ``max(AUC, 1 - AUC)``, on all those
  chats (a field that says nothing scores 0.5, whichever way it would be read);
* ``category`` (the observation's category one-hot, as one categorical predictor): the
  categories ordered by their outcome rate among those chats, the best ordering, as
  ``max(AUC, 1 - AUC)`` is for a field;
* ``logistic``: a logistic regression on the whole observation (fields standardized, category
  one-hot), fitted on a seeded half of the chats; its AUROC on the other half, as fitted (not
  flipped).

Example::

    hitl-signals --preset taobao_2024 --workers 200 --seed 0 --json runs/signals.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.hooks import SupervisorHook
from hitl_env.cli import config_from_args
from hitl_env.config import Config, ConfigError, override_keys, parse_overrides
from hitl_env.envs.observations import SUPERVISOR_FIELDS
from hitl_env.io import write_json
from hitl_env.sim.hooks import RoundView
from hitl_env.sim.population import HOUR_S, Workers
from hitl_env.sim.run import simulate

PROG = "hitl-signals"
DEFAULT_WORKERS = 200
DECISIONS = (1, 3)
FIELDS = tuple(f[0] for f in SUPERVISOR_FIELDS)
OUTCOMES = ("technical", "emotional", "ai_resolution")
COLUMNS = ("decision", "predictor", "outcome", "auroc", "chats", "positives")
"""The columns of :func:`signal_table`: one row per decision, predictor and outcome."""


class _Observe:
    """A policy that keeps each observation it is shown and never takes over."""

    name = "observe"

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def act(self, obs: np.ndarray, info: Any) -> int:
        self.seen.append(obs.copy())
        return 0

    def reset(self, seed: int | None = None) -> None:
        pass


class _TeamRecorder(SupervisorHook):
    """One team's recorder: the view and the ``Supervisor-v2`` observation of each decision; never takes over."""

    def __init__(self, team: int, cfg: Config, shift_start_s: Sequence[float]) -> None:
        super().__init__(_Observe(), cfg, shift_start_s)
        self.team = team
        self.views: list[RoundView] = []

    def takeover(self, view: RoundView) -> bool:
        self.views.append(dataclasses.replace(view))
        return super().takeover(view)  # False: the policy never acts


class DecisionRecorder:
    """A supervisor hook that records every decision of every team and never takes over.

    The core binds it to each team (``for_team``) in the process that simulates the team, so
    run it with ``simulate(..., n_jobs=1)``: teams simulated in other processes record there.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.teams: list[_TeamRecorder] = []

    def for_team(self, team: int, workers: Workers) -> _TeamRecorder:
        starts = np.asarray(workers.shift_start_h, dtype=float) * HOUR_S
        hook = _TeamRecorder(team, self.cfg, starts)
        self.teams.append(hook)
        return hook

    def frame(self) -> pd.DataFrame:
        """One row per decision: team, chat, decision (1, 2, ... within the chat), the observation."""
        names = [*FIELDS, *(f"category={c}" for c in self.cfg.categories)]
        parts = []
        for hook in self.teams:
            if not hook.views:
                continue
            part = pd.DataFrame(np.asarray(hook.policy.seen, dtype=np.float64), columns=names)
            part.insert(0, "team", hook.team)
            part.insert(1, "chat", [v.chat for v in hook.views])
            part.insert(2, "category", [v.category for v in hook.views])
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=["team", "chat", "category", "decision", *names])
        df = pd.concat(parts, ignore_index=True)
        df.insert(3, "decision", df.groupby(["team", "chat"]).cumcount() + 1)
        return df


def chat_outcomes(records: pd.DataFrame) -> pd.DataFrame:
    """Each chat's outcomes (:data:`OUTCOMES`, bool), indexed by (team, chat index within the team).

    ``simulate`` sorts its records by arrival within team, so a chat's index within its team is
    its rank there: the ``chat`` of its decision views.
    """
    esc = records["escalation"].astype(str)
    out = pd.DataFrame(
        {
            "team": records["team"].to_numpy(),
            "chat": records.groupby("team").cumcount().to_numpy(),
            "routed_ai": records["routed_ai"].to_numpy(),
            "category": records["category"].cat.codes.to_numpy(),
            "technical": (esc == "technical").to_numpy(),
            "emotional": (esc == "emotional").to_numpy(),
            "ai_resolution": ((esc == "none") & records["resolved"]).to_numpy(),
        }
    )
    return out.set_index(["team", "chat"])


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """AUROC of ``score`` for the binary ``y`` (ties count half); NaN when ``y`` has one class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score))


def _free(a: float) -> float:
    """Orientation-free: a predictor read either way round."""
    return max(a, 1.0 - a)


def _category_score(category: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each chat's category outcome rate: the best ordering of the categories for ``y``."""
    rate = pd.Series(y.astype(float)).groupby(category).mean()
    return rate.reindex(category).to_numpy()


def _logistic(x: np.ndarray, y: np.ndarray, fit: np.ndarray, seed: int) -> float:
    """Held-out AUROC of a logistic regression fitted on the rows ``fit``, scored on the others."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y[fit])) < 2 or len(np.unique(y[~fit])) < 2:
        return float("nan")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(x[fit], y[fit])
    return auroc(y[~fit], model.predict_proba(x[~fit])[:, 1])


def _fit_half(chats: pd.MultiIndex, seed: int) -> pd.Series:
    """A seeded half of the chats, True for the fitting half (the same chat in every decision)."""
    rng = np.random.default_rng([seed, 0x5167])
    fit = np.zeros(len(chats), dtype=bool)
    fit[rng.permutation(len(chats))[: len(chats) // 2]] = True
    return pd.Series(fit, index=chats)


def signal_table(
    cfg: Config, seed: int = 0, decisions: Sequence[int] = DECISIONS, *, views: pd.DataFrame | None = None
) -> pd.DataFrame:
    """How well each supervisor observation predicts each outcome of an AI chat.

    Args:
        cfg: the config to simulate (under :class:`~hitl_env.sim.hooks.NeverTakeover`'s policy).
        seed: the simulation's seed, and the seed of the logistic model's split.
        decisions: the decisions (1 = after the first AI round) to report.
        views: the decisions and records of an earlier run (:func:`record_decisions`), to skip
            simulating again.

    Returns:
        One row per decision, predictor and outcome (:data:`COLUMNS`): ``auroc`` (see the module
        docstring; NaN when the outcome has one class), ``chats`` that reached the decision and
        ``positives`` among them. Predictors: the fields, ``category``, ``logistic``.
    """
    df = record_decisions(cfg, seed) if views is None else views
    obs = [c for c in df.columns if c in FIELDS or c.startswith("category=")]
    fit_half = _fit_half(pd.MultiIndex.from_frame(df.loc[df["decision"] == 1, ["team", "chat"]]), seed)
    rows = []
    for k in decisions:
        at = df[df["decision"] == k]
        fit = fit_half.reindex(pd.MultiIndex.from_frame(at[["team", "chat"]])).to_numpy(dtype=bool)
        x = at[obs].to_numpy()
        for outcome in OUTCOMES:
            y = at[outcome].to_numpy(dtype=bool)
            scores = {f: _free(auroc(y, at[f].to_numpy())) for f in FIELDS}
            scores["category"] = _free(auroc(y, _category_score(at["category"].to_numpy(), y)))
            scores["logistic"] = _logistic(x, y, fit, seed)
            rows += [(k, p, outcome, a, len(at), int(y.sum())) for p, a in scores.items()]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def record_decisions(cfg: Config, seed: int = 0) -> pd.DataFrame:
    """Every takeover decision of a run without hand takeovers, with the outcome of its chat.

    Returns:
        One row per decision: ``team``, ``chat``, ``category``, ``decision``, the observation
        (the fields and the ``category=<name>`` one-hot) and the chat's :data:`OUTCOMES`.

    Raises:
        RuntimeError: a decision whose chat the records show as not routed to the AI or in another
            category (the matching of decisions to records broke).
    """
    recorder = DecisionRecorder(cfg)
    records = simulate(cfg, seed, supervisor=recorder, n_jobs=1)
    df = recorder.frame()
    outcomes = chat_outcomes(records).reindex(pd.MultiIndex.from_frame(df[["team", "chat"]]))
    routed = outcomes["routed_ai"].fillna(False).to_numpy(dtype=bool)
    if not (routed & (outcomes["category"].to_numpy() == df["category"].to_numpy())).all():
        raise RuntimeError("a takeover decision matched a chat not routed to the AI or of another category")
    for name in OUTCOMES:
        df[name] = outcomes[name].to_numpy(dtype=bool)
    return df


def format_table(table: pd.DataFrame) -> str:
    """The table as text: per decision, a line of counts, then predictors by outcome."""
    blocks = []
    for k, at in table.groupby("decision", sort=True):
        first = at.drop_duplicates("outcome").set_index("outcome")
        counts = ", ".join(f"{o} {int(first.at[o, 'positives'])}" for o in OUTCOMES)
        wide = at.pivot(index="predictor", columns="outcome", values="auroc")
        wide = wide.reindex(index=[*FIELDS, "category", "logistic"], columns=list(OUTCOMES))
        lines = [f"{'predictor':<16}" + "".join(f"{o:>15}" for o in OUTCOMES)]
        lines += [
            f"{p:<16}" + "".join(f"{v:>15.3f}" if pd.notna(v) else f"{'-':>15}" for v in r) for p, r in wide.iterrows()
        ]
        blocks.append("\n".join([f"decision {k}: {int(first['chats'].iloc[0])} chats ({counts})", *lines]))
    return "\n\n".join(blocks)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: taobao_2024)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field by dotted key; repeatable")  # fmt: skip
    p.add_argument("--workers", type=int, help=f"number of workers (default {DEFAULT_WORKERS})")
    p.add_argument("--days", type=int, help="total days; split pre/post in the preset's proportion")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation and the split (default 0)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the table to PATH as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.seed < 0:
        print(f"{PROG}: error: --seed must be a non-negative integer, got {args.seed}", file=sys.stderr)
        return 2
    try:
        workers = args.workers
        if workers is None and "experiment.workers" not in override_keys(parse_overrides(args.overrides)):
            workers = DEFAULT_WORKERS
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        cfg = config_from_args(args.preset, args.overrides, args.days, workers)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    table = signal_table(cfg, args.seed)
    e = cfg.experiment
    print(f"{PROG}: preset {args.preset}, {e.workers} workers x {e.days} days, seed {args.seed}, no hand takeovers")
    print("AUROC: fields and category max(AUC, 1 - AUC) on all chats at the decision; logistic held out\n")
    print(format_table(table))
    if args.json is not None:
        meta = {"preset": args.preset, "seed": args.seed, "workers": e.workers, "days": e.days}
        rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {**meta, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
