"""Training the team with Ray RLlib (new API stack, PPO): a router policy and one supervisor policy
shared by the workers, through a policy mapping, with action masks honoured.

:func:`team_config` builds the ``PPOConfig`` over :class:`train.rllib_env.RLlibTeamEnv` (the env
class travels to every env runner, so nothing needs registering there); :func:`train_team` runs
it and saves a checkpoint. Requires ``pip install 'hitl-env[rllib]'``.

Not yet done (issue 18): ``hitl-train`` RLlib configs, a Tune entry point, RLlib checkpoints in
``hitl-eval``/``hitl-rct``, and a throughput benchmark against stable-baselines3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hitl_env.multi_agent import ROUTER

POLICIES = ("router", "supervisor")


def policy_of(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    """The policy an agent acts with: ``router``, or the ``supervisor`` policy every worker shares."""
    return "router" if agent_id == ROUTER else "supervisor"


def team_config(env_config: dict[str, Any] | None = None, num_env_runners: int = 2, hidden: int = 64,
                train_batch: int = 2000, minibatch: int = 250, epochs: int = 4, seed: int = 0) -> Any:  # fmt: skip
    """The RLlib PPO config of the team (``env_config``: the team env's arguments)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    from train.rllib_env import RLlibTeamEnv

    module = RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config={"fcnet_hiddens": [hidden, hidden]})
    return (
        PPOConfig()
        .environment(RLlibTeamEnv, env_config=dict(env_config or {}))
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=1)
        .multi_agent(policies=set(POLICIES), policy_mapping_fn=policy_of)
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=dict.fromkeys(POLICIES, module)))
        .training(train_batch_size_per_learner=train_batch, minibatch_size=minibatch, num_epochs=epochs)
        .debugging(seed=seed)
    )


def train_team(config: Any, iterations: int, out: Path) -> tuple[list[dict[str, Any]], Path]:
    """Train ``iterations`` iterations and save a checkpoint in ``out``; each iteration's results."""
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(iterations)]
        path = Path(algo.save(str(Path(out).resolve())).checkpoint.path)
    finally:
        algo.stop()
    return results, path
