"""Any policy in the virtual field experiment: heuristics by spec and saved models as core hooks.

The hook (:mod:`agents.hooks`) must show a policy what the env shows it (the same observation
builders, the same masks), so these tests replay one env episode through the core with the hook
and compare every observation. The ``hitl-rct`` runs use the tiny scale of ``test_rct.py`` (40
workers, 2 + 3 days, about 6,700 chats, 2 s each); saved models come from ``hitl-train`` with a
budget of 64 steps (a few seconds), since what is tested is the plumbing, not what they learned.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils import seeding

import hitl_env
from agents.hooks import PolicyHook, RouterHook, SupervisorHook
from eval.analysis import chat_frame, fit_did
from eval.rct import PolicyError, main, resolve_policy
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.base import build_episode
from hitl_env.envs.observations import ROUTER_FIELDS, SUPERVISOR_FIELDS, field_index
from hitl_env.io import file_record
from hitl_env.sim.decisions import default_supervisor
from hitl_env.sim.hooks import ArrivalView, NeverTakeover, PaperSupervisor, RoundView
from hitl_env.sim.population import DAY_S, HOUR_S
from train import SHARED_SUPERVISOR_ID

TINY = ["--workers", "40", "--days-pre", "2", "--days-post", "3", "--seed", "1", "--jobs", "1", "--no-plot"]
SMALL = {"experiment.workers": 10, "experiment.days_pre": 1, "experiment.days_post": 3}
CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TRAIN_TINY = ["env.team_size=3", "env.shift_hours=2.0", "eval_freq=64", "eval_episodes=1", "checkpoint_freq=64",
              "vec_env=dummy", "hyperparameters.n_steps=32", "hyperparameters.batch_size=32",
              "hyperparameters.n_epochs=1", "total_timesteps=32"]  # fmt: skip


def _rct(out: Path, *args: str) -> tuple[dict, pd.DataFrame]:
    assert main([*TINY, *args, "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "results.json").read_text()), pd.read_parquet(out / "records.parquet")


def _small() -> hitl_env.Config:
    return hitl_env.load_config("taobao_2024", SMALL)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A supervisor and a router model saved by hitl-train (MaskablePPO, 32 steps)."""
    from train.cli import main as train

    out = {}
    for kind in ("supervisor", "router"):
        run = tmp_path_factory.mktemp(kind)
        argv = [str(CONFIGS / f"train_{kind}.yaml"), *[a for i in TRAIN_TINY for a in ("--set", i)]]
        assert train([*argv, "--out", str(run), "--quiet"]) == 0
        out[kind] = run / "final_model.zip"
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, pd.DataFrame]:
    return _rct(tmp_path_factory.mktemp("baseline"))


# ----------------------------------------------------------------------------- the hook sees what the env shows
class Recorder:
    """Wraps a policy and records what it is shown."""

    def __init__(self, spec: str) -> None:
        import agents

        self.policy, self.seen = agents.from_spec(spec), []
        self.name = self.policy.name

    def act(self, obs: np.ndarray, info: dict) -> int:
        self.seen.append((obs.copy(), np.asarray(info["action_mask"]).copy()))
        return self.policy.act(obs, info)

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)


