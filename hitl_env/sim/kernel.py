"""The compiled event loop: one team's rounds, queue and chats, in numba.

:class:`~hitl_env.sim.team.TeamSim` keeps the team's whole state in a few numpy arrays (layout
below: per-chat arrays have one row per chat and one column per field) and calls :func:`advance`
to run events until the next decision, and :func:`resume` to apply that decision. Everything
here is plain arithmetic on those arrays; the hooks, the views and the random generator stay in
Python. One event is one chat round (a customer message and the reply to it). Its randomness is
a row of pre-drawn numbers (2 normals, 6 uniforms, 2 unit exponentials) taken from the end of
the block ``B``; :func:`advance` returns ``REFILL`` before an event when fewer than ``P[MARGIN]``
rows are left, so an event never runs short.

Compiled with ``cache=True``: the first call on a machine compiles (about 9 s) and caches the
machine code in ``__pycache__`` beside this file (or numba's user cache); later processes load it
(about 0.5 s on their first call).
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

# columns of CF (chat inputs, float) and CI (chat inputs, int): one row per chat
T, WORK, PATIENCE, U_SILENT, U_RESOLVE, U_RATE, Z_RATING, U_RETRIAL = range(8)
CATEGORY, SOLVABLE, MISREAD, AI_NEED, TECH_ROUND, RULE_ELIGIBLE = range(6)
# columns of XF (chat state and records, float) and XI (int); the records are RECORD_FIELDS
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
# the decision view V: RoundView's fields in order, or ArrivalView's first 7 (its u is added in Python)
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
    if i >= HT.shape[0]:  # (numba does not check bounds)
        raise RuntimeError("event heap full")
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
def _row(S):
    """Index of the next row of draws in ``B`` (rows are taken from the end)."""
    if S[B_LEFT] <= 0:  # (numba does not check bounds)
        raise RuntimeError("block of draws exhausted")
    S[B_LEFT] -= 1
    return S[B_LEFT]


# ----------------------------------------------------------------- the loop
@njit(cache=True)
def advance(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, SF, P, CAT, V, until, route_hook):
    """Run events until a decision is due, the events run out, or the next one is after ``until``.

    Returns ``ROUTE`` or ``TAKEOVER`` with the decision's view in ``V`` (answer with
    :func:`resume`), ``REFILL`` when the block ``B`` runs low, or ``FINISHED``.
    """
    n = CF.shape[0]
    t_arr = CF[:, T]
    while True:
        if S[B_LEFT] < P[MARGIN]:
            return REFILL
        i = S[NEXT_ARRIVAL]
        if i < n and (S[HEAP_N] == 0 or t_arr[i] <= HT[0]):
            if t_arr[i] > until:
                return FINISHED
            S[NEXT_ARRIVAL] = i + 1
            if not route_hook:
                _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, i, CI[i, RULE_ELIGIBLE] == 1)
                continue
            S[PEND_C] = i
            SF[PEND_T] = t_arr[i]
            V[0], V[1], V[2], V[3] = i, t_arr[i], CI[i, CATEGORY], CI[i, RULE_ELIGIBLE]
            V[4], V[5], V[6] = S[N_QUEUED], WI[HELD].sum(), WI[ONLINE].sum()
            return ROUTE
        if S[HEAP_N] == 0:
            return FINISHED
        if HT[0] > until:
            return FINISHED
        t, kind, c = _pop(HT, HI, S)
        if kind == ROUND:
            if XI[c, MODE] == HUMAN:
                _human_round(CF, XF, XI, WF, WI, HT, HI, B, S, P, c, t)
            elif _ai_round(CF, CI, XF, XI, WF, WI, HT, HI, B, S, SF, P, CAT, V, c, t):
                return TAKEOVER
        elif kind == END:
            _finish(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)
        elif kind == RENEGE:
            if XI[c, MODE] == QUEUED:
                S[N_QUEUED] -= 1
                XI[c, ABANDONED] = 1
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
        _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, c, action)
        return
    w = XI[c, WORKER]
    if action and WI[HELD, w] - WI[AI_HELD, w] < P[MAX_HAND]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t, HUMAN_INIT)
    else:
        push(HT, HI, S, t + P[CUST_S] * SF[NEXT_CUSTOMER], ROUND, c)


# ----------------------------------------------------------------- arrivals and queue
@njit(cache=True)
def _admit(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, c, eligible):
    t = CF[c, T]
    XI[c, ELIGIBLE] = 1 if eligible else 0
    w = _free_worker(WI, S, P)
    if w < 0:
        Q[S[Q_TAIL]] = c
        S[Q_TAIL] += 1
        S[N_QUEUED] += 1
        push(HT, HI, S, t + CF[c, PATIENCE], RENEGE, c)
    else:
        _assign(CF, CI, XF, XI, WF, WI, HT, HI, B, S, P, CAT, c, w, t)


@njit(cache=True, inline="always")
def _free_worker(WI, S, P):
    """The online worker with the fewest chats below the cap (round-robin ties), or -1."""
    nw = WI.shape[1]
    best, best_h = -1, P[MAX_CONC]
    w = S[RR]
    for _ in range(nw):
        if WI[ONLINE, w] and WI[HELD, w] < best_h:
            best, best_h = w, WI[HELD, w]
        w = w + 1 if w + 1 < nw else 0
    if best >= 0:
        S[RR] = best + 1 if best + 1 < nw else 0
    return best


@njit(cache=True)
def _drain_queue(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, t):
    while S[Q_HEAD] < S[Q_TAIL]:
        c = Q[S[Q_HEAD]]
        if XI[c, MODE] != QUEUED:  # left while waiting (skipped lazily)
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
    XI[c, WORKER] = w
    XF[c, ASSIGN_T] = t
    WI[HELD, w] += 1
    XF[c, HELD_SUM] += WI[HELD, w]
    if not P[ROUNDS_MODEL]:
        XI[c, MODE] = HUMAN
        XF[c, FIRST_REPLY_T] = t
        push(HT, HI, S, t + B[_row(S), 8] / P[SERVICE_RATE], END, c)
        return
    wait_min = (t - CF[c, T]) / 60.0
    if P[EMOTION_ON]:
        f = XF[c, F] = XF[c, F] + P[QUEUE_PER_MIN] * wait_min
        if f > XF[c, F_PEAK]:
            XF[c, F_PEAK] = f
    if XI[c, ELIGIBLE] and WI[TREATED, w] and CF[c, T] >= P[POST_START]:
        XI[c, ROUTED_AI] = 1
        XI[c, MODE] = AI
        WI[AI_HELD, w] += 1
        _set_attention(XF, WF, c, w, P[MON_ATT])
        push(HT, HI, S, t, ROUND, c)
    else:
        cat = CI[c, CATEGORY]
        _start_human(XF, XI, WF, HT, HI, S, c, w, t, 1.0, CF[c, WORK], CAT[CAT_ATTENTION, cat])


@njit(cache=True, inline="always")
def _set_attention(XF, WF, c, w, a):
    WF[ATT_LOAD, w] += a - XF[c, ATT]
    XF[c, ATT] = a


# ----------------------------------------------------------------- human handling
@njit(cache=True, inline="always")
def _start_human(XF, XI, WF, HT, HI, S, c, w, t, effort, work, attention):
    XI[c, MODE] = HUMAN
    XF[c, NEED] = work
    XF[c, PROGRESS] = 0.0
    XF[c, EFFORT] = effort
    _set_attention(XF, WF, c, w, attention)
    push(HT, HI, S, t, ROUND, c)


@njit(cache=True, inline="always")
def _human_round(CF, XF, XI, WF, WI, HT, HI, B, S, P, c, t):
    """One round of a human-handled chat: the customer's message and the worker's reply."""
    r = _row(S)
    zl, zf, u_sw, u_rep, u_pro, u_ab = B[r, 0], B[r, 1], B[r, 2], B[r, 3], B[r, 4], B[r, 5]
    u_msg, u_emp, e1, e2 = B[r, 6], B[r, 7], B[r, 8], B[r, 9]
    w, e = XI[c, WORKER], XF[c, EFFORT]
    held = WI[HELD, w]
    # one customer message per round; rounds, customer messages and the count behind the mean
    # concurrency are derived from human_rounds and ai_rounds when the records are built
    XI[c, HUMAN_ROUNDS] += 1
    n_human = XI[c, HUMAN_ROUNDS]
    XF[c, HELD_SUM] += held
    answered = u_rep < P[REPLY_BASE] + (1.0 - P[REPLY_BASE]) * e
    if answered:
        # switch-aways: Poisson in the attention the worker's other chats demand
        lam = P[SWITCH_RATE] * (WF[ATT_LOAD, w] - XF[c, ATT])
        k, p = 0, math.exp(-lam)
        cdf = p
        while u_sw > cdf and k < 50:
            k += 1
            p *= lam / k
            cdf += p
        away = P[AWAY] * k * e1 if k else 0.0
        if k:
            XI[c, SWITCHES] += k
            XF[c, AWAY_S] += away
        slow = e ** -P[LAG_EXP] if e != 1.0 else 1.0  # disengaged workers reply later
        lag = (P[LAG_S] * WF[SPEED, w] * (1.0 + P[SLOWDOWN] * (held - 1)) * slow
               * math.exp(P[LAG_SD] * zl + P[LAG_MU]) + away)  # fmt: skip
        t_reply = t + lag
        if XI[c, WORKER_ROUNDS] == 0 and math.isnan(XF[c, FIRST_REPLY_T]):  # the first reply
            XF[c, FIRST_REPLY_T] = t_reply
        XI[c, WORKER_ROUNDS] += 1
        XI[c, MSG_WORKER] += 2 if u_msg < P[EXTRA_MSG] * e else 1
        XF[c, LAG_SUM] += lag
        if u_emp < WF[EMPATHY, w]:
            XI[c, EMPATHETIC] += 1
        if u_pro < P[PRO_BASE] * e:
            XI[c, PROACTIVE] += 1
            gain = 1.0
        else:
            gain = P[PASSIVE]
        waited = lag
    else:  # unanswered: the customer nudges after a while
        waited = P[NUDGE_S] * e2
        t_reply = t + waited
        gain = 0.0
    XF[c, PROGRESS] += gain
    if P[EMOTION_ON]:
        excess = waited - P[LAG_EXPECT]
        drive = (P[LAG_PER_MIN] * excess / 60.0 if excess > 0.0 else 0.0) - P[RELIEF] * gain
        _set_f(XF, c, XF[c, F] * P[DECAY] + drive + P[NOISE] * zf)
    f = XF[c, F]
    if u_ab < P[HAZARD_BASE] + P[HAZARD_SLOPE] * (f if f > 0.0 else 0.0) or n_human >= P[MAX_ROUNDS]:
        _leave(CF, XI, HT, HI, S, P, c, t_reply)
    elif XF[c, PROGRESS] >= XF[c, NEED]:
        push(HT, HI, S, t_reply + P[CLOSE_S], END, c)
    else:  # the customer answers the reply, or the nudge is their next message
        push(HT, HI, S, t_reply + P[CUST_S] * e2 if answered else t_reply, ROUND, c)


@njit(cache=True, inline="always")
def _set_f(XF, c, f):
    XF[c, F] = f
    if f > XF[c, F_PEAK]:
        XF[c, F_PEAK] = f


@njit(cache=True, inline="always")
def _leave(CF, XI, HT, HI, S, P, c, t):
    XI[c, ABANDONED] = 1
    silent = CF[c, U_SILENT] < P[SILENT_SHARE]
    push(HT, HI, S, t + (P[SILENT_TIMEOUT] if silent else 0.0), END, c)
    XI[c, MODE] = DONE  # no further rounds; END closes the record


# ----------------------------------------------------------------- AI handling
@njit(cache=True)
def _ai_round(CF, CI, XF, XI, WF, WI, HT, HI, B, S, SF, P, CAT, V, c, t):
    """One AI round; True when the supervisor's decision is due (its view is in ``V``)."""
    r = _row(S)
    zl, zf, u_bad, u_sup, u_conf, u_ab, e2 = B[r, 0], B[r, 1], B[r, 2], B[r, 3], B[r, 4], B[r, 5], B[r, 9]
    XI[c, AI_ROUNDS] += 1
    n = XI[c, AI_ROUNDS]
    XI[c, MSG_AI] += 1
    w = XI[c, WORKER]
    XF[c, HELD_SUM] += WI[HELD, w]
    t_reply = t + P[AI_REPLY_S]
    if math.isnan(XF[c, FIRST_REPLY_T]):
        XF[c, FIRST_REPLY_T] = t_reply
    solvable = CI[c, SOLVABLE] == 1
    on_track = solvable and not CI[c, MISREAD]
    drive = -P[RELIEF] * P[AI_PROGRESS] if on_track else (P[MISREAD_FRUS] if solvable else P[LOOP_FRUS])
    if P[EMOTION_ON]:
        drive += P[FRUS_JUMP] if u_bad < P[FRUS_REPLY] else 0.0
        _set_f(XF, c, XF[c, F] * P[DECAY] + drive + P[NOISE] * zf)
    reading = -XF[c, F] + P[SENT_NOISE] * zl
    trend = reading - XF[c, READING] if n > 1 else 0.0
    XF[c, READING] = reading
    low = XI[c, LOW_RUN] = XI[c, LOW_RUN] + 1 if reading < -P[EMO_THRESHOLD] else 0
    if on_track and n >= CI[c, AI_NEED]:
        XI[c, RESOLVED] = 1 if CF[c, U_RESOLVE] < P[RES_QUALITY] else 0
        push(HT, HI, S, t_reply + P[CLOSE_S], END, c)
        XI[c, MODE] = DONE
    elif (P[TECHNICAL_ON] and not solvable and n >= CI[c, TECH_ROUND]) or n >= P[AI_MAX_ROUNDS]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t_reply, TECHNICAL)
    elif P[EMOTIONAL_ON] and low >= P[EMO_ROUNDS]:
        _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t_reply, EMOTIONAL)
    elif u_ab < P[HAZARD_BASE] + P[HAZARD_SLOPE] * max(0.0, XF[c, F]):
        _leave(CF, XI, HT, HI, S, P, c, t_reply)
    else:
        gap = P[CONF_GAP] if solvable else -P[CONF_GAP]
        conf = min(1.0, max(0.0, 0.5 + gap + P[CONF_NOISE] * (u_conf - 0.5)))
        S[PEND_C] = c
        SF[PEND_T] = t_reply
        SF[NEXT_CUSTOMER] = e2
        held, ai_held = WI[HELD, w], WI[AI_HELD, w]
        V[0], V[1], V[2], V[3], V[4], V[5], V[6] = c, w, t_reply, t_reply - CF[c, T], n, reading, trend
        V[7], V[8], V[9], V[10], V[11] = conf, CI[c, CATEGORY], held, ai_held, S[N_QUEUED]
        V[12], V[13] = 1.0 if held - ai_held < P[MAX_HAND] else 0.0, u_sup
        return True
    return False


