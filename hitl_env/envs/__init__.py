"""Gymnasium environments over the simulation core; importing this registers them."""

from gymnasium.envs.registration import register

from hitl_env.envs.router import RouterEnv
from hitl_env.envs.supervisor import SupervisorEnv

SUPERVISOR_ID = "hitl_env/Supervisor-v2"
ROUTER_ID = "hitl_env/Router-v3"

register(id=SUPERVISOR_ID, entry_point="hitl_env.envs.supervisor:SupervisorEnv")
register(id=ROUTER_ID, entry_point="hitl_env.envs.router:RouterEnv")

__all__ = ["ROUTER_ID", "SUPERVISOR_ID", "RouterEnv", "SupervisorEnv"]
