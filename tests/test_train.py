"""hitl-train: configs, the shared-supervisor env, statistics, and every shipped config run end to
end with a tiny budget (files, TensorBoard scalars, loading), determinism, resume and Ctrl-C.

Runs use a team of 2 workers on a 1-hour shift and budgets of a few hundred steps, so that
the whole module takes well under a minute and a half on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

import agents
import hitl_env  # noqa: F401
from hitl_env.config import ConfigError
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.rewards import COMPONENTS
from train import SHARED_SUPERVISOR_ID
from train.cli import main
from train.config import load_train_config
from train.envs import EpisodeStats

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
SMALL = {"team_size": 3, "shift_hours": 2.0}
MEDIUM = {"team_size": 4, "shift_hours": 3.0}
TINY = ["env.team_size=3", "env.shift_hours=2.0", "eval_freq=128", "eval_episodes=2", "checkpoint_freq=128",
        "vec_env=dummy", "log_interval=1"]  # fmt: skip
# per algorithm: rollouts short enough for a budget of a few hundred steps
ALGO_TINY = {
    "PPO": ["hyperparameters.n_steps=64", "hyperparameters.batch_size=32", "hyperparameters.n_epochs=2"],
    "MaskablePPO": ["hyperparameters.n_steps=64", "hyperparameters.batch_size=32", "hyperparameters.n_epochs=2"],
    "A2C": ["hyperparameters.n_steps=8"],
    "DQN": ["hyperparameters.learning_starts=64", "hyperparameters.buffer_size=1000"],
}
SHIPPED = sorted(p.name for p in CONFIGS.glob("train_*.yaml"))


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def train_run(out: Path, config: str = "train_supervisor.yaml", budget: int = 256, *extra: str, **kw: Any) -> int:
    algorithm = kw.get("algorithm") or load_train_config(CONFIGS / config).algorithm
    items = [*TINY, *ALGO_TINY[algorithm], f"total_timesteps={budget}", *extra]
    if kw.get("algorithm"):
        items.append(f"algorithm={algorithm}")
    return main([str(CONFIGS / config), *sets(items), "--out", str(out), "--quiet", *kw.get("args", [])])


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(run.glob("tb/*/events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def parameters(path: Path) -> dict[str, np.ndarray]:
    from agents.learned import load_policy

    policy = load_policy(path).model.policy
    return {k: v.detach().numpy().copy() for k, v in policy.state_dict().items()}


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load(name: str) -> None:
    cfg = load_train_config(CONFIGS / name)
    assert cfg.total_timesteps >= 10_000 and cfg.n_envs == 2 and cfg.eval_freq > 0


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("total_timestep=5", "unknown key 'total_timestep'; allowed: .*total_timesteps"),
        ("env.team_sise=3", "unknown key 'env.team_sise'; allowed: .*team_size"),
        ("hyperparameters.learnig_rate=0.1", "'hyperparameters.learnig_rate'.*allowed: .*learning_rate"),
        ("policy_kwargs.netarch=[8]", "'policy_kwargs.netarch'.*allowed: .*net_arch"),
        ("algorithm=SAC", "algorithm='SAC' is not allowed; choices: PPO, MaskablePPO, DQN, A2C"),
        ("n_envs=0", r"n_envs=0 is outside the allowed range \[1, 256\]"),
        ("seed=1.5", "seed must be an integer"),
        ("env.overrides.ai.misread=2.0", r"env: ai.misread=2.0 is outside the allowed range \[0.0, 1.0\]"),
        ("env.overrides.ai.misreed=0.1", "env: unknown key 'ai.misreed'"),
        ("env.overrides.experiment.days_post=3", r"env: overrides: experiment.days_post is set by the env \(an"),
        ("env.reward_weights.ratin=1", "env: unknown reward component 'ratin'"),
        ("env.router=all_human", f"env.router applies only to {SHARED_SUPERVISOR_ID}"),
        ("hyperparameters.n_epochs=0", r"hyperparameters.n_epochs=0 must be an integer in \[1, inf\]"),
        ("hyperparameters.batch_size=1", r"hyperparameters.batch_size=1 must be an integer in \[2, inf\]"),
        ("hyperparameters.gamma=abc", r"hyperparameters.gamma='abc' must be a number in \[0, 1\]"),
        ("hyperparameters.ent_coef=.nan", "hyperparameters.ent_coef=nan must be a number"),
        ("hyperparameters.learning_rate=0", "hyperparameters.learning_rate=0 must be a number above 0"),
        ("policy_kwargs.net_arch=[-1]", "policy_kwargs.net_arch=.* must list positive layer sizes"),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_key(
    item: str, match: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(ConfigError, match=match):
        load_train_config(CONFIGS / "train_supervisor.yaml", {item.split("=")[0]: yaml.safe_load(item.split("=")[1])})
    assert main([str(CONFIGS / "train_supervisor.yaml"), "--set", item, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hitl-train: error: ") and "\n" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("router", "match"),
    [
        ("rule_based:x=1", "router 'rule_based:x=1': policy 'rule_based' takes no parameter 'x'"),
        ("sentiment_threshold", "'sentiment_threshold' is a supervisor policy; router policies: rule_based"),
        ("random:p=2", "p must be a probability in"),
        ("models/none.zip", "no saved model at 'models/none.zip'"),
    ],
)
def test_a_bad_shared_supervisor_router_is_a_config_error(router: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=match):
        load_train_config(CONFIGS / "train_team.yaml", {"env.router": router})
    assert main([str(CONFIGS / "train_team.yaml"), "--set", f"env.router={router}", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_a_run_that_fails_while_training_says_so_in_run_json(tmp_path: Path, monkeypatch) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    import train.cli

    class Breaks(BaseCallback):
        def _on_step(self) -> bool:
            raise RuntimeError("broken on purpose")

    made = train.cli.callbacks
    monkeypatch.setattr(train.cli, "callbacks", lambda *a, **kw: [*made(*a, **kw), Breaks()])
    with pytest.raises(RuntimeError, match="broken on purpose"):
        train_run(tmp_path, "train_supervisor.yaml", 256)
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"


def test_invalid_yaml_config_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("algorithm: PPO\n  total_timesteps: [\n")
    assert main([str(config), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hitl-train: error: {str(config)!r} is not valid YAML (line 2, column 18)")
    assert "\n" not in err
    assert not (tmp_path / "x").exists()


def test_overrides_reach_the_env_and_nested_overrides_are_dotted() -> None:
    cfg = load_train_config(
        CONFIGS / "train_supervisor.yaml",
        {"env.overrides.ai.misread": 0.2, "env.overrides": {"monitor": {"emotional": False}}, "seed": 3},
    )
    assert cfg.env.kwargs()["overrides"] == {"ai.misread": 0.2, "monitor.emotional": False}
    assert cfg.seed == 3
    env = gym.make(cfg.env.id, **cfg.env.kwargs())
    assert env.unwrapped.cfg.ai.misread == 0.2 and not env.unwrapped.cfg.monitor.emotional


# ----------------------------------------------------------------------------- envs and statistics
@pytest.mark.parametrize("policy", ["always_takeover", "algorithm_only", "sentiment_threshold"])
def test_shared_supervisor_with_the_rule_router_is_supervisor_v1(policy: str) -> None:
    """Same seeds, same supervisor actions: the same returns, decision counts and reward vectors."""
    from gymnasium.utils.env_checker import check_env

    single, shared = gym.make(SUPERVISOR_ID, **MEDIUM), gym.make(SHARED_SUPERVISOR_ID, **MEDIUM)
    check_env(shared.unwrapped, skip_render_check=True)
    steps = 0
    for seed in range(5):
        pa, pb = agents.make(policy), agents.make(policy)
        (oa, ia), (ob, ib) = single.reset(seed=seed), shared.reset(seed=seed)
        done, total = False, np.zeros((2, len(COMPONENTS)))
        while not done:
            np.testing.assert_array_equal(oa, ob)
            np.testing.assert_array_equal(ia["action_mask"], ib["action_mask"])
            assert ib["agent"].startswith("supervisor_")
            oa, ra, done, _, ia = single.step(pa.act(oa, ia))
            ob, rb, done_b, _, ib = shared.step(pb.act(ob, ib))
            assert done == done_b and ra == pytest.approx(rb, abs=1e-4)
            total += [ia["vector_reward"], ib["vector_reward"]]
            steps += 1
        np.testing.assert_allclose(total[0], total[1], rtol=1e-5, atol=1e-3)
    assert steps > 25


def test_episode_stats_are_sane() -> None:
    """Shares in [0, 1] summing to 1, ratings in 1-5; takeovers only where the policy takes over."""
    stats = {}
    for policy in ("always_takeover", "algorithm_only"):
        env, p = EpisodeStats(gym.make(SUPERVISOR_ID, **MEDIUM)), agents.make(policy)
        obs, info = env.reset(seed=1)
        total, done = np.zeros(len(COMPONENTS)), False
        while not done:
            obs, _, term, trunc, info = env.step(p.act(obs, info))
            total += info["vector_reward"]
            done = term or trunc
        s = stats[policy] = info["episode_stats"]
        np.testing.assert_allclose([s[f"reward/{c}"] for c in COMPONENTS], total, rtol=1e-5)
        assert 1 <= s["kpi/ai/satisfaction"] <= 5 and 1 <= s["kpi/all/satisfaction"] <= 5
        assert 1 <= s["kpi/all/rating"] <= 5  # the ratings customers gave (some rate in 3 hours)
        assert 0 < s["kpi/ai_share"] < 0.5 and s["kpi/ai/duration_min"] > 0
        shares = [s[f"kpi/escalation/{k}"] for k in ("none", "technical", "emotional", "human")]
        assert all(0 <= x <= 1 for x in shares) and sum(shares) == pytest.approx(1.0)
    assert stats["always_takeover"]["kpi/escalation/human"] > 0.3
    assert stats["always_takeover"]["kpi/takeover_round"] >= 1
    assert stats["algorithm_only"]["kpi/escalation/human"] == 0


# ----------------------------------------------------------------------------- end to end
def check_run(out: Path, algorithm: str, env_id: str, budget: int) -> None:
    """A completed run's files and their content."""
    for name in ("run.json", "config.yaml", "final_model.zip", "best_model.zip", "eval/evaluations.npz"):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run["algorithm"] == algorithm and run["env_id"] == env_id
    assert run["env_kwargs"]["team_size"] == 3 and run["status"] == "completed"
    assert budget <= run["num_timesteps"] < budget + 256 and run["runtime_s"] > 0
    assert np.isfinite(run["best_eval_mean_reward"]) and run["versions"]["stable-baselines3"]
    assert load_train_config(out / "config.yaml").to_dict() == run["config"]
    assert sorted(out.glob("checkpoints/model_*_steps.zip"))
    tags = scalars(out)
    expected = ("rollout/ep_rew_mean", "eval/mean_reward", "reward/rating", "reward/worker_time",
                "kpi/ai/satisfaction", "kpi/ai/duration_min", "kpi/escalation/human", "kpi/escalation/none",
                "eval/kpi/ai/satisfaction")  # fmt: skip
    for tag in expected:
        assert tag in tags, tag
        assert all(np.isfinite(v) for _, v in tags[tag]), tag
    assert all(1 <= v <= 5 for _, v in tags["kpi/ai/satisfaction"])


