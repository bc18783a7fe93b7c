"""Golden records: per-column hashes of ``simulate()`` records and of env trajectories.

Every case runs a small, seeded simulation or rollout (both presets, the shipped hooks and
policies, every env API) and hashes each column of what it produced. ``tests/test_golden.py``
checks that the code still produces exactly these bytes, so a refactor that is meant to keep
behaviour cannot change it silently.

When the dynamics, observations or rewards change on purpose, regenerate the file and commit
it with the change (and bump the env versions the change touches)::

    python -m tests.golden --update

``python -m tests.golden`` alone lists the cases whose hashes changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd

import hitl_env
from agents.hooks import PolicyHook
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.multi_agent import env as aec_env
from hitl_env.multi_agent import parallel_env
from hitl_env.sim.hooks import NeverTakeover

GOLDEN = Path(__file__).with_name("golden.json")
PRESETS = ("taobao_2024", "mmn_abandonment")
SIM = {"experiment.workers": 40, "experiment.team_size": 10, "experiment.days_pre": 1, "experiment.days_post": 2}
EPISODE = {"team_size": 10, "shift_hours": 8.0}
SUPERVISORS = (
    "algorithm_only",
    "paper_workers",
    "sentiment_threshold:level=-0.5",
    "rounds_threshold:k=3",
    "always_takeover",
    "random:p=0.3",
)
ROUTERS = ("rule_based", "all_human", "confidence_threshold", "random:p=0.5")


def column_hash(values: np.ndarray | pd.Series) -> str:
    """A short hash of a column's values: floats by their bits (one NaN), anything else as text."""
    if isinstance(values, pd.Series):
        if values.dtype.kind in "fiub" and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
            values = values.to_numpy()
        else:
            values = np.array([repr(v) if not pd.isna(v) else "NA" for v in values.tolist()])
    a = np.asarray(values)
    if a.dtype.kind == "f":
        a = np.where(np.isnan(a), np.nan, a).astype(np.float64)
    elif a.dtype.kind in "iub":
        a = a.astype(np.int64)
    else:
        a = np.array("\x1f".join(map(str, a.ravel().tolist())).encode())
    return hashlib.sha256(np.ascontiguousarray(a).tobytes() + str(a.shape).encode()).hexdigest()[:16]


def frame_hashes(df: pd.DataFrame) -> dict[str, str]:
    return {"rows": str(len(df)), **{c: column_hash(df[c]) for c in df.columns}}


# ----------------------------------------------------------------- simulate() cases
def _sim(preset: str, **hooks: object) -> Callable[[], dict[str, str]]:
    def run() -> dict[str, str]:
        cfg = hitl_env.load_config(preset, SIM)
        built = {k: PolicyHook(k, v, cfg, seed=3) if isinstance(v, str) else v for k, v in hooks.items()}
        return frame_hashes(hitl_env.simulate(cfg, seed=11, **built))

    return run


# ----------------------------------------------------------------- env rollouts
def _trajectory(steps: list[dict[str, np.ndarray]]) -> dict[str, str]:
    """Each field's values over the steps, flattened (the router's and supervisors' observations differ in size)."""
    keys = steps[0].keys()
    flat = {k: np.concatenate([np.ravel(s[k]) for s in steps]) for k in keys}
    return {"steps": str(len(steps)), **{k: column_hash(v) for k, v in flat.items()}}


def _gym(env_id: str, preset: str, policy: str | None) -> Callable[[], dict[str, str]]:
    """Three episodes; random actions (masked ones included) or a shipped policy."""

    def run() -> dict[str, str]:
        import agents

        env = gym.make(env_id, preset=preset, **EPISODE).unwrapped
        rng = np.random.default_rng(5)
        pol = agents.from_spec(policy) if policy else None
        steps = []
        for episode in range(3):
            obs, info = env.reset(seed=100 + episode)
            if pol is not None:
                pol.reset(seed=episode)
            done = False
            while not done:
                action = pol.act(obs, info) if pol is not None else int(rng.integers(2))
                obs, r, term, trunc, info = env.step(action)
                done = term or trunc
                steps.append({"obs": obs, "reward": np.float64(r), "done": np.int64(done), "action": np.int64(action),
                              "vector_reward": info["vector_reward"], "mask": info["action_mask"],
                              "time_s": np.float64(info["time_s"])})  # fmt: skip
        return _trajectory(steps)

    return run