@pytest.mark.parametrize(
    ("env_id", "spec"),
    [(SUPERVISOR_ID, "sentiment_threshold:level=-1.5"), (ROUTER_ID, "rule_based")],
)
def test_hook_shows_the_policy_what_the_env_shows(env_id: str, spec: str) -> None:
    env = gym.make(env_id, team_size=10, shift_hours=3.0, start_hour=21).unwrapped  # chats close after midnight
    in_env = Recorder(spec)
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, _, done, _, info = env.step(in_env.act(obs, info))
    cfg, in_core = env.cfg, Recorder(spec)
    starts = [21 * HOUR_S] * 10
    if env_id == SUPERVISOR_ID:
        sim = build_episode(cfg, seeding.np_random(0)[0], None, SupervisorHook(in_core, cfg, starts))
    else:
        sim = build_episode(cfg, seeding.np_random(0)[0], RouterHook(in_core, cfg, starts), default_supervisor(cfg))
    assert sim.run() is None
    assert len(in_core.seen) == len(in_env.seen) > 40
    fields = SUPERVISOR_FIELDS if env_id == SUPERVISOR_ID else ROUTER_FIELDS
    progress = [o[field_index(fields, "shift_progress")] for o, _ in in_core.seen]
    assert 0 <= min(progress) < 0.05 and max(progress) > 0.9
    for (a, mask_a), (b, mask_b) in zip(in_env.seen, in_core.seen, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(mask_a, mask_b)


def _round_view(worker: int, time_s: float) -> RoundView:
    return RoundView(0, worker, time_s, 60.0, 2, -0.4, 0.0, 0.5, 0, 2, 1, 0, True, 0.5)


def test_shift_progress_is_the_deciding_workers_own_shift() -> None:
    cfg = hitl_env.load_config("taobao_2024", {"arrivals.shift_hours": 8.0})
    rec = Recorder("algorithm_only")
    hook = SupervisorHook(rec, cfg, [9 * HOUR_S, 22 * HOUR_S])
    for worker, t in [(0, 3 * DAY_S + 11 * HOUR_S), (1, 3 * DAY_S + 1 * HOUR_S), (1, 2 * DAY_S + 23 * HOUR_S),
                      (0, 5 * DAY_S + 18 * HOUR_S)]:  # fmt: skip
        assert hook.takeover(_round_view(worker, t)) is False
    # 2 h into a 09:00 shift, 3 h into the 22:00 shift of the day before, 1 h into one, 1 h after one
    progress = field_index(SUPERVISOR_FIELDS, "shift_progress")
    np.testing.assert_allclose([o[progress] for o, _ in rec.seen], [0.25, 0.375, 0.125, 1.125])


def test_router_progress_is_the_mean_over_the_running_shifts() -> None:
    cfg = hitl_env.load_config("taobao_2024", {"arrivals.shift_hours": 8.0})
    rec = Recorder("rule_based")
    hook = RouterHook(rec, cfg, [9 * HOUR_S, 13 * HOUR_S, 20 * HOUR_S])
    for t in (DAY_S + 15 * HOUR_S, DAY_S + 10 * HOUR_S):
        hook.route(ArrivalView(0, t, 0, True, 0, 0, 2, 0.5))
    # 15:00: the 09:00 and 13:00 shifts run (6 h and 2 h in); 10:00: only the 09:00 shift (1 h in)
    progress = field_index(ROUTER_FIELDS, "shift_progress")
    np.testing.assert_allclose([o[progress] for o, _ in rec.seen], [0.5, 0.125])


# ----------------------------------------------------------------------------- through the core
def test_agents_counterparts_of_the_core_hooks_give_the_same_records() -> None:
    cfg = _small()
    default = hitl_env.simulate(cfg, seed=2)
    rule = hitl_env.simulate(cfg, seed=2, router=PolicyHook("router", "rule_based", cfg))
    pd.testing.assert_frame_equal(rule, default)
    never = hitl_env.simulate(cfg, seed=2, supervisor=NeverTakeover())
    hooked = hitl_env.simulate(cfg, seed=2, supervisor=PolicyHook("supervisor", "algorithm_only", cfg))
    pd.testing.assert_frame_equal(hooked, never)
    assert not never.equals(default)


def test_randomized_policy_is_seeded_from_the_run_seed_per_team_whatever_the_processes() -> None:
    cfg = hitl_env.load_config("taobao_2024", {**SMALL, "experiment.workers": 30})  # 3 teams

    def run(hook_seed: int, n_jobs: int) -> pd.DataFrame:
        return hitl_env.simulate(cfg, 5, supervisor=PolicyHook("supervisor", "random:p=0.3", cfg, hook_seed),
                                 n_jobs=n_jobs)  # fmt: skip

    a = run(5, 1)
    pd.testing.assert_frame_equal(a, run(5, 1))
    pd.testing.assert_frame_equal(a, run(5, 2))
    b = run(6, 1)
    np.testing.assert_array_equal(a["arrival_s"], b["arrival_s"])  # the same customers
    assert not a["escalation"].equals(b["escalation"])  # the policy's draws follow its seed
    assert (a["escalation"] == "human").sum() > 20


def test_every_team_and_kind_draws_its_own_stream() -> None:
    cfg = _small()
    workers = SimpleNamespace(shift_start_h=np.full(10, 9))
    obs_view = _round_view(0, 10 * HOUR_S)

    def draws(kind: str, team: int) -> list[bool]:
        hook = PolicyHook(kind, "random", cfg, seed=3).for_team(team, workers)
        if kind == "router":
            return [hook.route(ArrivalView(0, 10 * HOUR_S, 0, True, 0, 0, 1, 0.5)) for _ in range(40)]
        return [hook.takeover(obs_view) for _ in range(40)]

    assert draws("supervisor", 0) == draws("supervisor", 0)
    assert draws("supervisor", 0) != draws("supervisor", 1)
    assert draws("supervisor", 0) != draws("router", 0)
    assert 5 < sum(draws("router", 1)) < 35


def test_core_defaults_stay_the_core_hooks() -> None:
    cfg = _small()
    assert isinstance(resolve_policy("supervisor", "paper_workers", cfg), PaperSupervisor)
    assert isinstance(resolve_policy("supervisor", "algorithm_only", cfg), NeverTakeover)
    assert resolve_policy("router", "rule_based", cfg) is None
    assert isinstance(resolve_policy("supervisor", "paper_workers:base=0.1", cfg), PolicyHook)
    with pytest.raises(PolicyError, match="'all_human' is a router policy; supervisor policies: algorithm_only"):
        resolve_policy("supervisor", "all_human", cfg)


# ----------------------------------------------------------------------------- hitl-rct
def test_heuristics_by_spec_behave_as_named(tmp_path: Path, baseline) -> None:
    base = baseline[0]
    always, _ = _rct(tmp_path / "always", "--supervisor", "always_takeover")
    never, _ = _rct(tmp_path / "never", "--supervisor", "sentiment_threshold:level=-20")
    some, _ = _rct(tmp_path / "some", "--supervisor", "sentiment_threshold:level=0.5")
    human = {k: r["escalations"]["human"]["n"] for k, r in
             (("paper", base), ("always", always), ("never", never), ("some", some))}  # fmt: skip
    assert human["never"] == 0 and human["paper"] > 0
    assert 3 * human["paper"] < human["some"] < human["always"]
    assert always["policies"] == {"supervisor": "always_takeover", "router": "rule_based"}
    assert always["n_chats"] == base["n_chats"]  # the same customers arrive (common random numbers)


def test_router_heuristics_by_spec(tmp_path: Path, baseline) -> None:
    r, records = _rct(tmp_path / "human", "--router", "all_human")
    assert not records["routed_ai"].any() and not records["eligible"].any()
    assert all(r["escalations"][k]["n"] == 0 for k in r["escalations"])
    # scores that send product inquiries to the AI, though the rule does not, and complaints,
    # which the mask keeps with humans
    spec = "confidence_threshold:threshold=0.5,scores={'product_inquiry': 0.9, 'complaint': 0.9}"
    _, records = _rct(tmp_path / "inquiries", "--router", spec)
    base = baseline[1]
    inquiry, complaint = records["category"] == "product_inquiry", records["category"] == "complaint"
    assert records.loc[inquiry, "eligible"].all() and not base.loc[inquiry, "eligible"].any()
    assert complaint.any() and not records.loc[complaint, "eligible"].any()
    assert records.loc[~inquiry, "eligible"].equals(base.loc[~inquiry, "eligible"])


def test_saved_models_run_end_to_end(tmp_path: Path, models, baseline) -> None:
    r, records = _rct(tmp_path / "m", "--supervisor", str(models["supervisor"]), "--router", str(models["router"]))
    assert (tmp_path / "m" / "results.json").is_file() and (tmp_path / "m" / "counterfactual.parquet").is_file()
    assert r["n_chats"] == baseline[0]["n_chats"] == len(records)
    assert r["policies"] == {"supervisor": str(models["supervisor"]), "router": str(models["router"])}
    assert sum(r["escalations"][k]["n"] for k in r["escalations"]) == records["routed_ai"].sum() > 0
    cfg = hitl_env.load_config("taobao_2024")
    barred = records["category"].isin([n for n, c in cfg.categories.items() if not c.ai_allowed])
    assert barred.any() and not records.loc[barred, "eligible"].any()  # the masks hold


def _did_frame(rows: list[tuple[int, int, int]], load: bool = True) -> pd.DataFrame:
    """A chat frame (``eval.analysis.chat_frame``'s columns that the DiD reads) of (worker, day, treated) rows."""
    worker, day, treated = (np.array(c) for c in zip(*rows, strict=True))
    rng = np.random.default_rng(0)
    post = day >= 2
    return pd.DataFrame({
        "assigned": True, "worker_id": pd.array(worker, dtype="Int32"), "day": day, "post": post,
        "treat_post": (treated.astype(bool) & post).astype(float), "category": 0,
        "load": rng.integers(20, 40, len(day)).astype(float) if load else 30.0,
        "log_duration": rng.normal(6.0, 1.0, len(day)),
    })  # fmt: skip


def test_did_is_nan_where_a_policy_leaves_too_few_chats_to_identify_it(baseline) -> None:
    frame = chat_frame(baseline[1])
    full = fit_did(frame, ["log_duration"], np.ones(len(frame), bool))["log_duration"]
    assert np.isfinite(full.estimate) and full.se > 0
    # the treated workers' chats only after the switch: the worker fixed effects absorb treat_post
    only_post = frame["post"].to_numpy() | ~frame["treated"].to_numpy()
    # worker 1 (treated) alone on day 3: pyfixest drops that singleton day, then the worker; with
    # a varying load treat_post is dropped as collinear, with a constant one every regressor is
    few = [(1, 0, 1), (1, 3, 1), (2, 0, 0), (2, 0, 0), (2, 2, 0), (2, 2, 0), (3, 0, 0), (3, 2, 0)]
    cases = [(frame, only_post), (_did_frame(few), None), (_did_frame(few, load=False), None)]
    for f, mask in cases:
        e = fit_did(f, ["log_duration"], np.ones(len(f), bool) if mask is None else mask)["log_duration"]
        assert np.isnan(e.estimate) and np.isnan(e.se) and np.isnan(e.p)


def test_stochastic_policy_same_seed_same_results(tmp_path: Path) -> None:
    args = ("--supervisor", "paper_workers:base=0.05", "--router", "random:p=0.1")
    a, ra = _rct(tmp_path / "a", *args)
    b, rb = _rct(tmp_path / "b", *args)
    pd.testing.assert_frame_equal(ra, rb)
    for key in ("baseline", "escalations", "timing", "effort"):
        assert a[key] == b[key], key
    assert 0 < ra["eligible"].mean() < 0.2 and (ra["escalation"] == "human").sum() > 0


@pytest.mark.parametrize(
    ("kind", "policy", "message"),
    [
        ("supervisor", "all_human", "'all_human' is a router policy; supervisor policies: algorithm_only, "
                                    "paper_workers, sentiment_threshold"),
        ("router", "always_takeover", "'always_takeover' is a supervisor policy; router policies: rule_based"),
        ("supervisor", "clairvoyant", "unknown supervisor policy 'clairvoyant'"),
        ("supervisor", "oracle", "'oracle' reads the latent state of a Gymnasium env's simulator (an upper bound"),
        ("supervisor", "sentiment_threshold:lvl=1", "takes no parameter 'lvl'; parameters: level"),
        ("router", "random:p=2", "p must be a probability"),
        ("router", "models/missing.zip", "no saved model at 'models/missing.zip'"),
    ],
)  # fmt: skip
def test_bad_policy_exits_2_with_one_line(tmp_path: Path, capsys, kind: str, policy: str, message: str) -> None:
    assert main([f"--{kind}", policy, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hitl-rct: error: --{kind} {policy}: ") and "\n" not in err and message in err, err
    assert not (tmp_path / "out").exists()


def test_model_of_the_other_env_exits_2(tmp_path: Path, capsys, models) -> None:
    for kind, other in (("supervisor", "router"), ("router", "supervisor")):
        assert main([f"--{kind}", str(models[other]), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        env = ROUTER_ID if other == "router" else SUPERVISOR_ID
        assert f"is a model of {env}; a {kind} model is one of" in err and "\n" not in err, err
    assert not (tmp_path / "out").exists()


def test_a_shared_supervisor_model_decides_takeovers(tmp_path: Path, models) -> None:
    run = tmp_path / "team"
    run.mkdir()
    (run / "model.zip").write_bytes(models["supervisor"].read_bytes())
    info = json.loads((models["supervisor"].parent / "run.json").read_text())
    files = {"model.zip": file_record(run / "model.zip")}  # the copy is this run's model
    (run / "run.json").write_text(json.dumps({**info, "env_id": SHARED_SUPERVISOR_ID, "files": files}))
    cfg = _small()
    hook = PolicyHook("supervisor", str(run / "model.zip"), cfg)
    assert len(hitl_env.simulate(cfg, seed=0, supervisor=hook)) == len(hitl_env.simulate(cfg, seed=0))


def test_files_that_are_not_models_exit_2(tmp_path: Path, capsys, models) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model\n")
    fake = tmp_path / "run" / "fake.zip"
    fake.parent.mkdir()
    fake.write_bytes(b"PK not really")
    info = json.loads((models["supervisor"].parent / "run.json").read_text())
    (fake.parent / "run.json").write_text(json.dumps({**info, "files": {"fake.zip": file_record(fake)}}))
    broken = tmp_path / "broken" / "model.zip"
    broken.parent.mkdir()
    broken.write_bytes(models["supervisor"].read_bytes())
    (broken.parent / "run.json").write_text("{not json")
    cases = [(notes, "no run.json beside"), (fake, "cannot load"), (broken, "is not JSON")]
    for path, message in cases:
        assert main(["--supervisor", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("hitl-rct: error: --supervisor ") and message in err and "\n" not in err, err
    assert not (tmp_path / "out").exists()


def test_model_of_another_category_set_exits_2(tmp_path: Path, capsys, models) -> None:
    argv = ["--supervisor", str(models["supervisor"]), "--preset", "mmn_abandonment", "--days-post", "1",
            "--set", "experiment.treatment_share=0.5"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2  # one category one-hot, not taobao's ten
    err = capsys.readouterr().err.strip()
    n = len(SUPERVISOR_FIELDS)
    assert f"expects observations of shape ({n + 10},); this config's are ({n + 1},)" in err and "\n" not in err, err
