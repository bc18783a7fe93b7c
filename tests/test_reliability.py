"""No run lost or mixed (issue 19): manifests, --out and --overwrite, strict JSON, the reader
checks, the size guard, checkpoints, and each 'traceback' or 'silently accepted' case as a
one-line usage error or a documented behaviour. Interruptions: tests/test_interrupts.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import hitl_env
from eval import evaluate, rct
from hitl_env import cli
from hitl_env.envs import SUPERVISOR_ID
from hitl_env.io import OutputError, file_record, loads, prepare_out, read_manifest
from hitl_env.sim.size import TooLarge, check_size, expected_chats
from train import cli as train_cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SIM = ["--workers", "12", "--days", "2", "--jobs", "1", "--quiet"]
RCT = ["--workers", "20", "--days-pre", "1", "--days-post", "1", "--jobs", "1", "--quiet"]
EVAL = ["--seeds", "2", "--team-size", "2", "--shift-hours", "1", "--bootstrap", "100", "--quiet"]
TRAIN = ["env.team_size=2", "env.shift_hours=1.0", "vec_env=dummy", "hyperparameters.n_steps=32",
         "hyperparameters.batch_size=32", "hyperparameters.n_epochs=1", "policy_kwargs.net_arch=[8]"]  # fmt: skip


def train(out: Path, *items: str, args: tuple[str, ...] = ()) -> int:
    sets = [a for item in (*TRAIN, *items) for a in ("--set", item)]
    return train_cli.main([str(CONFIGS / "train_supervisor.yaml"), *sets, "--out", str(out), "--quiet", *args])


def one_line_error(capsys: pytest.CaptureFixture, prog: str, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert "Traceback" not in err and all(f in err for f in fragments), err
    return err


def strict_json_files(folder: Path) -> list[Path]:
    """Every JSON file under ``folder``, each parsed with a parser that refuses NaN and Infinity."""
    paths = sorted(folder.rglob("*.json"))
    for p in paths:
        loads(p.read_text())
    return paths


# ----------------------------------------------------------------------------- manifests and strict JSON
def test_hitl_sim_manifest_lists_the_records_and_is_strict_json_without_ai_chats(tmp_path: Path) -> None:
    argv = ["--preset", "mmn_abandonment", "--workers", "10", "--days", "1", "--jobs", "1", "--quiet"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0  # no chat goes to the AI: NaN shares
    summary = read_manifest(tmp_path, "summary.json")
    assert strict_json_files(tmp_path) == [tmp_path / "summary.json"]
    assert summary["n_routed_ai"] == 0 and set(summary["escalation_shares"].values()) == {None}
    assert summary["seed"] == 0 and summary["command"][0] == "hitl-sim" and summary["config"]["experiment"]
    records = summary["files"]["records.parquet"]
    assert records["rows"] == len(pd.read_parquet(tmp_path / "records.parquet")) == summary["n_chats"]
    assert records == {**file_record(tmp_path / "records.parquet"), "rows": records["rows"]}
    (tmp_path / "records.parquet").write_bytes(b"")  # a file changed after the run: no longer complete
    with pytest.raises(OutputError, match=r"is not the file .* describes"):
        read_manifest(tmp_path, "summary.json")


def test_every_command_writes_strict_json_and_its_manifest_last(tmp_path: Path) -> None:
    assert rct.main([*RCT, "--seeds", "2", "--out", str(tmp_path / "rct")]) == 0
    assert evaluate.main([*EVAL, "--policies", "random", "--out", str(tmp_path / "ev")]) == 0
    assert train(tmp_path / "tr", "total_timesteps=64", "eval_freq=32", "eval_episodes=1", "checkpoint_freq=32") == 0
    found = strict_json_files(tmp_path)
    assert len(found) == 5  # rct: summary.json and two results.json; eval: summary.json; train: run.json
    summary = read_manifest(tmp_path / "rct", "summary.json")
    assert sorted(summary["files"]) == ["seed_0/results.json", "seed_1/results.json"]
    for seed in (0, 1):
        results = read_manifest(tmp_path / "rct" / f"seed_{seed}", "results.json")
        assert results["seed"] == seed and results["files"]["records.parquet"]["rows"] == results["n_chats"]
        assert set(results["files"]) == {"records.parquet", "counterfactual.parquet", "estimates.png"}
    ev = read_manifest(tmp_path / "ev", "summary.json")
    assert set(ev["files"]) == {"episodes.csv", "summary.csv", "curves.csv", "pareto.png"}
    assert ev["files"]["episodes.csv"]["rows"] == len(pd.read_csv(tmp_path / "ev" / "episodes.csv"))
    run = json.loads((tmp_path / "tr" / "run.json").read_text())
    assert run["status"] == "completed" and {"final_model.zip", "best_model.zip", "config.yaml"} <= set(run["files"])
    assert "checkpoints/model_64_steps.zip" in run["files"]
    assert not list(tmp_path.rglob(".tmp-*"))  # no temporary file left


# ----------------------------------------------------------------------------- --out and --overwrite
def test_a_non_empty_out_is_refused_and_overwrite_leaves_no_stale_file(tmp_path: Path, capsys) -> None:
    assert rct.main([*RCT, "--seed", "5", "--out", str(tmp_path)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert rct.main([*RCT, "--seed", "9", "--no-records", "--no-plot", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "hitl-rct", "is not empty", "--overwrite")
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before  # nothing touched
    assert rct.main([*RCT, "--seed", "9", "--no-records", "--no-plot", "--overwrite", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # the seed-5 records and plot are gone
    assert read_manifest(tmp_path, "results.json")["seed"] == 9
    # hitl-eval: an old pareto.png and curves.csv do not survive a --no-plot rerun
    ev = tmp_path / "ev"
    assert evaluate.main([*EVAL, "--policies", "random", "--out", str(ev)]) == 0
    assert evaluate.main([*EVAL, "--policies", "random", "--no-plot", "--overwrite", "--out", str(ev)]) == 0
    assert sorted(p.name for p in ev.iterdir()) == ["episodes.csv", "summary.csv", "summary.json"]


def test_overwrite_refuses_to_empty_a_folder_with_foreign_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "records.parquet").write_text("old")
    (tmp_path / "thesis.tex").write_text("mine")
    assert cli.main([*SIM, "--overwrite", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, "hitl-sim", "'thesis.tex', which no hitl command writes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records.parquet", "thesis.tex"]


def test_hitl_train_into_a_reused_folder_mixes_nothing(tmp_path: Path, capsys) -> None:
    budget = ("total_timesteps=64", "eval_freq=32", "eval_episodes=1", "checkpoint_freq=32")
    assert train(tmp_path, *budget, args=("--seed", "0")) == 0
    assert train(tmp_path, *budget, args=("--seed", "7")) == 2
    one_line_error(capsys, "hitl-train", "is not empty")
    assert (
        train(tmp_path, "total_timesteps=64", "eval_freq=0", "checkpoint_freq=0", args=("--seed", "7", "--overwrite"))
        == 0
    )
    assert not (tmp_path / "best_model.zip").exists() and not (tmp_path / "eval").exists()
    assert not (tmp_path / "checkpoints").exists()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["seed"] == 7 and sorted(run["files"]) == ["config.yaml", "final_model.zip"]


def test_readers_refuse_a_model_its_run_does_not_describe(tmp_path: Path, capsys) -> None:
    assert train(tmp_path / "a", "total_timesteps=64", "eval_freq=0", "checkpoint_freq=0") == 0
    model = tmp_path / "a" / "final_model.zip"
    ev = [*EVAL, "--policies", str(model), "--no-plot"]
    assert evaluate.main([*ev, "--out", str(tmp_path / "ok")]) == 0
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    (tmp_path / "a" / "best_model.zip").write_bytes(model.read_bytes())  # a model the run does not list
    (tmp_path / "a" / "run.json").write_text(json.dumps({**run, "status": "running"}))
    cases = [(model, "did not finish", {**run, "status": "running"}),
             (tmp_path / "a" / "best_model.zip", "is not listed in", run),
             (model, "is not the file", {**run, "files": {"final_model.zip": {"bytes": 1, "sha256": "0"}}}),
             (model, "algorithm 'TD3' is not one of", {**run, "algorithm": "TD3"})]  # fmt: skip
    for path, message, info in cases:
        (tmp_path / "a" / "run.json").write_text(json.dumps(info))
        out = tmp_path / "x"
        assert evaluate.main([*EVAL, "--policies", str(path), "--no-plot", "--out", str(out)]) == 2
        one_line_error(capsys, "hitl-eval", message)
        assert rct.main([*RCT, "--supervisor", str(path), "--out", str(out)]) == 2
        one_line_error(capsys, "hitl-rct", message)
        assert not out.exists()
    (tmp_path / "a" / "run.json").write_text("{not json")
    assert evaluate.main([*EVAL, "--policies", str(model), "--out", str(tmp_path / "x")]) == 2
    one_line_error(capsys, "hitl-eval", str(tmp_path / "a" / "run.json"), "is not JSON")


def test_resume_with_a_bad_run_json_or_a_model_of_another_algorithm_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert train(tmp_path / "a", "total_timesteps=64", "eval_freq=0", "checkpoint_freq=64") == 0
    checkpoint = tmp_path / "a" / "checkpoints" / "model_64_steps.zip"
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    (tmp_path / "a" / "run.json").write_text(json.dumps({**run, "algorithm": "PPO"}))  # a MaskablePPO model called PPO
    ppo = ["algorithm=PPO", "total_timesteps=128", "eval_freq=0", "checkpoint_freq=0"]
    sets = [a for item in [*TRAIN, *ppo] for a in ("--set", item)]
    argv = [str(CONFIGS / "train_supervisor.yaml"), *sets, "--resume", str(checkpoint), "--quiet"]
    assert train_cli.main([*argv, "--out", str(tmp_path / "b")]) == 2
    one_line_error(capsys, "hitl-train", "--resume: cannot continue")
    (tmp_path / "a" / "run.json").write_text("[1, 2")
    assert train_cli.main([*argv, "--out", str(tmp_path / "b")]) == 2
    one_line_error(capsys, "hitl-train", str(tmp_path / "a" / "run.json"), "is not JSON")


# ----------------------------------------------------------------------------- checkpoints and --resume
def _state(path: Path) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    from agents.learned import algorithm_class

    model = algorithm_class("MaskablePPO").load(path, device="cpu")
    weights = {k: v.numpy().copy() for k, v in model.policy.state_dict().items()}
    moments = [t.numpy().copy() for s in model.policy.optimizer.state_dict()["state"].values()
               for t in s.values() if hasattr(t, "numpy")]  # fmt: skip
    return weights, moments


def test_a_checkpoint_is_the_model_of_a_run_that_stopped_there_and_resume_is_reproducible(tmp_path: Path) -> None:
    common = ("eval_freq=0", "checkpoint_freq=64")  # rollouts of 32 steps x 2 envs = 64
    assert train(tmp_path / "short", "total_timesteps=64", *common) == 0
    assert train(tmp_path / "long", "total_timesteps=128", *common) == 0
    checkpoint = tmp_path / "long" / "checkpoints" / "model_64_steps.zip"
    (w1, m1), (w2, m2) = _state(tmp_path / "short" / "final_model.zip"), _state(checkpoint)
    assert w1.keys() == w2.keys() and all(np.array_equal(w1[k], w2[k]) for k in w1)  # after the update
    assert len(m1) == len(m2) > 0 and all(np.array_equal(a, b) for a, b in zip(m1, m2, strict=True))  # Adam too
    for name in ("r1", "r2"):  # the documented semantics: new episodes, reproducibly
        assert train(tmp_path / name, "total_timesteps=128", *common, args=("--resume", str(checkpoint))) == 0
    (a, _), (b, _) = _state(tmp_path / "r1" / "final_model.zip"), _state(tmp_path / "r2" / "final_model.zip")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    run = json.loads((tmp_path / "r1" / "run.json").read_text())
    assert run["num_timesteps"] == 128 and run["resumed_from"] == str(checkpoint)


def test_total_timesteps_not_a_whole_rollout_is_said(tmp_path: Path, capsys) -> None:
    assert train(tmp_path, "total_timesteps=40", "eval_freq=0", "checkpoint_freq=0") == 0
    err = capsys.readouterr().err
    assert "trains whole rollouts of 64 steps (n_steps * n_envs): 64 steps, not total_timesteps=40" in err
    assert json.loads((tmp_path / "run.json").read_text())["num_timesteps"] == 64


# ----------------------------------------------------------------------------- the issue's cases
@pytest.mark.parametrize("prog", ["hitl-sim", "hitl-rct", "hitl-eval", "hitl-train"])
@pytest.mark.parametrize("content", [bytes(range(256)), b"", b"# nothing\n"], ids=["binary", "empty", "comment"])
def test_a_binary_or_empty_config_is_a_usage_error(prog: str, content: bytes, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    out = ["--out", str(tmp_path / "out")]
    main, argv = {"hitl-sim": (cli.main, ["--preset", str(bad), *SIM]), "hitl-rct": (rct.main, ["--preset", str(bad)]),
                  "hitl-eval": (evaluate.main, ["--preset", str(bad)]),
                  "hitl-train": (train_cli.main, [str(bad)])}[prog]  # fmt: skip
    assert main([*argv, *out]) == 2
    one_line_error(capsys, prog, "not UTF-8 text" if content[:1] == b"\x00" else "is empty")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "0"], "--days must be at least 1"),
        (["--workers", "3", "--set", "experiment.days_pre=0", "--set", "experiment.days_post=0"], "the run has no day"),
        (["--out", "/proc/hitl-x"], "--out '/proc/hitl-x'"),
        (["--set", "arrivals.rate_per_worker_hour=1e6"], "GiB of memory"),
    ],
)
def test_hitl_sim_refuses_before_simulating(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    out = [] if "--out" in argv else ["--out", str(tmp_path / "o")]
    base = ["--jobs", "1", "--quiet"] if "experiment.days_pre=0" in argv or "--days" in argv else SIM
    assert cli.main([*base, *argv, *out]) == 2
    one_line_error(capsys, "hitl-sim", message)


@pytest.mark.parametrize("prog", ["hitl-sim", "hitl-rct", "hitl-eval", "hitl-train", "hitl-bench"])
def test_an_empty_out_is_a_usage_error(prog: str, capsys) -> None:
    from eval import bench

    main = {"hitl-sim": cli.main, "hitl-rct": rct.main, "hitl-eval": evaluate.main, "hitl-bench": bench.main,
            "hitl-train": lambda a: train_cli.main([str(CONFIGS / "train_supervisor.yaml"), *a])}[prog]  # fmt: skip
    with pytest.raises(SystemExit) as e:
        main(["--out", ""])
    assert e.value.code == 2
    assert "argument --out: an empty path" in capsys.readouterr().err


def test_hitl_eval_empty_policies_and_one_seed(tmp_path: Path, capsys) -> None:
    assert evaluate.main([*EVAL, "--policies", "", "--out", str(tmp_path / "a")]) == 2
    one_line_error(capsys, "hitl-eval", "policy")
    argv = [*EVAL, "--seeds", "1", "--policies", "random", "--no-plot", "--out", str(tmp_path / "b")]
    assert evaluate.main(argv) == 0
    assert "note: one seed gives no confidence interval" in capsys.readouterr().err
    summary = read_manifest(tmp_path / "b", "summary.json")
    assert summary["policies"]["random"]["metrics"]["return"]["ci"] == [None, None]
    assert pd.read_csv(tmp_path / "b" / "summary.csv")[["ci_lo", "ci_hi", "diff_lo", "diff_hi"]].isna().all().all()


def test_batch_size_larger_than_the_rollout_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert train(tmp_path / "o", "hyperparameters.batch_size=128") == 2
    one_line_error(capsys, "hitl-train", "batch_size=128 is larger than the rollout (n_steps * n_envs = 64)")


class _Answer:
    def __init__(self, answer: object) -> None:
        self.answer = answer

    def route(self, view: object) -> object:
        return self.answer

    def takeover(self, view: object) -> object:
        return self.answer


@pytest.mark.parametrize("answer", ["no", 2, float("nan"), None, np.float64(1.0)])
@pytest.mark.parametrize("kind", ["router", "supervisor"])
def test_a_hook_answering_anything_but_a_bool_is_refused(kind: str, answer: object) -> None:
    cfg = hitl_env.load_config("taobao_2024", {"experiment.workers": 5, "experiment.days_pre": 0,
                                               "experiment.days_post": 1})  # fmt: skip
    with pytest.raises(TypeError):
        hitl_env.simulate(cfg, 0, **{kind: _Answer(answer)})
    df = hitl_env.simulate(cfg, 0, **{kind: _Answer(np.bool_(False))})  # numpy bools are bools
    assert len(df) > 0


@pytest.mark.parametrize("answer", ["no", 2, float("nan"), np.float32(1.0)])
def test_a_policy_hook_whose_policy_answers_anything_but_0_or_1_is_refused(answer: object, monkeypatch) -> None:
    from agents.hooks import PolicyHook

    cfg = hitl_env.load_config("taobao_2024", {"experiment.workers": 5, "experiment.days_pre": 0,
                                               "experiment.days_post": 1})  # fmt: skip
    hook = PolicyHook("supervisor", "always_takeover", cfg)
    monkeypatch.setattr(type(hook.policy(0)), "act", lambda self, obs, info: answer)
    with pytest.raises(TypeError, match=r"act\(\) must return the action 0 or 1"):
        hitl_env.simulate(cfg, 0, supervisor=hook)


def test_a_hook_that_cannot_be_pickled_with_processes_is_named() -> None:
    cfg = hitl_env.load_config("taobao_2024", {"experiment.workers": 20, "experiment.days_pre": 0,
                                               "experiment.days_post": 1})  # fmt: skip

    class Local:  # a class defined in a function cannot be pickled
        def takeover(self, view: object) -> bool:
            return False

    with pytest.raises(TypeError, match="supervisor hook Local cannot be sent to worker processes"):
        hitl_env.simulate(cfg, 0, supervisor=Local(), n_jobs=2)


@pytest.mark.parametrize("seed", [True, False, np.bool_(True), -1, 1.5, "1"])
def test_reset_refuses_what_simulate_refuses(seed: object) -> None:
    from hitl_env.multi_agent import parallel_env

    env = gym.make(SUPERVISOR_ID, team_size=2, shift_hours=1.0)
    with pytest.raises(ValueError, match="seed must be"):
        env.reset(seed=seed)
    with pytest.raises(ValueError, match="seed must be"):
        parallel_env(team_size=2, shift_hours=1.0).reset(seed=seed)
    with pytest.raises(ValueError, match="seed must be"):
        hitl_env.simulate(hitl_env.load_config(), seed)


# ----------------------------------------------------------------------------- the size guard
def test_the_size_guard_gives_the_estimate_and_the_limit() -> None:
    cfg = hitl_env.load_config("taobao_2024")
    chats = expected_chats(cfg)
    e = cfg.experiment
    assert chats == pytest.approx(11.3 * e.workers * e.days * 3.0)  # the preset's rate, workers, days and shift
    assert check_size(cfg, limit=64 * 2**30) < 64 * 2**30
    with pytest.raises(TooLarge, match=r"about [\d,]+ chats \(2 simulations\), needing about [\d.]+ GiB .* 1.0 GiB is"):
        check_size(cfg, copies=2, limit=2**30)
    big = hitl_env.load_config("taobao_2024", {"arrivals.rate_per_worker_hour": 1e6})
    with pytest.raises(TooLarge):
        hitl_env.simulate(big, 0)


def test_prepare_out_checks_writability_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="--out '/proc/hitl-x'"):
        prepare_out(Path("/proc/hitl-x"), "hitl-sim", False)
    prepare_out(tmp_path / "new" / "run", "hitl-sim", False)
    assert (tmp_path / "new" / "run").is_dir() and not any((tmp_path / "new" / "run").iterdir())
