"""``hitl_env/Router-v3``: the router's eligibility decision."""

from __future__ import annotations

from hitl_env.envs.base import Defer, TeamEnv
from hitl_env.envs.observations import RouterObs
from hitl_env.sim.decisions import default_supervisor
from hitl_env.sim.hooks import RuleRouter


class RouterEnv(TeamEnv):
    """Send an arriving chat to the AI, or to a human.

    ## Description
    One team of workers (``team_size``, default 10) works one shift of the calibrated operation
    (``preset``, default ``taobao_2024``), every worker with the AI on. At each arrival the
    agent decides whether the chat is AI-eligible. An eligible chat is handled by the AI under
    the supervision of the worker it is assigned to (who takes over like the paper's workers,
    ``supervisor.*``), with the algorithmic triggers on; an ineligible one by the worker from
    the start. Everything else runs in the simulation core exactly as in ``hitl_env.simulate``.

    ## Action Space
    ``Discrete(2)``: 0 sends the chat to a human, 1 to the AI. Categories whose
    ``categories.<name>.ai_allowed`` is false may not go to the AI: ``info["action_mask"]``
    (and :meth:`action_masks`) is then ``[1, 0]``, and action 1 acts as 0.

    ## Observation Space
    ``Box(float32)`` of shape ``(6 + n_categories,)``: the arriving chat's observable features
    and the current load, clipped to the bounds. Loads are per online worker (a count where
    nobody is online) and every value is of order 1, so networks need no input normalization.

    | index | observation | min | max |
    |-------|-------------|-----|-----|
    | 0 | 1 if the paper's rule marks the category eligible | 0 | 1 |
    | 1 | 1 if the category may go to the AI | 0 | 1 |
    | 2 | chats waiting in the team's queue, per online worker | 0 | 1000 |
    | 3 | chats held by the team's workers, per online worker | 0 | 50 |
    | 4 | online workers, as a share of the team | 0 | 1 |
    | 5 | time since the shift started, in shifts | 0 | 3 |
    | 6... | issue category, one-hot | 0 | 1 |

    ## Rewards
    At each step, the weighted sum of the reward components (:mod:`hitl_env.rewards`) of every
    chat of the team that closed since the previous step; the vector is in
    ``info["vector_reward"]``, its space in ``reward_space``; ``rating`` ``"dense"`` or
    ``"sparse"`` as in ``Supervisor-v2``.

    ``credit="chat"`` credits each chat's outcome to its routing decision: an episode is then one
    arriving chat, one step whose reward is that chat's weighted components once it has closed;
    the arrivals meanwhile are routed by the paper's rule, and the next ``reset()`` (without a
    seed) goes on in the same shift with the next arrival (a new shift when none is left). It
    prices none of the load the decision puts on the team's other chats: evaluate a policy
    trained so on the default ``credit="shift"``.

    ## Starting State
    A new team drawn from the env's seed at the shift start; ``reset`` runs to the first arrival.

    ## Episode End
    The episode terminates at the step that routes the last arrival of the shift; the core then
    runs the shift out, so that step's reward includes every chat still open. No truncation.

    ## Arguments
    ``gymnasium.make("hitl_env/Router-v3", preset="taobao_2024", overrides=None, team_size=10,
    shift_hours=8.0, start_hour=9, reward_weights=None, rating="dense", render_mode=None,
    credit="shift")``, as for ``Supervisor-v2``.

    ## Version History
    * v3: the calibrated ``taobao_2024`` changed (DOMAIN.md's per-escalation-type
      table and statistical power): a hand takeover costs a rating penalty (gatekeeper aversion)
      and gets a worker's chosen effort; ratings are J-shaped; workers drift from day to day;
      the AI's confidence signal is weak at first and sharpens over rounds (the observation's
      ``confidence``); the supervisor also observes the chat's lowest reading and mean
      confidence so far; the default reward weights are a cost model in worker-minutes
      (:mod:`hitl_env.rewards`). Returns and observations are not comparable with v2's.
    * v2: the calibrated ``taobao_2024`` changed: a worker who takes over an AI chat within the
      AI's scope resolves it more often (``ai.handoff_resolve`` 0.1, the AI's transcript); returns
      are not comparable with v1's.
    * v1: the load observations are per online worker (queue, chats held) and the online workers
      a share of the team, instead of raw counts; an escalated chat of a category the AI cannot
      solve (``ai_solvable = 0``) needs the full human work (``ai.handoff_work`` applies only
      within the AI's scope). Models trained on v0 do not transfer.
    * v0: initial version.
    """

    observation_type = RouterObs

    def _hooks(self) -> tuple[Defer, object]:
        return Defer(), default_supervisor(self.cfg)

    def _background(self) -> RuleRouter:
        return RuleRouter()
