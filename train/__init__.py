"""Training of ``hitl_env`` policies with stable-baselines3: ``hitl-train CONFIG --out DIR``.

Modules: :mod:`train.config` (the validated run config), :mod:`train.envs` (vectorized envs with
episode statistics), :mod:`train.multi_agent` (one shared supervisor policy on the PettingZoo
team env), :mod:`train.callbacks` (TensorBoard statistics, evaluation, progress) and
:mod:`train.cli` (the command). Importing this package registers
``hitl_train/SharedSupervisor-v1``; torch and stable-baselines3 load only when a run starts.
"""

from gymnasium.envs.registration import register, registry

if "hitl_train/SharedSupervisor-v1" not in registry:
    register(id="hitl_train/SharedSupervisor-v1", entry_point="train.multi_agent:SharedSupervisorEnv")
