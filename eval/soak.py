"""The soak and overload runs of the README's Reliability section (not run by CI).

``python -m eval.soak --steps 10000000`` steps ``Supervisor-v2`` with random actions, resetting
at each episode end, and samples the process's resident memory (RSS) every ``--every`` steps;
it reports the RSS after warm-up (the first 10% of the steps), at the end, and the growth
between them. ``--overload`` also simulates a small operation at arrival rates 1x to 1000x the
preset's and checks chat conservation: every chat drawn is in the records once, closed, and
never both resolved and abandoned; it reports chats, records and time per rate. Prints one JSON object (strict
JSON) and, with ``--out FILE``, writes it there atomically.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def rss_mb() -> float:
    """The resident memory of this process now, in MB (Linux: /proc/self/statm)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def soak(steps: int, every: int, seed: int = 0) -> dict[str, Any]:
    """``steps`` random-action steps of ``Supervisor-v2``; the RSS samples and their growth."""
    import gymnasium as gym

    import hitl_env  # noqa: F401  (registers the envs)
    from hitl_env.envs import SUPERVISOR_ID

    env = gym.make(SUPERVISOR_ID)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    samples: list[tuple[int, float]] = []
    episodes, t0 = 0, time.perf_counter()
    for i in range(1, steps + 1):
        _, _, terminated, truncated, _ = env.step(int(rng.random() < 0.3))
        if terminated or truncated:
            episodes += 1
            env.reset()
        if i % every == 0:
            samples.append((i, rss_mb()))
    runtime = time.perf_counter() - t0
    warm = next((mb for s, mb in samples if s >= steps // 10), samples[0][1])
    end = samples[-1][1]
    return {"env": SUPERVISOR_ID, "steps": steps, "episodes": episodes, "runtime_s": runtime,
            "steps_per_s": steps / runtime, "rss_after_warmup_mb": warm, "rss_end_mb": end,
            "rss_max_mb": max(mb for _, mb in samples), "rss_growth": (end - warm) / warm,
            "samples": samples}  # fmt: skip


def overload(factors: list[float], workers: int = 10, seed: int = 0) -> list[dict[str, Any]]:
    """Simulate ``workers`` workers for one day at each multiple of the preset's arrival rate."""
    import hitl_env
    from hitl_env.sim.run import build_team, team_jobs, team_records

    rows = []
    base = hitl_env.load_config("taobao_2024").arrivals.rate_per_worker_hour
    for f in factors:
        cfg = hitl_env.load_config(
            "taobao_2024",
            {
                "experiment.workers": workers,
                "experiment.days_pre": 0,
                "experiment.days_post": 1,
                "arrivals.rate_per_worker_hour": base * f,
            },
        )
        t0 = time.perf_counter()
        drawn = records = closed = both = 0
        for job in team_jobs(cfg, seed):
            sim = build_team(job)
            drawn += len(sim.C)  # the chats drawn for the team
            sim.run()
            df = team_records(sim, job)
            records += len(df)
            closed += int(df["end_s"].notna().sum())
            both += int((df["resolved"] & df["abandoned"]).sum())
        rows.append(
            {
                "rate_factor": f,
                "chats_drawn": drawn,
                "records": records,
                "closed": closed,
                "conserved": drawn == records == closed and both == 0,
                "runtime_s": time.perf_counter() - t0,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.soak", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10_000_000, help="Supervisor-v2 steps (default 10^7)")
    p.add_argument("--every", type=int, default=100_000, help="steps between RSS samples (default 10^5)")
    p.add_argument("--overload", action="store_true", help="also the overload runs (1x to 1000x arrivals)")
    p.add_argument("--out", type=Path, help="write the report (JSON) here")
    args = p.parse_args(argv)
    if args.steps < 1 or not 1 <= args.every <= args.steps:
        p.error("--steps must be positive and --every between 1 and --steps")
    from hitl_env.io import dumps, write_json

    report: dict[str, Any] = {"soak": soak(args.steps, args.every)}
    if args.overload:
        report["overload"] = overload([1, 10, 100, 1000])
    print(dumps({**report, "soak": {k: v for k, v in report["soak"].items() if k != "samples"}}), end="")
    if args.out is not None:
        write_json(args.out, report)
    ok = report["soak"]["rss_growth"] < 0.05 and all(r["conserved"] for r in report.get("overload", []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
