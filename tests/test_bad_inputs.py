"""The bad-input battery (issue 19): several hundred bad inputs across the CLIs and the Python,
Gymnasium and PettingZoo APIs. Each must be refused: a CLI exits 2 with one ``prog: error:``
line and no traceback; an API raises ``ValueError`` (``ConfigError`` is one) or ``TypeError``
with a message, never another exception and never nothing. ``python -m tests.test_bad_inputs``
prints the counts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import hitl_env
from hitl_env.config import INF, Config
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIG = str(ROOT / "configs" / "train_supervisor.yaml")
SMALL_ENV = {"team_size": 2, "shift_hours": 1.0}


# ----------------------------------------------------------------------------- the inputs
def config_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """Per config field, values of the wrong type or outside its range (a ``load_config`` override each)."""
    for section in dataclasses.fields(Config):
        sec_type = section.type if isinstance(section.type, type) else type(getattr(Config(), section.name))
        if not dataclasses.is_dataclass(sec_type):
            continue
        for f in dataclasses.fields(sec_type):
            default = getattr(getattr(Config(), section.name), f.name)
            if isinstance(default, bool) or not isinstance(default, (int, float)):
                continue
            lo, hi = f.metadata.get("range", (-INF, INF))
            bad: list[Any] = ["x", None, [1], float("nan")]
            bad += [lo - 1] if math.isfinite(lo) else []
            bad += [hi * 10 + 1] if math.isfinite(hi) else [float("inf")]
            bad += [1.5] if f.type in (int, "int") and lo <= 1.5 <= hi else []
            for value in bad:
                yield f"{section.name}.{f.name}={value!r}", {f"{section.name}.{f.name}": value}


def api_cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    cfg = hitl_env.load_config("taobao_2024", {"experiment.workers": 4, "experiment.days_pre": 0,
                                               "experiment.days_post": 1})  # fmt: skip
    for name, overrides in config_cases():
        yield f"load_config {name}", lambda o=overrides: hitl_env.load_config("taobao_2024", o)
    for preset in ("nope", "", 3, None, Path("/nonexistent.yaml"), ROOT / "README.md", ROOT / "pyproject.toml"):
        yield f"load_config preset={preset!r}", lambda p=preset: hitl_env.load_config(p)
    for overrides in ({"nope": 1}, {"experiment.nope": 1}, {"categories.nope.weight": 1}, {3: 1}, [("a", 1)], "x",
                      {"experiment": 3}, {"experiment.workers.x": 1}):  # fmt: skip
        yield f"load_config overrides={overrides!r}", lambda o=overrides: hitl_env.load_config("taobao_2024", o)
    for seed in (-1, 1.5, "1", True, None, np.bool_(False), [1], 2**70 * -1):
        yield f"simulate seed={seed!r}", lambda s=seed: hitl_env.simulate(cfg, s)
    for n_jobs in (0, -1, 1.5, "2", True):
        yield f"simulate n_jobs={n_jobs!r}", lambda n=n_jobs: hitl_env.simulate(cfg, 0, n_jobs=n)
    for config in ("taobao_2024", None, {}, 3):
        yield f"simulate config={config!r}", lambda c=config: hitl_env.simulate(c, 0)
    for hook in (3, "x", object(), lambda v: True):
        yield f"simulate router={hook!r}", lambda h=hook: hitl_env.simulate(cfg, 0, router=h)
        yield f"simulate supervisor={hook!r}", lambda h=hook: hitl_env.simulate(cfg, 0, supervisor=h)
    yield "simulate progress=3", lambda: hitl_env.simulate(cfg, 0, progress=3)


def env_cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    from hitl_env.multi_agent import parallel_env

    bad_kwargs: list[dict[str, Any]] = [
        {"team_size": v} for v in (0, -1, 1.5, "3", None, True, 10**6)
    ] + [{"shift_hours": v} for v in (0, -1, float("nan"), float("inf"), "8", 25.0)] + [
        {"start_hour": v} for v in (-1, 24, 1.5, "9")
    ] + [{"reward_weights": v} for v in ({"nope": 1}, {"rating": float("nan")}, {"rating": "x"}, [1, 2], "x")] + [
        {"rating": v} for v in ("x", None, 3)
    ] + [{"preset": v} for v in ("nope", 3, "")] + [
        {"overrides": v} for v in ({"nope": 1}, "x", {"ai.misread": 2.0})
    ] + [{"render_mode": v} for v in ("x", 3)]  # fmt: skip
    for kwargs in bad_kwargs:
        for env_id in (SUPERVISOR_ID, ROUTER_ID) if kwargs != {"render_mode": 3} else ():
            # gym.make itself calls render_mode.endswith before the env sees it (an AttributeError)
            yield f"gym.make({env_id}, {kwargs!r})", lambda e=env_id, k=kwargs: gym.make(e, **{**SMALL_ENV, **k})
        yield f"parallel_env({kwargs!r})", lambda k=kwargs: parallel_env(**{**SMALL_ENV, **k})

    def step_with(env_id: str, action: Any) -> Any:
        env = gym.make(env_id, **SMALL_ENV)
        env.reset(seed=0)
        return env.step(action)

    def reset_with(env_id: str, seed: Any) -> Any:
        return gym.make(env_id, **SMALL_ENV).reset(seed=seed)

    def step_unreset(env_id: str) -> Any:
        return gym.make(env_id, **SMALL_ENV).unwrapped.step(0)

    def pz_step(actions: Any) -> Any:
        env = parallel_env(**SMALL_ENV)
        env.reset(seed=0)
        return env.step(actions)

    def pz_reset(seed: Any) -> Any:
        return parallel_env(**SMALL_ENV).reset(seed=seed)

    actions = (2, -1, "no", None, 0.5, [0, 1], float("nan"), np.array([0, 1]), "1", np.float32(1.0))
    for env_id in (SUPERVISOR_ID, ROUTER_ID):
        for a in actions:
            yield f"{env_id} step({a!r})", lambda e=env_id, a=a: step_with(e, a)
        for seed in (-1, True, 1.5, "0", np.bool_(True)):
            yield f"{env_id} reset(seed={seed!r})", lambda e=env_id, s=seed: reset_with(e, s)
        yield f"{env_id} step before reset", lambda e=env_id: step_unreset(e)
    for a in actions:
        yield f"parallel_env step(every agent: {a!r})", lambda a=a: pz_step({"supervisor": a, "router": a})
    for actions_ in ("x", None, [0, 1], {"nope": 0}):
        yield f"parallel_env step({actions_!r})", lambda a=actions_: pz_step(a)
    for seed in (-1, True, 1.5, "0"):
        yield f"parallel_env reset(seed={seed!r})", lambda s=seed: pz_reset(s)


def cli_cases(tmp: Path) -> Iterator[tuple[str, Callable[[list[str]], int], list[str]]]:
    from eval import bench, evaluate, rct
    from hitl_env import cli
    from train import cli as train_cli

    binary, empty, listy = tmp / "blob.yaml", tmp / "empty.yaml", tmp / "list.yaml"
    out = str(tmp / "out")
    common = [
        ["--seed", "-1"], ["--seed", "x"], ["--seed", "1.5"], ["--jobs", "0"], ["--jobs", "-2"], ["--jobs", "x"],
        ["--preset", "nope"], ["--preset", str(binary)], ["--preset", str(empty)], ["--preset", str(listy)],
        ["--preset", str(ROOT / "README.md")], ["--set", "nope=1"], ["--set", "experiment.workers=0"],
        ["--set", "experiment.workers=x"], ["--set", "=1"], ["--set", "noequals"], ["--set", "ai.misread=2"],
        ["--set", "experiment.workers=[1"], ["--set", "categories.nope.weight=1"], ["--workers", "0"],
        ["--workers", "-5"], ["--workers", "x"], ["--nope"], ["--set", "arrivals.rate_per_worker_hour=0"],
        ["--set", "experiment.team_size=0"], ["--set", "experiment.treatment_share=1.5"],
    ]  # fmt: skip
    outs = [["--out", ""], ["--out", str(tmp / "file" / "x")], ["--out", str(tmp / "full")], ["--out", "/proc/hitl"]]
    sim_only = [["--workers", "647", "--days", "30", "--set", "arrivals.rate_per_worker_hour=1e5"], ["--days", "0"],
                ["--days", "-1"], ["--days", "x"], ["--workers", "3", "--set", "experiment.workers=3"],
                ["--set", "experiment.days_pre=0", "--set", "experiment.days_post=0"]]  # fmt: skip
    rct_only = [["--seeds", "0"], ["--seeds", "-1"], ["--days-pre", "0"], ["--days-post", "0"], ["--workers", "1"],
                ["--supervisor", "nope"], ["--router", "nope"], ["--supervisor", "rule_based"],
                ["--supervisor", str(binary)], ["--supervisor", str(tmp / "missing.zip")],
                ["--supervisor", "sentiment_threshold:level=x"], ["--router", "confidence_threshold:threshold=x"],
                ["--set", "experiment.treatment_share=0"], ["--set", "arrivals.rate_per_worker_hour=1e5"]]  # fmt: skip
    eval_only = [["--policies", ""], ["--policies", "nope"], ["--policies", "random,random"], ["--policies", "(("],
                 ["--seeds", "0"], ["--bootstrap", "10"], ["--weight", "nope=1"], ["--weight", "rating=x"],
                 ["--weight", "rating"], ["--weight", "rating=nan"], ["--team-size", "0"], ["--shift-hours", "0"],
                 ["--shift-hours", "nan"], ["--start-hour", "25"], ["--rating", "x"], ["--env", "x"],
                 ["--policies", "rule_based", "--env", "supervisor"], ["--train-config", "x.yaml"],
                 ["--sweep-weights", "nope=1"], ["--sweep-weights", "rating=x", "--train-config", TRAIN_CONFIG],
                 ["--sweep-weights", "rating=1"], ["--policies", str(tmp / "missing.zip")],
                 ["--baseline", "nope"], ["--pareto-y", "x"]]  # fmt: skip
    train_sets = ["total_timesteps=0", "total_timesteps=x", "algorithm=TD3", "n_envs=0", "vec_env=x",
                  "hyperparameters.learning_rate=-1", "hyperparameters.nope=1", "hyperparameters.batch_size=100000",
                  "hyperparameters.n_steps=0", "policy_kwargs.net_arch=[0]", "policy_kwargs.activation_fn=x",
                  "env.id=nope", "env.team_size=0", "env.preset=nope", "env.overrides.nope=1", "eval_freq=-1",
                  "env.reward_weights.nope=1", "seed=-1", "checkpoint_freq=x", "nope=1"]  # fmt: skip
    bench_only = [["--repeats", "0"], ["--yardstick-customers", "0"], ["--workers", "x"]]
    sim_args = ["--workers", "6", "--days", "1", "--quiet"]
    for argv in common + sim_only + outs:
        full = argv if argv[:1] == ["--out"] else [*argv, "--out", out]
        extra = [] if any(a in argv for a in ("--days", "--workers", "experiment.days_pre=0")) else sim_args
        yield f"hitl-sim {' '.join(argv)}", cli.main, [*extra, *full]
    for argv in common + rct_only + outs:
        full = argv if argv[:1] == ["--out"] else [*argv, "--out", out]
        yield f"hitl-rct {' '.join(argv)}", rct.main, [*full, "--quiet"]
    for argv in eval_only + common[:13] + outs:
        full = argv if argv[:1] == ["--out"] else [*argv, "--out", out]
        yield f"hitl-eval {' '.join(argv)}", evaluate.main, [*full, "--quiet"]
    for item in train_sets:
        yield f"hitl-train --set {item}", train_cli.main, [TRAIN_CONFIG, "--set", item, "--out", out, "--quiet"]
    for config in (str(binary), str(empty), str(listy), str(tmp / "missing.yaml"), str(ROOT / "README.md")):
        yield f"hitl-train {config}", train_cli.main, [config, "--out", out, "--quiet"]
    for argv in (["--seed", "x"], ["--resume", str(tmp / "missing.zip")], ["--resume", str(binary)], *outs):
        full = argv if argv[:1] == ["--out"] else [*argv, "--out", out]
        yield f"hitl-train {' '.join(argv)}", train_cli.main, [TRAIN_CONFIG, *full, "--quiet"]
    for argv in common[6:13] + bench_only + outs[:2]:
        full = argv if argv[:1] == ["--out"] else [*argv, "--out", out]
        yield f"hitl-bench {' '.join(argv)}", bench.main, [*full, "--quiet"]


# ----------------------------------------------------------------------------- the checks
API = list(api_cases())
ENV = list(env_cases())


@pytest.mark.parametrize(("name", "call"), API + ENV, ids=[n for n, _ in API + ENV])
def test_api_refuses_bad_input(name: str, call: Callable[[], Any]) -> None:
    expected = (RuntimeError,) if name.endswith("step before reset") else (ValueError, TypeError)
    with pytest.raises(expected) as e:
        call()
    assert str(e.value).strip(), f"{name}: {type(e.value).__name__} without a message"


@pytest.fixture(scope="module")
def cli_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the CLI cases name: a binary, an empty and a list YAML, a non-empty folder, a file."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    (tmp / "blob.yaml").write_bytes(bytes(range(256)))
    (tmp / "empty.yaml").write_text("")
    (tmp / "list.yaml").write_text("- 1\n- 2\n")
    (tmp / "full").mkdir()
    (tmp / "full" / "summary.json").write_text("{}")
    (tmp / "file").write_text("")
    return tmp


CLI_NAMES = [name for name, _, _ in cli_cases(Path("/nonexistent"))]


@pytest.mark.parametrize("index", range(len(CLI_NAMES)), ids=CLI_NAMES)
def test_cli_refuses_bad_input(index: int, cli_tmp: Path) -> None:
    name, main, argv = list(cli_cases(cli_tmp))[index]
    shutil.rmtree(cli_tmp / "out", ignore_errors=True)  # each case starts without --out
    code, err = run_cli(main, argv)
    prog = name.split()[0]
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"{name}: exit {code}\n{err}"
    assert "Traceback" not in err and lines and lines[-1].startswith(f"{prog}: error: "), f"{name}:\n{err}"
    assert not (cli_tmp / "out").exists() or not any((cli_tmp / "out").iterdir()), f"{name} wrote into --out"


def run_cli(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return code, err.getvalue()


def counts() -> dict[str, int]:
    """How many inputs each part of the battery holds."""
    cli = [name.split()[0] for name in CLI_NAMES]
    return {"api": len(API), "gymnasium/pettingzoo": len(ENV), **{p: cli.count(p) for p in dict.fromkeys(cli)},
            "total": len(API) + len(ENV) + len(cli)}  # fmt: skip


if __name__ == "__main__":
    for part, n in counts().items():
        print(f"{part:22s} {n}")
