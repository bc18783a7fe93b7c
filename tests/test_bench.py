"""The ``hitl-bench`` command on a tiny budget."""

from __future__ import annotations

import json
import math

import pytest

from eval import bench
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
    "--quiet",
]


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


def test_env_rows_time_both_envs_against_cartpole(tmp_path):
    argv = [*TINY[:-3], "--env-steps", "300", "--quiet", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    env_rows = [r for r in rows if r["yardstick"] == "CartPole-v1"]
    assert [r["name"] for r in env_rows] == [f"{SUPERVISOR_ID} raw step", f"{ROUTER_ID} raw step"]
    for row in env_rows:
        assert row["count"] == 300 and row["unit"] == "steps/s" and row["target"] == 0.1
        assert row["ratio"] == pytest.approx(row["rate"] / row["yardstick_rate"], rel=1e-12)
