"""The trade-off picture of ``hitl-eval``: heuristic threshold sweeps, learned fronts, the Pareto plot.

``pareto.png`` puts every policy at (mean chat duration, mean satisfaction or rating) with
95% bootstrap CIs on both axes. Heuristics are dots, saved models stars. The heuristics'
threshold sweeps are curves, evaluated on the same seeds:

- ``Supervisor-v2``: ``sentiment_threshold`` over :data:`SENTIMENT_LEVELS` and
  ``rounds_threshold`` over :data:`ROUNDS_K`;
- ``Router-v3``: ``confidence_threshold`` with each category's ``ai_solvable`` (from the run's
  config: an oracle's prior, the best a per-category score can be) as its score, over
  thresholds between consecutive scores, from every allowed category to the AI to none.

The gray dashed line joins the non-dominated points (shorter and better-rated). With
``--sweep-weights KEY=v1,v2,...``, :func:`train_weight_sweep` trains one policy per weight value
through ``hitl-train`` (``train.cli.main``: ``CONFIG --set env.reward_weights.KEY=v --seed S
--out DIR``, writing ``DIR/best_model.zip``), and the learned policies are drawn as a front.
Training runs on the env ``hitl-eval`` evaluates: its preset, ``--set`` items, team, shift,
rating mode and ``--weight`` items are passed on as ``env.*`` overrides (``--train-set`` items
come last and can change them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eval.policies import Entry, EvalError
from eval.stats import bootstrap_ci, resample_indices

SENTIMENT_LEVELS = (-1.5, -1.2, -0.9, -0.6, -0.3, 0.0)
ROUNDS_K = (1, 2, 3, 4, 6, 8)
X_AXES = ("worker_min", "duration_min")  # the x axis choices; the first is the default
LABELS = {"worker_min": "mean worker minutes of hand handling per chat", "duration_min": "mean chat duration (min)",
          "satisfaction": "mean satisfaction (1-5, every chat)",
          "rating": "mean rating (1-5, rated chats)"}  # fmt: skip


def curve_entries(kind: str, cfg: Any) -> list[Entry]:
    """The heuristics' threshold sweeps of an env (``kind``: supervisor or router)."""
    sweeps = {"supervisor": _supervisor_sweep, "router": _router_sweep}
    if kind not in sweeps:
        raise ValueError(f"no threshold sweep for {kind!r} policies; sweeps: {', '.join(sweeps)}")
    return sweeps[kind](cfg)


def _supervisor_sweep(cfg: Any) -> list[Entry]:
    import agents

    points = [("sentiment_threshold", "level", v) for v in SENTIMENT_LEVELS]
    points += [("rounds_threshold", "k", v) for v in ROUNDS_K]
    return [Entry(f"{n}:{p}={v}", f"{n}:{p}={v}", policy=agents.make(n, **{p: v}),
                  extra={"family": n, "param": p, "value": v}) for n, p, v in points]  # fmt: skip


def solvable_scores(cfg: Any) -> dict[str, float]:
    """Each AI-allowed category's ``ai_solvable``: an oracle's prior, the best per-category score."""
    return {name: c.ai_solvable for name, c in cfg.categories.items() if c.ai_allowed}


def score_cuts(scores: Any) -> list[float]:
    """Thresholds between consecutive distinct scores, and beyond both ends (every score to none)."""
    levels = sorted(set(float(v) for v in scores))
    cuts = [levels[0] - 0.05, *((a + b) / 2 for a, b in itertools.pairwise(levels)), levels[-1] + 0.05]
    return [round(c, 4) for c in cuts]


def _router_sweep(cfg: Any) -> list[Entry]:
    import agents

    scores = solvable_scores(cfg)
    out = []
    for t in score_cuts(scores.values()):
        spec = f"confidence_threshold:threshold={t},scores={scores!r}"
        out.append(Entry(f"confidence_threshold:threshold={t}", spec,
                         policy=agents.make("confidence_threshold", threshold=t, scores=scores, config=cfg),
                         extra={"family": "confidence_threshold", "param": "threshold", "value": t}))  # fmt: skip
    return out


