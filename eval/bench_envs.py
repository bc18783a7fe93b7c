"""The env rows of ``hitl-bench``: each env stepped by the loops users and RL libraries run.

Every env is stepped under four action mixes, and Gymnasium's CartPole-v1 is stepped by the
same loop with the same mix in the same run, as the yardstick:

* ``sample``: ``action_space.sample(mask=info["action_mask"])``, a random policy that respects
  the mask; CartPole, which has no mask, is stepped with ``action_space.sample()``, as its users
  do (Gymnasium's masked sampling costs about 15 us a call, plain sampling 1.5 us: the hitl envs
  pay it, CartPole not);
* ``random``: ``action_space.sample()``, the mask ignored (an RL library without masking; the
  core applies the mask, a forbidden 1 acts as 0);
* ``policy``: the paper's policies (``paper_workers`` supervises, ``rule_based`` routes;
  CartPole: the pole-angle heuristic ``int(angle + angular velocity > 0)``), through the
  ``agents`` interface ``act(obs, info)``;
* ``zero``: always action 0 (for a supervisor: never take over, the cheapest path).

The Gymnasium envs are stepped raw (``gym.make(...).unwrapped``, no checker). The PettingZoo team
env is stepped by the AEC loop (``agent_iter``, ``last``, ``step``; a step is one decision, the
dead steps at the end are in the wall time) and by the parallel loop (an action for every live
agent at each step); CartPole, single-agent, is its yardstick under the Gymnasium loop.

Each (env, mix) is timed whole (``wall``: actions, resets, steps), and inside it the seconds in
``reset`` and in ``step``. Each timed run is paired with CartPole runs of the same wall time,
next to it, ``repeats`` times, and each rate pools its runs, so a busy neighbour slows both
sides alike; the spread of the per-repeat ratios is reported beside the pooled ratio.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID

MIXES = ("sample", "random", "policy", "zero")
MIX_TEXT = {
    "sample": "action_space.sample(mask=info['action_mask']) (CartPole: action_space.sample())",
    "random": "action_space.sample(), mask ignored (a forbidden 1 acts as 0)",
    "policy": "paper's policies (paper_workers, rule_based; CartPole: angle heuristic)",
    "zero": "always 0",
}
CARTPOLE = "CartPole-v1"
GYM_LOOP = "gymnasium: reset(seed), step(a) until terminated/truncated"
AEC_LOOP = "pettingzoo AEC: agent_iter(), last(), step(a)"
PARALLEL_LOOP = "pettingzoo parallel: step({agent: a for every live agent})"
TARGETS: dict[tuple[str, str], float] = {
    (SUPERVISOR_ID, "sample"): 0.15,
    (ROUTER_ID, "sample"): 0.4,
    (ROUTER_ID, "random"): 0.4,
}
"""(env, mix): the ratio to CartPole-v1 it should reach (issue 21's must-holds)."""
RATE_TARGETS: dict[tuple[str, str], float] = {(SUPERVISOR_ID, "sample"): 20_000.0}
"""(env, mix): the steps per second it should reach on the project's 2-core machine."""

Choose = Callable[[str, Any, Mapping[str, Any]], int]  # (agent, observation, info) -> action


@dataclass
class Timing:
    """One loop's counts and seconds (summed over runs)."""

    steps: int = 0
    resets: int = 0
    wall_s: float = 0.0
    reset_s: float = 0.0
    step_s: float = 0.0

    def add(self, other: Timing) -> None:
        for k in ("steps", "resets", "wall_s", "reset_s", "step_s"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def rate(self) -> float:
        return self.steps / self.wall_s if self.wall_s > 0 else math.inf


@dataclass
class EnvRow:
    """An env under one action mix, next to CartPole-v1 stepped by the same loop and mix."""

    env: str
    api: str
    mix: str
    loop: str
    rate: float  # steps per wall second, the whole loop (actions, resets, steps)
    yardstick_rate: float  # CartPole-v1, same loop and mix, same run
    ratio: float
    ratio_min: float  # the spread of the per-repeat ratios
    ratio_max: float
    reset_ms: float  # mean seconds per reset, in ms
    reset_share: float  # of the wall time
    step_share: float  # of the wall time
    steps_per_episode: float
    steps: int
    resets: int
    seconds: float
    repeats: int
    target: float | None = None  # the ratio it should reach, where the issue sets one
    rate_target: float | None = None  # the steps/s it should reach on the project's machine
    per_repeat: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool | None:
        if self.target is None and self.rate_target is None:
            return None
        return (self.target is None or self.ratio >= self.target) and (
            self.rate_target is None or self.rate >= self.rate_target
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


# ---------------------------------------------------------------------------------------------
# Action mixes


class _PoleAngle:
    """CartPole's classic heuristic, behind the policy interface: push toward the falling side."""

    name = "pole_angle"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return int(obs[2] + obs[3] > 0.0)

    def reset(self, seed: int | None = None) -> None:
        pass


def _policies(env: str) -> dict[str, Any]:
    """The paper's policies by decision: ``route`` and ``takeover`` (the agents interface)."""
    if env == CARTPOLE:
        pole = _PoleAngle()
        return {"route": pole, "takeover": pole}
    from agents import registry

    return {"route": registry.make("rule_based"), "takeover": registry.make("paper_workers")}


def chooser(mix: str, env: str, spaces: Callable[[str], Any], seed: int) -> tuple[Choose, Callable[[int], None]]:
    """The action rule of ``mix`` for ``env`` and what to call at each reset (with the episode's seed).

    ``spaces(agent)`` is the agent's action space (seeded here, for ``sample``).
    """
    if mix == "zero":
        return (lambda agent, obs, info: 0), (lambda s: None)
    if mix in ("sample", "random"):
        seeded: set[str] = set()
        masked = mix == "sample"

        def sample(agent: str, obs: Any, info: Mapping[str, Any]) -> int:
            space = spaces(agent)
            if agent not in seeded:
                space.seed(seed + len(seeded))
                seeded.add(agent)
            return int(space.sample(mask=info.get("action_mask") if masked else None))  # CartPole: no mask

        return sample, (lambda s: None)
    if mix == "policy":
        pol = _policies(env)
        router, supervisor = pol["route"], pol["takeover"]
        default = router if env.startswith("hitl_env/Router") else supervisor

        def act(agent: str, obs: Any, info: Mapping[str, Any]) -> int:
            p = router if agent == "router" else (supervisor if agent.startswith("supervisor_") else default)
            return int(p.act(obs, info))

        def reset(s: int) -> None:
            router.reset(s)
            supervisor.reset(s)

        return act, reset
    raise ValueError(f"unknown action mix {mix!r}; mixes: {', '.join(MIXES)}")


# ---------------------------------------------------------------------------------------------
# Loops


def gym_loop(env: Any, choose: Choose, on_reset: Callable[[int], None], steps: int, seed: int) -> Timing:
    """``steps`` steps of a Gymnasium env (reset with seed+episode at each episode end), timed."""
    clock, reset_s, step_s = time.perf_counter, 0.0, 0.0
    t_start = clock()
    episode = 0
    on_reset(seed)
    obs, info = env.reset(seed=seed)
    reset_s += clock() - t_start
    for _ in range(steps):
        action = choose("agent", obs, info)
        t = clock()
        obs, _, terminated, truncated, info = env.step(action)
        step_s += clock() - t
        if terminated or truncated:
            episode += 1
            on_reset(seed + episode)
            t = clock()
            obs, info = env.reset(seed=seed + episode)
            reset_s += clock() - t
    return Timing(steps, episode + 1, clock() - t_start, reset_s, step_s)


def aec_loop(env: Any, choose: Choose, on_reset: Callable[[int], None], steps: int, seed: int) -> Timing:
    """``steps`` decisions of a PettingZoo AEC env by ``agent_iter``/``last``/``step``, timed."""
    clock, reset_s, step_s = time.perf_counter, 0.0, 0.0
    t_start = clock()
    done = episode = 0
    while done < steps:
        on_reset(seed + episode)
        t = clock()
        env.reset(seed=seed + episode)
        reset_s += clock() - t
        episode += 1
        for agent in env.agent_iter():
            obs, _, terminated, truncated, info = env.last()
            if terminated or truncated:
                action = None
            elif done == steps:
                break
            else:
                action = choose(agent, obs["observation"], info)
                done += 1
            t = clock()
            env.step(action)
            step_s += clock() - t
    return Timing(done, episode, clock() - t_start, reset_s, step_s)


def parallel_loop(env: Any, choose: Choose, on_reset: Callable[[int], None], steps: int, seed: int) -> Timing:
    """``steps`` steps of a PettingZoo parallel env (an action for every live agent), timed."""
    clock, reset_s, step_s = time.perf_counter, 0.0, 0.0
    t_start = clock()
    episode = 0
    on_reset(seed)
    obs, infos = env.reset(seed=seed)
    reset_s += clock() - t_start
    for _ in range(steps):
        actions = {a: choose(a, obs[a]["observation"], infos[a]) for a in env.agents}
        t = clock()
        obs, _, _, _, infos = env.step(actions)
        step_s += clock() - t
        if not env.agents:
            episode += 1
            on_reset(seed + episode)
            t = clock()
            obs, infos = env.reset(seed=seed + episode)
            reset_s += clock() - t
    return Timing(steps, episode + 1, clock() - t_start, reset_s, step_s)


# ---------------------------------------------------------------------------------------------
# The envs


@dataclass
class Subject:
    """An env to time: how to build it, its API, its loop and its action spaces."""

    name: str
    api: str
    loop_text: str
    build: Callable[[], Any]
    loop: Callable[[Any, Choose, Callable[[int], None], int, int], Timing]


def _gym(env_id: str) -> Callable[[], Any]:
    def build() -> Any:
        import gymnasium as gym

        import hitl_env.envs  # noqa: F401  (registers the ids)

        return gym.make(env_id, disable_env_checker=True).unwrapped

    return build


def subjects() -> list[Subject]:
    """The envs ``hitl-bench`` times: CartPole-v1 (the yardstick) first."""
    from hitl_env import multi_agent

    return [
        Subject(CARTPOLE, "gymnasium", GYM_LOOP, _gym(CARTPOLE), gym_loop),
        Subject(SUPERVISOR_ID, "gymnasium", GYM_LOOP, _gym(SUPERVISOR_ID), gym_loop),
        Subject(ROUTER_ID, "gymnasium", GYM_LOOP, _gym(ROUTER_ID), gym_loop),
        Subject("hitl_team_v3 (AEC)", "pettingzoo AEC", AEC_LOOP, multi_agent.env, aec_loop),
        Subject(
            "hitl_team_v3 (parallel)", "pettingzoo parallel", PARALLEL_LOOP, multi_agent.parallel_env, parallel_loop
        ),
    ]


def _spaces(env: Any) -> Callable[[str], Any]:
    if hasattr(env, "action_space") and not callable(env.action_space):
        return lambda agent: env.action_space
    return env.action_space


def time_subject(subject: Subject, env: Any, mix: str, steps: int, seed: int) -> Timing:
    """One timed run of ``subject`` (built as ``env``) under ``mix``."""
    choose, on_reset = chooser(mix, subject.name, _spaces(env), seed)
    return subject.loop(env, choose, on_reset, steps, seed)


def time_for(subject: Subject, env: Any, mix: str, seconds: float, chunk: int, seed: int) -> Timing:
    """Runs of ``chunk`` steps of ``subject`` under ``mix`` until ``seconds`` of wall time have passed."""
    total = Timing()
    while True:
        total.add(time_subject(subject, env, mix, chunk, seed))
        if total.wall_s >= seconds:
            return total


def env_table(
    steps: int, repeats: int, seed: int, mixes: tuple[str, ...] = MIXES, log: Callable[[str], None] | None = None
) -> list[EnvRow]:
    """Every env under every mix, each run paired with a CartPole-v1 run under the same loop and mix.

    Each env is built once and warmed up (one short run, untimed) before any timing. Each timed
    run of ``steps`` steps is paired with CartPole runs that last as long (in chunks of up to
    2,000 steps), CartPole first in odd repeats and second in even ones, so a neighbour's burst
    weighs on both sides of a ratio alike. A row's yardstick rate pools its own pairs; the
    CartPole rows pool every CartPole run of their mix.
    """
    subs = subjects()
    pole, others = subs[0], subs[1:]
    envs = {s.name: s.build() for s in subs}
    for s in subs:  # warm-up: imports, the compiled loop, first-call caches
        for mix in mixes:
            time_subject(s, envs[s.name], mix, min(steps, 200), seed)
    measured = {(s.name, mix): Timing() for s in subs for mix in mixes}
    yardstick = {k: Timing() for k in measured}
    ratios: dict[tuple[str, str], list[float]] = {k: [] for k in measured}
    chunk = max(1, min(steps, 2000))
    for r in range(repeats):
        for mix in mixes:
            for s in others:
                run_seed = seed + 1000 * r
                if r % 2 == 0:
                    y = time_for(pole, envs[pole.name], mix, 0.0, chunk, run_seed)
                    t = time_subject(s, envs[s.name], mix, steps, run_seed)
                    y.add(time_for(pole, envs[pole.name], mix, t.wall_s - y.wall_s, chunk, run_seed))
                else:
                    t = time_subject(s, envs[s.name], mix, steps, run_seed)
                    y = time_for(pole, envs[pole.name], mix, t.wall_s, chunk, run_seed)
                measured[(s.name, mix)].add(t)
                yardstick[(s.name, mix)].add(y)
                measured[(pole.name, mix)].add(y)
                ratios[(s.name, mix)].append(t.rate / y.rate)
                if log:
                    log(f"  {s.name} [{mix}] repeat {r + 1}: {t.steps:,} steps in {t.wall_s:.2f} s ({t.rate:,.0f}/s); "
                        f"CartPole {y.rate:,.0f}/s; ratio {t.rate / y.rate:.3f}")  # fmt: skip
    rows = []
    for mix in mixes:
        for s in subs:
            y = yardstick[(s.name, mix)] if s is not pole else measured[(s.name, mix)]
            rows.append(_row(s, mix, measured[(s.name, mix)], y, ratios[(s.name, mix)] or [1.0], repeats))
    return rows


def _row(s: Subject, mix: str, t: Timing, pole: Timing, per_repeat: list[float], repeats: int) -> EnvRow:
    wall = t.wall_s or math.inf
    return EnvRow(
        env=s.name,
        api=s.api,
        mix=mix,
        loop=s.loop_text if s.name != CARTPOLE else GYM_LOOP,
        rate=t.rate,
        yardstick_rate=pole.rate,
        ratio=t.rate / pole.rate,
        ratio_min=min(per_repeat),
        ratio_max=max(per_repeat),
        reset_ms=1000.0 * t.reset_s / max(t.resets, 1),
        reset_share=t.reset_s / wall,
        step_share=t.step_s / wall,
        steps_per_episode=t.steps / max(t.resets, 1),
        steps=t.steps,
        resets=t.resets,
        seconds=t.wall_s,
        repeats=repeats,
        target=TARGETS.get((s.name, mix)),
        rate_target=RATE_TARGETS.get((s.name, mix)),
        per_repeat=[round(x, 4) for x in per_repeat],
    )


def format_env_table(rows: list[EnvRow]) -> str:
    """Plain aligned text, one line per (env, mix); the loops are named under the table."""
    head = ["env", "mix", "loop", "steps/s", "CartPole same loop", "ratio", "spread", "reset ms", "reset %",
            "step %", "steps/ep", "target", "status"]  # fmt: skip
    loops = {GYM_LOOP: "gym", AEC_LOOP: "AEC", PARALLEL_LOOP: "parallel"}
    body = []
    for r in rows:
        target = " ".join(
            t
            for t in (f">= {r.target:g}x" if r.target else "", f">= {r.rate_target:,.0f}/s" if r.rate_target else "")
            if t
        )
        status = {None: "-", True: "OK", False: "below"}[r.ok]
        body.append([
            r.env, r.mix, loops[r.loop], f"{r.rate:,.0f}", f"{r.yardstick_rate:,.0f}", f"{r.ratio:.3f}",
            f"{r.ratio_min:.3f}-{r.ratio_max:.3f}", f"{r.reset_ms:.3f}", f"{100 * r.reset_share:.0f}",
            f"{100 * r.step_share:.0f}", f"{r.steps_per_episode:,.1f}", target or "-", status,
        ])  # fmt: skip
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    numeric = {3, 4, 5, 6, 7, 8, 9, 10}

    def fmt(line: list[str]) -> str:
        cells = (c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths).rstrip()
    legend = [f"  {short}: {text}" for text, short in loops.items()]
    mixes = [f"  {m}: {MIX_TEXT[m]}" for m in dict.fromkeys(r.mix for r in rows)]
    notes = [
        "loops (each row's yardstick: CartPole-v1 under the gym loop with the same mix, timed for as long, beside it):",
        *legend,
        "mixes:",
        *mixes,
        "steps/s: steps over the loop's whole wall time (actions, resets, steps); reset % and step %: the shares",
        "of that wall time inside reset() and step(); spread: the lowest and highest per-repeat ratio.",
    ]
    return "\n".join([fmt(head), rule, *(fmt(line) for line in body), *notes])
