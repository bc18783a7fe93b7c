"""``hitl-bench --rllib``: RLlib's env steps per second with 1 and 2 env runners, next to SB3's, same env.

All three learners train PPO on ``Supervisor-v2`` at the main job's settings (a team of 10, 8-hour
shifts; ``configs/train_supervisor.yaml`` and ``configs/rllib_supervisor.yaml``) with the same
batch: ``--rllib-batch`` steps an update (SB3: ``n_steps`` = batch / 2 on each of its 2 subprocess
envs), minibatches of 256, 10 epochs, a [64, 64] tanh network, torch on one thread in the
learner. SB3 is ``hitl-train``'s own loop (MaskablePPO, :func:`eval.bench_e2e.run_hitl_train`);
RLlib is ``hitl-train``'s ``backend: rllib`` config (PPO with the action-masking module) in one
local Ray session. A rate is env steps over the wall time of training (SB3: ``learn``; RLlib:
``train()`` calls after the first, which also starts the sampling), so it covers sampling and
updates alike; RLlib's start (Ray, the env runner actors, the first iteration) is reported apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from eval.bench_e2e import ROOT, run_hitl_train, train_config

RLLIB_CONFIG = ROOT / "configs" / "rllib_supervisor.yaml"
SB3_CONFIG = ROOT / "configs" / "train_supervisor.yaml"
MINIBATCH, EPOCHS = 256, 10


@dataclass
class RLlibRow:
    """One learner's training rate on the env."""

    name: str
    env: str
    env_runners: int | None  # None: SB3
    steps: int
    seconds: float
    startup_s: float | None = None  # RLlib: Ray, actors and the first iteration (not in the rate)
    rate: float = 0.0
    ratio: float | None = None  # rate over SB3's

    def __post_init__(self) -> None:
        self.rate = self.steps / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rllib_config(runners: int, batch: int, iterations: int) -> Any:
    """``configs/rllib_supervisor.yaml`` with ``runners`` env runners and the benchmark's batch."""
    from train.config import load_train_config

    return load_train_config(RLLIB_CONFIG, {
        "num_env_runners": runners, "iterations": iterations, "hyperparameters.train_batch_size_per_learner": batch,
        "hyperparameters.minibatch_size": MINIBATCH, "hyperparameters.num_epochs": EPOCHS, "tune": {},
    })  # fmt: skip


def run_rllib(cfg: Any) -> tuple[int, float, float]:
    """Train ``cfg.iterations`` iterations; (env steps after the first, their seconds, startup seconds)."""
    import torch

    from train.rllib import algo_config

    torch.set_num_threads(cfg.torch_threads)
    t0 = time.perf_counter()
    algo = algo_config(cfg).build_algo()
    try:
        first = algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
        t1 = time.perf_counter()
        for _ in range(cfg.iterations - 1):
            last = algo.train()["env_runners"]["num_env_steps_sampled_lifetime"]
        return int(last - first), time.perf_counter() - t1, t1 - t0
    finally:
        algo.stop()


def rllib_rows(batch: int = 2048, iterations: int = 4, log: Callable[[str], None] | None = None) -> list[RLlibRow]:
    """SB3 (``hitl-train``'s loop), then RLlib with 1 and 2 env runners, each ``iterations`` updates of ``batch``."""
    from train.rllib import init_ray

    same = {"hyperparameters.n_steps": batch // 2, "hyperparameters.batch_size": MINIBATCH,
            "hyperparameters.n_epochs": EPOCHS, "n_envs": 2}  # fmt: skip
    sb3_cfg = train_config(SB3_CONFIG, same, (iterations - 1) * batch)
    steps, seconds, _ = run_hitl_train(sb3_cfg)
    sb3 = RLlibRow(f"SB3 {sb3_cfg.algorithm}, 2 subprocess envs (hitl-train)", sb3_cfg.env.id, None, steps, seconds)
    if log:
        log(f"  {sb3.name}: {steps:,} steps in {seconds:.2f} s ({sb3.rate:,.0f}/s)")
    rows = [sb3]
    init_ray(rllib_config(2, batch, iterations))
    for runners in (1, 2):
        cfg = rllib_config(runners, batch, iterations)
        steps, seconds, startup = run_rllib(cfg)
        row = RLlibRow(f"RLlib PPO, {runners} env runner{'s' if runners > 1 else ''}", cfg.env.id, runners, steps,
                       seconds, round(startup, 2))  # fmt: skip
        row.ratio = row.rate / sb3.rate
        rows.append(row)
        if log:
            log(f"  {row.name}: {steps:,} steps in {seconds:.2f} s ({row.rate:,.0f}/s), start {startup:.1f} s")
    return rows


def format_rllib_table(rows: list[RLlibRow]) -> str:
    """The rows as a text table."""
    lines = [f"{'learner':<50} {'env':<24} {'steps':>7} {'steps/s':>8} {'vs SB3':>7} {'start':>7}"]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        start = "" if r.startup_s is None else f"{r.startup_s:.1f} s"
        lines.append(f"{r.name:<50} {r.env:<24} {r.steps:>7,} {r.rate:>8,.0f} {ratio:>7} {start:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.bench_rllib [BATCH [ITERATIONS]]``: the table alone."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    rows = rllib_rows(*(int(a) for a in args[:2]), log=lambda m: print(m, file=sys.stderr))
    print(format_rllib_table(rows))
    import ray

    ray.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