def curve_table(episodes: pd.DataFrame | None, curves: list[Entry], n_boot: int, seed: int, y: str,
                x: str = X_AXES[0]) -> pd.DataFrame:  # fmt: skip
    """One row per sweep point: its parameter, and x, y and the return with 95% CIs."""
    if episodes is None or not curves:
        return pd.DataFrame()
    idx = resample_indices(episodes["seed"].nunique(), n_boot, seed)
    rows = []
    for e in curves:
        ep = episodes[episodes["policy"] == e.label].sort_values("seed")
        row: dict[str, Any] = {**e.extra, "policy": e.label, "spec": e.spec}
        for m in dict.fromkeys((x, y, "return")):
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = bootstrap_ci(ep[m].to_numpy(float), idx)
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_front(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Mask of the points no other point dominates (x no larger, y no smaller, one strictly)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (x <= x[i]) & (y >= y[i]) & ((x < x[i]) | (y > y[i]))
        front[i] = not dominated.any()
    return front


def plot_pareto(summary: pd.DataFrame, entries: list[Entry], curves: pd.DataFrame, y: str, path: Path,
                title: str = "", x: str = X_AXES[0]) -> None:  # fmt: skip
    """Write the Pareto plot: sweeps as curves, policies as points with CIs, learned fronts."""
    from matplotlib.figure import Figure

    s = summary.set_index(["policy", "metric"])
    fig = Figure(figsize=(8, 6), dpi=120)
    ax = fig.add_subplot()
    xs, ys = [], []
    for family, g in curves.groupby("family", sort=False) if not curves.empty else ():
        ax.plot(g[x], g[y], "-o", ms=4, lw=1.2, alpha=0.8, label=f"{family} sweep ({g['param'].iloc[0]})")
        for _, r in g.iterrows():
            ax.annotate(f"{r['value']:g}", (r[x], r[y]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        xs += g[x].tolist()
        ys += g[y].tolist()
    fronts: dict[str, list[tuple[float, float, float]]] = {}
    for e in entries:
        px, xlo, xhi = (s.loc[(e.label, x), k] for k in ("mean", "ci_lo", "ci_hi"))
        py, ylo, yhi = (s.loc[(e.label, y), k] for k in ("mean", "ci_lo", "ci_hi"))
        learned, bound = e.kind == "learned", e.kind == "upper_bound"
        label = e.label if len(e.label) <= 45 else e.label[:42] + "..."
        ax.errorbar(
            px,
            py,
            xerr=[[px - xlo], [xhi - px]],
            yerr=[[py - ylo], [yhi - py]],
            fmt="*" if learned else "D" if bound else "o",
            ms=12 if learned else 7,
            capsize=2,
            label=f"{label} [upper bound: latent state]" if bound else label,
        )
        for key, value in e.extra.get("sweep", {}).items():
            fronts.setdefault(key, []).append((value, px, py))
        xs.append(px)
        ys.append(py)
    for key, pts in fronts.items():
        pts.sort()
        ax.plot([p[1] for p in pts], [p[2] for p in pts], "k:*", ms=9, label=f"learned front ({key} weight)")
    pts = np.column_stack([xs, ys])
    front = np.unique(pts[pareto_front(xs, ys)], axis=0)  # sorted by x; equal policies count once
    if len(front) > 1:
        ax.plot(front[:, 0], front[:, 1], "--", color="gray", lw=1, zorder=0, label="non-dominated")
    ax.set_xlabel(LABELS[x] + "  (better: left)")
    ax.set_ylabel(LABELS[y] + "  (better: up)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)


# ----------------------------------------------------------------------------- weight sweep
def parse_sweep(text: str, config: str | None) -> tuple[str, list[float], str]:
    """``KEY=v1,v2,...`` of ``--sweep-weights`` as (component, values, training config)."""
    from hitl_env.rewards import COMPONENTS

    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or key not in COMPONENTS:
        raise EvalError(f"--sweep-weights expects COMPONENT=V1,V2,... with a component of {', '.join(COMPONENTS)}, "
                        f"got {text!r}")  # fmt: skip
    try:
        values = [float(v) for v in raw.split(",") if v.strip()]
    except ValueError:
        raise EvalError(f"--sweep-weights: values must be numbers, got {raw!r}") from None
    if not values or not all(np.isfinite(values)):
        raise EvalError(f"--sweep-weights: give at least one finite value, got {raw!r}")
    if config is None:
        raise EvalError("--sweep-weights needs --train-config (the hitl-train config to train with)")
    return key, values, config


def load_trainer() -> Callable[[list[str]], int | None]:
    """``train.cli.main``, the entry point of ``hitl-train``."""
    try:
        from train.cli import main
    except ImportError as e:
        raise EvalError(f"--sweep-weights needs hitl-train (train.cli.main), which cannot be imported: {e}") from e
    return main


def check_train_config(config: str, sets: list[str], kind: str) -> None:
    """Before any run: the sweep's config loads with its ``--set`` items and trains a ``kind`` policy."""
    from agents.loading import MODEL_ENVS
    from hitl_env.config import ConfigError, parse_overrides
    from train.config import load_train_config

    try:
        env_id = load_train_config(config, parse_overrides(sets)).env.id
    except ConfigError as e:
        raise EvalError(f"--train-config {config}: {e}") from None
    if env_id not in MODEL_ENVS[kind]:
        wanted = " or ".join(MODEL_ENVS[kind])
        raise EvalError(f"--train-config {config} trains on {env_id}; a {kind} policy needs {wanted}")


def train_weight_sweep(key: str, values: list[float], config: str, env_sets: list[str], train_sets: list[str],
                       seed: int, out: Path, build: Callable[[str], Any], kind: str,
                       quiet: bool = False) -> list[Entry]:  # fmt: skip
    """Train one policy per weight value of reward component ``key``; the learned entries.

    Each run is ``hitl-train CONFIG --set ENV_SET... --set env.reward_weights.KEY=v --set
    TRAIN_SET... --seed SEED --out OUT/KEY_v [--quiet]``; its ``best_model.zip`` (``final_model.zip``
    when the run made no evaluation) is the learned policy. The config is checked first
    (:func:`check_train_config`), so a bad one fails before the first run.
    """
    trainer = load_trainer()
    check_train_config(config, [*env_sets, f"env.reward_weights.{key}={values[0]}", *train_sets], kind)
    entries = []
    for v in values:
        run_dir = out / f"{key}_{v}"
        sets = [*env_sets, f"env.reward_weights.{key}={v}", *train_sets]
        argv = [config, *(a for item in sets for a in ("--set", item)), "--seed", str(seed), "--out", str(run_dir)]
        argv += ["--quiet"] if quiet else []
        rc = trainer(argv)
        model = next((m for m in (run_dir / "best_model.zip", run_dir / "final_model.zip") if m.is_file()), None)
        if rc not in (0, None) or model is None:
            raise EvalError(f"hitl-train {' '.join(argv)} failed (exit {rc}, model written: {model is not None})")
        entries.append(Entry(f"learned:{key}={v}", str(model), "learned", build(str(model)), {"sweep": {key: v}}))
    return entries
