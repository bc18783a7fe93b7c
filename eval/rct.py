"""``hitl-rct``: the virtual field experiment: replicate the Taobao experiment and its analysis.

Randomizes the preset's workers into arms (``experiment.treatment_share``: 302 of 647 in
``taobao_2024``), simulates the pre and post periods, replays the same workers and customers
with nobody treated (the common-random-numbers counterfactual, which gives every estimate its
true effect), runs the paper's analysis (:mod:`eval.analysis`), prints every figure beside the
paper's, and writes ``DIR/results.json``, ``DIR/estimates.png``, ``DIR/records.parquet`` (the
actual run) and ``DIR/counterfactual.parquet`` (``--no-plot`` and ``--no-records`` skip them).
With ``--seeds N`` it replicates the experiment on seeds S to S+N-1, each into ``DIR/seed_S/``,
and summarizes them (:func:`eval.rct_summary.summarize`) in ``DIR/summary.json``, judged as
DOMAIN.md's "How calibration is judged" does: each figure's mean over the seeds against its
accept range, each estimate's median SE and the z the paper's estimate would have with it
against the band its stars imply, how many seeds give p >= 0.05 where the paper reports n.s.,
each finding's count on the estimates and on the true effects, and a pass or fail per criterion
(``criteria``) with the figures that fail it.

Example::

    hitl-rct --preset taobao_2024 --workers 100 --seed 1 --out runs/rct
    hitl-rct --seeds 5 --no-records --out runs/rct5   # full scale, seeds 0-4, and their summary

A policy (``--supervisor POLICY``, ``--router POLICY``) is a heuristic's name, with parameters
(``sentiment_threshold:level=-1``; ``agents.SUPERVISOR_POLICIES`` for ``--supervisor``,
``agents.ROUTER_POLICIES`` for ``--router``), or the path of a
model saved by ``hitl-train`` on ``Supervisor-v2`` (or the shared-supervisor env) or ``Router-v3``
respectively. The defaults are the core's own hooks, :data:`POLICIES`: ``paper_workers`` (the
calibrated workers, ``supervisor.*``), ``algorithm_only`` (no hand takeovers) and ``rule_based``
(the category rule). Any other policy decides through :class:`agents.hooks.PolicyHook`, which
builds each decision's observation as the env does (the shift progress is the deciding worker's,
or the mean of the running shifts for a routing decision) and reseeds every team's policy from
``--seed``. A ``paper_workers`` spec with parameters is the policy of :mod:`agents.supervisor`:
equal to the core's in distribution, not draw for draw.

Every file is written under a temporary name and renamed into place; ``results.json`` (and,
over seeds, ``summary.json``) comes last, as the manifest: seed, config, command, ``"status":
"complete"`` and each file's size, SHA-256 and row count (:mod:`hitl_env.io`). A non-empty
``DIR`` is refused unless ``--overwrite`` is given, which first deletes an earlier run's files.
A run that would not fit in memory is refused before it starts (:mod:`hitl_env.sim.size`).

Exit codes: 0 done, 2 a config, policy or output error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from eval.calibration import baseline_stats
from hitl_env.cli import check_shorthands, output_dir
from hitl_env.config import Config, ConfigError, load_config, parse_overrides, with_overrides
from hitl_env.io import OutputError, atomic_path, command_line, prepare_out, write_manifest
from hitl_env.procs import interrupted
from hitl_env.sim.decisions import default_supervisor
from hitl_env.sim.hooks import NeverTakeover
from hitl_env.sim.run import simulate
from hitl_env.sim.size import TooLarge, check_size

PROG = "hitl-rct"
PolicyFactory = Callable[[Config], object]
POLICIES: dict[str, dict[str, PolicyFactory]] = {
    "supervisor": {"paper_workers": default_supervisor, "algorithm_only": lambda cfg: NeverTakeover()},
    "router": {"rule_based": lambda cfg: None},  # None: the simulator's own category rule
}
DEFAULTS = {"supervisor": "paper_workers", "router": "rule_based"}
EXAMPLES = {"supervisor": "sentiment_threshold:level=-1", "router": "confidence_threshold:threshold=0.4"}


class PolicyError(ValueError):
    """A policy that is neither a known heuristic nor a loadable saved model of the right kind."""


def resolve_policy(kind: str, name: str, cfg: Config, seed: int = 0) -> object:
    """The hook object for a ``--supervisor`` or ``--router`` argument.

    Args:
        kind: ``supervisor`` or ``router``.
        name: a core hook's name (a key of ``POLICIES[kind]``), a heuristic spec of that kind
            (``"sentiment_threshold:level=-1"``), or the path of a saved model for that kind.
        cfg: the run's config (heuristics read their parameters from it).
        seed: the run's seed (randomized policies are reseeded from it per team).

    Raises:
        PolicyError: unknown name, a policy of the other kind, bad parameters, missing file, a
            model of another env, or a file that is not a saved model.
    """
    if name in POLICIES[kind]:
        return POLICIES[kind][name](cfg)
    import train  # noqa: F401  (registers the shared-supervisor env, whose models decide takeovers)
    from agents.hooks import PolicyHook

    try:
        return PolicyHook(kind, name, cfg, seed)
    except (ValueError, TypeError, ImportError) as e:
        raise PolicyError(f"--{kind} {name}: {' '.join(str(e).split())}") from None


def policy_names(kind: str) -> list[str]:
    """The policies ``--supervisor`` or ``--router`` takes by name: the core's, then the agents'."""
    from agents.loading import POLICIES as AGENTS
    from agents.registry import REFERENCE_POLICIES  # (upper bounds need an env's simulator: not hooks)

    return [*POLICIES[kind], *(n for n in AGENTS[kind] if n not in POLICIES[kind] and n not in REFERENCE_POLICIES)]


class _Parser(argparse.ArgumentParser):
    """Lists the policies in the help; only printing it imports the agents package for their names."""

    def format_help(self) -> str:
        self.epilog = (
            "POLICY: a heuristic's name, with parameters (name:key=value,...), or the path of a model "
            "saved by hitl-train on Supervisor-v2 (--supervisor) or Router-v3 (--router). "
            + "; ".join(f"{kind.capitalize()} policies: {', '.join(policy_names(kind))}" for kind in DEFAULTS)
            + ". E.g. " + " ".join(f"--{kind} {example}" for kind, example in EXAMPLES.items()) + "."
        )  # fmt: skip
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="taobao_2024", help="preset name or YAML path (default: taobao_2024)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field by dotted key; repeatable")  # fmt: skip
    p.add_argument("--workers", type=int, help="number of workers (experiment.workers)")
    p.add_argument("--days-pre", type=int, help="pre-period days (experiment.days_pre)")
    p.add_argument("--days-post", type=int, help="treatment-period days (experiment.days_post)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of every random draw (default 0)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="replications: seeds S to S+N-1, each into DIR/seed_S, then a summary over them "
                        "in DIR/summary.json (default 1: one run into DIR)")  # fmt: skip
    for kind, default in DEFAULTS.items():
        p.add_argument(f"--{kind}", default=default, metavar="POLICY",
                       help=f"a {kind} heuristic or saved model, see below (default: {default})")  # fmt: skip
    p.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--out", required=True, type=output_dir, help="output directory (must be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in --out")
    p.add_argument("--no-plot", action="store_true", help="skip estimates.png")
    p.add_argument("--no-records", action="store_true",
                   help="skip records.parquet and counterfactual.parquet (120 MB a seed at full scale)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar and no tables")
    return p


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--set`` items, then ``--workers``, ``--days-pre`` and ``--days-post``, as dotted keys.

    Raises:
        ConfigError: a ``--set`` item sets the field of a shorthand flag given too.
    """
    shorthand = {"--workers": ("experiment.workers", args.workers),
                 "--days-pre": ("experiment.days_pre", args.days_pre),
                 "--days-post": ("experiment.days_post", args.days_post)}  # fmt: skip
    given = {flag: (key, v) for flag, (key, v) in shorthand.items() if v is not None}
    overrides = parse_overrides(args.overrides)
    check_shorthands(overrides, {flag: (key,) for flag, (key, _) in given.items()})
    return {**overrides, **dict(given.values())}


