"""``hitl_env/Supervisor-v2``: the supervisor's takeover decision."""

from __future__ import annotations

from typing import Any

from hitl_env.envs.base import Defer, TeamEnv
from hitl_env.envs.observations import SupervisorObs
from hitl_env.sim.hooks import NeverTakeover

SCOPES = ("ai", "team")


class SupervisorEnv(TeamEnv):
    """Take over an AI-handled chat now, or let the AI continue.

    ## Description
    One team of workers (``team_size``, default 10) works one shift of the calibrated operation
    (``preset``, default ``taobao_2024``), every worker with the AI on. The router marks chats
    AI-eligible by the category rule; the AI handles them under the supervision of the worker
    they are assigned to. Each time one of the team's AI chats completes a round in which no
    algorithmic trigger fired, the AI did not resolve the issue and the customer did not leave,
    the agent decides for that chat's worker whether to take over. The technical and sentiment
    triggers still escalate on their own (turn them off with ``overrides={"monitor.technical":
    False}`` or ``"monitor.emotional"``). Everything else (human chats, the queue, emotions)
    runs in the simulation core exactly as in ``hitl_env.simulate``.

    ## Action Space
    ``Discrete(2)``: 0 lets the AI continue, 1 takes over. A takeover is impossible when the
    worker already handles ``supervisor.max_hand_chats`` chats by hand; ``info["action_mask"]``
    (and :meth:`action_masks`) is then ``[1, 0]``, and action 1 acts as 0.

    ## Observation Space
    ``Box(float32)`` of shape ``(12 + n_categories,)``: only what a supervisor sees, no latent
    variable. Values are clipped to the bounds.

    | index | observation | min | max |
    |-------|-------------|-----|-----|
    | 0 | AI rounds so far | 0 | 1000 |
    | 1 | minutes since the chat arrived | 0 | 1440 |
    | 2 | sentiment reading (negative is frustrated; noisy) | -20 | 20 |
    | 3 | change of the reading since the previous round | -40 | 40 |
    | 4 | the AI's confidence signal | 0 | 1 |
    | 5 | chats the worker holds (AI chats included) | 0 | 50 |
    | 6 | of those, chats the AI handles | 0 | 50 |
    | 7 | chats waiting in the team's queue | 0 | 10000 |
    | 8 | 1 if a takeover is possible | 0 | 1 |
    | 9 | time since the shift started, in shifts | 0 | 3 |
    | 10 | lowest sentiment reading of the chat so far | -20 | 20 |
    | 11 | mean of the AI's confidence over the chat's rounds so far | 0 | 1 |
    | 12... | issue category, one-hot | 0 | 1 |

    ## Rewards
    At each step, the weighted sum of the reward components (:mod:`hitl_env.rewards`: rating,
    duration, worker time, retrial, abandonment) of the team's AI-routed chats that closed since
    the previous step (``scope="ai"``, the default), or of every chat of the team that closed
    since then (``scope="team"``: a takeover also costs the worker's other chats the attention it
    diverts, and the team scope prices that, at the price of a noisier reward: on the default
    weights, under ``algorithm_only``, over 20 shifts, the per-step reward's SD is 6.4 in the AI
    scope and 145 in the team scope, whose return, about -9,100 a shift, prices every chat); the
    vector is in ``info["vector_reward"]`` and its space in ``reward_space``. ``rating="dense"``
    scores every chat's satisfaction, ``"sparse"`` only the ratings customers actually give
    (about 17%). Default weights: ``hitl_env.rewards.DEFAULT_WEIGHTS``.

    ``credit="chat"`` credits each chat's outcome to the decisions made on it: an episode is then
    one AI chat, from its first decision to its close, and its one reward, at the last step, is
    that chat's weighted components; the team's other AI chats are left to the AI meanwhile
    (``algorithm_only``), and the next ``reset()`` (without a seed) goes on in the same shift with
    the next chat to reach its first decision (a new shift when this one has none left). The
    chat's return has none of the other chats' noise: on the default weights, under
    ``algorithm_only``, over 20 shifts, 744 chat episodes of 2.5 steps have a return SD of 5.4,
    where ``credit="shift"`` has 120 steps a shift, a per-step reward SD of 6.4 and a return SD
    of 73. It prices neither the team scope nor the attention a takeover diverts from the
    worker's other chats. Evaluate a policy trained so on the default ``credit="shift"``, whose
    return is the shift's.

    ## Starting State
    A new team (workers, arrivals and latent chat attributes drawn from the env's seed) at the
    shift start; ``reset`` runs the core to the first takeover decision.

    ## Episode End
    Arrivals stop at the end of the shift; the episode terminates when the team has closed every
    chat of the shift (no further decision can come). No truncation: wrap with
    ``gymnasium.wrappers.TimeLimit`` for one. A shift with no decision at all (e.g. a preset
    without AI) is a one-step episode with zero reward.

    ## Arguments
    ``gymnasium.make("hitl_env/Supervisor-v2", preset="taobao_2024", overrides=None,
    team_size=10, shift_hours=8.0, start_hour=9, reward_weights=None, rating="dense",
    render_mode=None, scope="ai", credit="shift")``: ``preset`` a preset name or YAML path,
    ``overrides`` dotted keys (not the fields the episode sets itself,
    ``hitl_env.envs.base.EPISODE_KEYS``: a ``ValueError``); ``reward_weights`` a mapping of
    component to weight (unset ones keep their defaults); ``render_mode`` ``"ansi"`` or ``"rgb_array"``.

    ## Version History
    * v2: the calibrated ``taobao_2024`` changed (DOMAIN.md's per-escalation-type
      table and statistical power): a hand takeover costs a rating penalty (gatekeeper aversion)
      and gets a worker's chosen effort; ratings are J-shaped; workers drift from day to day;
      the AI's confidence signal is weak at first and sharpens over rounds (the observation's
      ``confidence``); the supervisor also observes the chat's lowest reading and mean
      confidence so far; the default reward weights are a cost model in worker-minutes
      (:mod:`hitl_env.rewards`). Returns and observations are not comparable with v1's.
    * v1: the calibrated ``taobao_2024`` changed: a worker who takes over an AI chat within the
      AI's scope resolves it more often (``ai.handoff_resolve`` 0.1, the AI's transcript); returns
      are not comparable with v0's.
    * v0: initial version.
    """

    observation_type = SupervisorObs

    def __init__(self, *args: Any, scope: str = "ai", **kwargs: Any) -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
        if kwargs.get("credit") == "chat" and scope != "ai":
            raise ValueError('credit="chat" scores the episode\'s own chat only: it needs scope="ai"')
        self.scope = scope
        super().__init__(*args, **kwargs)

    def _hooks(self) -> tuple[None, Defer]:
        return None, Defer()

    def _background(self) -> NeverTakeover:
        return NeverTakeover()

    def _ai_only(self) -> bool:
        return self.scope == "ai"