def play(model: Path, env_id: str = SUPERVISOR_ID, seed: int = 0) -> float:
    from agents.learned import load_policy

    return agents.episode_return(gym.make(env_id, **SMALL), load_policy(model), seed)


def assert_acts_like_predict(model: Path, env_id: str) -> None:
    """LearnedPolicy.act (one forward pass) picks what model.predict(deterministic=True) picks."""
    import torch

    from agents.learned import load_policy

    policy = load_policy(model)
    space = gym.make(env_id, **SMALL).observation_space
    actions = set()
    for flipped in (False, True):
        if flipped:  # a short training may prefer one action everywhere: reverse its preferences
            net = getattr(policy.model.policy, "action_net", None) or policy.model.policy.q_net.q_net[-1]
            with torch.no_grad():
                net.weight.neg_(), net.bias.neg_()
        space.seed(0)
        rng = np.random.default_rng(0)
        for _ in range(100):
            obs, mask = space.sample(), np.array([1, rng.integers(2)], np.int8)
            kw = {"action_masks": mask.astype(bool)} if policy.masked_model else {}
            expected, _ = policy.model.predict(obs, deterministic=True, **kw)
            action = policy.act(obs, {"action_mask": mask})
            assert action == (int(expected) if mask[int(expected)] else 0)
            actions.add(action)
    assert actions == {0, 1}  # the observations reach both actions: the comparison is not vacuous


