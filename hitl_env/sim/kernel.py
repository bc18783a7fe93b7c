"""The compiled event loop: one team's rounds, queue and chats, in numba.

:class:`~hitl_env.sim.team.TeamSim` keeps the team's whole state in a few numpy arrays (layout
below) and calls :func:`advance` to run events until the next decision, and :func:`resume` to
apply that decision. Everything here is plain arithmetic on those arrays; the hooks, the views
and the random generator stay in Python. One event is one chat round (a customer message and the
reply to it). Its randomness is a row of pre-drawn numbers (2 normals, 6 uniforms, 2 unit
exponentials), taken from the end of the block ``B``; :func:`advance` returns ``REFILL`` when
fewer than ``P[MARGIN]`` rows are left, before an event, so an event never runs short.

Compiled with ``cache=True``: the first import on a machine compiles (about 10 s) and caches
the machine code beside this file (or in numba's user cache), later imports load it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# chat modes, event kinds, escalation types, what advance() returns
HUMAN, AI, DONE, QUEUED = 0, 1, 2, 3
SHIFT_ON, SHIFT_OFF, RENEGE, ROUND, END = 0, 1, 2, 3, 4
NONE, TECHNICAL, EMOTIONAL, HUMAN_INIT = 0, 1, 2, 3
FINISHED, ROUTE, TAKEOVER, REFILL = 0, 1, 2, 3

# rows of CF (chat inputs, float) and CI (chat inputs, int)
T, WORK, PATIENCE, U_SILENT, U_RESOLVE, U_RATE, Z_RATING, U_RETRIAL = range(8)
CATEGORY, SOLVABLE, MISREAD, AI_NEED, TECH_ROUND, RULE_ELIGIBLE = range(6)
# rows of XF (chat state and records, float) and XI (int); the records are RECORD_FIELDS
F, PROGRESS, NEED, ATT, READING = range(5)
(ASSIGN_T, FIRST_REPLY_T, END_T, LAG_SUM, HELD_SUM, AWAY_S, TAKEOVER_T, F_TAKEOVER, F_PEAK, F_END,
 EFFORT, RATING, SATISFACTION) = range(5, 18)  # fmt: skip
MODE, LOW_RUN = range(2)
(WORKER, ELIGIBLE, ROUTED_AI, AI_ROUNDS, MSG_WORKER, MSG_AI, SWITCHES, WORKER_ROUNDS, HUMAN_ROUNDS,
 PROACTIVE, EMPATHETIC, ESCALATION, TAKEOVER_ROUND, RESOLVED, ABANDONED, RATED, RETRIAL) = range(2, 19)  # fmt: skip
FLOAT_RECORDS = {
    "assign_t": ASSIGN_T, "first_reply_t": FIRST_REPLY_T, "end_t": END_T, "lag_sum": LAG_SUM,
    "held_sum": HELD_SUM, "away_s": AWAY_S, "takeover_t": TAKEOVER_T, "f_takeover": F_TAKEOVER,
    "f_peak": F_PEAK, "f_end": F_END, "effort": EFFORT, "rating": RATING, "satisfaction": SATISFACTION,
}  # fmt: skip
INT_RECORDS = {
    "worker": WORKER, "eligible": ELIGIBLE, "routed_ai": ROUTED_AI, "ai_rounds": AI_ROUNDS,
    "msg_worker": MSG_WORKER, "msg_ai": MSG_AI, "switches": SWITCHES, "worker_rounds": WORKER_ROUNDS,
    "human_rounds": HUMAN_ROUNDS, "proactive": PROACTIVE, "empathetic": EMPATHETIC,
    "escalation": ESCALATION, "takeover_round": TAKEOVER_ROUND, "resolved": RESOLVED,
    "abandoned": ABANDONED, "rated": RATED, "retrial": RETRIAL,
}  # fmt: skip
# rows of WF (workers, float) and WI (workers, int)
SPEED, SKILL, EMPATHY, ATT_LOAD = range(4)
TREATED, HELD, ONLINE, AI_HELD = range(4)
# rows of CAT (per category)
CAT_ELIGIBLE, CAT_ATTENTION, CAT_HANDOFF, CAT_CONTEXT = range(4)
# S (int scalars) and SF (float scalars)
RR, N_QUEUED, SEQ, NEXT_ARRIVAL, HEAP_N, Q_HEAD, Q_TAIL, B_LEFT, FIN_N, PEND_C = range(10)
PEND_T, NEXT_CUSTOMER = range(2)
# the decision view V: RoundView's fields in order (ArrivalView's in its first 8)
V_SIZE = 14
# P (parameters, float; booleans as 0/1)
PARAMS = (
    "switch_rate", "away_s", "reply_lag_s", "slowdown", "lag_sd", "lag_mu", "reply_base", "extra_message",
    "proactive_base", "passive_progress", "lag_exponent", "nudge_s", "close_s", "customer_reply_s",
    "lag_per_min", "lag_expect_s", "progress_relief", "decay", "noise_sd", "hazard_base", "hazard_slope",
    "max_rounds", "emotion_on", "queue_per_min", "post_start", "rounds_model", "service_rate",
    "max_concurrency", "monitoring_attention", "max_hand_chats", "ai_reply_s", "ai_progress",
    "misread_frustration", "loop_frustration", "frustrating_jump", "frustrating_reply", "confidence_gap",
    "confidence_noise", "resolution_quality", "ai_max_rounds", "escalated_attention", "handoff_read_s",
    "sentiment_noise", "emotional_threshold", "technical", "emotional", "emotional_rounds",
    "lateness_grace_rounds", "frustration_grace", "effort_floor", "frustration_slope", "lateness_slope",
    "scope_exponent", "silent_share", "silent_timeout_s", "resolve_base", "resolve_effort",
    "resolution_relief", "rating_base", "rating_resolved", "rating_peak", "rating_end", "rating_noise",
    "style_penalty", "rate_base", "rate_frustration", "retrial_base", "retrial_unresolved",
    "retrial_frustration", "margin",
)  # fmt: skip
(SWITCH_RATE, AWAY, LAG_S, SLOWDOWN, LAG_SD, LAG_MU, REPLY_BASE, EXTRA_MSG, PRO_BASE, PASSIVE, LAG_EXP,
 NUDGE_S, CLOSE_S, CUST_S, LAG_PER_MIN, LAG_EXPECT, RELIEF, DECAY, NOISE, HAZARD_BASE, HAZARD_SLOPE,
 MAX_ROUNDS, EMOTION_ON, QUEUE_PER_MIN, POST_START, ROUNDS_MODEL, SERVICE_RATE, MAX_CONC, MON_ATT,
 MAX_HAND, AI_REPLY_S, AI_PROGRESS, MISREAD_FRUS, LOOP_FRUS, FRUS_JUMP, FRUS_REPLY, CONF_GAP, CONF_NOISE,
 RES_QUALITY, AI_MAX_ROUNDS, ESC_ATT, HANDOFF_READ, SENT_NOISE, EMO_THRESHOLD, TECHNICAL_ON, EMOTIONAL_ON,
 EMO_ROUNDS, LATE_GRACE, FRUS_GRACE, EFFORT_FLOOR, FRUS_SLOPE, LATE_SLOPE, SCOPE_EXP, SILENT_SHARE,
 SILENT_TIMEOUT, RESOLVE_BASE, RESOLVE_EFFORT, RES_RELIEF, RATING_BASE, RATING_RESOLVED, RATING_PEAK,
 RATING_END, RATING_NOISE, STYLE_PENALTY, RATE_BASE, RATE_FRUS, RETRIAL_BASE, RETRIAL_UNRESOLVED,
 RETRIAL_FRUS, MARGIN) = range(len(PARAMS))  # fmt: skip


# ----------------------------------------------------------------- the event heap
@njit(cache=True)
def push(HT, HI, S, t, kind, c):
    """Schedule event ``kind`` of chat (or worker) ``c`` at ``t``; ties: first pushed, first out."""
    S[SEQ] += 1
    seq = S[SEQ]
    i = S[HEAP_N]
    S[HEAP_N] = i + 1
    while i > 0:
        p = (i - 1) >> 1
        if HT[p] < t or (HT[p] == t and HI[p, 0] < seq):
            break
        HT[i] = HT[p]
        HI[i, 0], HI[i, 1], HI[i, 2] = HI[p, 0], HI[p, 1], HI[p, 2]
        i = p
    HT[i] = t
    HI[i, 0], HI[i, 1], HI[i, 2] = seq, kind, c


@njit(cache=True)
def _pop(HT, HI, S):
    t, kind, c = HT[0], HI[0, 1], HI[0, 2]
    n = S[HEAP_N] - 1
    S[HEAP_N] = n
    if n > 0:
        lt, ls = HT[n], HI[n, 0]
        i = 0
        while True:
            m = 2 * i + 1
            if m >= n:
                break
            r = m + 1
            if r < n and (HT[r] < HT[m] or (HT[r] == HT[m] and HI[r, 0] < HI[m, 0])):
                m = r
            if HT[m] < lt or (HT[m] == lt and HI[m, 0] < ls):
                HT[i] = HT[m]
                HI[i, 0], HI[i, 1], HI[i, 2] = HI[m, 0], HI[m, 1], HI[m, 2]
                i = m
            else:
                break
        HT[i] = lt
        HI[i, 0], HI[i, 1], HI[i, 2] = ls, HI[n, 1], HI[n, 2]
    return t, kind, c


@njit(cache=True)
def _row(B, S):
    S[B_LEFT] -= 1
    return B[S[B_LEFT]]


# ----------------------------------------------------------------- the loop
@njit(cache=True)
def advance(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, SF, P, CAT, V, until, route_hook):
    """Run events until a decision is due, the events run out, or the next one is after ``until``.

    Returns ``ROUTE`` or ``TAKEOVER`` with the decision's view in ``V`` (answer with
    :func:`resume`), ``REFILL`` when the block ``B`` runs low, or ``FINISHED``.
    """
    n = CF.shape[1]
    t_arr = CF[T]
    while True:
        if S[B_LEFT] < P[MARGIN]:
            return REFILL
        i = S[NEXT_ARRIVAL]
        if i < n and (S[HEAP_N] == 0 or t_arr[i] <= HT[0]):
            if t_arr[i] > until:
                return FINISHED
            S[NEXT_ARRIVAL] = i + 1
            if not route_hook:
                _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, i, CI[RULE_ELIGIBLE, i] == 1)
                continue
            S[PEND_C] = i
            SF[PEND_T] = t_arr[i]
            V[0], V[1], V[2], V[3] = i, t_arr[i], CI[CATEGORY, i], CI[RULE_ELIGIBLE, i]
            V[4], V[5], V[6] = S[N_QUEUED], WI[HELD].sum(), WI[ONLINE].sum()
            return ROUTE
        if S[HEAP_N] == 0:
            return FINISHED
        if HT[0] > until:
            return FINISHED
        t, kind, c = _pop(HT, HI, S)
        if kind == ROUND:
            if XI[MODE, c] == HUMAN:
                _human_round(CF, XF, XI, WF, WI, HT, HI, B, S, P, c, t)
            elif _ai_round(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, SF, P, CAT, V, c, t):
                return TAKEOVER
        elif kind == END:
            _finish(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)
        elif kind == RENEGE:
            if XI[MODE, c] == QUEUED:
                S[N_QUEUED] -= 1
                XI[ABANDONED, c] = 1
                _finish(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)
        elif kind == SHIFT_ON:
            WI[ONLINE, c] = 1
            _drain_queue(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, t)
        else:
            WI[ONLINE, c] = 0


@njit(cache=True)
def resume(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, SF, P, CAT, kind, action):
    """Apply the pending decision: eligible (``kind == ROUTE``) or take over (``TAKEOVER``).

    A takeover the worker cannot take (``supervisor.max_hand_chats`` chats by hand) is ignored.
    """
    c, t = S[PEND_C], SF[PEND_T]
    if kind == ROUTE:
        _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, action)
        return
    w = XI[WORKER, c]
    if action and WI[HELD, w] - WI[AI_HELD, w] < P[MAX_HAND]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t, HUMAN_INIT)
    else:
        push(HT, HI, S, t + P[CUST_S] * SF[NEXT_CUSTOMER], ROUND, c)


# ----------------------------------------------------------------- arrivals and queue
@njit(cache=True)
def _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, eligible):
    t = CF[T, c]
    XI[ELIGIBLE, c] = 1 if eligible else 0
    w = _free_worker(WI, S, P)
    if w < 0:
        Q[S[Q_TAIL]] = c
        S[Q_TAIL] += 1
        S[N_QUEUED] += 1
        push(HT, HI, S, t + CF[PATIENCE, c], RENEGE, c)
    else:
        _assign(CF, CI, XF, XI, WF, WI, HT, HI, B, S, P, CAT, c, w, t)


@njit(cache=True)
def _free_worker(WI, S, P):
    """The online worker with the fewest chats below the cap (round-robin ties), or -1."""
    nw = WI.shape[1]
    best, best_h = -1, P[MAX_CONC]
    for k in range(nw):
        w = (S[RR] + k) % nw
        if WI[ONLINE, w] and WI[HELD, w] < best_h:
            best, best_h = w, WI[HELD, w]
    if best >= 0:
        S[RR] = (best + 1) % nw
    return best


@njit(cache=True)
def _drain_queue(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, t):
    while S[Q_HEAD] < S[Q_TAIL]:
        c = Q[S[Q_HEAD]]
        if XI[MODE, c] != QUEUED:  # left while waiting (skipped lazily)
            S[Q_HEAD] += 1
            continue
        w = _free_worker(WI, S, P)
        if w < 0:
            return
        S[N_QUEUED] -= 1
        S[Q_HEAD] += 1
        _assign(CF, CI, XF, XI, WF, WI, HT, HI, B, S, P, CAT, c, w, t)


@njit(cache=True)
def _assign(CF, CI, XF, XI, WF, WI, HT, HI, B, S, P, CAT, c, w, t):
    XI[WORKER, c] = w
    XF[ASSIGN_T, c] = t
    WI[HELD, w] += 1
    XF[HELD_SUM, c] += WI[HELD, w]
    if not P[ROUNDS_MODEL]:
        XI[MODE, c] = HUMAN
        XF[FIRST_REPLY_T, c] = t
        push(HT, HI, S, t + _row(B, S)[8] / P[SERVICE_RATE], END, c)
        return
    wait_min = (t - CF[T, c]) / 60.0
    if P[EMOTION_ON]:
        f = XF[F, c] = XF[F, c] + P[QUEUE_PER_MIN] * wait_min
        if f > XF[F_PEAK, c]:
            XF[F_PEAK, c] = f
    if XI[ELIGIBLE, c] and WI[TREATED, w] and CF[T, c] >= P[POST_START]:
        XI[ROUTED_AI, c] = 1
        XI[MODE, c] = AI
        WI[AI_HELD, w] += 1
        _set_attention(XF, WF, c, w, P[MON_ATT])
        push(HT, HI, S, t, ROUND, c)
    else:
        cat = CI[CATEGORY, c]
        _start_human(XF, XI, WF, HT, HI, S, c, w, t, 1.0, CF[WORK, c], CAT[CAT_ATTENTION, cat])


@njit(cache=True)
def _set_attention(XF, WF, c, w, a):
    WF[ATT_LOAD, w] += a - XF[ATT, c]
    XF[ATT, c] = a


# ----------------------------------------------------------------- human handling
@njit(cache=True)
def _start_human(XF, XI, WF, HT, HI, S, c, w, t, effort, work, attention):
    XI[MODE, c] = HUMAN
    XF[NEED, c] = work
    XF[PROGRESS, c] = 0.0
    XF[EFFORT, c] = effort
    _set_attention(XF, WF, c, w, attention)
    push(HT, HI, S, t, ROUND, c)


@njit(cache=True)
def _human_round(CF, XF, XI, WF, WI, HT, HI, B, S, P, c, t):
    """One round of a human-handled chat: the customer's message and the worker's reply."""
    r = _row(B, S)
    zl, zf, u_sw, u_rep, u_pro, u_ab, u_msg, u_emp, e1, e2 = r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]
    w, e = XI[WORKER, c], XF[EFFORT, c]
    held = WI[HELD, w]
    # one customer message per round; rounds, customer messages and the count behind the mean
    # concurrency are derived from human_rounds and ai_rounds when the records are built
    XI[HUMAN_ROUNDS, c] += 1
    n_human = XI[HUMAN_ROUNDS, c]
    XF[HELD_SUM, c] += held
    answered = u_rep < P[REPLY_BASE] + (1.0 - P[REPLY_BASE]) * e
    if answered:
        # switch-aways: Poisson in the attention the worker's other chats demand
        lam = P[SWITCH_RATE] * (WF[ATT_LOAD, w] - XF[ATT, c])
        k, p = 0, math.exp(-lam)
        cdf = p
        while u_sw > cdf and k < 50:
            k += 1
            p *= lam / k
            cdf += p
        away = P[AWAY] * k * e1 if k else 0.0
        if k:
            XI[SWITCHES, c] += k
            XF[AWAY_S, c] += away
        slow = e ** -P[LAG_EXP] if e != 1.0 else 1.0  # disengaged workers reply later
        lag = (P[LAG_S] * WF[SPEED, w] * (1.0 + P[SLOWDOWN] * (held - 1)) * slow
               * math.exp(P[LAG_SD] * zl + P[LAG_MU]) + away)  # fmt: skip
        t_reply = t + lag
        if XI[WORKER_ROUNDS, c] == 0 and math.isnan(XF[FIRST_REPLY_T, c]):  # the first reply
            XF[FIRST_REPLY_T, c] = t_reply
        XI[WORKER_ROUNDS, c] += 1
        XI[MSG_WORKER, c] += 2 if u_msg < P[EXTRA_MSG] * e else 1
        XF[LAG_SUM, c] += lag
        if u_emp < WF[EMPATHY, w]:
            XI[EMPATHETIC, c] += 1
        if u_pro < P[PRO_BASE] * e:
            XI[PROACTIVE, c] += 1
            gain = 1.0
        else:
            gain = P[PASSIVE]
        waited = lag
    else:  # unanswered: the customer nudges after a while
        waited = P[NUDGE_S] * e2
        t_reply = t + waited
        gain = 0.0
    XF[PROGRESS, c] += gain
    if P[EMOTION_ON]:
        excess = waited - P[LAG_EXPECT]
        drive = (P[LAG_PER_MIN] * excess / 60.0 if excess > 0.0 else 0.0) - P[RELIEF] * gain
        _set_f(XF, c, XF[F, c] * P[DECAY] + drive + P[NOISE] * zf)
    f = XF[F, c]
    if u_ab < P[HAZARD_BASE] + P[HAZARD_SLOPE] * (f if f > 0.0 else 0.0) or n_human >= P[MAX_ROUNDS]:
        _leave(CF, XI, HT, HI, S, P, c, t_reply)
    elif XF[PROGRESS, c] >= XF[NEED, c]:
        push(HT, HI, S, t_reply + P[CLOSE_S], END, c)
    else:  # the customer answers the reply, or the nudge is their next message
        push(HT, HI, S, t_reply + P[CUST_S] * e2 if answered else t_reply, ROUND, c)


@njit(cache=True)
def _set_f(XF, c, f):
    XF[F, c] = f
    if f > XF[F_PEAK, c]:
        XF[F_PEAK, c] = f


@njit(cache=True)
def _leave(CF, XI, HT, HI, S, P, c, t):
    XI[ABANDONED, c] = 1
    silent = CF[U_SILENT, c] < P[SILENT_SHARE]
    push(HT, HI, S, t + (P[SILENT_TIMEOUT] if silent else 0.0), END, c)
    XI[MODE, c] = DONE  # no further rounds; END closes the record


# ----------------------------------------------------------------- AI handling
@njit(cache=True)
def _ai_round(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, SF, P, CAT, V, c, t):
    """One AI round; True when the supervisor's decision is due (its view is in ``V``)."""
    r = _row(B, S)
    zl, zf, u_bad, u_sup, u_conf, u_ab, e2 = r[0], r[1], r[2], r[3], r[4], r[5], r[9]
    XI[AI_ROUNDS, c] += 1
    n = XI[AI_ROUNDS, c]
    XI[MSG_AI, c] += 1
    w = XI[WORKER, c]
    XF[HELD_SUM, c] += WI[HELD, w]
    t_reply = t + P[AI_REPLY_S]
    if math.isnan(XF[FIRST_REPLY_T, c]):
        XF[FIRST_REPLY_T, c] = t_reply
    solvable = CI[SOLVABLE, c] == 1
    on_track = solvable and not CI[MISREAD, c]
    drive = -P[RELIEF] * P[AI_PROGRESS] if on_track else (P[MISREAD_FRUS] if solvable else P[LOOP_FRUS])
    if P[EMOTION_ON]:
        drive += P[FRUS_JUMP] if u_bad < P[FRUS_REPLY] else 0.0
        _set_f(XF, c, XF[F, c] * P[DECAY] + drive + P[NOISE] * zf)
    reading = -XF[F, c] + P[SENT_NOISE] * zl
    trend = reading - XF[READING, c] if n > 1 else 0.0
    XF[READING, c] = reading
    low = XI[LOW_RUN, c] = XI[LOW_RUN, c] + 1 if reading < -P[EMO_THRESHOLD] else 0
    if on_track and n >= CI[AI_NEED, c]:
        XI[RESOLVED, c] = 1 if CF[U_RESOLVE, c] < P[RES_QUALITY] else 0
        push(HT, HI, S, t_reply + P[CLOSE_S], END, c)
        XI[MODE, c] = DONE
    elif (P[TECHNICAL_ON] and not solvable and n >= CI[TECH_ROUND, c]) or n >= P[AI_MAX_ROUNDS]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t_reply, TECHNICAL)
    elif P[EMOTIONAL_ON] and low >= P[EMO_ROUNDS]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t_reply, EMOTIONAL)
    elif u_ab < P[HAZARD_BASE] + P[HAZARD_SLOPE] * max(0.0, XF[F, c]):
        _leave(CF, XI, HT, HI, S, P, c, t_reply)
    else:
        gap = P[CONF_GAP] if solvable else -P[CONF_GAP]
        conf = min(1.0, max(0.0, 0.5 + gap + P[CONF_NOISE] * (u_conf - 0.5)))
        S[PEND_C] = c
        SF[PEND_T] = t_reply
        SF[NEXT_CUSTOMER] = e2
        held, ai_held = WI[HELD, w], WI[AI_HELD, w]
        V[0], V[1], V[2], V[3], V[4], V[5], V[6] = c, w, t_reply, t_reply - CF[T, c], n, reading, trend
        V[7], V[8], V[9], V[10], V[11] = conf, CI[CATEGORY, c], held, ai_held, S[N_QUEUED]
        V[12], V[13] = 1.0 if held - ai_held < P[MAX_HAND] else 0.0, u_sup
        return True
    return False


