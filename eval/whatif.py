"""``hitl-whatif``: operations designs against the calibrated default, with their true effects.

Runs each design of ``--designs`` (named presets of config overrides, :data:`hitl_env.designs.DESIGNS`)
and the default (``--preset`` with ``--set``, ``taobao_2024``) on the same seeds. With the same seed
both draw the same workers and the same customers (common random numbers: every worker and chat
attribute has its own random stream, :mod:`hitl_env.sim.run`), so a design's effect at one seed is
its true causal effect on those customers, up to the per-round draws that differ once the design
changes an event. Over ``--seeds N`` seeds it prints, per design, the mean effect (design minus
default) and its 95% CI across seeds (t interval) on :data:`METRICS`, measured on the post-period
chats (the period with the AI on; the same customers arrive in both runs):

=================  ==============================================================================
``duration_s``     mean chat duration, seconds
``rating``         mean rating of the rated chats (1-5)
``retrial``        share of chats with a 7-day retrial
``worker_min``     mean minutes a worker handled a chat by hand (from assignment, or from the
                   takeover, to the end; 0 for AI-alone chats): :mod:`hitl_env.rewards`'s
                   ``worker_time``
``emotional_load`` frustrated customers inherited per treated worker-hour: escalated chats whose
                   frustration at takeover exceeds :data:`FRUSTRATED` (1.0, the calibrated
                   monitor's threshold, fixed so that a design that moves the threshold does not
                   move the definition), per scheduled online hour of the treated workers
                   (``n_treated x days_post x shift_hours``)
``supervisor_load`` the emotional load of the workers who supervise AI chats: the same count over
                   the escalations their supervisors handled, per scheduled hour of those
                   workers (every treated worker under integrated roles; the supervisors,
                   :func:`hitl_env.sim.team.supervisors`, under ``specialized``)
``ai_share``       share of chats routed to the AI
=================  ==============================================================================

It writes ``DIR/whatif.csv`` (one row per design and metric), ``DIR/whatif.png`` (the effects with
their CIs) and ``DIR/results.json`` last, the manifest with the same table, each seed's metrics,
the configs and the command. A non-empty ``DIR`` is refused unless ``--overwrite``.
``--supervisor`` and ``--router`` take the policies ``hitl-rct`` takes (:func:`eval.rct.resolve_policy`),
used by the default and every design alike.

``--estimates`` also runs each design (and the default) as the treatment arm of the paper's
experiment: it replays the same workers and customers with nobody treated and fits the paper's
worker-day DiD (:func:`eval.analysis.did_fits`, :func:`eval.analysis.did_table`) on all,
AI-eligible and AI-ineligible chats, and reports each estimate's mean over the seeds, its mean SE
and the mean true effect (``DIR/estimates.csv``, ``estimates`` in ``results.json``). It doubles
the simulations and adds the regressions (about 10 s a run at full scale).

Example::

    hitl-whatif --designs earlier_detection,wider_scope_20,incentive --seeds 10 --out runs/whatif

Exit codes: 0 done, 2 a config, design, policy or output error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eval.rct import DEFAULTS, PolicyError, overrides_from_args, resolve_policy
from hitl_env.cli import output_dir
from hitl_env.config import Config, ConfigError, load_config, with_overrides
from hitl_env.designs import DESIGNS, design
from hitl_env.io import OutputError, atomic_path, command_line, prepare_out, write_manifest
from hitl_env.procs import interrupted
from hitl_env.sim.run import simulate
from hitl_env.sim.size import TooLarge, check_size
from hitl_env.sim.team import supervisors

PROG = "hitl-whatif"
BASE = "default"
FRUSTRATED = 1.0
"""Frustration at takeover above which an escalated customer counts in the emotional load."""
METRICS = ("duration_s", "rating", "retrial", "worker_min", "emotional_load", "supervisor_load", "ai_share")


def metrics(df: pd.DataFrame, cfg: Config) -> dict[str, float]:
    """The :data:`METRICS` of one run's records, over its post-period chats."""
    post = df[df["period"] == "post"]
    esc = post["escalation"].astype(str) != "none"
    hand = post["human_rounds"].to_numpy() > 0
    start = post["arrival_s"] + np.where(esc, post["takeover_time_s"], post["queue_wait_s"])
    worker_min = np.where(hand, (post["end_s"] - start).to_numpy() / 60.0, 0.0)
    e = cfg.experiment
    hours = e.n_treated * e.days_post * cfg.arrivals.shift_hours
    frustrated = esc & (post["frustration_takeover"] > FRUSTRATED)
    sup = supervising_workers(df, cfg)
    sup_hours = len(sup) * e.days_post * cfg.arrivals.shift_hours
    sup_frustrated = int((frustrated & post["worker_id"].isin(sup)).sum())
    frustrated = int(frustrated.sum())
    return {
        "duration_s": float(post["duration_s"].mean()),
        "rating": float(post["rating"].mean()),
        "retrial": float(post["retrial"].mean()),
        "worker_min": float(np.nanmean(worker_min)),
        "emotional_load": frustrated / hours if hours > 0 else math.nan,
        "supervisor_load": sup_frustrated / sup_hours if sup_hours > 0 else math.nan,
        "ai_share": float(post["routed_ai"].mean()),
    }


