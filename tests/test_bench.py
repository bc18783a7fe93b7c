"""The ``hitl-bench`` command on a tiny budget."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from eval import bench, bench_e2e, bench_envs
from hitl_env.config import parse_overrides
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID

TINY = [
    "--workers",
    "10",
    "--set",
    "experiment.days_pre=2",
    "--set",
    "experiment.days_post=1",
    "--yardstick-customers",
    "5000",
    "--env-steps",
    "0",
    "--train-steps",
    "0",
    "--repeats",
    "1",
    "--quiet",
]
TINY_TRAIN = ["n_envs=1", "vec_env=dummy", "hyperparameters.n_steps=64", "hyperparameters.batch_size=32"]


def test_bench_writes_rates_and_ratio(tmp_path, capsys):
    assert bench.main([*TINY, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["workers"] == 10 and report["days"] == 3 and report["full"] is False
    [row] = report["rows"]
    for key in ("rate", "yardstick_rate", "ratio", "seconds"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row[key])
    assert row["ratio"] == pytest.approx(row["rate"] / row["yardstick_rate"], rel=1e-12)
    assert row["rate"] == pytest.approx(row["count"] / row["seconds"], rel=1e-12)
    # 10 workers x 3 days at ~11 arrivals per worker-hour over a 3 h shift: hundreds of chats
    assert 300 < row["count"] < 3000
    assert row["target"] == bench.RATIO_TARGET
    assert row["ok"] is (row["ratio"] >= row["target"])
    assert report["ok"] is row["ok"]
    out = capsys.readouterr().out
    assert "SimPy M/M/10" in out and "chats/s" in out and "customers/s" in out
    assert f"{row['ratio']:.3f}" in out


def test_simpy_yardstick_serves_every_customer():
    served, seconds = bench.simpy_mmc(2000, seed=1)
    assert served == 2000 and seconds > 0


def test_fail_below_exit_code(monkeypatch):
    monkeypatch.setattr(bench, "RATIO_TARGET", 1e9)  # no machine reaches it
    assert bench.main([*TINY, "--fail-below"]) == 1
    assert bench.main(TINY) == 0  # without --fail-below a miss is only reported
    monkeypatch.setattr(bench, "RATIO_TARGET", 0.0)
    assert bench.main([*TINY, "--fail-below"]) == 0


def test_make_row_ratio():
    row = bench.make_row("x", "chats/s", 10, 2.0, "y", "customers/s", 100.0, 0.5)
    assert row.rate == 5.0 and row.ratio == pytest.approx(0.05) and not row.ok
    assert bench.make_row("x", "chats/s", 100, 1.0, "y", "customers/s", 100.0, 0.5).ok


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--set", "experiment.bogus_key=3"], "bogus_key"),
        (["--set", "experiment.workers=0"], "workers"),
        (["--set", "nonsense"], "nonsense"),
        (["--preset", "no_such_preset"], "no_such_preset"),
        (["--workers", "5", "--set", "experiment.workers=7"], "--workers and --set experiment.workers set the same"),
    ],
)
def test_config_errors_exit_2(argv, needle, capsys):
    assert bench.main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-bench: error:") and needle in err
    assert "\n" not in err and "Traceback" not in err


def test_env_table_times_every_env_and_mix_against_cartpole(tmp_path, capsys):
    argv = [*TINY, "--env-steps", "150", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())["env_rows"]
    envs = [bench_envs.CARTPOLE, SUPERVISOR_ID, ROUTER_ID, "hitl_team_v3 (AEC)", "hitl_team_v3 (parallel)"]
    assert [(r["env"], r["mix"]) for r in rows] == [(e, m) for m in bench_envs.MIXES for e in envs]
    by = {(r["env"], r["mix"]): r for r in rows}
    for row in rows:
        assert row["resets"] >= 1 and row["repeats"] == 1 and row["yardstick_rate"] > 0
        if row["env"] == bench_envs.CARTPOLE:  # every run paired with one of the 4 envs, each as long as that run
            assert row["steps"] >= 4 * 150 and row["ratio"] == 1.0
        else:
            assert row["steps"] == 150 and row["per_repeat"] == [round(row["ratio"], 4)]
        assert row["ratio"] == pytest.approx(row["rate"] / row["yardstick_rate"], rel=1e-12)
        assert row["ratio_min"] <= row["ratio"] * (1 + 1e-9) and row["ratio"] <= row["ratio_max"] * (1 + 1e-9)
        assert row["step_share"] > 0 and row["reset_share"] > 0 and row["step_share"] + row["reset_share"] <= 1
        assert row["reset_ms"] > 0 and row["steps_per_episode"] == pytest.approx(row["steps"] / row["resets"])
    assert by[(bench_envs.CARTPOLE, "zero")]["resets"] > 5  # always pushing left drops the pole in ~10 steps
    assert by[(SUPERVISOR_ID, "sample")]["target"] == 0.15 and by[(SUPERVISOR_ID, "sample")]["rate_target"] == 20_000
    assert by[(ROUTER_ID, "sample")]["target"] == by[(ROUTER_ID, "random")]["target"] == 0.4
    assert by[(ROUTER_ID, "zero")]["ok"] is None
    assert {r["loop"] for r in rows} == {bench_envs.GYM_LOOP, bench_envs.AEC_LOOP, bench_envs.PARALLEL_LOOP}
    out = capsys.readouterr().out
    assert "CartPole same loop" in out and bench_envs.AEC_LOOP in out and "reset %" in out


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID])
def test_sample_mix_respects_the_mask_and_uses_both_actions(env_id):
    subject = next(s for s in bench_envs.subjects() if s.name == env_id)
    env = subject.build()
    choose, on_reset = bench_envs.chooser("sample", env_id, lambda agent: env.action_space, seed=0)
    seen = []

    def checked(agent, obs, info):
        action = choose(agent, obs, info)
        seen.append((action, tuple(info["action_mask"])))
        return action

    timing = bench_envs.gym_loop(env, checked, on_reset, 400, seed=0)
    assert timing.steps == len(seen) == 400
    assert all(mask[action] == 1 for action, mask in seen)
    assert {a for a, _ in seen} == {0, 1}


def test_random_mix_ignores_the_routers_mask():
    env = next(s for s in bench_envs.subjects() if s.name == ROUTER_ID).build()
    choose, on_reset = bench_envs.chooser("random", ROUTER_ID, lambda agent: env.action_space, seed=0)
    seen = []

    def recorded(agent, obs, info):
        action = choose(agent, obs, info)
        seen.append(info["action_mask"][action])
        return action

    bench_envs.gym_loop(env, recorded, on_reset, 400, seed=0)
    assert 0 in seen  # some 1s where the category may not go to the AI (the core turns them into 0)


def test_policy_mix_acts_like_the_paper_policies():
    from agents import registry

    choose, _ = bench_envs.chooser("policy", ROUTER_ID, lambda agent: None, seed=0)
    env = next(s for s in bench_envs.subjects() if s.name == ROUTER_ID).build()
    obs, info = env.reset(seed=3)
    rule = registry.make("rule_based")
    for _ in range(50):
        assert choose("agent", obs, info) == rule.act(obs, info)
        obs, _, _, _, info = env.step(choose("agent", obs, info))
    with pytest.raises(ValueError, match="unknown action mix"):
        bench_envs.chooser("nope", ROUTER_ID, lambda agent: None, seed=0)


def test_aec_loop_counts_decisions_and_resets():
    subject = next(s for s in bench_envs.subjects() if s.api == "pettingzoo AEC")
    env = subject.build()
    timing = bench_envs.time_subject(subject, env, "zero", 2500, seed=0)
    assert timing.steps == 2500 and timing.resets >= 2  # a shift is ~700 decisions
    assert timing.wall_s >= timing.step_s + timing.reset_s > 0


def test_train_rows_against_sb3_cartpole():
    rows = bench_e2e.train_rows(bench_e2e.TRAIN_CONFIG, parse_overrides(TINY_TRAIN), 128, 1)
    pole, hitl = rows
    assert pole.env == "CartPole-v1" and pole.algorithm == "PPO" and pole.ratio is None
    assert hitl.env == SUPERVISOR_ID and hitl.algorithm == "MaskablePPO"
    for r in rows:
        assert r.steps == 128 and r.runs == 1 and r.seconds > 0 and 0 < r.env_share < 1
        assert r.rate == pytest.approx(r.steps / r.seconds)
    assert hitl.ratio == pytest.approx(hitl.rate / pole.rate)
    assert "env share" in bench_e2e.format_train_table(rows)


def test_train_config_errors_exit_2(capsys):
    assert bench.main([*TINY[:-5], "--train-set", "n_envs=0", "--quiet"]) == 2
    assert "n_envs" in capsys.readouterr().err


def test_run_command_reports_wall_time_memory_and_failure(tmp_path):
    row = bench_e2e.run_command(
        "sim", "hitl_env.cli", ["--workers", "6", "--days", "1", "--out", str(tmp_path), "--quiet"]
    )
    assert row.returncode == 0 and row.seconds > 0 and 30 < row.peak_mb < 4000 and row.ok is None
    assert (tmp_path / "summary.json").is_file()  # the child ran this checkout's hitl-sim
    bad = bench_e2e.run_command("bad", "hitl_env.cli", ["--workers", "0", "--out", str(tmp_path / "b")], budget_s=60)
    assert bad.returncode == 2 and bad.ok is False


def test_all_runs_the_full_scale_commands(tmp_path, monkeypatch):
    calls = []

    def fake(name, module, args, budget_s=None):
        calls.append((module, args))
        return bench_e2e.CommandRow(name, [module, *args], 1.0, 100.0, 0, budget_s)

    monkeypatch.setattr(bench_e2e, "run_command", fake)
    monkeypatch.setattr(bench, "full_scale_row", lambda cfg, args: bench.ratio_row(cfg, args))
    assert bench.main([*TINY, "--all", "--out", str(tmp_path)]) == 0
    assert [m for m, _ in calls] == ["hitl_env.cli", "eval.rct", "eval.rct"]
    assert "--seeds" not in calls[1][1] and calls[2][1][2:5] == ["--seeds", "20", "--no-records"]
    report = json.loads((tmp_path / "bench.json").read_text())
    budgets = [r["budget_s"] for r in report["command_rows"]]
    assert budgets == [None, bench.RCT_ONE_SEED_BUDGET_S, 20 * bench.RCT_SEED_BUDGET_S] and report["full"] is True


# ------------------------------------------------------------------ the faster reset and step (issue 21, item 3)
def _team(seed: int = 0):
    import gymnasium as gym

    from hitl_env.envs.base import Defer, build_episode

    env = gym.make(SUPERVISOR_ID, disable_env_checker=True).unwrapped
    return env, build_episode(env.cfg, np.random.default_rng(seed), None, Defer())


def test_teams_share_the_compiled_entry_points_by_layout():
    from hitl_env.sim import team

    _, a = _team(0)
    n = len(team._ENTRY_POINTS)
    _, b = _team(1)
    assert len(team._ENTRY_POINTS) == n  # the second team reuses the first one's machine code
    assert a._advance is b._advance and a._resume is b._resume and a._answer is b._answer
    assert team._layout(a.state) == team._layout(b.state)
    fortran = a.state._replace(XF=np.asfortranarray(a.state.XF))
    readonly = a.state.BU.copy()
    readonly.flags.writeable = False
    for other in (fortran, a.state._replace(BU=readonly), a.state._replace(S=a.state.S.astype(np.int32))):
        assert team._layout(other) != team._layout(a.state)  # another numba type: never the cached code


def test_refill_puts_a_new_block_before_the_rows_left():
    from hitl_env.sim import kernel as K
    from hitl_env.sim.team import BLOCK_ROWS

    _, sim = _team(2)
    twin = np.random.default_rng()
    twin.bit_generator.state = sim.rng.bit_generator.state
    for left in (0, 5):
        before = np.hstack([sim.state.BN, sim.state.BU, sim.state.BE])
        sim.state.S[K.s.b_left] = min(left, len(before))
        kept = before[: sim.state.S[K.s.b_left]]
        sim._refill()
        block = np.hstack([twin.standard_normal((BLOCK_ROWS, 2)), twin.random((BLOCK_ROWS, 6)),
                           twin.standard_exponential((BLOCK_ROWS, 2))])  # fmt: skip
        expected = np.vstack([block, kept])
        st = sim.state
        assert np.array_equal(np.hstack([st.BN, st.BU, st.BE]), expected)
        assert all(a.flags.c_contiguous for a in (st.BN, st.BU, st.BE))
        assert sim.state.S[K.s.b_left] == len(expected)


def test_numpy_integer_actions_step_like_python_ints():
    env_a, _ = _team()
    env_b, _ = _team()
    obs_a, info = env_a.reset(seed=4)
    obs_b, _ = env_b.reset(seed=4)
    for i in range(60):
        action = int(info["action_mask"][1] and i % 3 == 0)
        obs_a, r_a, done_a, _, info = env_a.step(action)
        obs_b, r_b, done_b, _, _ = env_b.step(np.int64(action))
        assert np.array_equal(obs_a, obs_b) and r_a == r_b and done_a == done_b
        if done_a:
            break
    for bad in (np.int64(2), np.int64(-1), 2, 0.5):
        with pytest.raises(ValueError, match="action must be 0 or 1"):
            env_b.step(bad)
