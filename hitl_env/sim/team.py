"""The event-driven simulation of one team: a shared queue, its workers, their chats.

One event is one chat round (a customer message and the reply to it), so the loop runs a few
million events for the full experiment. Per-round randomness comes in pre-drawn rows of a
block (see :class:`_Block`), so a round costs one list pop. Decisions go through the hooks of
:mod:`hitl_env.sim.hooks`; a hook that returns ``PENDING`` pauses :meth:`TeamSim.run`, and
:meth:`TeamSim.decide` resumes it with the caller's action.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from types import SimpleNamespace

import numpy as np

from hitl_env.config import Config
from hitl_env.sim.hooks import PENDING, ArrivalView, RoundView, Router, Supervisor
from hitl_env.sim.population import DAY_S, Chats, Workers, shifts

HUMAN, AI, DONE, QUEUED = 0, 1, 2, 3
SHIFT_ON, SHIFT_OFF, RENEGE, ROUND, END = 0, 1, 2, 3, 4
NONE, TECHNICAL, EMOTIONAL, HUMAN_INIT = 0, 1, 2, 3
ESCALATIONS = ("none", "technical", "emotional", "human")

# Per-chat record columns kept as Python lists during the run (fast scalar access).
RECORD_FIELDS = (
    "worker", "eligible", "routed_ai", "assign_t", "first_reply_t", "end_t", "ai_rounds",
    "msg_worker", "msg_ai", "lag_sum", "held_sum", "switches", "away_s",
    "worker_rounds", "human_rounds", "proactive", "empathetic", "escalation", "takeover_t",
    "takeover_round", "f_takeover", "f_peak", "f_end", "effort", "resolved", "abandoned",
    "rated", "rating", "satisfaction", "retrial",
)  # fmt: skip


class _Block:
    """Rows of pre-drawn randomness: 2 normals, 6 uniforms, 2 unit exponentials per row."""

    def __init__(self, rng: np.random.Generator, rows: int = 4096) -> None:
        self.rng, self.n, self.rows = rng, rows, []

    def next(self) -> list[float]:
        if not self.rows:
            r = self.rng
            block = np.hstack(
                [r.standard_normal((self.n, 2)), r.random((self.n, 6)), r.standard_exponential((self.n, 2))]
            )
            self.rows = block.tolist()
        return self.rows.pop()


class TeamSim:
    """One team's queue, workers and chats, advanced by :meth:`run`.

    Args:
        cfg: the configuration.
        workers: this team's workers.
        chats: this team's arrivals (sorted by time).
        rng: the generator for per-round randomness.
        router: the eligibility hook (None: the category rule, without a call per arrival).
        supervisor: the takeover hook.
    """

    def __init__(
        self, cfg: Config, workers: Workers, chats: Chats, rng: np.random.Generator,
        router: Router | None, supervisor: Supervisor,
    ) -> None:  # fmt: skip
        self.cfg, self.C = cfg, chats
        # the loop reads per-chat inputs as Python scalars: numpy scalar arithmetic is ~10x slower
        self.L = SimpleNamespace(**{k: getattr(chats, k).tolist() for k in chats.__dataclass_fields__})
        self.router, self.supervisor = router, supervisor
        self.block = _Block(rng)
        n, nw = len(chats), len(workers.speed)
        cats = list(cfg.categories.values())
        self.cat_eligible = [c.eligible for c in cats]
        self.cat_attention = [c.attention for c in cats]
        # the AI's transcript saves human work only in categories within its scope (ai_solvable > 0)
        self.cat_handoff = [cfg.ai.handoff_work if c.ai_solvable > 0.0 else 1.0 for c in cats]
        self.cat_context = [cfg.ai.handoff_resolve if c.ai_solvable > 0.0 else 0.0 for c in cats]
        self.post_start = cfg.experiment.days_pre * DAY_S
        self.rounds_model = cfg.service.model == "rounds"
        sv, ef, em = cfg.service, cfg.effort, cfg.emotion
        self.hk = (
            sv.switch_rate, sv.away_s, sv.reply_lag_s, sv.concurrency_slowdown, sv.lag_sd, -0.5 * sv.lag_sd**2,
            ef.reply_base, ef.extra_message, ef.proactive_base, ef.passive_progress, ef.lag_exponent, ef.nudge_s,
            sv.close_s, sv.customer_reply_s, em.lag_per_min, em.lag_expect_s, em.progress_relief, em.decay,
            em.noise_sd, cfg.patience.hazard_base, cfg.patience.hazard_slope, sv.max_rounds,
        )  # fmt: skip
        self.emotion_on = em.enabled
        # chat inputs as lists
        self.t_arr = self.L.t
        self.category = self.L.category
        self.rule_eligible = [self.cat_eligible[k] for k in self.category]
        # dynamic chat state
        self.mode = [QUEUED] * n
        self.f = list(self.L.f0)
        self.progress = [0.0] * n
        self.need = [0.0] * n
        self.att = [0.0] * n
        self.reading = [0.0] * n
        self.low_run = [0] * n  # consecutive AI rounds with the reading below the emotional threshold
        self.rec = {k: [0] * n for k in RECORD_FIELDS}
        for k in ("assign_t", "first_reply_t", "end_t", "takeover_t", "f_takeover", "rating", "satisfaction"):
            self.rec[k] = [math.nan] * n
        self.rec["f_peak"] = list(self.f)
        self.rec["escalation"] = [NONE] * n
        self.rec["takeover_round"] = [-1] * n
        # workers
        self.speed = workers.speed.tolist()
        self.skill = workers.skill.tolist()
        self.empathy = workers.empathy.tolist()
        self.treated = workers.treated.tolist()
        self.held = [0] * nw
        self.att_load = [0.0] * nw
        self.online = [False] * nw
        self.rr = 0  # round-robin pointer for tie-breaking assignment
        self.queue: deque[int] = deque()  # FIFO; may hold chats that already left (skipped lazily)
        self.n_queued = 0  # chats actually waiting
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0  # breaks ties between events at the same time: first pushed, first out
        self.next_arrival = 0
        self.pending: tuple[str, int, float] | None = None
        self.finished: list[int] = []  # chats closed so far, in order (consumers may clear it)
        self.ai_held = [0] * nw  # chats each worker holds that the AI is handling
        on, off = shifts(cfg, workers.shift_start_h)
        for w in range(nw):
            for a, b in zip(on[w].tolist(), off[w].tolist(), strict=True):
                self._push(a, SHIFT_ON, w)
                self._push(b, SHIFT_OFF, w)

    # ----------------------------------------------------------------- event loop
    def _push(self, t: float, kind: int, c: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, c))

    def run(self, until: float = math.inf) -> tuple[str, object] | None:
        """Advance until the events run out, time ``until``, or a hook returns PENDING.

        Returns:
            None when done (or at ``until``); else ``(kind, view)`` with kind ``"route"`` or
            ``"takeover"``, to be answered with :meth:`decide`.
        """
        if self.pending is not None:
            raise RuntimeError("a decision is pending: call decide() first")
        heap, t_arr, n, mode = self.heap, self.t_arr, len(self.t_arr), self.mode
        while True:
            i = self.next_arrival
            if i < n and (not heap or t_arr[i] <= heap[0][0]):
                if t_arr[i] > until:
                    return None
                self.next_arrival = i + 1
                view = self._arrive(i)
            elif heap:
                if heap[0][0] > until:
                    return None
                t, _, kind, c = heapq.heappop(heap)
                if kind == ROUND and mode[c] == HUMAN:  # the hot path: most events are human rounds
                    self._human_round(c, t)
                    continue
                view = self._dispatch(t, kind, c)
            else:
                return None
            if view is not None:
                return view

    def _dispatch(self, t: float, kind: int, c: int) -> tuple[str, object] | None:
        if kind == ROUND:  # an AI round: run() handles human rounds itself
            return self._ai_round(c, t)
        if kind == END:
            self._finish(c, t)
        elif kind == RENEGE:
            if self.mode[c] == QUEUED:
                self.n_queued -= 1
                self.rec["abandoned"][c] = 1
                self._finish(c, t)
        elif kind == SHIFT_ON:
            self.online[c] = True
            self._drain_queue(t)
        else:
            self.online[c] = False
        return None

    def decide(self, action: bool) -> None:
        """Answer the pending decision (eligible for ``route``, take over for ``takeover``)."""
        if self.pending is None:
            raise RuntimeError("no decision is pending")
        kind, c, t = self.pending
        self.pending = None
        if kind == "route":
            self._admit(c, bool(action))
        else:
            w = self.rec["worker"][c]
            self._takeover_or_continue(
                c, t, bool(action) and self.held[w] - self.ai_held[w] < self.cfg.supervisor.max_hand_chats
            )

    # ----------------------------------------------------------------- arrivals and queue
    def _arrive(self, c: int) -> tuple[str, object] | None:
        if self.router is None:
            self._admit(c, self.rule_eligible[c])
            return None
        t = self.t_arr[c]
        view = ArrivalView(
            c, t, self.category[c], self.rule_eligible[c], self.n_queued, sum(self.held),
            sum(self.online), self.L.u_route[c],
        )  # fmt: skip
        eligible = self.router.route(view)
        if eligible is PENDING:
            self.pending = ("route", c, t)
            return ("route", view)
        self._admit(c, bool(eligible))
        return None

    def _admit(self, c: int, eligible: bool) -> None:
        t = self.t_arr[c]
        self.rec["eligible"][c] = int(eligible)
        w = self._free_worker()
        if w < 0:
            self.queue.append(c)
            self.n_queued += 1
            self._push(t + self.L.patience[c], RENEGE, c)
        else:
            self._assign(c, w, t)

    def _free_worker(self) -> int:
        """The online worker with the fewest chats below the cap (round-robin ties), or -1."""
        held, online, nw = self.held, self.online, len(self.held)
        best, best_h = -1, self.cfg.service.max_concurrency
        for k in range(nw):
            w = (self.rr + k) % nw
            if online[w] and held[w] < best_h:
                best, best_h = w, held[w]
        if best >= 0:
            self.rr = (best + 1) % nw
        return best

    def _drain_queue(self, t: float) -> None:
        q = self.queue
        while q:
            if self.mode[q[0]] != QUEUED:
                q.popleft()
                continue
            w = self._free_worker()
            if w < 0:
                return
            self.n_queued -= 1
            self._assign(q.popleft(), w, t)

    def _assign(self, c: int, w: int, t: float) -> None:
        rec, cfg = self.rec, self.cfg
        rec["worker"][c] = w
        rec["assign_t"][c] = t
        self.held[w] += 1
        rec["held_sum"][c] += self.held[w]
        if not self.rounds_model:
            self.mode[c] = HUMAN
            rec["first_reply_t"][c] = t
            rate = cfg.service.rate_per_hour / 3600.0
            self._push(t + self.block.next()[8] / rate, END, c)
            return
        wait_min = (t - self.t_arr[c]) / 60.0
        if cfg.emotion.enabled:
            f = self.f[c] = self.f[c] + cfg.emotion.queue_per_min * wait_min
            if f > rec["f_peak"][c]:
                rec["f_peak"][c] = f
        ai_on = self.treated[w] and self.t_arr[c] >= self.post_start
        if rec["eligible"][c] and ai_on:
            rec["routed_ai"][c] = 1
            self.mode[c] = AI
            self.ai_held[w] += 1
            self._set_attention(c, w, cfg.ai.monitoring_attention)
            self._push(t, ROUND, c)
        else:
            self._start_human(c, w, t, 1.0, self.L.work[c], self.cat_attention[self.category[c]])

    def _set_attention(self, c: int, w: int, a: float) -> None:
        self.att_load[w] += a - self.att[c]
        self.att[c] = a

    # ----------------------------------------------------------------- human handling
    def _start_human(self, c: int, w: int, t: float, effort: float, work: float, attention: float) -> None:
        self.mode[c] = HUMAN
        self.need[c] = work
        self.progress[c] = 0.0
        self.rec["effort"][c] = effort
        self._set_attention(c, w, attention)
        self._push(t, ROUND, c)

    def _human_round(self, c: int, t: float) -> None:
        """One round of a human-handled chat: the customer's message and the worker's reply."""
        rows = self.block.rows
        zl, zf, u_sw, u_rep, u_pro, u_ab, u_msg, u_emp, e1, e2 = rows.pop() if rows else self.block.next()
        (switch_rate, away_s, lag_s, slowdown, lag_sd, lag_mu, reply_base, extra_msg, pro_base, passive,
         lag_exp, nudge_s, close_s, cust_s, lag_per_min, lag_expect, relief, decay, noise, hazard_base,
         hazard_slope, max_rounds) = self.hk  # fmt: skip
        rec = self.rec
        w, e = rec["worker"][c], rec["effort"][c]
        held = self.held[w]
        # one customer message per round; rounds, customer messages and the count behind the mean
        # concurrency are derived from human_rounds and ai_rounds when the records are built
        n_human = rec["human_rounds"][c] = rec["human_rounds"][c] + 1
        rec["held_sum"][c] += held
        answered = u_rep < reply_base + (1.0 - reply_base) * e
        if answered:
            # switch-aways: Poisson in the attention the worker's other chats demand
            lam = switch_rate * (self.att_load[w] - self.att[c])
            k, p = 0, math.exp(-lam)
            cdf = p
            while u_sw > cdf and k < 50:
                k += 1
                p *= lam / k
                cdf += p
            away = away_s * k * e1 if k else 0.0
            if k:
                rec["switches"][c] += k
                rec["away_s"][c] += away
            slow = e**-lag_exp if e != 1.0 else 1.0  # disengaged workers reply later
            lag = lag_s * self.speed[w] * (1.0 + slowdown * (held - 1)) * slow * math.exp(lag_sd * zl + lag_mu) + away
            t_reply = t + lag
            replies = rec["worker_rounds"][c]
            if replies == 0 and rec["first_reply_t"][c] != rec["first_reply_t"][c]:  # NaN: the first reply
                rec["first_reply_t"][c] = t_reply
            rec["worker_rounds"][c] = replies + 1
            rec["msg_worker"][c] += 2 if u_msg < extra_msg * e else 1
            rec["lag_sum"][c] += lag
            if u_emp < self.empathy[w]:
                rec["empathetic"][c] += 1
            if u_pro < pro_base * e:
                rec["proactive"][c] += 1
                gain = 1.0
            else:
                gain = passive
            waited = lag
        else:  # unanswered: the customer nudges after a while
            waited = nudge_s * e2
            t_reply = t + waited
            gain = 0.0
        self.progress[c] += gain
        if self.emotion_on:
            excess = waited - lag_expect
            drive = (lag_per_min * excess / 60.0 if excess > 0.0 else 0.0) - relief * gain
            f = self.f[c] * decay + drive + noise * zf
            self.f[c] = f
            if f > rec["f_peak"][c]:
                rec["f_peak"][c] = f
        f = self.f[c]
        if u_ab < hazard_base + hazard_slope * (f if f > 0.0 else 0.0) or n_human >= max_rounds:
            self._leave(c, t_reply)
        elif self.progress[c] >= self.need[c]:
            self._push(t_reply + close_s, END, c)
        else:  # the customer answers the reply, or the nudge is their next message
            self._push(t_reply + cust_s * e2 if answered else t_reply, ROUND, c)

    def _feel(self, c: int, z: float, drive: float) -> None:
        em = self.cfg.emotion
        if not em.enabled:
            return
        f = self.f[c] * em.decay + drive + em.noise_sd * z
        self.f[c] = f
        if f > self.rec["f_peak"][c]:
            self.rec["f_peak"][c] = f

    def _leaves(self, c: int, u: float, t: float) -> bool:
        """Whether the customer leaves after this round (hazard rising with frustration)."""
        pt = self.cfg.patience
        if u >= pt.hazard_base + pt.hazard_slope * max(0.0, self.f[c]):
            return False
        self._leave(c, t)
        return True

    def _leave(self, c: int, t: float) -> None:
        self.rec["abandoned"][c] = 1
        pt = self.cfg.patience
        silent = self.L.u_silent[c] < pt.silent_share
        self._push(t + (pt.silent_timeout_s if silent else 0.0), END, c)
        self.mode[c] = DONE  # no further rounds; END closes the record

    # ----------------------------------------------------------------- AI handling
    def _ai_round(self, c: int, t: float) -> tuple[str, object] | None:
        zl, zf, u_bad, u_sup, u_conf, u_ab, _, _, _, e2 = self.block.next()
        cfg, rec, ai, mon = self.cfg, self.rec, self.cfg.ai, self.cfg.monitor
        n = rec["ai_rounds"][c] = rec["ai_rounds"][c] + 1
        rec["msg_ai"][c] += 1
        w = rec["worker"][c]
        rec["held_sum"][c] += self.held[w]
        t_reply = t + ai.reply_s
        if math.isnan(rec["first_reply_t"][c]):
            rec["first_reply_t"][c] = t_reply
        solvable = bool(self.L.solvable[c])
        on_track = solvable and not self.L.misread[c]
        if on_track:
            drive = -cfg.emotion.progress_relief * ai.progress
        else:
            drive = ai.misread_frustration if solvable else ai.loop_frustration
        self._feel(c, zf, drive + (ai.frustrating_jump if u_bad < ai.frustrating_reply else 0.0))
        reading = -self.f[c] + mon.sentiment_noise * zl
        trend = reading - self.reading[c] if n > 1 else 0.0
        self.reading[c] = reading
        low = self.low_run[c] = self.low_run[c] + 1 if reading < -mon.emotional_threshold else 0
        if on_track and n >= self.L.ai_need[c]:
            rec["resolved"][c] = int(self.L.u_resolve[c] < ai.resolution_quality)
            self._push(t_reply + cfg.service.close_s, END, c)
            self.mode[c] = DONE
        elif (mon.technical and not solvable and n >= self.L.tech_round[c]) or n >= ai.max_rounds:
            self._escalate(c, t_reply, TECHNICAL)
        elif mon.emotional and low >= mon.emotional_rounds:
            self._escalate(c, t_reply, EMOTIONAL)
        elif not self._leaves(c, u_ab, t_reply):
            conf = min(1.0, max(0.0, 0.5 + (ai.confidence_gap if solvable else -ai.confidence_gap)
                                + ai.confidence_noise * (u_conf - 0.5)))  # fmt: skip
            can = self.held[w] - self.ai_held[w] < cfg.supervisor.max_hand_chats
            view = RoundView(c, w, t_reply, t_reply - self.t_arr[c], n, reading, trend, conf, self.category[c],
                             self.held[w], self.ai_held[w], self.n_queued, can, u_sup)  # fmt: skip
            take = self.supervisor.takeover(view)
            self._next_customer = e2
            if take is PENDING:
                self.pending = ("takeover", c, t_reply)
                return ("takeover", view)
            self._takeover_or_continue(c, t_reply, bool(take) and can)
        return None

    def _takeover_or_continue(self, c: int, t: float, take: bool) -> None:
        """Apply a takeover decision (already checked to be possible) after an AI round."""
        if take:
            self._escalate(c, t, HUMAN_INIT)
        else:
            self._push(t + self.cfg.service.customer_reply_s * self._next_customer, ROUND, c)

    def _escalate(self, c: int, t: float, kind: int) -> None:
        rec, ef = self.rec, self.cfg.effort
        f, n = self.f[c], rec["ai_rounds"][c]
        self.ai_held[rec["worker"][c]] -= 1
        rec["escalation"][c] = kind
        rec["takeover_t"][c] = t - self.t_arr[c]
        rec["takeover_round"][c] = n
        rec["f_takeover"][c] = f
        late = max(0, n - ef.lateness_grace_rounds)
        excess = max(0.0, f - ef.frustration_grace)
        effort = max(ef.floor, math.exp(-ef.frustration_slope * excess - ef.lateness_slope * late))
        work = self.L.work[c] * self.cat_handoff[self.category[c]] * effort**ef.scope_exponent  # disengaged: less done
        t_start = t + self.cfg.service.handoff_read_s
        self._start_human(c, rec["worker"][c], t_start, effort, work, self.cfg.ai.escalated_attention)

    # ----------------------------------------------------------------- endings
    def _finish(self, c: int, t: float) -> None:
        """A chat's last reply is in: settle resolution, emotion, rating and retrial."""
        rec, out, em = self.rec, self.cfg.outcome, self.cfg.emotion
        if not self.rounds_model:
            rec["resolved"][c] = 1 - rec["abandoned"][c]
            self._close(c, t)
            return
        if rec["human_rounds"][c] and not rec["abandoned"][c]:
            p = out.resolve_base + self.skill[rec["worker"][c]] - out.resolve_effort * (1.0 - rec["effort"][c])
            if rec["escalation"][c]:  # the human starts from the AI's transcript
                p += self.cat_context[self.category[c]]
            rec["resolved"][c] = int(self.L.u_resolve[c] < p)
        if em.enabled and rec["resolved"][c]:
            self.f[c] -= em.resolution_relief
        f_end = self.f[c]
        ai_alone = rec["routed_ai"][c] and rec["escalation"][c] == NONE and not rec["abandoned"][c]
        peak = max(0.0, rec["f_peak"][c])
        sat = (
            out.rating_base + out.rating_resolved * rec["resolved"][c] - out.rating_peak * peak - out.rating_end * f_end
        )
        sat += out.rating_noise * self.L.z_rating[c] - self.cfg.ai.style_penalty * ai_alone
        satisfaction = rec["satisfaction"][c] = float(min(5, max(1, round(sat))))
        if not rec["abandoned"][c] and self.L.u_rate[c] < out.rate_base + out.rate_frustration * max(0.0, f_end):
            rec["rated"][c] = 1
            rec["rating"][c] = satisfaction
        unresolved = 1 - rec["resolved"][c]
        p_retry = out.retrial_base + out.retrial_unresolved * unresolved + out.retrial_frustration * max(0.0, f_end)
        rec["retrial"][c] = int(self.L.u_retrial[c] < p_retry)
        rec["f_end"][c] = f_end
        self._close(c, t)

    def _close(self, c: int, t: float) -> None:
        self.rec["end_t"][c] = t
        self.finished.append(c)
        was_queued = self.mode[c] == QUEUED
        self.mode[c] = DONE
        if was_queued:
            return
        w = self.rec["worker"][c]
        self.held[w] -= 1
        if self.rec["routed_ai"][c] and self.rec["escalation"][c] == NONE:  # closed by or during the AI
            self.ai_held[w] -= 1
        self._set_attention(c, w, 0.0)
        if self.online[w]:
            self._drain_queue(t)
