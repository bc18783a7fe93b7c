"""One team's simulation: a shared queue, its workers, their chats.

:class:`TeamSim` holds the team's state in numpy arrays and runs it with the compiled event loop
of :mod:`hitl_env.sim.kernel` (one event is one chat round). Decisions go through the hooks of
:mod:`hitl_env.sim.hooks`: the loop stops at each decision, the hook answers, the loop resumes.
A hook that returns ``PENDING`` pauses :meth:`TeamSim.run`, and :meth:`TeamSim.decide` resumes it
with the caller's action. Per-round randomness comes in pre-drawn blocks from the team's
generator, so the same seed gives the same run.
"""

from __future__ import annotations

import math

import numpy as np

from hitl_env.config import Config
from hitl_env.sim import kernel as K
from hitl_env.sim.hooks import PENDING, ArrivalView, RoundView, Router, Supervisor
from hitl_env.sim.kernel import AI, DONE, EMOTIONAL, HUMAN, HUMAN_INIT, NONE, QUEUED, TECHNICAL  # noqa: F401
from hitl_env.sim.population import DAY_S, Chats, Workers, shifts

ESCALATIONS = ("none", "technical", "emotional", "human")
RECORD_FIELDS = (*K.INT_RECORDS, *K.FLOAT_RECORDS)
"""The per-chat record columns of :attr:`TeamSim.rec`."""
BLOCK_ROWS = 4096


def parameters(cfg: Config) -> np.ndarray:
    """The config's numbers the event loop reads, in :data:`kernel.PARAMS` order."""
    sv, ef, em, ai, mon, pt, out = cfg.service, cfg.effort, cfg.emotion, cfg.ai, cfg.monitor, cfg.patience, cfg.outcome
    values = {
        "switch_rate": sv.switch_rate, "away_s": sv.away_s, "reply_lag_s": sv.reply_lag_s,
        "slowdown": sv.concurrency_slowdown, "lag_sd": sv.lag_sd, "lag_mu": -0.5 * sv.lag_sd**2,
        "reply_base": ef.reply_base, "extra_message": ef.extra_message, "proactive_base": ef.proactive_base,
        "passive_progress": ef.passive_progress, "lag_exponent": ef.lag_exponent, "nudge_s": ef.nudge_s,
        "close_s": sv.close_s, "customer_reply_s": sv.customer_reply_s, "lag_per_min": em.lag_per_min,
        "lag_expect_s": em.lag_expect_s, "progress_relief": em.progress_relief, "decay": em.decay,
        "noise_sd": em.noise_sd, "hazard_base": pt.hazard_base, "hazard_slope": pt.hazard_slope,
        "max_rounds": sv.max_rounds, "emotion_on": em.enabled, "queue_per_min": em.queue_per_min,
        "post_start": cfg.experiment.days_pre * DAY_S, "rounds_model": sv.model == "rounds",
        "service_rate": sv.rate_per_hour / 3600.0, "max_concurrency": sv.max_concurrency,
        "monitoring_attention": ai.monitoring_attention, "max_hand_chats": cfg.supervisor.max_hand_chats,
        "ai_reply_s": ai.reply_s, "ai_progress": ai.progress, "misread_frustration": ai.misread_frustration,
        "loop_frustration": ai.loop_frustration, "frustrating_jump": ai.frustrating_jump,
        "frustrating_reply": ai.frustrating_reply, "confidence_gap": ai.confidence_gap,
        "confidence_noise": ai.confidence_noise, "resolution_quality": ai.resolution_quality,
        "ai_max_rounds": ai.max_rounds, "escalated_attention": ai.escalated_attention,
        "handoff_read_s": sv.handoff_read_s, "sentiment_noise": mon.sentiment_noise,
        "emotional_threshold": mon.emotional_threshold, "technical": mon.technical, "emotional": mon.emotional,
        "emotional_rounds": mon.emotional_rounds, "lateness_grace_rounds": ef.lateness_grace_rounds,
        "frustration_grace": ef.frustration_grace, "effort_floor": ef.floor,
        "frustration_slope": ef.frustration_slope, "lateness_slope": ef.lateness_slope,
        "scope_exponent": ef.scope_exponent, "silent_share": pt.silent_share,
        "silent_timeout_s": pt.silent_timeout_s, "resolve_base": out.resolve_base,
        "resolve_effort": out.resolve_effort, "resolution_relief": em.resolution_relief,
        "rating_base": out.rating_base, "rating_resolved": out.rating_resolved, "rating_peak": out.rating_peak,
        "rating_end": out.rating_end, "rating_noise": out.rating_noise, "style_penalty": ai.style_penalty,
        "rate_base": out.rate_base, "rate_frustration": out.rate_frustration, "retrial_base": out.retrial_base,
        "retrial_unresolved": out.retrial_unresolved, "retrial_frustration": out.retrial_frustration,
        # rows one event may take: a worker coming online can take max_concurrency queued chats
        "margin": sv.max_concurrency + 2,
    }  # fmt: skip
    return np.array([float(values[k]) for k in K.PARAMS])


