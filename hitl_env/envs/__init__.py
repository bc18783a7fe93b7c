"""Gymnasium environments over the simulation core; importing this registers them."""

from gymnasium.envs.registration import register

from hitl_env.envs.router import RouterEnv
from hitl_env.envs.supervisor import SupervisorEnv

register(id="hitl_env/Supervisor-v1", entry_point="hitl_env.envs.supervisor:SupervisorEnv")
register(id="hitl_env/Router-v2", entry_point="hitl_env.envs.router:RouterEnv")

__all__ = ["RouterEnv", "SupervisorEnv"]
