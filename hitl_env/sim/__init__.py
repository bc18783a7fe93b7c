"""The simulation core: numpy and the standard library only, no Gymnasium."""

from hitl_env.sim.hooks import PENDING, ArrivalView, PaperSupervisor, RoundView, RuleRouter
from hitl_env.sim.run import simulate
from hitl_env.sim.team import ESCALATIONS, TeamSim

__all__ = ["ESCALATIONS", "PENDING", "ArrivalView", "PaperSupervisor", "RoundView", "RuleRouter", "TeamSim", "simulate"]
