"""``hitl-eval``: evaluate policies on a preset over paired seeds, with bootstrap CIs and a Pareto plot.

Every policy plays the same episodes: episode ``i`` resets the env with seed ``seed + i`` and
the policy with the same seed (common random numbers: the same team, arrivals and per-round
draws until the policies' decisions differ). Per episode:

=================  =============================================================================
``return``         the episode's scalarized return (sum of the env's rewards)
``reward_<c>``     the episode's sum of reward component ``c`` (``hitl_env.rewards.COMPONENTS``)
``steps``          decisions in the episode
KPIs               ``n_chats``, ``rating`` (given ratings), ``satisfaction`` (every chat's),
                   ``duration_min``, ``worker_min``, ``retrial``, ``abandonment``, ``esc_<type>``,
                   ``takeover_round`` and (``Router-v3`` only) ``ai_share``, as defined in
                   :mod:`hitl_env.kpis`, from the shift's chat records (``env.unwrapped.sim.rec``)
                   over the chats the env's reward scores (the AI-routed chats in
                   ``Supervisor-v2``, every closed chat in ``Router-v3``)
=================  =============================================================================

The reward sums leave out the chats that closed before the episode's first decision (the env
does not score them); the KPIs include them. Each metric is averaged over episodes (seeds);
its 95% CI is a percentile bootstrap over seeds, and so is that of the paired difference from
the baseline (per seed, policy minus baseline). A KPI undefined in an episode (no rated chat)
is left out of that episode's averages.

Usage::

    hitl-eval [--preset P] [--policies SPEC[,SPEC...]] [--env supervisor|router] [--baseline SPEC]
              [--seeds N] [--seed S] [--tune [--tune-seeds N] [--tune-seed S]]
              [--bootstrap B] [--set KEY=VALUE ...] [--weight COMPONENT=W ...]
              [--rating dense|sparse] [--team-size T] [--shift-hours H] [--start-hour H]
              [--pareto-x worker_min|duration_min] [--pareto-y satisfaction|rating] [--no-curves] [--no-plot]
              [--sweep-weights COMPONENT=V1,V2,... --train-config CONFIG [--train-set KEY=VALUE ...]]
              --out DIR

    hitl-eval --policies algorithm_only,paper_workers,sentiment_threshold:level=-0.6 --seeds 20 --out runs/ev
    hitl-eval --tune --policies algorithm_only,rounds_threshold,sentiment_threshold,oracle --out runs/tuned

A spec is a heuristic's name with parameters (``agents.parse_spec``) or a saved model's path
(``agents.learned``: a model of ``hitl-train``, or any stable-baselines3 model saved with
``model.save``, whose env is told by its observation space); specs are separated by the
commas outside brackets and quotes. The env is the one the policies name (``--env`` to
choose); the baseline (default ``algorithm_only``, ``rule_based`` for the router) is evaluated
too. ``--set`` overrides simulator fields by dotted
key, ``--weight`` the reward weights (``hitl_env.rewards.DEFAULT_WEIGHTS`` otherwise), the
other options are the env's arguments. Heuristics with a ``config`` parameter
(``paper_workers``) read the run's config unless the spec gives one.

Writes ``DIR/episodes.csv`` (one row per policy and seed), ``DIR/summary.csv`` (one row per
policy and metric: mean, CI, paired difference and its CI), ``DIR/pareto.png`` with
``DIR/curves.csv`` (the heuristics' threshold sweeps; see :mod:`eval.pareto`), each under a
temporary name renamed into place, and last ``DIR/summary.json``, the manifest (settings,
command, ``"status": "complete"``, each file's size, SHA-256 and row count). A non-empty
``DIR`` is refused unless ``--overwrite`` is given, which first deletes an earlier run's
files. With ``--seeds 1`` there is no interval: every CI is empty (NaN in the CSV files, null
in ``summary.json``), and the command says so. A saved model is used only if the ``run.json``
of its run says the run finished and lists the model with its hash. Exit codes: 0 done, 2 a
config, policy, training or output error, 130 Ctrl-C.

``oracle`` (:mod:`agents.oracle`) is an upper bound, not a baseline: it reads the latent state
of the chat being decided from the env's simulator, which this command hands it; its ``kind``
in ``summary.json`` is ``upper_bound``.

``--tune`` (:mod:`eval.tuning`) first grid-tunes each heuristic with a grid
(``sentiment_threshold``, ``rounds_threshold``, ``paper_workers``, ``confidence_threshold``,
``oracle``; parameters a spec gives stay as given) on the tuning seeds (``--tune-seed``, default
0, and ``--tune-seeds``, default 20) on the env's reward, ``--weight`` items included, and
evaluates every policy, the tuned ones at their chosen parameters (labelled ``SPEC (tuned)``: the
spec given with the chosen point; ``summary.json`` has each one's full ``spec``),
on evaluation seeds that default to 1000-1099 (``--seed``, ``--seeds``; seeds that overlap the
tuning seeds are refused). It writes ``DIR/tuning.csv`` (every grid point's mean return on the
tuning seeds, with its CI, and the chosen ones) and ``summary.json``'s ``tuning``: the seeds,
each policy's grid and chosen parameters, the best heuristic (chosen on the tuning seeds, upper
bounds and saved models never candidates) and every policy's paired difference from it on the
evaluation seeds, with its 95% CI and its share of the best heuristic's |return|.

This module parses the command line and writes the reports; the work is done by
:mod:`eval.policies` (specs and building the policies), :mod:`eval.episodes` (the paired
episodes and their KPIs), :mod:`eval.stats` (bootstrap CIs and paired differences) and
:mod:`eval.pareto` (the plot and the weight sweep).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from typing import Any

import pandas as pd

from eval import pareto, tuning
from eval.episodes import run_all
from eval.policies import Entry, EvalError, build_policy, entry_kind, infer_env, split_specs
from eval.stats import summarize
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.io import OutputError, atomic_path, command_line, prepare_out, write_manifest
from hitl_env.procs import interrupted
from hitl_env.rewards import COMPONENTS

PROG = "hitl-eval"
ENV_IDS = {"supervisor": SUPERVISOR_ID, "router": ROUTER_ID}
BASELINES = {"supervisor": "algorithm_only", "router": "rule_based"}
TABLE = ("satisfaction", "rating", "duration_min", "worker_min", "retrial", "abandonment", "esc_human",
         "takeover_round")  # fmt: skip


MIN_BOOTSTRAP = 100  # fewer resamples make a "95% CI" that can miss its own mean


def format_table(summary: pd.DataFrame, baseline: str) -> str:
    """The return with CIs, its paired difference from the baseline, and the key KPIs' means."""
    s = summary.set_index(["policy", "metric"])
    out = []
    for pol in summary["policy"].unique():
        r = s.loc[(pol, "return")]
        row = {"policy": pol, "return [95% CI]": f"{r['mean']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]",
               f"vs {baseline} [95% CI]": f"{r['diff']:+.2f} [{r['diff_lo']:+.2f}, {r['diff_hi']:+.2f}]"}  # fmt: skip
        row.update({m: s.loc[(pol, m), "mean"] for m in (*TABLE, "ai_share") if (pol, m) in s.index})
        out.append(row)
    return pd.DataFrame(out).to_string(index=False, float_format=lambda v: f"{v:.3f}")


