"""``hitl-eval``: policy evaluation over paired seeds, bootstrap CIs, the Pareto plot, the weight sweep.

End-to-end runs are tiny (3 seeds, a team of 3 for 2 hours, 300 bootstrap resamples); they check
numbers that hold exactly at any size (CIs around their means, a zero paired difference of the
baseline with itself, identical episodes from identical seeds, equal episodes for policies that
make the same decisions), not estimates.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval import pareto
from eval.evaluate import main
from eval.policies import EvalError, env_of_spec, infer_env, split_specs
from eval.stats import bootstrap_ci, resample_indices
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.rewards import COMPONENTS, DEFAULT_WEIGHTS
from train import SHARED_SUPERVISOR_ID

TINY = ["--seeds", "3", "--team-size", "3", "--shift-hours", "2", "--bootstrap", "300", "--seed", "5", "--quiet"]
# sentiment_threshold at -20 never takes over: the same decisions as algorithm_only, so the same episodes
POLICIES = "algorithm_only,sentiment_threshold:level=-0.6,random:p=0.3,seed=1,sentiment_threshold:level=-20"
ESC = ["esc_none", "esc_technical", "esc_emotional", "esc_human"]


@pytest.fixture(scope="module")
def supervisor_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ev")
    assert main(["--policies", POLICIES, *TINY, "--out", str(out)]) == 0
    return out


# ----------------------------------------------------------------------------- spec splitting
@pytest.mark.parametrize(
    ("text", "specs"),
    [
        ("algorithm_only", ["algorithm_only"]),
        ("a, b ,c,", ["a", "b", "c"]),
        ("sentiment_threshold:level=-0.6,rounds_threshold:k=4",
         ["sentiment_threshold:level=-0.6", "rounds_threshold:k=4"]),
        ("random:p=0.2,seed=1,algorithm_only", ["random:p=0.2,seed=1", "algorithm_only"]),
        (
            "rule_based,confidence_threshold:threshold=0.4,scores={'refund_status': 0.9, 'invoice': 0.1},all_human",
            ["rule_based", "confidence_threshold:threshold=0.4,scores={'refund_status': 0.9, 'invoice': 0.1}",
             "all_human"],
        ),
        ("confidence_threshold:scores=[0.1,0.2,0.3],random", ["confidence_threshold:scores=[0.1,0.2,0.3]", "random"]),
        ("paper_workers:config='a,b'", ["paper_workers:config='a,b'"]),
        ("runs/x.zip,algorithm_only", ["runs/x.zip", "algorithm_only"]),
    ],
)  # fmt: skip
def test_split_specs(text: str, specs: list[str]) -> None:
    assert split_specs(text) == specs


@pytest.mark.parametrize("text", ["a:scores={'x': 1", "a]", "a:x='b", " , "])
def test_split_specs_rejects(text: str) -> None:
    with pytest.raises(EvalError):
        split_specs(text)


def test_infer_env() -> None:
    assert infer_env(["algorithm_only", "random"], None) == "supervisor"
    assert infer_env(["rule_based", "confidence_threshold:threshold=0.3"], None) == "router"
    assert infer_env(["random"], None) == "supervisor"
    assert infer_env(["random"], "router") == "router"
    with pytest.raises(EvalError, match="mix"):
        infer_env(["algorithm_only", "rule_based"], None)
    with pytest.raises(EvalError, match="not for the router env"):
        infer_env(["paper_workers"], "router")


# ----------------------------------------------------------------------------- bootstrap
def test_bootstrap_ci_known_sample() -> None:
    x = np.arange(1.0, 11.0)  # mean 5.5, sd 3.03: a 95% CI of the mean about +-1.8
    idx = resample_indices(len(x), 4000, seed=0)
    mean, lo, hi = bootstrap_ci(x, idx)
    assert mean == 5.5
    assert 3.4 < lo < 4.0 and 7.0 < hi < 7.6  # percentile bootstrap: 5.5 -+ 1.96 * 3.03 / sqrt(10) * ~0.95
    assert bootstrap_ci(x, idx) == (mean, lo, hi)  # the same resamples: the same interval
    assert bootstrap_ci(x, resample_indices(len(x), 4000, seed=0)) == (mean, lo, hi)  # seeded
    assert bootstrap_ci(x, resample_indices(len(x), 4000, seed=1)) != (mean, lo, hi)
    assert bootstrap_ci(np.full(7, 2.5), resample_indices(7, 100, 0)) == (2.5, 2.5, 2.5)
    narrow = bootstrap_ci(x, idx, level=0.5)
    assert lo < narrow[1] < mean < narrow[2] < hi


def test_bootstrap_ci_matches_scipy() -> None:
    from scipy.stats import bootstrap

    x = np.random.default_rng(3).exponential(size=60)
    _, lo, hi = bootstrap_ci(x, resample_indices(len(x), 20000, seed=0))
    ref = bootstrap((x,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(0))
    # two independent 20,000-resample Monte Carlo estimates of the same percentiles
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_bootstrap_ci_coverage() -> None:
    """300 normal samples of 40: the 95% intervals cover the true mean 0.88 to 0.99 of the time.

    (The percentile bootstrap runs slightly narrow at n = 40, about 0.94; the binomial standard
    error over 300 samples is 0.014.)
    """
    rng = np.random.default_rng(11)
    idx = resample_indices(40, 1000, seed=2)
    cover = [lo <= 1.0 <= hi for _, lo, hi in (bootstrap_ci(rng.normal(1.0, 2.0, 40), idx) for _ in range(300))]
    assert 0.88 <= np.mean(cover) <= 0.99


def test_bootstrap_ci_ignores_nan() -> None:
    idx = resample_indices(4, 200, 0)
    mean, lo, hi = bootstrap_ci([1.0, np.nan, 3.0, np.nan], idx)
    assert mean == 2.0 and 1.0 <= lo <= mean <= hi <= 3.0
    assert all(np.isnan(bootstrap_ci([np.nan, np.nan], resample_indices(2, 10, 0))))


def test_pareto_front() -> None:
    x, y = [1.0, 2.0, 2.0, 3.0, 0.5, np.nan], [1.0, 2.0, 1.5, 3.0, 0.2, 9.0]
    assert pareto.pareto_front(x, y).tolist() == [True, True, False, True, True, False]


# ----------------------------------------------------------------------------- end to end
def test_outputs(supervisor_run: Path) -> None:
    assert {p.name for p in supervisor_run.iterdir()} >= {"episodes.csv", "summary.csv", "summary.json", "pareto.png",
                                                          "curves.csv"}  # fmt: skip
    assert (supervisor_run / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ep = pd.read_csv(supervisor_run / "episodes.csv")
    labels = split_specs(POLICIES)
    assert list(ep["policy"].unique()) == labels
    assert all(g["seed"].tolist() == [5, 6, 7] for _, g in ep.groupby("policy"))
    curves = pd.read_csv(supervisor_run / "curves.csv")
    assert len(curves) == len(pareto.SENTIMENT_LEVELS) + len(pareto.ROUNDS_K)
    assert set(curves["family"]) == {"sentiment_threshold", "rounds_threshold"}


def test_episode_values(supervisor_run: Path) -> None:
    ep = pd.read_csv(supervisor_run / "episodes.csv")
    weights = np.array([DEFAULT_WEIGHTS[c] for c in COMPONENTS])
    # the return is the weighted sum of the components (float32 sums of float32 vectors)
    np.testing.assert_allclose(ep["return"], ep[[f"reward_{c}" for c in COMPONENTS]] @ weights, rtol=1e-4, atol=1e-3)
    assert ep["satisfaction"].between(1, 5).all() and ep["rating"].dropna().between(1, 5).all()
    assert (ep["n_chats"] > 0).all() and (ep["steps"] > 0).all() and (ep["duration_min"] > 0).all()
    for col in ["retrial", "abandonment", *ESC]:
        assert ep[col].between(0, 1).all()
    np.testing.assert_allclose(ep[ESC].sum(axis=1), 1.0)
    by = ep.set_index(["policy", "seed"])
    # common random numbers: the same decisions on the same seed give the same episode
    pd.testing.assert_frame_equal(by.loc["algorithm_only"], by.loc["sentiment_threshold:level=-20"])
    assert (by.loc["algorithm_only", "esc_human"] == 0).all()
    assert (by.loc["sentiment_threshold:level=-0.6", "esc_human"] > 0).any()


def test_summary(supervisor_run: Path) -> None:
    s = pd.read_csv(supervisor_run / "summary.csv")
    ok = s.dropna(subset=["mean"])
    assert ((ok["ci_lo"] <= ok["mean"] + 1e-12) & (ok["mean"] <= ok["ci_hi"] + 1e-12)).all()
    okd = s.dropna(subset=["diff"])
    assert ((okd["diff_lo"] <= okd["diff"] + 1e-12) & (okd["diff"] <= okd["diff_hi"] + 1e-12)).all()
    base = s[s["policy"] == "algorithm_only"].dropna(subset=["mean"])
    assert (base[["diff", "diff_lo", "diff_hi"]] == 0.0).all().all()
    same = s[s["policy"] == "sentiment_threshold:level=-20"].dropna(subset=["mean"])
    assert (same[["diff", "diff_lo", "diff_hi"]] == 0.0).all().all()
    ep = pd.read_csv(supervisor_run / "episodes.csv")
    means = ep.groupby("policy")["return"].mean()
    ret = s[s["metric"] == "return"].set_index("policy")["mean"]
    np.testing.assert_allclose(ret[means.index], means)
    j = json.loads((supervisor_run / "summary.json").read_text())
    assert j["env"] == SUPERVISOR_ID and j["baseline"] == "algorithm_only" and j["seeds"] == [5, 6, 7]
    assert list(j["policies"]) == split_specs(POLICIES)
    r = j["policies"]["random:p=0.3,seed=1"]
    assert r["kind"] == "heuristic" and r["metrics"]["return"]["mean"] == pytest.approx(ret["random:p=0.3,seed=1"])
    assert j["policies"]["algorithm_only"]["vs_baseline"]["return"] == {"diff": 0.0, "ci": [0.0, 0.0]}


def test_reproducible(supervisor_run: Path, tmp_path: Path) -> None:
    assert main(["--policies", POLICIES, *TINY, "--no-plot", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "episodes.csv").read_bytes() == (supervisor_run / "episodes.csv").read_bytes()
    assert (tmp_path / "summary.csv").read_bytes() == (supervisor_run / "summary.csv").read_bytes()
    assert not (tmp_path / "pareto.png").exists()


def test_router(tmp_path: Path) -> None:
    scores = "confidence_threshold:threshold=0.45,scores={'logistics_tracking': 0.52, 'refund_status': 0.44}"
    args = ["--policies", f"all_human,{scores}", "--seeds", "2", "--team-size", "2", "--shift-hours", "1",
            "--bootstrap", "100", "--quiet", "--weight", "duration=0.2", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    j = json.loads((tmp_path / "summary.json").read_text())
    assert j["env"] == ROUTER_ID and list(j["policies"]) == ["rule_based", "all_human", scores]
    assert j["reward_weights"]["duration"] == 0.2
    assert j["policies"]["all_human"]["metrics"]["ai_share"]["mean"] == 0.0
    assert 0 < j["policies"]["rule_based"]["metrics"]["ai_share"]["mean"] < 0.2
    assert len(pd.read_csv(tmp_path / "curves.csv")) == 5  # thresholds around the 4 distinct ai_solvable scores


def test_episodes_that_score_no_chat_give_nan_kpis(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # no category is AI-eligible: every supervisor episode is one step with nothing to score
    none_to_ai = [f"--set=categories.{c}.eligible=false" for c in ("logistics_tracking", "refund_status",
                                                                     "invoice_request")]  # fmt: skip
    common = ["--policies", "algorithm_only,random", "--seeds", "2", "--team-size", "2", "--shift-hours", "1",
              *none_to_ai, "--no-curves", "--quiet"]  # fmt: skip
    assert main([*common, "--no-plot", "--out", str(tmp_path)]) == 0
    episodes = pd.read_csv(tmp_path / "episodes.csv")
    assert len(episodes) == 4 and (episodes["return"] == 0.0).all() and (episodes["n_chats"] == 0).all()
    assert episodes["rating"].isna().all() and episodes["worker_min"].isna().all()
    assert main([*common, "--pareto-y", "rating", "--out", str(tmp_path / "plot")]) == 0  # nothing to draw: says so
    assert "no episode has a rating (no rated chat), so pareto.png is empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policies", "algorithm_only,no_such_policy"], "unknown supervisor policy 'no_such_policy'"),
        (["--policies", "sentiment_threshold:level=99"], "level must be a number"),
        (["--policies", "sentiment_threshold:level"], "expected 'name:key=value,...', got 'level'"),
        (["--env", "router", "--policies", "confidence_threshold:config=mmn_abandonment,scores=[0.5]"],
         "its config's categories (general) are not the env's (logistics_tracking, refund_status"),
        (["--baseline", "sentiment_threshold:level"], "expected 'name:key=value,...', got 'level'"),
        (["--policies", "algorithm_only,rule_based"], "mix supervisor and router"),
        (["--policies", "algorithm_only,algorithm_only"], "listed twice"),
        (["--set", "ai.no_such_key=1"], "no_such_key"),
        (["--set", "experiment.team_size=3"], "experiment.team_size is set by the env (use the env's team_size"),
        (["--weight", "speed=1"], "unknown reward component"),
        (["--team-size", "0"], "team_size"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--bootstrap", "1"], "--bootstrap must be at least 100"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (["--sweep-weights", "duration=0.1"], "--train-config"),
        (["--train-config", "configs/train_supervisor.yaml"], "belong to --sweep-weights, which is not given"),
        (["--train-set", "total_timesteps=10"], "belong to --sweep-weights, which is not given"),
        (["--sweep-weights", "speed=0.1", "--train-config", "x.yaml"], "--sweep-weights expects"),
    ],
)  # fmt: skip
def test_errors(args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--seeds", "1", *args, "--quiet", "--out", str(tmp_path)]) == 2  # a later --seeds wins
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-eval: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "episodes.csv").exists()


# ----------------------------------------------------------------------------- weight sweep
TINY_TRAIN = """\
algorithm: MaskablePPO
total_timesteps: 64
n_envs: 1
vec_env: dummy
eval_freq: 0
checkpoint_freq: 0
hyperparameters: {n_steps: 32, batch_size: 32, n_epochs: 1}
policy_kwargs: {net_arch: [8]}
"""


def _fake_trainer(calls: list[list[str]]) -> Callable[[list[str]], int]:
    """Stands in for ``train.cli.main``: saves an untrained PPO model and its run.json."""

    def train(argv: list[str]) -> int:
        import gymnasium as gym
        from stable_baselines3 import PPO

        calls.append(argv)
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True)
        env = gym.make(SUPERVISOR_ID, team_size=3, shift_hours=2.0)
        seed = int(argv[argv.index("--seed") + 1]) + len(calls)
        PPO("MlpPolicy", env, n_steps=8, batch_size=8, seed=seed, device="cpu", policy_kwargs={"net_arch": [4]}).save(
            out / "best_model.zip"
        )
        (out / "run.json").write_text(json.dumps({"algorithm": "PPO", "env_id": SUPERVISOR_ID}))
        return 0

    return train


def test_weight_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(pareto, "load_trainer", lambda: _fake_trainer(calls))
    config = tmp_path / "ppo.yaml"
    config.write_text(TINY_TRAIN)
    out = tmp_path / "ev"
    args = ["--policies", "always_takeover", "--sweep-weights", "duration=0.01,0.2", "--train-config", str(config),
            "--train-set", "total_timesteps=64", "--set", "ai.misread=0.2", "--weight", "rating=2",
            "--seeds", "2", "--team-size", "3", "--shift-hours", "2",
            "--bootstrap", "100", "--no-curves", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    env = ["env.preset=taobao_2024", "env.team_size=3", "env.shift_hours=2.0", "env.start_hour=9", "env.rating=dense",
           "env.overrides.ai.misread=0.2", "env.reward_weights.rating=2.0"]  # fmt: skip
    assert calls == [
        [str(config), *(a for item in [*env, f"env.reward_weights.duration={v}", "total_timesteps=64"]
                       for a in ("--set", item)),
         "--seed", "0", "--out", str(out / "sweep" / f"duration_{v}"), "--quiet"] for v in (0.01, 0.2)
    ]  # fmt: skip
    j = json.loads((out / "summary.json").read_text())
    learned = {k: v for k, v in j["policies"].items() if v["kind"] == "learned"}
    assert list(learned) == ["learned:duration=0.01", "learned:duration=0.2"]
    assert learned["learned:duration=0.2"]["sweep"] == {"duration": 0.2}
    assert learned["learned:duration=0.2"]["spec"].endswith("best_model.zip")
    assert (out / "pareto.png").stat().st_size > 0
    model = learned["learned:duration=0.01"]["spec"]
    assert env_of_spec(model) == "supervisor"
    # a saved model given by path is evaluated like a heuristic, as a learned point
    assert main(["--policies", model, "--seeds", "1", "--team-size", "3", "--shift-hours", "2", "--no-plot",
                 "--quiet", "--out", str(tmp_path / "again")]) == 0  # fmt: skip
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["policies"][model]["kind"] == "learned"


def test_weight_sweep_without_trainer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "train.cli", None)  # import fails
    args = ["--sweep-weights", "rating=1,2", "--train-config", "x.yaml", "--seeds", "1", "--quiet",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "needs hitl-train" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "sets", "message"),
    [
        ("train_router.yaml", [], f"train_router.yaml trains on {ROUTER_ID}; a supervisor policy needs "
                                  f"{SUPERVISOR_ID} or {SHARED_SUPERVISOR_ID}"),
        ("train_supervisor.yaml", ["--train-set", "n_envs=0"], "train_supervisor.yaml: n_envs=0 is outside"),
        ("missing.yaml", [], "--train-config missing.yaml: config file 'missing.yaml' does not exist"),
    ],
)  # fmt: skip
def test_weight_sweep_checks_its_config_before_training(
    config: str, sets: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    calls: list[list[str]] = []
    monkeypatch.setattr(pareto, "load_trainer", lambda: _fake_trainer(calls))
    path = config if config == "missing.yaml" else str(Path(__file__).parents[1] / "configs" / config)
    args = ["--policies", "always_takeover", "--sweep-weights", "duration=0.01", "--train-config", path, *sets,
            "--seeds", "1", "--quiet", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-eval: error: --train-config ") and message in err and "\n" not in err
    assert calls == []


def test_weight_sweep_with_hitl_train(tmp_path: Path) -> None:
    """The sweep through the real ``train.cli.main``: 64 steps of MaskablePPO per weight value."""
    (tmp_path / "tiny.yaml").write_text(TINY_TRAIN)
    args = ["--sweep-weights", "worker_time=0,0.5", "--train-config", str(tmp_path / "tiny.yaml"), "--seeds", "2",
            "--team-size", "3", "--shift-hours", "2", "--bootstrap", "100", "--no-curves", "--quiet",
            "--out", str(tmp_path / "ev")]  # fmt: skip
    assert main(args) == 0
    j = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert [k for k, v in j["policies"].items() if v["kind"] == "learned"] == ["learned:worker_time=0.0",
                                                                               "learned:worker_time=0.5"]  # fmt: skip
    run = json.loads((tmp_path / "ev" / "sweep" / "worker_time_0.5" / "run.json").read_text())
    assert run["env_kwargs"]["team_size"] == 3 and run["env_kwargs"]["reward_weights"] == {"worker_time": 0.5}


def test_bad_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "m.zip").write_text("not a model")
    (tmp_path / "run.json").write_text(json.dumps({"algorithm": "PPO", "env_id": SUPERVISOR_ID}))
    assert main(["--policies", str(tmp_path / "m.zip"), "--seeds", "1", "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-eval: error: policy ") and "\n" not in err


def test_the_pareto_plot_shows_worker_minutes_by_default_or_duration(tmp_path: Path) -> None:
    common = ["--policies", "algorithm_only,always_takeover", "--seeds", "2", "--team-size", "3", "--shift-hours", "1",
              "--bootstrap", "100", "--quiet"]  # fmt: skip
    for x in (None, "duration_min"):
        out = tmp_path / str(x)
        assert main([*common, *(["--pareto-x", x] if x else []), "--out", str(out)]) == 0
        curves = pd.read_csv(out / "curves.csv")
        axis = x or "worker_min"
        assert axis in curves and f"{axis}_lo" in curves and (curves[axis] > 0).all()
        other = "duration_min" if axis == "worker_min" else "worker_min"
        assert other not in curves
        assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