def experiment_configs(preset: str, overrides: dict[str, Any]) -> tuple[Config, Config]:
    """The experiment's config and its counterfactual: the same with nobody treated.

    Workers and customers are drawn from their own random streams, so the counterfactual replays
    the same workers and the same customers (common random numbers).
    """
    cfg = load_config(preset, overrides)
    if cfg.experiment.days_pre < 1 or cfg.experiment.days_post < 1:
        raise ConfigError("the experiment needs at least one pre-period and one treatment-period day")
    e = cfg.experiment
    if not 0 < e.n_treated < e.workers:
        raise ConfigError(
            f"the experiment needs workers in both arms; {e.workers} worker(s) at treatment "
            f"share {e.treatment_share:.3f} give {e.n_treated} treated and {e.workers - e.n_treated} control"
        )
    return cfg, with_overrides(cfg, {"experiment.treatment_share": 0.0})


def run_experiment(
    cfg: Config, cf_cfg: Config, seed: int, hooks: dict[str, object], n_jobs: int | None, quiet: bool = False,
    label: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Simulate the experiment and its counterfactual and analyse them.

    ``label`` prefixes the progress bar's stages (``"seed 3: "``).

    Returns:
        The actual records, the counterfactual records, and the results (see the README's
        "Virtual field experiment" section for their keys).
    """
    from tqdm.auto import tqdm

    from eval.analysis import analyze

    n_teams = -(-cfg.experiment.workers // cfg.experiment.team_size)
    bar = tqdm(total=2 * n_teams + 1, unit="step", desc="experiment", disable=quiet)
    t0 = time.perf_counter()
    runs = []
    for stage, c, h in (("experiment", cfg, hooks), ("counterfactual", cf_cfg, {"router": hooks["router"]})):
        bar.set_description(label + stage)
        done = bar.n
        runs.append(simulate(c, seed, n_jobs=n_jobs, progress=lambda k, d=done: bar.update(d + k - bar.n), **h))
    t_sim = time.perf_counter() - t0
    bar.set_description(label + "analysis")
    actual, cf = runs
    results = {
        "n_workers": cfg.experiment.workers,
        "n_treatment": cfg.experiment.n_treated,
        "n_chats": len(actual),
        "n_rated": int(actual["rated"].sum()),
        "baseline": baseline_stats(actual),
        **analyze(actual, cf),
    }
    bar.update(1)
    bar.close()
    results["runtime_s"] = time.perf_counter() - t0
    results["runtime_simulation_s"] = t_sim
    return actual, cf, results


def write_outputs(
    out: Path, results: dict[str, Any], actual: pd.DataFrame, cf: pd.DataFrame, plot: bool, records: bool = True
) -> None:
    """The chat records of both runs as Parquet (unless not ``records``), the plot, then ``results.json``.

    Each file is renamed into place once written; ``results.json``, the manifest, comes last.
    """
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, int | None] = {}
    if records:
        for name, df in (("records.parquet", actual), ("counterfactual.parquet", cf)):
            with atomic_path(out / name) as tmp:
                df.to_parquet(tmp, index=False)
            files[name] = len(df)
    if plot:
        from eval.rct_report import plot_estimates

        with atomic_path(out / "estimates.png") as tmp:
            plot_estimates(results, tmp)
        files["estimates.png"] = None
    write_manifest(out, "results.json", results, files)


def policy_hooks(args: argparse.Namespace, cfg: Config, seed: int) -> dict[str, object]:
    """The ``--supervisor`` and ``--router`` hooks for one seed (raises :class:`PolicyError`)."""
    return {kind: resolve_policy(kind, getattr(args, kind), cfg, seed) for kind in DEFAULTS}


def run_seed(
    args: argparse.Namespace, cfg: Config, cf_cfg: Config, seed: int, hooks: dict[str, object], out: Path
) -> dict[str, Any]:
    """One replication: simulate, analyse, check the findings, write ``out``; returns the results."""
    from eval.rct_report import findings

    label = f"seed {seed}: " if args.seeds > 1 else ""
    actual, cf, results = run_experiment(cfg, cf_cfg, seed, hooks, args.jobs, args.quiet, label)
    results = {"preset": args.preset, "seed": seed, **results, "policies": {k: getattr(args, k) for k in DEFAULTS},
               "config": cfg.to_dict(), "command": args.command}  # fmt: skip
    results["findings"] = [f.to_dict() for f in findings(results)]
    results["findings_true"] = [f.to_dict() for f in findings(results, on="true")]
    write_outputs(out, results, actual, cf, plot=not args.no_plot, records=not args.no_records)
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.command = command_line(PROG, argv)
    try:
        cfg, cf_cfg = experiment_configs(args.preset, overrides_from_args(args))
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs must be at least 1")
        if args.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
        if args.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
        check_size(cfg, copies=2)  # the experiment and its counterfactual are held at once
        first = policy_hooks(args, cfg, args.seed)  # a bad policy fails here, before any simulation
        prepare_out(args.out, PROG, args.overwrite)
    except (ConfigError, PolicyError, OutputError, TooLarge) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, cfg, cf_cfg, first)
    except KeyboardInterrupt:
        return interrupted(PROG, f"; the seeds without a results.json in {args.out} did not finish")


def _run(args: argparse.Namespace, cfg: Config, cf_cfg: Config, first: dict[str, object]) -> int:
    from eval.rct_report import format_table
    from eval.rct_summary import format_summary, summarize

    seeds = range(args.seed, args.seed + args.seeds)
    runs = []
    for seed in seeds:
        out = args.out if args.seeds == 1 else args.out / f"seed_{seed}"
        hooks = first if seed == args.seed else policy_hooks(args, cfg, seed)
        results = run_seed(args, cfg, cf_cfg, seed, hooks, out)
        runs.append(results)
        if not args.quiet and args.seeds == 1:
            print(format_table(results))
        print(f"seed {seed}: {results['n_chats']:,} chats, {results['n_treatment']} of {results['n_workers']} "
              f"workers treated; {results['runtime_s']:.1f} s -> {out}")  # fmt: skip
    if args.seeds > 1:
        summary = {**summarize(runs), "command": args.command}
        write_manifest(args.out, "summary.json", summary, {f"seed_{s}/results.json": None for s in seeds})
        if not args.quiet:
            print(format_summary(summary))
        print(f"summary of seeds {seeds.start}-{seeds.stop - 1} -> {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