# ----------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    from hitl_env.cli import output_dir

    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: taobao_2024)")
    p.add_argument("--policies", default=None, metavar="SPEC[,SPEC...]",
                   help="heuristics by name with parameters (sentiment_threshold:level=-0.6) or saved models "
                        "(.zip), comma-separated (default: the env's baseline)")  # fmt: skip
    p.add_argument("--env", choices=tuple(ENV_IDS), help="supervisor or router (default: inferred from the policies)")
    p.add_argument("--baseline", help="policy spec of the paired differences (default: algorithm_only or rule_based)")
    p.add_argument("--seeds", type=int, default=None,
                   help=f"episodes per policy (default 20; {tuning.EVAL_SEEDS} with --tune)")  # fmt: skip
    p.add_argument("--seed", type=int, default=None,
                   help=f"first seed: seed..seed+N-1 (default 0; {tuning.EVAL_SEED} with --tune)")  # fmt: skip
    p.add_argument("--tune", action="store_true",
                   help="first grid-tune each threshold heuristic and oracle on the tuning seeds")  # fmt: skip
    p.add_argument("--tune-seeds", type=int, default=None, metavar="N",
                   help=f"tuning episodes per grid point (default {tuning.TUNE_SEEDS})")  # fmt: skip
    p.add_argument("--tune-seed", type=int, default=None, metavar="S",
                   help=f"first tuning seed (default {tuning.TUNE_SEED}); not one of the evaluation seeds")  # fmt: skip
    p.add_argument("--bootstrap", type=int, default=2000, metavar="B",
                   help=f"bootstrap resamples (default 2000, at least {MIN_BOOTSTRAP})")  # fmt: skip
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a simulator config field by dotted key; repeatable")  # fmt: skip
    p.add_argument("--weight", action="append", default=[], metavar="COMPONENT=W",
                   help=f"reward weight of a component ({', '.join(COMPONENTS)}); "
                        "repeatable; unset ones keep hitl_env.rewards.DEFAULT_WEIGHTS")  # fmt: skip
    p.add_argument("--rating", choices=("dense", "sparse"), default="dense", help="rating reward (default dense)")
    p.add_argument("--team-size", type=int, default=10, help="workers in the team (default 10)")
    p.add_argument("--shift-hours", type=float, default=8.0, help="shift length, hours (default 8)")
    p.add_argument("--start-hour", type=int, default=9, help="shift start hour (default 9)")
    p.add_argument("--pareto-x", choices=pareto.X_AXES, default=pareto.X_AXES[0],
                   help="x axis of pareto.png (default worker_min: the labour a chat costs)")  # fmt: skip
    p.add_argument("--pareto-y", choices=("satisfaction", "rating"), default="satisfaction",
                   help="y axis of pareto.png (default satisfaction: every chat's would-be rating)")  # fmt: skip
    p.add_argument("--no-curves", action="store_true", help="no heuristic threshold sweeps in pareto.png")
    p.add_argument("--no-plot", action="store_true", help="neither pareto.png nor the sweeps")
    p.add_argument(
        "--sweep-weights",
        metavar="COMPONENT=V1,V2,...",
        help="train one policy per weight value with hitl-train and plot the learned front",
    )
    p.add_argument("--train-config", help="hitl-train config of --sweep-weights")
    p.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra hitl-train --set item of --sweep-weights; repeatable")  # fmt: skip
    p.add_argument("--out", required=True, type=output_dir, help="output directory (must be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    return p


def parse_weights(items: list[str]) -> dict[str, float]:
    """``--weight COMPONENT=W`` items, validated against the reward components."""
    from hitl_env.rewards import validate_weights

    out: dict[str, float] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        try:
            out[key.strip()] = float(raw)
        except ValueError:
            raise EvalError(f"--weight expects COMPONENT=NUMBER, got {item!r}") from None
        if not eq:
            raise EvalError(f"--weight expects COMPONENT=NUMBER, got {item!r}")
    try:
        validate_weights(out)
    except ValueError as e:
        raise EvalError(str(e)) from e
    return out


def make_env(args: argparse.Namespace, kind: str) -> Any:
    """The env of the command line."""
    import gymnasium as gym

    import hitl_env  # noqa: F401  (registers the envs)
    from hitl_env.config import ConfigError, parse_overrides

    try:
        return gym.make(ENV_IDS[kind], preset=args.preset, overrides=parse_overrides(args.overrides),
                        team_size=args.team_size, shift_hours=args.shift_hours, start_hour=args.start_hour,
                        reward_weights=parse_weights(args.weight), rating=args.rating)  # fmt: skip
    except (ConfigError, ValueError, TypeError) as e:
        raise EvalError(str(e)) from e


def train_env_sets(args: argparse.Namespace) -> list[str]:
    """``hitl-train --set`` items that make training's env the one evaluated here."""
    sets = [f"env.preset={args.preset}", f"env.team_size={args.team_size}", f"env.shift_hours={args.shift_hours}",
            f"env.start_hour={args.start_hour}", f"env.rating={args.rating}"]  # fmt: skip
    sets += [f"env.overrides.{item.strip()}" for item in args.overrides]
    return sets + [f"env.reward_weights.{k}={v}" for k, v in parse_weights(args.weight).items()]


def entries_of(args: argparse.Namespace, kind: str, env: Any) -> tuple[list[Entry], str]:
    """The policies to evaluate (baseline included) and the baseline's label."""
    specs = split_specs(args.policies) if args.policies is not None else []
    if len(set(specs)) != len(specs):
        raise EvalError(f"a policy is listed twice in {args.policies!r}")
    baseline = args.baseline or BASELINES[kind]
    if baseline not in specs:
        specs.insert(0, baseline)
    cfg = env.unwrapped.cfg
    return [Entry(s, s, entry_kind(s), build_policy(kind, s, cfg, env)) for s in specs], baseline


def resolve_seeds(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """The evaluation seeds and (with ``--tune``) the tuning seeds, checked; fills in the defaults."""
    if not args.tune and (args.tune_seeds is not None or args.tune_seed is not None):
        raise EvalError("--tune-seeds and --tune-seed belong to --tune, which is not given")
    default_n, default_s = (tuning.EVAL_SEEDS, tuning.EVAL_SEED) if args.tune else (20, 0)
    args.seeds = default_n if args.seeds is None else args.seeds
    args.seed = default_s if args.seed is None else args.seed
    for flag, n, s in (("", args.seeds, args.seed), ("tune-", args.tune_seeds, args.tune_seed)):
        if n is not None and n < 1:
            raise EvalError(f"--{flag}seeds must be at least 1")
        if s is not None and s < 0:
            raise EvalError(f"--{flag}seed must be a non-negative integer, got {s}")
    seeds = list(range(args.seed, args.seed + args.seeds))
    if not args.tune:
        return seeds, []
    n, s = args.tune_seeds or tuning.TUNE_SEEDS, tuning.TUNE_SEED if args.tune_seed is None else args.tune_seed
    tune_seeds = list(range(s, s + n))
    tuning.check_seeds(tune_seeds, seeds)
    return seeds, tune_seeds


def tune_entries(args: argparse.Namespace, kind: str, env: Any, entries: list[Entry], baseline: str,
                 tune_seeds: list[int]) -> tuple[list[Entry], str, dict[str, tuning.Tuned], Any]:  # fmt: skip
    """``--tune``: each heuristic at the parameters chosen on the tuning seeds; the new baseline label."""
    from tqdm.auto import tqdm

    cfg = env.unwrapped.cfg
    with tqdm(unit="episode", desc="tuning", disable=args.quiet) as bar:
        tuned, table = tuning.tune(env, kind, [e.spec for e in entries], cfg, tune_seeds, args.bootstrap,
                                   args.rating, bar)  # fmt: skip
    out = []
    for e in entries:
        t = tuned.get(e.spec)
        if t is None or not t.grid:
            out.append(e)
            continue
        extra = {**e.extra, "tuned": {"given": t.given, "params": t.params, "tune_return": t.tune_return}}
        out.append(Entry(t.label, t.spec, e.kind, build_policy(kind, t.spec, cfg, env), extra))
        baseline = t.label if e.label == baseline else baseline
    return out, baseline, tuned, table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command = command_line(PROG, argv)
    try:
        return _main(args)
    except (EvalError, OutputError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupted(PROG, f"; {args.out} holds no complete run")


def _main(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    seeds, tune_seeds = resolve_seeds(args)
    if args.bootstrap < MIN_BOOTSTRAP:
        raise EvalError(f"--bootstrap must be at least {MIN_BOOTSTRAP}: a 95% percentile interval needs the resamples")
    if not args.sweep_weights and (args.train_config or args.train_set):
        raise EvalError("--train-config and --train-set belong to --sweep-weights, which is not given")
    specs = split_specs(args.policies) if args.policies is not None else []
    env = make_env(args, args.env or "supervisor")  # (its config tells models without run.json by their spaces)
    kind = infer_env(specs + ([args.baseline] if args.baseline else []), args.env, env.unwrapped.cfg)
    env = env if kind == (args.env or "supervisor") else make_env(args, kind)
    entries, baseline = entries_of(args, kind, env)
    if args.sweep_weights:
        pareto.parse_sweep(args.sweep_weights, args.train_config)  # a bad sweep fails before --out is touched
    prepare_out(args.out, PROG, args.overwrite)
    t0 = time.perf_counter()
    files: dict[str, int | None] = {}
    tuned: dict[str, tuning.Tuned] = {}
    if args.tune:
        entries, baseline, tuned, tune_table = tune_entries(args, kind, env, entries, baseline, tune_seeds)
        files["tuning.csv"] = _write_csv(tune_table, args.out / "tuning.csv")
    if args.sweep_weights:
        sweep = pareto.parse_sweep(args.sweep_weights, args.train_config)
        build = functools.partial(build_policy, kind, cfg=env.unwrapped.cfg, env=env)
        entries += pareto.train_weight_sweep(*sweep, train_env_sets(args), args.train_set, args.seed,
                                             args.out / "sweep", build, kind, quiet=args.quiet)  # fmt: skip
    curves = [] if args.no_plot or args.no_curves else pareto.curve_entries(kind, env.unwrapped.cfg)
    t1 = time.perf_counter()
    bar = tqdm(total=(len(entries) + len(curves)) * len(seeds), unit="episode", disable=args.quiet)
    episodes = run_all(env, entries, seeds, kind, args.rating, bar)
    curve_eps = run_all(env, curves, seeds, kind, args.rating, bar) if curves else None
    bar.close()
    steps = float(episodes["steps"].sum() + (0 if curve_eps is None else curve_eps["steps"].sum()))
    timing = {"train_s": t1 - t0, "runtime_s": time.perf_counter() - t1, "steps": steps}
    timing["steps_per_s"] = steps / timing["runtime_s"]
    summary = summarize(episodes, baseline, args.bootstrap, args.seed)
    if len(seeds) < 2:  # a bootstrap of one value has no spread: no interval rather than a zero-width one
        summary[["ci_lo", "ci_hi", "diff_lo", "diff_hi"]] = float("nan")
        print(f"{PROG}: note: one seed gives no confidence interval; use --seeds 2 or more", file=sys.stderr)
    files["episodes.csv"] = _write_csv(episodes, args.out / "episodes.csv")
    files["summary.csv"] = _write_csv(summary, args.out / "summary.csv")
    if not args.no_plot:
        curve_table = pareto.curve_table(curve_eps, curves, args.bootstrap, args.seed, args.pareto_y, args.pareto_x)
        if not curve_table.empty:
            files["curves.csv"] = _write_csv(curve_table, args.out / "curves.csv")
        with atomic_path(args.out / "pareto.png") as tmp:
            pareto.plot_pareto(summary, entries, curve_table, args.pareto_y, tmp,
                               title=f"{ENV_IDS[kind]}, {args.preset}, {len(seeds)} seeds",
                               x=args.pareto_x)  # fmt: skip
        files["pareto.png"] = None
        if summary.loc[summary["metric"] == args.pareto_y, "mean"].isna().all():
            print(f"{PROG}: note: no episode has a {args.pareto_y} (no rated chat), so pareto.png is empty; "
                  "try more seeds, longer shifts or --pareto-y satisfaction", file=sys.stderr)  # fmt: skip
    report = run_report(args, kind, seeds, baseline, entries, summary, timing)
    if args.tune:
        best = tuning.best_heuristic(tuned, entries)
        learned = [e.label for e in entries if e.kind == "learned"]
        heuristics = [e.label for e in entries if e.kind == "heuristic"] if learned and len(seeds) >= 2 else []
        against = {h: summarize(episodes, h, args.bootstrap, args.seed) for h in dict.fromkeys([*heuristics, best])
                   if h is not None}  # each policy's paired differences from heuristic h  # fmt: skip
        vs_best = against.get(best)
        if vs_best is not None and len(seeds) < 2:
            vs_best[["diff_lo", "diff_hi"]] = float("nan")
        report["tuning"] = tuning.report(tuned, tune_seeds, best, vs_best)
        if heuristics:
            report["tuning"]["learned"] = tuning.learned_report(learned, against, report["tuning"], entries)
    write_manifest(args.out, "summary.json", {**report, "command": args.command}, files)
    if not args.quiet:
        print(format_table(summary, baseline))
        if args.tune:
            print(tuning.format_report(report["tuning"], entries))
    print(f"{len(entries)} policies x {len(seeds)} seeds in {timing['runtime_s']:.1f} s "
          f"({timing['steps_per_s']:,.0f} steps/s) -> {args.out}")  # fmt: skip
    return 0


def _write_csv(df: pd.DataFrame, path: Any) -> int:
    """Write ``df`` as CSV under a temporary name renamed into place; its row count."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return len(df)


def run_report(args: argparse.Namespace, kind: str, seeds: list[int], baseline: str, entries: list[Entry],
               summary: pd.DataFrame, timing: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """``summary.json``: the settings, the timing, and per policy its metrics and paired differences."""
    from hitl_env.rewards import COMPONENTS, validate_weights

    weights = dict(zip(COMPONENTS, validate_weights(parse_weights(args.weight)).tolist(), strict=True))
    policies = {}
    for e in entries:
        s = summary[summary["policy"] == e.label].set_index("metric")
        policies[e.label] = {
            "spec": e.spec, "kind": e.kind, **e.extra,
            "metrics": {m: {"mean": r["mean"], "ci": [r["ci_lo"], r["ci_hi"]]} for m, r in s.iterrows()},
            "vs_baseline": {m: {"diff": r["diff"], "ci": [r["diff_lo"], r["diff_hi"]]} for m, r in s.iterrows()},
        }  # fmt: skip
    return {"env": ENV_IDS[kind], "preset": args.preset, "overrides": args.overrides, "team_size": args.team_size,
            "shift_hours": args.shift_hours, "start_hour": args.start_hour, "rating": args.rating,
            "reward_weights": weights, "seeds": seeds, "bootstrap": args.bootstrap, "baseline": baseline,
            **timing, "policies": policies}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