def _aec(preset: str) -> Callable[[], dict[str, str]]:
    def run() -> dict[str, str]:
        env = aec_env(preset=preset, **EPISODE)
        rng = np.random.default_rng(6)
        steps = []
        for episode in range(2):
            env.reset(seed=200 + episode)
            for agent in env.agent_iter():
                obs, r, term, trunc, info = env.last()
                action = None if term or trunc else int(rng.integers(2))
                steps.append({"agent": np.int64(_agent_no(agent)),
                              "obs": obs["observation"], "mask": obs["action_mask"], "reward": np.float64(r),
                              "done": np.int64(term or trunc), "vector_reward": info["vector_reward"]})  # fmt: skip
                env.step(action)
        return _trajectory(steps)

    return run


def _parallel(preset: str) -> Callable[[], dict[str, str]]:
    def run() -> dict[str, str]:
        env = parallel_env(preset=preset, **EPISODE)
        rng = np.random.default_rng(7)
        steps = []
        for episode in range(2):
            obs, infos = env.reset(seed=300 + episode)
            while env.agents:
                actions = {a: int(rng.integers(2)) for a in env.agents}
                obs, rewards, terms, truncs, infos = env.step(actions)
                for a in sorted(obs):
                    steps.append({"agent": np.int64(_agent_no(a)), "obs": obs[a]["observation"],
                                  "mask": obs[a]["action_mask"], "reward": np.float64(rewards[a]),
                                  "done": np.int64(terms[a] or truncs[a]),
                                  "vector_reward": infos[a]["vector_reward"]})  # fmt: skip
        return _trajectory(steps)

    return run


def _agent_no(agent: str) -> int:
    return -1 if agent == "router" else int(agent.rsplit("_", 1)[1])


def cases() -> Iterator[tuple[str, Callable[[], dict[str, str]]]]:
    """Every golden case, by name."""
    for preset in PRESETS:
        yield f"simulate/{preset}/default", _sim(preset)
        yield f"simulate/{preset}/never_takeover", _sim(preset, supervisor=NeverTakeover())
        for spec in SUPERVISORS:
            yield f"simulate/{preset}/supervisor={spec}", _sim(preset, supervisor=spec)
        for spec in ROUTERS:
            yield f"simulate/{preset}/router={spec}", _sim(preset, router=spec)
        for env_id in (SUPERVISOR_ID, ROUTER_ID):
            yield f"{env_id}/{preset}/random", _gym(env_id, preset, None)
        yield (
            f"{SUPERVISOR_ID}/{preset}/sentiment_threshold",
            _gym(SUPERVISOR_ID, preset, "sentiment_threshold:level=-0.5"),
        )
        yield (
            f"{ROUTER_ID}/{preset}/confidence_threshold",
            _gym(ROUTER_ID, preset, "confidence_threshold"),
        )
        yield f"multi_agent.env/{preset}/random", _aec(preset)
        yield f"multi_agent.parallel_env/{preset}/random", _parallel(preset)


def compute() -> dict[str, dict[str, str]]:
    return {name: run() for name, run in cases()}


def changed(expected: dict[str, dict[str, str]], got: dict[str, dict[str, str]]) -> list[str]:
    """One line per case (and column) whose hash differs, or that is missing on either side."""
    out = []
    for name in sorted(expected.keys() | got.keys()):
        e, g = expected.get(name), got.get(name)
        if e is None or g is None:
            out.append(f"{name}: {'new' if e is None else 'missing'}")
        elif e != g:
            cols = sorted(k for k in e.keys() | g.keys() if e.get(k) != g.get(k))
            out.append(f"{name}: {', '.join(cols)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.splitlines()[0])
    p.add_argument("--update", action="store_true", help=f"rewrite {GOLDEN.name} with the current hashes")
    args = p.parse_args(argv)
    got = compute()
    if args.update:
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(got)} cases to {GOLDEN}")
        return 0
    diff = changed(json.loads(GOLDEN.read_text()), got)
    print("\n".join(diff) if diff else f"all {len(got)} cases identical")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
