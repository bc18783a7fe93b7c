"""One team's simulation: a shared queue, its workers, their chats.

:class:`TeamSim` holds the team's state in numpy arrays and runs it with the compiled event loop
of :mod:`hitl_env.sim.kernel` (one event is one chat round). Decisions go through the hooks of
:mod:`hitl_env.sim.hooks`: the loop stops at each decision, the hook answers, the loop resumes.
A hook that returns ``PENDING`` pauses :meth:`TeamSim.run`, and :meth:`TeamSim.decide` resumes it
with the caller's action. Per-round randomness comes in pre-drawn blocks from the team's
generator, so the same seed gives the same run.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from hitl_env.config import Config
from hitl_env.sim import kernel as K
from hitl_env.sim.decisions import BY_CODE, DECISIONS
from hitl_env.sim.hooks import PENDING, Router, Supervisor
from hitl_env.sim.kernel import AI, DONE, EMOTIONAL, HUMAN, HUMAN_INIT, NONE, QUEUED, TECHNICAL  # noqa: F401
from hitl_env.sim.population import DAY_S, Chats, Workers, shifts

ESCALATIONS = ("none", "technical", "emotional", "human")
"""The escalation types, by the code the records' ``escalation`` holds (``kernel.NONE`` ...)."""
RECORD_FIELDS = (*K.INT_RECORDS, *K.FLOAT_RECORDS)
"""The per-chat record columns of :attr:`TeamSim.rec`."""
BLOCK_ROWS = 4096


def parameters(cfg: Config) -> np.ndarray:
    """The config's numbers the event loop reads, by name, in :data:`kernel.PARAMS` order."""
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
        "max_hand_chats": cfg.supervisor.max_hand_chats,
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
        "gatekeeper_penalty": ai.gatekeeper_penalty, "confidence_rounds": ai.confidence_rounds,
        "takeover_boost": ef.takeover_boost, "takeover_read_s": sv.takeover_read_s,
        "predictive": mon.predictive, "trend_threshold": mon.trend_threshold,
        "predictive_level": mon.predictive_level, "bonus": ef.bonus, "bonus_response": ef.bonus_response,
        "specialized": cfg.supervisor.specialized_share > 0,
        "fatigue_slope": ef.fatigue_slope, "fatigue_threshold": ef.fatigue_threshold,
        "skill_erosion": cfg.workers.skill_erosion,
        **{f"rating_cut_{k + 1}": cut for k, cut in enumerate(out.rating_cuts)},
    }  # fmt: skip
    if values.keys() != set(K.PARAMS):
        raise KeyError(f"parameters and kernel.PARAMS differ: {sorted(values.keys() ^ set(K.PARAMS))}")
    return np.array([float(values[k]) for k in K.PARAMS])


def supervisors(cfg: Config, treated: np.ndarray) -> np.ndarray:
    """Which of a team's workers (``treated``: their arms) only supervise under the specialized design.

    The first ``max(1, round(share * n))`` of the team's ``n`` treated workers (the arms are drawn
    at random, so these are a random draw of them); none at ``supervisor.specialized_share`` 0.
    """
    out = np.zeros(len(treated), np.int64)
    share = cfg.supervisor.specialized_share
    idx = np.flatnonzero(treated)
    if share > 0 and len(idx):
        out[idx[: max(1, round(share * len(idx)))]] = 1
    return out


