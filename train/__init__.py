"""Training of ``hitl_env`` policies with stable-baselines3 or Ray RLlib: ``hitl-train CONFIG --out DIR``.

Modules: :mod:`train.config` (the validated run config), :mod:`train.envs` (vectorized envs with
episode statistics), :mod:`train.multi_agent` (one shared supervisor policy on the PettingZoo
team env), :mod:`train.callbacks` (TensorBoard statistics, evaluation, progress),
:mod:`train.cli` (the command), and the Ray RLlib backend: :mod:`train.rllib_env` (the envs
in RLlib's conventions), :mod:`train.rllib` (PPO configs, training, Tune) and
:mod:`train.rllib_cli`. Importing this package registers
:data:`SHARED_SUPERVISOR_ID` with Gymnasium, and with :mod:`agents.loading` as an env whose
models decide takeovers (it observes and acts as ``Supervisor-v2``); torch and
stable-baselines3 load only when a run starts.
"""

from gymnasium.envs.registration import register, registry

from agents.loading import register_model_env

SHARED_SUPERVISOR_ID = "hitl_train/SharedSupervisor-v2"

if SHARED_SUPERVISOR_ID not in registry:
    register(id=SHARED_SUPERVISOR_ID, entry_point="train.multi_agent:SharedSupervisorEnv")
register_model_env("supervisor", SHARED_SUPERVISOR_ID)

__all__ = ["SHARED_SUPERVISOR_ID"]