@njit(cache=True)
def _escalate(CF, CI, XF, XI, WF, WI, HT, HI, S, P, CAT, c, t, kind):
    f, n = XF[c, F], XI[c, AI_ROUNDS]
    w = XI[c, WORKER]
    WI[AI_HELD, w] -= 1
    XI[c, ESCALATION] = kind
    XF[c, TAKEOVER_T] = t - CF[c, T]
    XI[c, TAKEOVER_ROUND] = n
    XF[c, F_TAKEOVER] = f
    late = max(0.0, n - P[LATE_GRACE])
    excess = max(0.0, f - P[FRUS_GRACE])
    effort = max(P[EFFORT_FLOOR], math.exp(-P[FRUS_SLOPE] * excess - P[LATE_SLOPE] * late))
    work = CF[c, WORK] * CAT[CAT_HANDOFF, CI[c, CATEGORY]] * effort ** P[SCOPE_EXP]  # disengaged: less done
    _start_human(XF, XI, WF, HT, HI, S, c, w, t + P[HANDOFF_READ], effort, work, P[ESC_ATT])


# ----------------------------------------------------------------- endings
@njit(cache=True)
def _finish(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t):
    """A chat's last reply is in: settle resolution, emotion, rating and retrial."""
    if not P[ROUNDS_MODEL]:
        XI[c, RESOLVED] = 1 - XI[c, ABANDONED]
        _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)
        return
    if XI[c, HUMAN_ROUNDS] and not XI[c, ABANDONED]:
        p = P[RESOLVE_BASE] + WF[SKILL, XI[c, WORKER]] - P[RESOLVE_EFFORT] * (1.0 - XF[c, EFFORT])
        if XI[c, ESCALATION]:  # the human starts from the AI's transcript
            p += CAT[CAT_CONTEXT, CI[c, CATEGORY]]
        XI[c, RESOLVED] = 1 if CF[c, U_RESOLVE] < p else 0
    if P[EMOTION_ON] and XI[c, RESOLVED]:
        XF[c, F] -= P[RES_RELIEF]
    f_end = XF[c, F]
    ai_alone = XI[c, ROUTED_AI] == 1 and XI[c, ESCALATION] == NONE and XI[c, ABANDONED] == 0
    peak = max(0.0, XF[c, F_PEAK])
    sat = P[RATING_BASE] + P[RATING_RESOLVED] * XI[c, RESOLVED] - P[RATING_PEAK] * peak - P[RATING_END] * f_end
    sat += P[RATING_NOISE] * CF[c, Z_RATING] - P[STYLE_PENALTY] * (1.0 if ai_alone else 0.0)
    satisfaction = XF[c, SATISFACTION] = min(5.0, max(1.0, np.rint(sat)))
    if not XI[c, ABANDONED] and CF[c, U_RATE] < P[RATE_BASE] + P[RATE_FRUS] * max(0.0, f_end):
        XI[c, RATED] = 1
        XF[c, RATING] = satisfaction
    unresolved = 1 - XI[c, RESOLVED]
    p_retry = P[RETRIAL_BASE] + P[RETRIAL_UNRESOLVED] * unresolved + P[RETRIAL_FRUS] * max(0.0, f_end)
    XI[c, RETRIAL] = 1 if CF[c, U_RETRIAL] < p_retry else 0
    XF[c, F_END] = f_end
    _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t)


@njit(cache=True)
def _close(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, FIN, S, P, CAT, c, t):
    XF[c, END_T] = t
    FIN[S[FIN_N]] = c
    S[FIN_N] += 1
    was_queued = XI[c, MODE] == QUEUED
    XI[c, MODE] = DONE
    if was_queued:
        return
    w = XI[c, WORKER]
    WI[HELD, w] -= 1
    if XI[c, ROUTED_AI] and XI[c, ESCALATION] == NONE:  # closed by or during the AI
        WI[AI_HELD, w] -= 1
    _set_attention(XF, WF, c, w, 0.0)
    if WI[ONLINE, w]:
        _drain_queue(CF, CI, XF, XI, WF, WI, HT, HI, Q, B, S, P, CAT, t)