def supervising_workers(df: pd.DataFrame, cfg: Config) -> np.ndarray:
    """Ids of the workers who supervise AI chats: the treated ones, or their supervisors under ``specialized``.

    Arms are read from the records (a worker who never took a chat is left out).
    """
    arms = df.dropna(subset=["worker_id"]).groupby("worker_id", observed=True)["arm"].first()
    treated = np.zeros(cfg.experiment.workers, bool)
    treated[arms.index.to_numpy(dtype=int)] = (arms == "treatment").to_numpy()
    if cfg.supervisor.specialized_share == 0:
        return np.flatnonzero(treated)
    size = cfg.experiment.team_size
    roles = [supervisors(cfg, treated[k : k + size]) for k in range(0, len(treated), size)]
    return np.flatnonzero(np.concatenate(roles))


def effect_table(runs: dict[str, list[dict[str, float]]]) -> pd.DataFrame:
    """Per design and metric: default and design means, the effect's mean and 95% CI across seeds."""
    from scipy import stats

    base = pd.DataFrame(runs[BASE])
    rows = []
    for name, seeds in runs.items():
        if name == BASE:
            continue
        d = pd.DataFrame(seeds)
        for m in METRICS:
            diff = (d[m] - base[m]).to_numpy()
            n = len(diff)
            mean = float(diff.mean())
            half = float(stats.t.ppf(0.975, n - 1) * diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            rows.append({"design": name, "metric": m, "seeds": n, "default": float(base[m].mean()),
                         "design_value": float(d[m].mean()), "effect": mean, "ci_low": mean - half,
                         "ci_high": mean + half})  # fmt: skip
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    """The effects as text, one line per design and metric."""
    lines = [f"{'design':<22}{'metric':<16}{'default':>10}{'design':>10}{'effect':>11}  95% CI"]
    for r in table.itertuples():
        lines.append(f"{r.design:<22}{r.metric:<16}{r.default:>10.4g}{r.design_value:>10.4g}{r.effect:>+11.4g}  "
                     f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]")  # fmt: skip
    return "\n".join(lines)


def plot_effects(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric: each design's effect with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 0.5 * table["design"].nunique() + 1.5),
                             sharey=True)  # fmt: skip
    for ax, m in zip(axes, METRICS, strict=True):
        t = table[table["metric"] == m]
        y = np.arange(len(t))
        err = np.vstack([t["effect"] - t["ci_low"], t["ci_high"] - t["effect"]])
        ax.errorbar(t["effect"], y, xerr=np.nan_to_num(err), fmt="o", capsize=3)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(y, t["design"])
        ax.set_title(m, fontsize=9)
    fig.suptitle("design minus default, mean over seeds with 95% CI")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


FIGURES = ("duration_pct", "rating", "retrial_pp")


def did_estimates(actual: pd.DataFrame, cf: pd.DataFrame) -> dict[str, float]:
    """The paper's DiD of one run against its nobody-treated replay: ``sample.figure.{estimate,se,true}``."""
    from eval.analysis import SAMPLES, chat_frame, did_fits, did_table

    a, c = chat_frame(actual), chat_frame(cf)
    table = did_table(a, c, did_fits(a))
    return {f"{s}.{f}.{k}": float(table[s][f][k]) for s in SAMPLES for f in FIGURES for k in ("estimate", "se", "true")}


def estimate_table(runs: dict[str, list[dict[str, float]]]) -> pd.DataFrame:
    """Per design, sample and figure: the mean estimate, mean SE and mean true effect over the seeds."""
    rows = []
    for name, seeds in runs.items():
        d = pd.DataFrame(seeds)
        for key in dict.fromkeys(k.rsplit(".", 1)[0] for k in d.columns):
            sample, figure = key.split(".")
            rows.append({"design": name, "sample": sample, "figure": figure, "seeds": len(d),
                         "estimate": float(d[f"{key}.estimate"].mean()), "se": float(d[f"{key}.se"].mean()),
                         "true": float(d[f"{key}.true"].mean())})  # fmt: skip
    return pd.DataFrame(rows)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--designs", required=True, metavar="NAME,...",
                   help=f"comma-separated designs: {', '.join(DESIGNS)}")  # fmt: skip
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: taobao_2024)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field of the default and every design; repeatable")  # fmt: skip
    p.add_argument("--workers", type=int, help="number of workers (experiment.workers)")
    p.add_argument("--days-pre", type=int, help="pre-period days (experiment.days_pre)")
    p.add_argument("--days-post", type=int, help="treatment-period days (experiment.days_post)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=10, metavar="N", help="seeds S to S+N-1 (default 10)")
    for kind, default in DEFAULTS.items():
        p.add_argument(f"--{kind}", default=default, metavar="POLICY",
                       help=f"a {kind} policy as hitl-rct takes it (default: {default})")  # fmt: skip
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--out", required=True, type=output_dir, help="output directory (must be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in --out")
    p.add_argument("--no-plot", action="store_true", help="skip whatif.png")
    p.add_argument("--estimates", action="store_true",
                   help="also the paper-style DiD of each design as the treatment arm (doubles the runs)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    return p


def configs(args: argparse.Namespace) -> dict[str, Config]:
    """The default's config and each design's, by name (raises :class:`ConfigError`)."""
    names = [n.strip() for n in args.designs.split(",") if n.strip()]
    if not names:
        raise ConfigError("--designs needs at least one design; designs: " + ", ".join(DESIGNS))
    if len(set(names)) < len(names):
        raise ConfigError(f"--designs names a design twice: {args.designs}")
    cfg = load_config(args.preset, overrides_from_args(args))
    if cfg.experiment.days_post < 1:
        raise ConfigError("a what-if needs at least one treatment-period day (experiment.days_post)")
    if args.estimates:
        from eval.rct import experiment_configs

        experiment_configs(args.preset, overrides_from_args(args))  # both arms and both periods, or an error
    return {BASE: cfg, **{n: design(n).config(cfg) for n in names}}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = command_line(PROG, argv)
    try:
        if args.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
        if args.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        cfgs = configs(args)
        for c in cfgs.values():
            check_size(c)
        hooks = {n: {k: resolve_policy(k, getattr(args, k), c, args.seed) for k in DEFAULTS} for n, c in cfgs.items()}
        prepare_out(args.out, PROG, args.overwrite)
    except (ConfigError, PolicyError, OutputError, TooLarge) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, cfgs, hooks, command)
    except KeyboardInterrupt:
        return interrupted(PROG, f"; {args.out} holds no results.json")


def _run(args: argparse.Namespace, cfgs: dict[str, Config], first: dict[str, dict], command: list[str]) -> int:
    from tqdm.auto import tqdm

    n_teams = -(-cfgs[BASE].experiment.workers // cfgs[BASE].experiment.team_size)
    seeds = range(args.seed, args.seed + args.seeds)
    per = 2 if args.estimates else 1
    bar = tqdm(total=len(seeds) * len(cfgs) * n_teams * per, unit="team", desc="what-if", disable=args.quiet)
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in cfgs}
    estimates: dict[str, list[dict[str, float]]] = {n: [] for n in cfgs}
    t0 = time.perf_counter()
    for seed in seeds:
        for name, cfg in cfgs.items():
            hooks = first[name] if seed == args.seed else {k: resolve_policy(k, getattr(args, k), cfg, seed)
                                                             for k in DEFAULTS}  # fmt: skip
            bar.set_description(f"seed {seed}: {name}")
            done = bar.n
            df = simulate(cfg, seed, n_jobs=args.jobs, progress=lambda k, d=done: bar.update(d + k - bar.n), **hooks)
            runs[name].append({"seed": seed, **metrics(df, cfg)})
            if args.estimates:
                bar.set_description(f"seed {seed}: {name} (nobody treated)")
                done = bar.n
                cf_cfg = with_overrides(cfg, {"experiment.treatment_share": 0.0})
                cf = simulate(cf_cfg, seed, n_jobs=args.jobs, progress=lambda k, d=done: bar.update(d + k - bar.n),
                              router=hooks["router"])  # fmt: skip
                estimates[name].append(did_estimates(df, cf))
    bar.close()
    runtime = time.perf_counter() - t0
    table = effect_table({n: [{m: r[m] for m in METRICS} for r in rs] for n, rs in runs.items()})
    files: dict[str, int | None] = {}
    with atomic_path(args.out / "whatif.csv") as tmp:
        table.to_csv(tmp, index=False)
    files["whatif.csv"] = len(table)
    est = estimate_table(estimates) if args.estimates else None
    if est is not None:
        with atomic_path(args.out / "estimates.csv") as tmp:
            est.to_csv(tmp, index=False)
        files["estimates.csv"] = len(est)
    if not args.no_plot:
        with atomic_path(args.out / "whatif.png") as tmp:
            plot_effects(table, tmp)
        files["whatif.png"] = None
    results = {
        "preset": args.preset, "seeds": list(seeds),
        "designs": {n: dict(DESIGNS[n].overrides) for n in cfgs if n != BASE},
        "policies": {k: getattr(args, k) for k in DEFAULTS}, "frustrated_threshold": FRUSTRATED,
        "table": table.to_dict(orient="records"), "runs": runs, "runtime_s": runtime,
        "estimates": None if est is None else est.to_dict(orient="records"),
        "config": cfgs[BASE].to_dict(), "command": command,
    }  # fmt: skip
    write_manifest(args.out, "results.json", results, files)
    if not args.quiet:
        print(format_table(table))
        if est is not None:
            print(f"\n{'paper-style DiD':<22}{'sample':<12}{'figure':<14}{'estimate':>10}{'se':>9}{'true':>10}")
            for r in est.itertuples():
                print(f"{r.design:<22}{r.sample:<12}{r.figure:<14}{r.estimate:>+10.4g}{r.se:>9.3g}{r.true:>+10.4g}")
    print(f"{len(cfgs) - 1} design(s) x {len(seeds)} seed(s), {runtime:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