@pytest.mark.parametrize(
    ("config", "algorithm", "vec_env"),
    [
        ("train_supervisor.yaml", None, "subproc"),
        ("train_supervisor.yaml", "PPO", "dummy"),
        ("train_supervisor_dqn.yaml", None, "dummy"),
        ("train_supervisor_a2c.yaml", None, "dummy"),
        ("train_router.yaml", None, "dummy"),
        ("train_team.yaml", None, "dummy"),
    ],
)
def test_cli_end_to_end(config: str, algorithm: str | None, vec_env: str, tmp_path: Path) -> None:
    cfg = load_train_config(CONFIGS / config)
    algorithm = algorithm or cfg.algorithm
    assert train_run(tmp_path, config, 256, f"vec_env={vec_env}", algorithm=algorithm) == 0
    check_run(tmp_path, algorithm, cfg.env.id, 256)
    # the saved models load and act (a shared supervisor acts in Supervisor-v2 unchanged)
    env_id = ROUTER_ID if cfg.env.id == ROUTER_ID else SUPERVISOR_ID
    for name in ("final_model.zip", "best_model.zip"):
        assert np.isfinite(play(tmp_path / name, env_id))
    assert_acts_like_predict(tmp_path / "final_model.zip", env_id)


def test_same_seed_same_model_other_seed_other_model(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert train_run(tmp_path / name, "train_supervisor.yaml", 256, "eval_freq=0", args=["--seed", str(seed)]) == 0
        runs[name] = parameters(tmp_path / name / "final_model.zip")
    assert runs["a"].keys() == runs["b"].keys()
    for k in runs["a"]:
        np.testing.assert_array_equal(runs["a"][k], runs["b"][k], err_msg=k)
    assert any(not np.array_equal(runs["a"][k], runs["c"][k]) for k in runs["a"])


def test_resume_continues_the_timesteps(tmp_path: Path) -> None:
    assert train_run(tmp_path, "train_supervisor.yaml", 256) == 0
    checkpoint = tmp_path / "checkpoints" / "model_128_steps.zip"
    assert checkpoint.is_file()
    first = json.loads((tmp_path / "run.json").read_text())["best_eval_mean_reward"]
    assert train_run(tmp_path, "train_supervisor.yaml", 384, args=["--resume", str(checkpoint)]) == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["resumed_from"] == str(checkpoint) and run["status"] == "completed"
    assert run["num_timesteps"] == 384 and run["best_eval_mean_reward"] >= first
    steps = [s for s, _ in scalars(tmp_path)["eval/mean_reward"]]
    assert max(steps) == 384 and min(steps) <= 128  # one TensorBoard history, continued
    evaluations = np.load(tmp_path / "eval" / "evaluations.npz")
    assert list(evaluations["timesteps"])[-1] == 384 and len(evaluations["timesteps"]) >= 3
    # a budget already reached, or a model of another algorithm, is an error
    assert train_run(tmp_path / "x", "train_supervisor.yaml", 128, args=["--resume", str(checkpoint)]) == 2
    dqn = ["--resume", str(checkpoint)]
    assert train_run(tmp_path / "y", "train_supervisor_dqn.yaml", 512, args=dqn) == 2


def test_ctrl_c_saves_the_model_and_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from train.callbacks import EpisodeStatsLogger

    def interrupt(self: EpisodeStatsLogger) -> bool:
        if self.num_timesteps >= 64:
            raise KeyboardInterrupt
        return True

    monkeypatch.setattr(EpisodeStatsLogger, "_on_step", interrupt)
    assert train_run(tmp_path, "train_supervisor.yaml", 256) == 130
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["status"] == "interrupted" and 64 <= run["num_timesteps"] < 256
    assert np.isfinite(play(tmp_path / "interrupted_model.zip"))
    assert not (tmp_path / "final_model.zip").exists()