@njit(cache=True)
def _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t, kind):
    f, n = XF[F, c], XI[AI_ROUNDS, c]
    w = XI[WORKER, c]
    WI[AI_HELD, w] -= 1
    XI[ESCALATION, c] = kind
    XF[TAKEOVER_T, c] = t - CF[T, c]
    XI[TAKEOVER_ROUND, c] = n
    XF[F_TAKEOVER, c] = f
    late = max(0.0, n - P[LATE_GRACE])
    excess = max(0.0, f - P[FRUS_GRACE])
    effort = max(P[EFFORT_FLOOR], math.exp(-P[FRUS_SLOPE] * excess - P[LATE_SLOPE] * late))
    work = CF[WORK, c] * CAT[CAT_HANDOFF, CI[CATEGORY, c]] * effort ** P[SCOPE_EXP]  # disengaged: less done
    _start_human(XF, XI, WF, HT, HI, S, c, w, t + P[HANDOFF_READ], effort, work, P[ESC_ATT])


# ----------------------------------------------------------------- endings
@njit(cache=True)
def _finish(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t):
    """A chat's last reply is in: settle resolution, emotion, rating and retrial."""
    if not P[ROUNDS_MODEL]:
        XI[RESOLVED, c] = 1 - XI[ABANDONED, c]
        _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)
        return
    if XI[HUMAN_ROUNDS, c] and not XI[ABANDONED, c]:
        p = P[RESOLVE_BASE] + WF[SKILL, XI[WORKER, c]] - P[RESOLVE_EFFORT] * (1.0 - XF[EFFORT, c])
        if XI[ESCALATION, c]:  # the human starts from the AI's transcript
            p += CAT[CAT_CONTEXT, CI[CATEGORY, c]]
        XI[RESOLVED, c] = 1 if CF[U_RESOLVE, c] < p else 0
    if P[EMOTION_ON] and XI[RESOLVED, c]:
        XF[F, c] -= P[RES_RELIEF]
    f_end = XF[F, c]
    ai_alone = XI[ROUTED_AI, c] == 1 and XI[ESCALATION, c] == NONE and XI[ABANDONED, c] == 0
    peak = max(0.0, XF[F_PEAK, c])
    sat = P[RATING_BASE] + P[RATING_RESOLVED] * XI[RESOLVED, c] - P[RATING_PEAK] * peak - P[RATING_END] * f_end
    sat += P[RATING_NOISE] * CF[Z_RATING, c] - P[STYLE_PENALTY] * (1.0 if ai_alone else 0.0)
    satisfaction = XF[SATISFACTION, c] = min(5.0, max(1.0, np.rint(sat)))
    if not XI[ABANDONED, c] and CF[U_RATE, c] < P[RATE_BASE] + P[RATE_FRUS] * max(0.0, f_end):
        XI[RATED, c] = 1
        XF[RATING, c] = satisfaction
    unresolved = 1 - XI[RESOLVED, c]
    p_retry = P[RETRIAL_BASE] + P[RETRIAL_UNRESOLVED] * unresolved + P[RETRIAL_FRUS] * max(0.0, f_end)
    XI[RETRIAL, c] = 1 if CF[U_RETRIAL, c] < p_retry else 0
    XF[F_END, c] = f_end
    _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)


@njit(cache=True)
def _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t):
    XF[END_T, c] = t
    FIN[S[FIN_N]] = c
    S[FIN_N] += 1
    was_queued = XI[MODE, c] == QUEUED
    XI[MODE, c] = DONE
    if was_queued:
        return
    w = XI[WORKER, c]
    WI[HELD, w] -= 1
    if XI[ROUTED_AI, c] and XI[ESCALATION, c] == NONE:  # closed by or during the AI
        WI[AI_HELD, w] -= 1
    _set_attention(XF, WF, c, w, 0.0)
    if WI[ONLINE, w]:
        _drain_queue(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, t)