@functools.lru_cache(maxsize=16)
def _config_arrays(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a team's state takes from the config alone, built once per config (a reset builds a
    team): the loop's parameters ``P``, the per-category table ``CAT``, each category's
    ``ai_allowed`` (a router's mask, as in Router-v3) and its router ``keyword_share``. Callers
    copy them."""
    cats = list(cfg.categories.values())
    by_cat = {
        "eligible": [c.eligible for c in cats],
        "attention": [c.attention for c in cats],
        # the AI's transcript saves human work only in categories within its scope (ai_solvable > 0)
        "handoff_work": [cfg.ai.handoff_work if c.ai_solvable > 0.0 else 1.0 for c in cats],
        "handoff_resolve": [cfg.ai.handoff_resolve if c.ai_solvable > 0.0 else 0.0 for c in cats],
    }
    CAT = np.array([by_cat[k] for k in K.CAT_FIELDS], dtype=float)
    return parameters(cfg), CAT, np.array([c.ai_allowed for c in cats]), np.array([c.keyword_share for c in cats])


_ENTRY_POINTS: dict[tuple, tuple] = {}
"""The compiled loop's entry points (``advance``, ``resume``, ``answer``) by :func:`_layout` of the state."""


def _layout(state: K.State) -> tuple:
    """What numba's type of ``state`` depends on: each array's dtype, dimensions and memory layout."""
    return tuple(
        (a.dtype, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable, a.flags.aligned) for a in state
    )


def _entry_points(state: K.State) -> tuple:
    """Machine code of ``advance``, ``resume`` and ``answer`` for the state's types, called without numba's per-call
    type dispatch (half a call's cost). Looked up by :func:`_layout`: typing the state costs about
    a millisecond, more than the rest of a team's construction."""
    key = _layout(state)
    found = _ENTRY_POINTS.get(key)
    if found is None:
        st = numba.typeof(state)
        advance = K.advance.compile((st, numba.float64, numba.boolean))
        resume = K.resume.compile((st, numba.int64, numba.boolean))
        answer = K.answer.compile((st, numba.int64, numba.boolean, numba.float64, numba.boolean))
        found = _ENTRY_POINTS[key] = advance, resume, answer
    return found


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
        state: the whole state (:class:`kernel.State`); assigning it rebinds the compiled loop.
        rec: the per-chat records, one array per :data:`RECORD_FIELDS` name (views of the
            state: they change as the simulation runs).
    """

    def __init__(
        self, cfg: Config, workers: Workers, chats: Chats, rng: np.random.Generator,
        router: Router | None, supervisor: Supervisor,
    ) -> None:  # fmt: skip
        self.cfg, self.workers, self.C, self.rng = cfg, workers, chats, rng
        self.hooks = {"route": router, "takeover": supervisor}
        n, nw = len(chats), len(workers.speed)
        P, CAT, self.ai_allowed, share = (a.copy() for a in _config_arrays(cfg))
        C = chats
        # one row per chat (its fields share cache lines), one column per field
        CF = np.array([getattr(C, k) for k in K.CF_FIELDS], float).T.copy()
        rule = CAT[K.cat.eligible].astype(np.int64)[C.category]
        if share.any():  # the router's keywords mark a share of a category eligible, with the chat's U_route
            rule = rule | (C.u_route < share[C.category]).astype(np.int64)
        ints = {"category": C.category, "solvable": C.solvable, "misread": C.misread, "ai_need": C.ai_need,
                "tech_round": C.tech_round, "rule_eligible": rule}  # fmt: skip
        CI = np.array([ints[k] for k in K.CI_FIELDS], np.int64).T.copy()
        XF = np.zeros((n, len(K.XF_FIELDS)))
        xf = K.xf
        XF[:, xf.f] = C.f0
        unset = [xf.assign_t, xf.first_reply_t, xf.end_t, xf.takeover_t, xf.f_takeover, xf.rating, xf.satisfaction]
        XF[:, unset] = np.nan
        XF[:, xf.f_peak] = C.f0
        XI = np.zeros((n, len(K.XI_FIELDS)), np.int64)
        XI[:, K.xi.mode] = QUEUED
        XI[:, K.xi.takeover_round] = -1
        rows = {"skill": workers.skill, "empathy": workers.empathy, "att_load": np.zeros(nw),
                "monitoring": cfg.ai.monitoring_attention * workers.monitoring, "fatigue": np.zeros(nw)}  # fmt: skip
        WF = np.array([rows[k] for k in K.WF_FIELDS])
        drift = {"speed": workers.speed[:, None] * workers.speed_drift, "care": workers.care_drift}
        WD = np.array([drift[k] for k in K.WD_FIELDS])
        WI = np.zeros((len(K.WI_FIELDS), nw), np.int64)
        WI[K.wi.treated] = workers.treated
        WI[K.wi.supervisor] = supervisors(cfg, workers.treated)
        on, off = shifts(cfg, workers.shift_start_h)
        cap = 2 * n + 2 * on.size + 16  # per chat: a stale reneging time and one live event
        self.state = K.State(
            CF=CF, CI=CI, XF=XF, XI=XI, WF=WF, WI=WI, WD=WD, HT=np.zeros(cap), HI=np.zeros((cap, 3), np.int64),
            Q=np.zeros(n, np.int64), BN=np.zeros((0, 2)), BU=np.zeros((0, 6)), BE=np.zeros((0, 2)),
            FIN=np.zeros(n, np.int64),
            S=np.zeros(len(K.S_FIELDS), np.int64), SF=np.zeros(len(K.SF_FIELDS)), P=P, CAT=CAT,
            V=np.zeros(K.V_SIZE),
        )  # fmt: skip
        self.t_arr, self.category = C.t, C.category
        self.pending: tuple[str, int, float] | None = None  # (kind, chat, time) of a decision awaiting decide()
        K.schedule_shifts(self.state, on.astype(float), off.astype(float))

    @property
    def router(self) -> Router | None:
        return self.hooks["route"]

    @property
    def supervisor(self) -> Supervisor:
        return self.hooks["takeover"]

    @property
    def state(self) -> K.State:
        return self._state

    @state.setter
    def state(self, state: K.State) -> None:
        """Bind the state, its record views and the compiled loop's entry points for its types."""
        self._state = state
        self.rec = {k: state.XI[:, getattr(K.xi, k)] for k in K.INT_RECORDS}
        self.rec.update({k: state.XF[:, getattr(K.xf, k)] for k in K.FLOAT_RECORDS})
        self._advance, self._resume, self._answer = _entry_points(state)

    def __getstate__(self) -> dict:
        drop = {"rec", "_advance", "_resume", "_answer"}  # views and machine code: rebound on load
        return {k: v for k, v in self.__dict__.items() if k not in drop}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.state = self._state

    # ----------------------------------------------------------------- driving the loop
    def run(self, until: float = math.inf) -> tuple[str, object] | None:
        """Advance until the events run out, time ``until``, or a hook returns PENDING.

        Returns:
            None when done (or at ``until``); else ``(kind, view)`` with kind ``"route"`` or
            ``"takeover"`` (:data:`~hitl_env.sim.decisions.DECISIONS`), to be answered with
            :meth:`decide`.
        """
        if self.pending is not None:
            raise RuntimeError("a decision is pending: call decide() or answer() first")
        until, hooked = float(until), self.hooks["route"] is not None
        return self._loop(self._advance(self._state, until, hooked), until, hooked)

    def answer(self, action: bool, until: float = math.inf) -> tuple[str, object] | None:
        """:meth:`decide`, then :meth:`run`, in one call of the compiled loop instead of two."""
        kind, c = self._take_pending()
        until, hooked = float(until), self.hooks["route"] is not None
        code = self._answer(self._state, DECISIONS[kind].code, self._allowed(kind, c, action), until, hooked)
        return self._loop(code, until, hooked)

    def _loop(self, code: int, until: float, hooked: bool) -> tuple[str, object] | None:
        """Serve the compiled loop's returns (``code`` the first) until a decision is deferred or the run ends."""
        while True:
            if code == K.REFILL:
                self._refill()
                code = self._advance(self._state, until, hooked)
                continue
            if code == K.FINISHED:
                return None
            kind = BY_CODE[code]
            view = kind.read(self._state.V.tolist())
            action = getattr(self.hooks[kind.name], kind.method)(view)
            c = int(self._state.S[K.s.pend_c])
            if action is not PENDING and not isinstance(action, (bool, np.bool_)):
                raise TypeError(
                    f"the {kind.agent} hook {type(self.hooks[kind.name]).__name__}.{kind.method}() returned "
                    f"{action!r}: it must return True, False or PENDING"
                )
            if action is PENDING:
                self.pending = (kind.name, c, float(self._state.SF[K.sf.pend_t]))
                return (kind.name, view)
            code = self._answer(self._state, code, self._allowed(kind.name, c, action), until, hooked)

    def decide(self, action: bool) -> None:
        """Answer the pending decision (eligible for ``route``, take over for ``takeover``).

        A takeover is ignored when the worker already handles ``supervisor.max_hand_chats``
        chats by hand; routing to the AI a category whose ``ai_allowed`` is false acts as False.
        """
        kind, c = self._take_pending()
        self._resume(self._state, DECISIONS[kind].code, self._allowed(kind, c, action))

    def _take_pending(self) -> tuple[str, int]:
        if self.pending is None:
            raise RuntimeError("no decision is pending")
        (kind, c, _), self.pending = self.pending, None
        return kind, c

    def _allowed(self, kind: str, c: int, action: bool) -> bool:
        """The action with the router's mask applied (Router-v3's ``ai_allowed`` mask)."""
        return bool(action) and (kind != "route" or bool(self.ai_allowed[self.C.category[c]]))

    def _refill(self) -> None:
        """Put a new block of draws behind the rows left (rows are taken from the end): its normals,
        then its uniforms, then its exponentials, drawn straight into the new arrays."""
        r, st = self.rng, self._state
        left = st.S[K.s.b_left]
        BN, BU, BE = (np.empty((BLOCK_ROWS + left, k)) for k in (2, 6, 2))
        r.standard_normal(out=BN[:BLOCK_ROWS])
        r.random(out=BU[:BLOCK_ROWS])
        r.standard_exponential(out=BE[:BLOCK_ROWS])
        BN[BLOCK_ROWS:], BU[BLOCK_ROWS:], BE[BLOCK_ROWS:] = st.BN[:left], st.BU[:left], st.BE[:left]
        self._state = st._replace(BN=BN, BU=BU, BE=BE)  # same types: the entry points still fit
        st.S[K.s.b_left] = len(BN)

    def take_finished(self) -> list[int]:
        """The chats closed since the last call, in order (each is handed out once)."""
        st = self._state
        n = st.S[K.s.fin_n]
        st.S[K.s.fin_n] = 0
        return st.FIN[:n].tolist()

    # ----------------------------------------------------------------- state, read-only views
    @property
    def mode(self) -> np.ndarray:
        """Each chat's mode: ``HUMAN``, ``AI``, ``DONE`` or ``QUEUED`` (not yet arrived, or waiting)."""
        return self._state.XI[:, K.xi.mode]

    @property
    def need(self) -> np.ndarray:
        """Work units each human-handled chat needs before it closes."""
        return self._state.XF[:, K.xf.need]

    @property
    def reading(self) -> np.ndarray:
        """The latest sentiment reading of each AI chat."""
        return self._state.XF[:, K.xf.reading]

    @property
    def held(self) -> list[int]:
        """Chats each worker holds (AI chats included)."""
        return self._state.WI[K.wi.held].tolist()

    @property
    def ai_held(self) -> list[int]:
        """Of those, the chats the AI is handling."""
        return self._state.WI[K.wi.ai_held].tolist()

    @property
    def online(self) -> list[bool]:
        return self._state.WI[K.wi.online].astype(bool).tolist()

    @property
    def n_queued(self) -> int:
        """Chats waiting in the queue."""
        return int(self._state.S[K.s.n_queued])

    @property
    def queue(self) -> list[int]:
        """The queue, FIFO; it may hold chats that already left (skipped when reached)."""
        S = self._state.S
        return self._state.Q[S[K.s.q_head] : S[K.s.q_tail]].tolist()

    @property
    def next_arrival(self) -> int:
        """Index of the next chat to arrive."""
        return int(self._state.S[K.s.next_arrival])
