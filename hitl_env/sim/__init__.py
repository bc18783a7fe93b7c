"""The simulation core: numpy, numba and pandas (the records), no Gymnasium.

Layout: :mod:`.kernel` (the compiled loop and its state), :mod:`.team` (one team, driven through
its hooks), :mod:`.decisions` (the decision kinds), :mod:`.hooks` (views and the paper's hooks),
:mod:`.population` (draws), :mod:`.run` (the whole operation).
"""

from hitl_env.sim.hooks import PENDING, ArrivalView, PaperSupervisor, RoundView, RuleRouter
from hitl_env.sim.run import simulate
from hitl_env.sim.team import ESCALATIONS, TeamSim

__all__ = ["ESCALATIONS", "PENDING", "ArrivalView", "PaperSupervisor", "RoundView", "RuleRouter", "TeamSim", "simulate"]
