"""How much an observable takeover rule can gain: a policy search over linear rules.

``python -m eval.policy_search`` searches the rules "take over when ``w . x > 0``", ``x`` the
``Supervisor-v2`` observation standardized (with a constant), by the cross-entropy method
(Rubinstein 1999; Szita and Lorincz 2006 for control policies): each iteration plays a seeded
population of weight vectors on the tuning seeds (common random numbers: every candidate meets
the same shifts), keeps the best quarter and refits a diagonal Gaussian to them. Then it plays
the final mean rule, the baseline (``algorithm_only`` by default) and the ``oracle`` upper bound
on fresh seeds that the search never saw, and prints each one's return and its paired difference
from the baseline with a 95% bootstrap CI, and the rule's share of decisions taken over.

It answers one question about a calibration: does the observation carry information that a
policy could turn into a better return than the baseline's? If the best linear rule found on
the tuning seeds does not beat the baseline on fresh seeds, a learned policy that reads the same
observation has little to find either. The oracle's margin says how much the takeover decision
is worth with perfect information.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from tqdm import tqdm

from agents import make
from agents.base import masked
from agents.loading import load
from eval.episodes import run_episode
from eval.stats import bootstrap_ci, resample_indices
from hitl_env.config import ConfigError, parse_overrides
from hitl_env.envs import SUPERVISOR_ID

POPULATION, ELITE, ITERATIONS = 24, 6, 12


class LinearRule:
    """Take over when ``w . [1, (obs - mean) / scale] > 0`` (and the mask allows it)."""

    name = "linear_rule"

    def __init__(self, weights: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> None:
        self.w, self.mean, self.scale = np.asarray(weights, float), mean, scale
        self.decisions = self.takeovers = 0

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        a = masked(int(self.w[0] + self.w[1:] @ ((obs - self.mean) / self.scale) > 0), info)
        self.decisions += 1
        self.takeovers += a
        return a


def standardization(env: Any, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each observation field at the baseline's decisions (scale 1 where constant)."""
    rows, never = [], make("algorithm_only")
    for s in seeds:
        obs, info = env.reset(seed=s)
        done = False
        while not done:
            rows.append(obs)
            obs, _, terminated, truncated, info = env.step(never.act(obs, info))
            done = terminated or truncated
    x = np.array(rows, float)
    sd = x.std(axis=0)
    return x.mean(axis=0), np.where(sd > 1e-9, sd, 1.0)


def returns(env: Any, policy: Any, seeds: Sequence[int], rating: str) -> np.ndarray:
    return np.array([run_episode(env, policy, s, "supervisor", rating)["return"] for s in seeds])


def search(env: Any, tune_seeds: Sequence[int], rating: str, seed: int, iterations: int = ITERATIONS,
           progress: bool = True) -> LinearRule:  # fmt: skip
    """The cross-entropy method's final mean rule, searched on ``tune_seeds``."""
    mean, scale = standardization(env, tune_seeds)
    rng = np.random.default_rng([seed, 0xCE])
    mu = np.zeros(1 + len(mean))
    mu[0] = -1.0  # start from "never take over"
    sd = np.ones_like(mu)
    with tqdm(total=iterations * POPULATION, desc="policy search", disable=not progress, leave=False) as bar:
        for _ in range(iterations):
            cand = mu + sd * rng.standard_normal((POPULATION, len(mu)))
            scores = []
            for w in cand:
                scores.append(returns(env, LinearRule(w, mean, scale), tune_seeds, rating).mean())
                bar.update(1)
            elite = cand[np.argsort(scores, kind="stable")[-ELITE:]]
            mu, sd = elite.mean(axis=0), elite.std(axis=0) + 0.05  # a floor keeps the search from freezing
    return LinearRule(mu, mean, scale)


ORACLE = "oracle:misread_round=2,technical_wait=0"  # hitl-eval --tune's choice at taobao_2024 (README)


def compare(env: Any, rule: LinearRule, baseline: str, oracle: str, seeds: Sequence[int], rating: str,
            seed: int) -> pd.DataFrame:  # fmt: skip
    """Return and paired difference from ``baseline`` (95% bootstrap CIs) of the rule and the oracle."""
    bound = load("supervisor", oracle, env.cfg).bind(env)
    policies = {baseline: load("supervisor", baseline, env.cfg), "linear rule (searched)": rule,
                "oracle (upper bound)": bound}  # fmt: skip
    got = {name: returns(env, p, seeds, rating) for name, p in policies.items()}
    idx = resample_indices(len(seeds), 2000, seed)
    rows = []
    for name, x in got.items():
        mean, lo, hi = bootstrap_ci(x, idx)
        d, dlo, dhi = bootstrap_ci(x - got[baseline], idx)
        rows.append({"policy": name, "return": mean, "lo": lo, "hi": hi, "diff": d, "diff_lo": dlo, "diff_hi": dhi})
    return pd.DataFrame(rows)


def _main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m eval.policy_search", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="taobao_2024")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--baseline", default="algorithm_only", help="policy spec to compare with")
    ap.add_argument("--oracle", default=ORACLE, help=f"the bound's spec (default {ORACLE})")
    ap.add_argument("--tune-seeds", type=int, default=20, help="tuning seeds 0..N-1 (default 20)")
    ap.add_argument("--seeds", type=int, default=100, help="fresh seeds from --seed (default 100)")
    ap.add_argument("--seed", type=int, default=1000, help="first fresh seed (default 1000)")
    ap.add_argument("--iterations", type=int, default=ITERATIONS)
    args = ap.parse_args(argv)
    for name in ("tune_seeds", "seeds", "iterations"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seed < args.tune_seeds:
        ap.error(f"the fresh seeds from {args.seed} overlap the tuning seeds 0-{args.tune_seeds - 1}")
    try:
        env = gym.make(SUPERVISOR_ID, preset=args.preset, overrides=parse_overrides(args.overrides)).unwrapped
        for spec in (args.baseline, args.oracle):
            load("supervisor", spec, env.cfg)
    except (ValueError, ConfigError) as e:
        ap.error(str(e))
    rule = search(env, range(args.tune_seeds), "dense", 0, args.iterations)
    fresh = range(args.seed, args.seed + args.seeds)
    table = compare(env, rule, args.baseline, args.oracle, fresh, "dense", args.seed)  # the rule's counts: these seeds
    print(f"{SUPERVISOR_ID}, {args.preset}; searched on seeds 0-{args.tune_seeds - 1}, "
          f"evaluated on {args.seed}-{args.seed + args.seeds - 1}")  # fmt: skip
    print(table.to_string(index=False, float_format=lambda v: f"{v:+.1f}"))
    print(f"the rule takes over {rule.takeovers / max(rule.decisions, 1):.1%} of its decisions on the fresh seeds")


if __name__ == "__main__":
    _main()
