"""Conventions every command shares: a bad ``--out`` is a usage error before any work."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from eval import bench, evaluate, rct
from hitl_env import cli
from hitl_env.cli import output_dir
from train import cli as train_cli

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, tuple[Callable[[list[str]], int], list[str]]] = {
    "hitl-sim": (cli.main, []),
    "hitl-rct": (rct.main, []),
    "hitl-eval": (evaluate.main, ["--policies", "random"]),
    "hitl-train": (train_cli.main, [str(ROOT / "configs" / "train_supervisor.yaml")]),
    "hitl-bench": (bench.main, []),
}


def test_output_dir_accepts_existing_and_new_directories(tmp_path: Path) -> None:
    assert output_dir(str(tmp_path)) == tmp_path
    assert output_dir(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking creates nothing


def test_output_dir_refuses_a_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(argparse.ArgumentTypeError, match=r"cannot be a directory$"):
        output_dir(str(tmp_path / "f"))
    with pytest.raises(argparse.ArgumentTypeError, match=r"cannot be a directory \('.*f' is a file\)"):
        output_dir(str(tmp_path / "f" / "out"))


@pytest.mark.parametrize("prog", list(COMMANDS))
def test_an_out_under_a_file_is_a_usage_error(prog: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main, args = COMMANDS[prog]
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(tmp_path / "f" / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"{prog}: error: argument --out: ") and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


# ------------------------------------------------------------------------------ hitl-sim
SIM = ["--workers", "12", "--days", "3", "--jobs", "1", "--quiet"]


def test_sim_writes_records_and_a_summary_that_agree(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main([*SIM, "--seed", "3", "--out", str(tmp_path)]) == 0
    df = pd.read_parquet(tmp_path / "records.parquet")
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["preset"] == "taobao_2024" and s["seed"] == 3 and s["n_workers"] == 12
    assert s["n_chats"] == len(df) > 1000 and s["n_rated"] == df["rated"].sum() > 0
    assert s["n_treatment"] == 6 and df.loc[df["period"] == "post", "routed_ai"].any()  # round(12 * 302/647)
    assert not df.loc[df["period"] == "pre", "routed_ai"].any()  # nobody has the AI before treatment starts
    assert s["config"]["experiment"]["days_pre"] + s["config"]["experiment"]["days_post"] == 3
    assert s["means"]["duration_s"] == pytest.approx(df["duration_s"].mean())
    assert s["means"]["rating"] == pytest.approx(df.loc[df["rated"], "rating"].mean())
    assert sum(s["escalation_shares"].values()) == pytest.approx(1.0)
    assert set(s["means_by_period"]) == {"pre", "post"}
    assert f"{len(df):,} chats in" in capsys.readouterr().out


def test_sim_same_seed_same_records(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert cli.main([*SIM, "--seed", str(seed), "--out", str(tmp_path / name)]) == 0
    a, b, c = (pd.read_parquet(tmp_path / n / "records.parquet") for n in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) != len(c) or not a["duration_s"].equals(c["duration_s"])


def test_sim_with_no_chat_writes_empty_records_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--workers", "2", "--days", "1", "--set", "arrivals.rate_per_worker_hour=1e-6", "--quiet"]
    assert cli.main([*args, "--out", str(tmp_path)]) == 0
    assert len(pd.read_parquet(tmp_path / "records.parquet")) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_chats"] == 0 and summary["means"]["rating"] is None
    assert capsys.readouterr().out.startswith("0 chats in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "--days must be at least 1, got 0"),
        (["--workers", "0"], "experiment.workers=0 is outside the allowed range"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--set", "ai.no_such_key=1"], "no_such_key"),
        (["--workers", "3", "--set", "experiment.workers=5"], "--workers and --set experiment.workers set the same"),
        (["--days", "2", "--set", "experiment.days_post=1"], "--days and --set experiment.days_post set the same"),
        (["--workers", "3", "--set", "experiment={workers: 5}"], "--workers and --set experiment.workers set"),
    ],
)
def test_sim_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-sim: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()