class TeamSim:
    """One team's queue, workers and chats, advanced by :meth:`run`.

    Args:
        cfg: the configuration.
        workers: this team's workers.
        chats: this team's arrivals (sorted by time).
        rng: the generator for per-round randomness.
        router: the eligibility hook (None: the category rule, without a call per arrival).
        supervisor: the takeover hook.

    Attributes:
        rec: the per-chat records, one array per :data:`RECORD_FIELDS` name (views of the
            state: they change as the simulation runs).
        finished: chats closed so far, in order (consumers may clear it).
    """

    def __init__(
        self, cfg: Config, workers: Workers, chats: Chats, rng: np.random.Generator,
        router: Router | None, supervisor: Supervisor,
    ) -> None:  # fmt: skip
        self.cfg, self.workers, self.C, self.rng = cfg, workers, chats, rng
        self.router, self.supervisor = router, supervisor
        n, nw = len(chats), len(workers.speed)
        cats = list(cfg.categories.values())
        self.ai_allowed = np.array([c.ai_allowed for c in cats])  # a router's mask, as in Router-v2
        # the AI's transcript saves human work only in categories within its scope (ai_solvable > 0)
        self.CAT = np.array([
            [c.eligible for c in cats],
            [c.attention for c in cats],
            [cfg.ai.handoff_work if c.ai_solvable > 0.0 else 1.0 for c in cats],
            [cfg.ai.handoff_resolve if c.ai_solvable > 0.0 else 0.0 for c in cats],
        ], dtype=float)  # fmt: skip
        C = chats
        # one row per chat (its fields share cache lines), one column per field
        self.CF = np.column_stack([C.t, C.work, C.patience, C.u_silent, C.u_resolve, C.u_rate, C.z_rating, C.u_retrial])
        rule = self.CAT[K.CAT_ELIGIBLE].astype(np.int64)[C.category]
        self.CI = np.column_stack([C.category, C.solvable, C.misread, C.ai_need, C.tech_round, rule]).astype(np.int64)
        self.XF = np.zeros((n, 5 + len(K.FLOAT_RECORDS)))
        self.XF[:, K.F] = C.f0
        unset = [K.ASSIGN_T, K.FIRST_REPLY_T, K.END_T, K.TAKEOVER_T, K.F_TAKEOVER, K.RATING, K.SATISFACTION]
        self.XF[:, unset] = np.nan
        self.XF[:, K.F_PEAK] = C.f0
        self.XI = np.zeros((n, 2 + len(K.INT_RECORDS)), np.int64)
        self.XI[:, K.MODE] = QUEUED
        self.XI[:, K.TAKEOVER_ROUND] = -1
        self.WF = np.array([workers.speed, workers.skill, workers.empathy, np.zeros(nw)])
        self.WI = np.zeros((4, nw), np.int64)
        self.WI[K.TREATED] = workers.treated
        on, off = shifts(cfg, workers.shift_start_h)
        cap = 2 * n + 2 * on.size + 16  # per chat: a stale reneging time and one live event
        self.HT, self.HI = np.zeros(cap), np.zeros((cap, 3), np.int64)
        self.Q, self.FIN = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.B = np.zeros((0, 10))
        self.S, self.SF = np.zeros(10, np.int64), np.zeros(2)
        self.P, self.V = parameters(cfg), np.zeros(K.V_SIZE)
        self._bind_records()
        self.t_arr, self.category = C.t, C.category
        self.pending: tuple[str, int, float] | None = None  # (kind, chat, time) of a decision awaiting decide()
        self.finished: list[int] = []
        for w in range(nw):
            for a, b in zip(on[w].tolist(), off[w].tolist(), strict=True):
                K.push(self.HT, self.HI, self.S, a, K.SHIFT_ON, w)
                K.push(self.HT, self.HI, self.S, b, K.SHIFT_OFF, w)

    def _bind_records(self) -> None:
        self.rec = {k: self.XI[:, i] for k, i in K.INT_RECORDS.items()}
        self.rec.update({k: self.XF[:, i] for k, i in K.FLOAT_RECORDS.items()})

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "rec"}  # views: rebound on load

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_records()

    def _state(self) -> tuple:
        return (self.CF, self.CI, self.XF, self.XI, self.WF, self.WI, self.HT, self.HI, self.Q, self.B,
                self.FIN, self.S, self.SF, self.P, self.CAT)  # fmt: skip

    # ----------------------------------------------------------------- driving the loop
    def run(self, until: float = math.inf) -> tuple[str, object] | None:
        """Advance until the events run out, time ``until``, or a hook returns PENDING.

        Returns:
            None when done (or at ``until``); else ``(kind, view)`` with kind ``"route"`` or
            ``"takeover"``, to be answered with :meth:`decide`.
        """
        if self.pending is not None:
            raise RuntimeError("a decision is pending: call decide() first")
        state, V = self._state(), self.V
        hooked = self.router is not None
        while True:
            code = K.advance(*state, V, until, hooked)
            if code == K.REFILL:
                self._refill()
                state = self._state()
                continue
            if code == K.FINISHED:
                self._collect()
                return None
            v = V.tolist()
            if code == K.ROUTE:
                c = int(v[0])
                view = ArrivalView(c, v[1], int(v[2]), bool(v[3]), int(v[4]), int(v[5]), int(v[6]), self.C.u_route[c])
                action = self.router.route(view)  # type: ignore[union-attr]
                kind = "route"
            else:
                view = RoundView(int(v[0]), int(v[1]), v[2], v[3], int(v[4]), v[5], v[6], v[7], int(v[8]), int(v[9]),
                                 int(v[10]), int(v[11]), bool(v[12]), v[13])  # fmt: skip
                action = self.supervisor.takeover(view)
                kind = "takeover"
            if action is PENDING:
                self.pending = (kind, int(self.S[K.PEND_C]), float(self.SF[K.PEND_T]))
                self._collect()
                return (kind, view)
            K.resume(*state, code, self._allowed(kind, int(self.S[K.PEND_C]), action))

    def decide(self, action: bool) -> None:
        """Answer the pending decision (eligible for ``route``, take over for ``takeover``).

        A takeover is ignored when the worker already handles ``supervisor.max_hand_chats``
        chats by hand; routing to the AI a category whose ``ai_allowed`` is false acts as False.
        """
        if self.pending is None:
            raise RuntimeError("no decision is pending")
        (kind, c, _), self.pending = self.pending, None
        K.resume(*self._state(), K.ROUTE if kind == "route" else K.TAKEOVER, self._allowed(kind, c, action))

    def _allowed(self, kind: str, c: int, action: bool) -> bool:
        """The action with the router's mask applied (Router-v2's ``ai_allowed`` mask)."""
        return bool(action) and (kind != "route" or bool(self.ai_allowed[self.C.category[c]]))

    def _refill(self) -> None:
        """Put a new block of draws behind the rows left (rows are taken from the end)."""
        r = self.rng
        block = np.hstack(
            [r.standard_normal((BLOCK_ROWS, 2)), r.random((BLOCK_ROWS, 6)), r.standard_exponential((BLOCK_ROWS, 2))]
        )
        left = self.S[K.B_LEFT]
        self.B = np.vstack([block, self.B[:left]])
        self.S[K.B_LEFT] = len(self.B)

    def _collect(self) -> None:
        n = self.S[K.FIN_N]
        if n:
            self.finished.extend(self.FIN[:n].tolist())
            self.S[K.FIN_N] = 0

    # ----------------------------------------------------------------- state, read-only views
    @property
    def mode(self) -> np.ndarray:
        """Each chat's mode: ``HUMAN``, ``AI``, ``DONE`` or ``QUEUED`` (not yet arrived, or waiting)."""
        return self.XI[:, K.MODE]

    @property
    def need(self) -> np.ndarray:
        """Work units each human-handled chat needs before it closes."""
        return self.XF[:, K.NEED]

    @property
    def reading(self) -> np.ndarray:
        """The latest sentiment reading of each AI chat."""
        return self.XF[:, K.READING]

    @property
    def held(self) -> list[int]:
        """Chats each worker holds (AI chats included)."""
        return self.WI[K.HELD].tolist()

    @property
    def ai_held(self) -> list[int]:
        """Of those, the chats the AI is handling."""
        return self.WI[K.AI_HELD].tolist()

    @property
    def online(self) -> list[bool]:
        return self.WI[K.ONLINE].astype(bool).tolist()

    @property
    def n_queued(self) -> int:
        """Chats waiting in the queue."""
        return int(self.S[K.N_QUEUED])

    @property
    def queue(self) -> list[int]:
        """The queue, FIFO; it may hold chats that already left (skipped when reached)."""
        return self.Q[self.S[K.Q_HEAD] : self.S[K.Q_TAIL]].tolist()

    @property
    def next_arrival(self) -> int:
        """Index of the next chat to arrive."""
        return int(self.S[K.NEXT_ARRIVAL])
