"""Conventions every command shares: a bad ``--out`` is a usage error before any work."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

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
