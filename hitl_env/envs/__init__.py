"""Gymnasium environments over the simulation core; importing this registers them."""

from gymnasium.envs.registration import register

from hitl_env.envs.mo import MORouterEnv, MOSupervisorEnv
from hitl_env.envs.router import RouterEnv
from hitl_env.envs.supervisor import SupervisorEnv

SUPERVISOR_ID = "hitl_env/Supervisor-v2"
ROUTER_ID = "hitl_env/Router-v3"


def _mo(env_id: str) -> str:
    """The id of an env's multi-objective variant: same namespace and version, ``mo-`` before the name."""
    namespace, name = env_id.split("/")
    return f"{namespace}/mo-{name}"


MO_SUPERVISOR_ID = _mo(SUPERVISOR_ID)  # hitl_env/mo-Supervisor-v2
MO_ROUTER_ID = _mo(ROUTER_ID)  # hitl_env/mo-Router-v3

register(id=SUPERVISOR_ID, entry_point="hitl_env.envs.supervisor:SupervisorEnv")
register(id=ROUTER_ID, entry_point="hitl_env.envs.router:RouterEnv")
# Gymnasium's passive checker wants a scalar reward; MO-Gymnasium's own envs skip it too (mo_gymnasium.make)
register(id=MO_SUPERVISOR_ID, entry_point="hitl_env.envs.mo:MOSupervisorEnv", disable_env_checker=True)
register(id=MO_ROUTER_ID, entry_point="hitl_env.envs.mo:MORouterEnv", disable_env_checker=True)

__all__ = [
    "MO_ROUTER_ID",
    "MO_SUPERVISOR_ID",
    "ROUTER_ID",
    "SUPERVISOR_ID",
    "MORouterEnv",
    "MOSupervisorEnv",
    "RouterEnv",
    "SupervisorEnv",
]
