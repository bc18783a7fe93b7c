"""The compiled event loop: one team's rounds, queue and chats, in numba.

:class:`~hitl_env.sim.team.TeamSim` keeps the team's whole state in a few numpy arrays, gathered
in one :class:`State`, and calls :func:`advance` to run events until the next decision, and
:func:`resume` to apply that decision. Everything here is plain arithmetic on those arrays; the
hooks, the views and the random generator stay in Python. One event is one chat round (a
customer message and the reply to it). Its randomness is a row of pre-drawn numbers (2 normals,
6 uniforms, 2 unit exponentials: the same row of ``BN``, ``BU`` and ``BE``) taken from the end of
the block; :func:`advance` returns ``REFILL`` before an event when fewer than ``P[p.margin]``
rows are left, so an event never runs short.

The layout is defined once, here: each array's columns (or rows) are a tuple of names, and
:func:`columns` turns it into a named tuple of indices (``XF[c, xf.f]``, ``P[p.decay]``) that
numba reads as constants. Adding a parameter or a chat field is one name in its tuple (plus the
value :mod:`~hitl_env.sim.team` gives it, by name) and its use.

Compiled with ``cache=True``: the first call on a machine compiles (about 9 s) and caches the
machine code in ``__pycache__`` beside this file (or numba's user cache); later processes load it
(about 0.5 s on their first call). numba checks only this file's timestamp, so everything the
compiled code reads is defined in this file.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, NamedTuple

import numpy as np
from numba import njit

# chat modes, event kinds, escalation types, what advance() returns
HUMAN, AI, DONE, QUEUED = 0, 1, 2, 3
SHIFT_ON, SHIFT_OFF, RENEGE, ROUND, END = 0, 1, 2, 3, 4
NONE, TECHNICAL, EMOTIONAL, HUMAN_INIT = 0, 1, 2, 3
FINISHED, ROUTE, TAKEOVER, REFILL = 0, 1, 2, 3
DAY_S = 86_400.0

# Every function here takes the whole State, a tuple of arrays, and allocates nothing. With
# numba's runtime (NRT) on, each call increfs and decrefs every array in the tuple (atomically);
# numba prunes that for array arguments but not for tuples of them, and the loop ran about 1.6x
# slower than with arrays passed one by one. Off, there is no reference counting at all: the
# arrays belong to TeamSim, which outlives every call. (`_nrt` is numba's own option for this;
# tests/test_architecture.py checks that each function here has it.)
jit = njit(cache=True, _nrt=False)
jit_inline = njit(cache=True, _nrt=False, inline="always")


def columns(name: str, fields: tuple[str, ...]) -> Any:
    """The index of each field by name: ``columns("X", ("a", "b")).b == 1``."""
    return namedtuple(name, fields)(*range(len(fields)))


# the per-chat records (float and int): the columns TeamSim.rec exposes and the records read
FLOAT_RECORDS = (
    "assign_t", "first_reply_t", "end_t", "lag_sum", "held_sum", "away_s", "takeover_t", "f_takeover", "f_peak",
    "f_end", "effort", "rating", "satisfaction",
)  # fmt: skip
INT_RECORDS = (
    "worker", "eligible", "routed_ai", "ai_rounds", "msg_worker", "msg_ai", "switches", "worker_rounds",
    "human_rounds", "proactive", "empathetic", "escalation", "takeover_round", "resolved", "abandoned", "rated",
    "retrial",
)  # fmt: skip
# one row per chat, one column per field: CF, CI are the chat's drawn inputs; XF, XI its state and records
CF_FIELDS = ("t", "work", "patience", "u_silent", "u_resolve", "u_rate", "z_rating", "u_retrial", "u_route")
CI_FIELDS = ("category", "solvable", "misread", "ai_need", "tech_round", "rule_eligible")
XF_FIELDS = ("f", "progress", "need", "att", "reading", "reading_min", "confidence_sum", *FLOAT_RECORDS)
XI_FIELDS = ("mode", "low_run", *INT_RECORDS)
# one row per field, one column per worker (WF float, WI int) or per category (CAT)
WF_FIELDS = ("skill", "empathy", "att_load", "monitoring", "fatigue")
WI_FIELDS = ("treated", "held", "online", "ai_held", "supervisor", "assigned", "ai_assigned")
CAT_FIELDS = ("eligible", "attention", "handoff_work", "handoff_resolve")
# one row per field, then (workers, days): what drifts from day to day
WD_FIELDS = ("speed", "care")
# the loop's scalars (S int, SF float)
S_FIELDS = ("rr", "n_queued", "seq", "next_arrival", "heap_n", "q_head", "q_tail", "b_left", "fin_n", "pend_c")
SF_FIELDS = ("pend_t", "next_customer")
# the decision view V: RoundView's or ArrivalView's fields (hitl_env.sim.hooks), matched by name
ROUND_VIEW = ("chat", "worker", "time_s", "elapsed_s", "rounds", "reading", "trend", "confidence", "category", "held",
              "ai_held", "queue", "can_takeover", "u", "reading_min", "confidence_mean")  # fmt: skip
ARRIVAL_VIEW = ("chat", "time_s", "category", "rule_eligible", "queue", "held", "online", "u")
V_SIZE = max(len(ROUND_VIEW), len(ARRIVAL_VIEW))
# P: the config's numbers the loop reads (booleans as 0/1); hitl_env.sim.team.parameters gives them by name
PARAMS = (
    "switch_rate", "away_s", "reply_lag_s", "slowdown", "lag_sd", "lag_mu", "reply_base", "extra_message",
    "proactive_base", "passive_progress", "lag_exponent", "nudge_s", "close_s", "customer_reply_s",
    "lag_per_min", "lag_expect_s", "progress_relief", "decay", "noise_sd", "hazard_base", "hazard_slope",
    "max_rounds", "emotion_on", "queue_per_min", "post_start", "rounds_model", "service_rate",
    "max_concurrency", "max_hand_chats", "ai_reply_s", "ai_progress",
    "misread_frustration", "loop_frustration", "frustrating_jump", "frustrating_reply", "confidence_gap",
    "confidence_noise", "resolution_quality", "ai_max_rounds", "escalated_attention", "handoff_read_s",
    "sentiment_noise", "emotional_threshold", "technical", "emotional", "emotional_rounds",
    "lateness_grace_rounds", "frustration_grace", "effort_floor", "frustration_slope", "lateness_slope",
    "scope_exponent", "silent_share", "silent_timeout_s", "resolve_base", "resolve_effort",
    "resolution_relief", "rating_base", "rating_resolved", "rating_peak", "rating_end", "rating_noise",
    "style_penalty", "rate_base", "rate_frustration", "retrial_base", "retrial_unresolved",
    "retrial_frustration", "margin", "gatekeeper_penalty", "rating_cut_1", "rating_cut_2", "rating_cut_3",
    "rating_cut_4", "confidence_rounds", "takeover_boost", "takeover_read_s", "predictive", "trend_threshold",
    "predictive_level", "bonus", "bonus_response", "specialized", "fatigue_slope", "fatigue_threshold",
    "skill_erosion",
)  # fmt: skip
cf, ci, xf, xi = columns("CF", CF_FIELDS), columns("CI", CI_FIELDS), columns("XF", XF_FIELDS), columns("XI", XI_FIELDS)
wf, wi, cat, wd = (
    columns("WF", WF_FIELDS),
    columns("WI", WI_FIELDS),
    columns("CAT", CAT_FIELDS),
    columns("WD", WD_FIELDS),
)
s, sf, p = columns("S", S_FIELDS), columns("SF", SF_FIELDS), columns("P", PARAMS)
rv, av = columns("RoundViewAt", ROUND_VIEW), columns("ArrivalViewAt", ARRIVAL_VIEW)


class State(NamedTuple):
    """A team's whole simulation state: what every kernel function takes as ``st``."""

    CF: np.ndarray  # (chats, CF_FIELDS) float: drawn inputs
    CI: np.ndarray  # (chats, CI_FIELDS) int: drawn inputs
    XF: np.ndarray  # (chats, XF_FIELDS) float: state and records
    XI: np.ndarray  # (chats, XI_FIELDS) int: state and records
    WF: np.ndarray  # (WF_FIELDS, workers) float
    WI: np.ndarray  # (WI_FIELDS, workers) int
    WD: np.ndarray  # (WD_FIELDS, workers, days) float: each day's reply-lag multiplier and care
    HT: np.ndarray  # (capacity,) the event heap's times
    HI: np.ndarray  # (capacity, 3) its (sequence number, event kind, chat or worker)
    Q: np.ndarray  # (chats,) the queue, FIFO
    BN: np.ndarray  # (rows, 2) pre-drawn standard normals, taken from the end
    BU: np.ndarray  # (rows, 6) pre-drawn uniforms, the same rows
    BE: np.ndarray  # (rows, 2) pre-drawn unit exponentials, the same rows
    FIN: np.ndarray  # (chats,) chats closed since TeamSim last collected them
    S: np.ndarray  # (S_FIELDS,) int scalars
    SF: np.ndarray  # (SF_FIELDS,) float scalars
    P: np.ndarray  # (PARAMS,) parameters
    CAT: np.ndarray  # (CAT_FIELDS, categories)
    V: np.ndarray  # (V_SIZE,) the pending decision's view


# ----------------------------------------------------------------- the event heap
@jit
def push(st, t, kind, c):
    """Schedule event ``kind`` of chat (or worker) ``c`` at ``t``; ties: first pushed, first out."""
    HT, HI, S = st.HT, st.HI, st.S
    S[s.seq] += 1
    seq = S[s.seq]
    i = S[s.heap_n]
    if i >= HT.shape[0]:  # (numba does not check bounds)
        raise RuntimeError("event heap full")
    S[s.heap_n] = i + 1
    while i > 0:
        up = (i - 1) >> 1
        if HT[up] < t or (HT[up] == t and HI[up, 0] < seq):
            break
        HT[i] = HT[up]
        HI[i, 0], HI[i, 1], HI[i, 2] = HI[up, 0], HI[up, 1], HI[up, 2]
        i = up
    HT[i] = t
    HI[i, 0], HI[i, 1], HI[i, 2] = seq, kind, c


@jit
def schedule_shifts(st, on, off):
    """Push each worker's shift starts and ends (``(workers, days)`` times), worker by worker."""
    for w in range(on.shape[0]):
        for d in range(on.shape[1]):
            push(st, on[w, d], SHIFT_ON, w)
            push(st, off[w, d], SHIFT_OFF, w)


@jit_inline
def _pop(st):
    HT, HI, S = st.HT, st.HI, st.S
    t, kind, c = HT[0], HI[0, 1], HI[0, 2]
    n = S[s.heap_n] - 1
    S[s.heap_n] = n
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


@jit_inline
def _row(st):
    """Index of the next row of draws in ``BN``, ``BU`` and ``BE`` (rows are taken from the end)."""
    S = st.S
    if S[s.b_left] <= 0:  # (numba does not check bounds)
        raise RuntimeError("block of draws exhausted")
    S[s.b_left] -= 1
    return S[s.b_left]


# ----------------------------------------------------------------- the loop
@jit
def advance(st, until, route_hook):
    """Run events until a decision is due, the events run out, or the next one is after ``until``.

    Returns ``ROUTE`` or ``TAKEOVER`` with the decision's view in ``V`` (answer with
    :func:`resume`), ``REFILL`` when the block of draws runs low, or ``FINISHED``.
    """
    CF, CI, WI, HT, S, SF, P, V = st.CF, st.CI, st.WI, st.HT, st.S, st.SF, st.P, st.V
    n = CF.shape[0]
    t_arr = CF[:, cf.t]
    while True:
        if S[s.b_left] < P[p.margin]:
            return REFILL
        i = S[s.next_arrival]
        if i < n and (S[s.heap_n] == 0 or t_arr[i] <= HT[0]):
            if t_arr[i] > until:
                return FINISHED
            S[s.next_arrival] = i + 1
            if not route_hook:
                _admit(st, i, CI[i, ci.rule_eligible] == 1)
                continue
            S[s.pend_c] = i
            SF[sf.pend_t] = t_arr[i]
            V[av.chat], V[av.time_s], V[av.category] = i, t_arr[i], CI[i, ci.category]
            V[av.rule_eligible] = CI[i, ci.rule_eligible]
            V[av.queue], V[av.held], V[av.online] = S[s.n_queued], WI[wi.held].sum(), WI[wi.online].sum()
            V[av.u] = CF[i, cf.u_route]
            return ROUTE
        if S[s.heap_n] == 0:
            return FINISHED
        if HT[0] > until:
            return FINISHED
        if _event(st):
            return TAKEOVER


@jit_inline
def _event(st):
    """Run the next event of the heap; True when it makes the supervisor's decision due."""
    XI, WI, S = st.XI, st.WI, st.S
    t, kind, c = _pop(st)
    if kind == ROUND:
        if XI[c, xi.mode] == HUMAN:
            _human_round(st, c, t)
        elif _ai_round(st, c, t):
            return True
    elif kind == END:
        _finish(st, c, t)
    elif kind == RENEGE:
        if XI[c, xi.mode] == QUEUED:
            S[s.n_queued] -= 1
            XI[c, xi.abandoned] = 1
            _finish(st, c, t)
    elif kind == SHIFT_ON:
        WI[wi.online, c] = 1
        st.WF[wf.fatigue, c] = 0.0  # a new shift starts rested
        _drain_queue(st, t)
    elif kind == SHIFT_OFF:
        WI[wi.online, c] = 0
    else:
        raise RuntimeError("unknown event kind")
    return False


@jit
def resume(st, kind, action):
    """Apply the pending decision: eligible (``kind == ROUTE``) or take over (``TAKEOVER``).

    A takeover the worker cannot take (``supervisor.max_hand_chats`` chats by hand) is ignored.
    """
    XI, WI, S, SF, P = st.XI, st.WI, st.S, st.SF, st.P
    c, t = S[s.pend_c], SF[sf.pend_t]
    if kind == ROUTE:
        _admit(st, c, action)
    elif kind == TAKEOVER:
        w = XI[c, xi.worker]
        if action and WI[wi.held, w] - WI[wi.ai_held, w] < P[p.max_hand_chats]:
            _escalate(st, c, t, HUMAN_INIT)
        else:
            push(st, t + P[p.customer_reply_s] * SF[sf.next_customer], ROUND, c)
    else:
        raise RuntimeError("unknown decision kind")


@jit
def answer(st, kind, action, until, route_hook):
    """:func:`resume`, then :func:`advance`: a decision answered in one call instead of two."""
    resume(st, kind, action)
    return advance(st, until, route_hook)


# ----------------------------------------------------------------- arrivals and queue
@jit
def _admit(st, c, eligible):
    CF, XI, Q, S = st.CF, st.XI, st.Q, st.S
    t = CF[c, cf.t]
    XI[c, xi.eligible] = 1 if eligible else 0
    w = _free_worker_for(st, c)
    if w < 0:
        Q[S[s.q_tail]] = c
        S[s.q_tail] += 1
        S[s.n_queued] += 1
        push(st, t + CF[c, cf.patience], RENEGE, c)
    else:
        _assign(st, c, w, t)


@jit_inline
def _free_worker(st):
    """The online worker with the fewest chats below the cap (round-robin ties), or -1."""
    WI, S, P = st.WI, st.S, st.P
    nw = WI.shape[1]
    best, best_h = -1, P[p.max_concurrency]
    w = S[s.rr]
    for _ in range(nw):
        if WI[wi.online, w] and WI[wi.held, w] < best_h:
            best, best_h = w, WI[wi.held, w]
        w = w + 1 if w + 1 < nw else 0
    if best >= 0:
        S[s.rr] = best + 1 if best + 1 < nw else 0
    return best


@jit_inline
def _free_worker_for(st, c):
    """The worker chat ``c`` goes to: :func:`_free_worker`, or under the specialized role design
    (post period), the least-loaded supervisor for an eligible chat and the least-loaded other
    worker for the rest, anyone with a free slot when no worker of that role has one."""
    CF, XI, WI, S, P = st.CF, st.XI, st.WI, st.S, st.P
    if not P[p.specialized] or CF[c, cf.t] < P[p.post_start]:
        return _free_worker(st)
    want = 1 if XI[c, xi.eligible] else 0
    nw = WI.shape[1]
    best, best_h = -1, P[p.max_concurrency]
    w = S[s.rr]
    for _ in range(nw):
        if WI[wi.online, w] and WI[wi.supervisor, w] == want and WI[wi.held, w] < best_h:
            best, best_h = w, WI[wi.held, w]
        w = w + 1 if w + 1 < nw else 0
    if best < 0:
        return _free_worker(st)
    S[s.rr] = best + 1 if best + 1 < nw else 0
    return best


@jit
def _drain_queue(st, t):
    XI, Q, S = st.XI, st.Q, st.S
    while S[s.q_head] < S[s.q_tail]:
        c = Q[S[s.q_head]]
        if XI[c, xi.mode] != QUEUED:  # left while waiting (skipped lazily)
            S[s.q_head] += 1
            continue
        w = _free_worker_for(st, c)
        if w < 0:
            return
        S[s.n_queued] -= 1
        S[s.q_head] += 1
        _assign(st, c, w, t)


@jit
def _assign(st, c, w, t):
    CF, CI, XF, XI, WI, P, CAT = st.CF, st.CI, st.XF, st.XI, st.WI, st.P, st.CAT
    XI[c, xi.worker] = w
    XF[c, xf.assign_t] = t
    WI[wi.held, w] += 1
    WI[wi.assigned, w] += 1
    XF[c, xf.held_sum] += WI[wi.held, w]
    if not P[p.rounds_model]:
        XI[c, xi.mode] = HUMAN
        XF[c, xf.first_reply_t] = t
        push(st, t + st.BE[_row(st), 0] / P[p.service_rate], END, c)
        return
    wait_min = (t - CF[c, cf.t]) / 60.0
    if P[p.emotion_on]:
        f = XF[c, xf.f] = XF[c, xf.f] + P[p.queue_per_min] * wait_min
        if f > XF[c, xf.f_peak]:
            XF[c, xf.f_peak] = f
    if XI[c, xi.eligible] and WI[wi.treated, w] and CF[c, cf.t] >= P[p.post_start]:
        XI[c, xi.routed_ai] = 1
        XI[c, xi.mode] = AI
        WI[wi.ai_held, w] += 1
        WI[wi.ai_assigned, w] += 1
        _set_attention(st, c, w, st.WF[wf.monitoring, w])
        push(st, t, ROUND, c)
    else:
        k = CI[c, ci.category]
        _start_human(st, c, w, t, 1.0, CF[c, cf.work], CAT[cat.attention, k])


@jit_inline
def _set_attention(st, c, w, a):
    XF, WF = st.XF, st.WF
    WF[wf.att_load, w] += a - XF[c, xf.att]
    XF[c, xf.att] = a


# ----------------------------------------------------------------- human handling
@jit_inline
def _start_human(st, c, w, t, effort, work, attention):
    XF, XI = st.XF, st.XI
    XI[c, xi.mode] = HUMAN
    XF[c, xf.need] = work
    XF[c, xf.progress] = 0.0
    XF[c, xf.effort] = effort
    _set_attention(st, c, w, attention)
    push(st, t, ROUND, c)


@jit_inline
def _human_round(st, c, t):
    """One round of a human-handled chat: the customer's message and the worker's reply."""
    XF, XI, WF, WI, BU, P = st.XF, st.XI, st.WF, st.WI, st.BU, st.P
    r = _row(st)
    zl, zf = st.BN[r, 0], st.BN[r, 1]
    u_sw, u_rep, u_pro, u_ab, u_msg, u_emp = BU[r, 0], BU[r, 1], BU[r, 2], BU[r, 3], BU[r, 4], BU[r, 5]
    e1, e2 = st.BE[r, 0], st.BE[r, 1]
    w, e = XI[c, xi.worker], XF[c, xf.effort]
    held = WI[wi.held, w]
    # one customer message per round; rounds, customer messages and the count behind the mean
    # concurrency are derived from human_rounds and ai_rounds when the records are built
    XI[c, xi.human_rounds] += 1
    n_human = XI[c, xi.human_rounds]
    XF[c, xf.held_sum] += held
    answered = u_rep < P[p.reply_base] + (1.0 - P[p.reply_base]) * e
    if answered:
        # switch-aways: Poisson in the attention the worker's other chats demand
        lam = P[p.switch_rate] * (WF[wf.att_load, w] - XF[c, xf.att])
        k, pk = 0, math.exp(-lam)
        cdf = pk
        while u_sw > cdf and k < 50:
            k += 1
            pk *= lam / k
            cdf += pk
        away = P[p.away_s] * k * e1 if k else 0.0
        if k:
            XI[c, xi.switches] += k
            XF[c, xf.away_s] += away
        slow = e ** -P[p.lag_exponent] if e != 1.0 else 1.0  # disengaged workers reply later
        lag = (P[p.reply_lag_s] * st.WD[wd.speed, w, _day(st, t)] * (1.0 + P[p.slowdown] * (held - 1)) * slow
               * math.exp(P[p.lag_sd] * zl + P[p.lag_mu]) + away)  # fmt: skip
        t_reply = t + lag
        if XI[c, xi.worker_rounds] == 0 and math.isnan(XF[c, xf.first_reply_t]):  # the first reply
            XF[c, xf.first_reply_t] = t_reply
        XI[c, xi.worker_rounds] += 1
        XI[c, xi.msg_worker] += 2 if u_msg < P[p.extra_message] * e else 1
        XF[c, xf.lag_sum] += lag
        if u_emp < WF[wf.empathy, w]:
            XI[c, xi.empathetic] += 1
        if u_pro < P[p.proactive_base] * e:
            XI[c, xi.proactive] += 1
            gain = 1.0
        else:
            gain = P[p.passive_progress]
        waited = lag
    else:  # unanswered: the customer nudges after a while
        waited = P[p.nudge_s] * e2
        t_reply = t + waited
        gain = 0.0
    XF[c, xf.progress] += gain
    if P[p.emotion_on]:
        excess = waited - P[p.lag_expect_s]
        drive = (P[p.lag_per_min] * excess / 60.0 if excess > 0.0 else 0.0) - P[p.progress_relief] * gain
        _set_f(st, c, XF[c, xf.f] * P[p.decay] + drive + P[p.noise_sd] * zf)
    f = XF[c, xf.f]
    if u_ab < P[p.hazard_base] + P[p.hazard_slope] * (f if f > 0.0 else 0.0) or n_human >= P[p.max_rounds]:
        _leave(st, c, t_reply)
    elif XF[c, xf.progress] >= XF[c, xf.need]:
        push(st, t_reply + P[p.close_s], END, c)
    else:  # the customer answers the reply, or the nudge is their next message
        push(st, t_reply + P[p.customer_reply_s] * e2 if answered else t_reply, ROUND, c)


@jit_inline
def _day(st, t):
    """The day of time ``t`` (the last day for times past it)."""
    return min(int(t // DAY_S), st.WD.shape[2] - 1)


@jit_inline
def _set_f(st, c, f):
    XF = st.XF
    XF[c, xf.f] = f
    if f > XF[c, xf.f_peak]:
        XF[c, xf.f_peak] = f


@jit_inline
def _leave(st, c, t):
    CF, XI, P = st.CF, st.XI, st.P
    XI[c, xi.abandoned] = 1
    silent = CF[c, cf.u_silent] < P[p.silent_share]
    push(st, t + (P[p.silent_timeout_s] if silent else 0.0), END, c)
    XI[c, xi.mode] = DONE  # no further rounds; END closes the record


# ----------------------------------------------------------------- AI handling
@jit
def _ai_round(st, c, t):
    """One AI round; True when the supervisor's decision is due (its view is in ``V``)."""
    CF, CI, XF, XI, WI, BU, S, SF, P, V = st.CF, st.CI, st.XF, st.XI, st.WI, st.BU, st.S, st.SF, st.P, st.V
    r = _row(st)
    zl, zf, e2 = st.BN[r, 0], st.BN[r, 1], st.BE[r, 1]
    u_bad, u_sup, u_conf, u_ab = BU[r, 0], BU[r, 1], BU[r, 2], BU[r, 3]
    XI[c, xi.ai_rounds] += 1
    n = XI[c, xi.ai_rounds]
    XI[c, xi.msg_ai] += 1
    w = XI[c, xi.worker]
    XF[c, xf.held_sum] += WI[wi.held, w]
    t_reply = t + P[p.ai_reply_s]
    if math.isnan(XF[c, xf.first_reply_t]):
        XF[c, xf.first_reply_t] = t_reply
    solvable = CI[c, ci.solvable] == 1
    on_track = solvable and not CI[c, ci.misread]
    if on_track:
        drive = -P[p.progress_relief] * P[p.ai_progress]
    else:
        drive = P[p.misread_frustration] if solvable else P[p.loop_frustration]
    if P[p.emotion_on]:
        drive += P[p.frustrating_jump] if u_bad < P[p.frustrating_reply] else 0.0
        _set_f(st, c, XF[c, xf.f] * P[p.decay] + drive + P[p.noise_sd] * zf)
    reading = -XF[c, xf.f] + P[p.sentiment_noise] * zl
    trend = reading - XF[c, xf.reading] if n > 1 else 0.0
    XF[c, xf.reading] = reading
    XF[c, xf.reading_min] = reading if n == 1 else min(reading, XF[c, xf.reading_min])
    low = XI[c, xi.low_run] = XI[c, xi.low_run] + 1 if reading < -P[p.emotional_threshold] else 0
    if on_track and n >= CI[c, ci.ai_need]:
        XI[c, xi.resolved] = 1 if CF[c, cf.u_resolve] < P[p.resolution_quality] else 0
        push(st, t_reply + P[p.close_s], END, c)
        XI[c, xi.mode] = DONE
    elif (P[p.technical] and not solvable and n >= CI[c, ci.tech_round]) or n >= P[p.ai_max_rounds]:
        _escalate(st, c, t_reply, TECHNICAL)
    elif P[p.emotional] and low >= P[p.emotional_rounds]:
        _escalate(st, c, t_reply, EMOTIONAL)
    elif P[p.predictive] and trend < -P[p.trend_threshold] and reading < -P[p.predictive_level]:
        _escalate(st, c, t_reply, EMOTIONAL)  # the predictive sentiment trigger: a falling reading
    elif u_ab < P[p.hazard_base] + P[p.hazard_slope] * max(0.0, XF[c, xf.f]):
        _leave(st, c, t_reply)
    else:
        # the gap opens over the first confidence_rounds rounds: the AI learns whether it can help
        gap = P[p.confidence_gap] * min(1.0, n / P[p.confidence_rounds])
        gap = gap if solvable else -gap
        conf = min(1.0, max(0.0, 0.5 + gap + P[p.confidence_noise] * (u_conf - 0.5)))
        S[s.pend_c] = c
        SF[sf.pend_t] = t_reply
        SF[sf.next_customer] = e2
        held, ai_held = WI[wi.held, w], WI[wi.ai_held, w]
        V[rv.chat], V[rv.worker], V[rv.time_s], V[rv.elapsed_s] = c, w, t_reply, t_reply - CF[c, cf.t]
        V[rv.rounds], V[rv.reading], V[rv.trend], V[rv.confidence] = n, reading, trend, conf
        # every earlier round of an open chat ended in a decision: the mean of its n confidences
        XF[c, xf.confidence_sum] += conf
        V[rv.reading_min], V[rv.confidence_mean] = XF[c, xf.reading_min], XF[c, xf.confidence_sum] / n
        V[rv.category], V[rv.held], V[rv.ai_held], V[rv.queue] = CI[c, ci.category], held, ai_held, S[s.n_queued]
        V[rv.can_takeover], V[rv.u] = 1.0 if held - ai_held < P[p.max_hand_chats] else 0.0, u_sup
        return True
    return False


@jit
def _escalate(st, c, t, kind):
    CF, CI, XF, XI, WI, P, CAT = st.CF, st.CI, st.XF, st.XI, st.WI, st.P, st.CAT
    f, n = XF[c, xf.f], XI[c, xi.ai_rounds]
    w = XI[c, xi.worker]
    WI[wi.ai_held, w] -= 1
    XI[c, xi.escalation] = kind
    XF[c, xf.takeover_t] = t - CF[c, cf.t]
    XI[c, xi.takeover_round] = n
    XF[c, xf.f_takeover] = f
    late = max(0.0, n - P[p.lateness_grace_rounds])
    excess = max(0.0, f - P[p.frustration_grace])
    effort = max(P[p.effort_floor], math.exp(-P[p.frustration_slope] * excess - P[p.lateness_slope] * late))
    if P[p.fatigue_slope] > 0.0:  # frustrated customers inherited this shift deplete effort
        effort = max(P[p.effort_floor], effort * math.exp(-P[p.fatigue_slope] * st.WF[wf.fatigue, w]))
        if f > P[p.fatigue_threshold]:
            st.WF[wf.fatigue, w] += 1.0
    if P[p.bonus] > 0.0:  # a bonus for recovered ratings closes part of the effort gap
        effort += (1.0 - effort) * min(1.0, P[p.bonus_response] * P[p.bonus])
    read = P[p.handoff_read_s]
    if kind == HUMAN_INIT:  # the worker chose to step in, and has been reading the chat
        effort *= 1.0 + P[p.takeover_boost]
        read = P[p.takeover_read_s]
    # disengaged: less done
    work = CF[c, cf.work] * CAT[cat.handoff_work, CI[c, ci.category]] * min(1.0, effort) ** P[p.scope_exponent]
    _start_human(st, c, w, t + read, effort, work, P[p.escalated_attention])


# ----------------------------------------------------------------- endings
@jit
def _finish(st, c, t):
    """A chat's last reply is in: settle resolution, emotion, rating and retrial."""
    CF, CI, XF, XI, WF, P, CAT = st.CF, st.CI, st.XF, st.XI, st.WF, st.P, st.CAT
    if not P[p.rounds_model]:
        XI[c, xi.resolved] = 1 - XI[c, xi.abandoned]
        _close(st, c, t)
        return
    if XI[c, xi.human_rounds] and not XI[c, xi.abandoned]:
        w = XI[c, xi.worker]
        p_resolve = P[p.resolve_base] + WF[wf.skill, w] - P[p.resolve_effort] * (1.0 - XF[c, xf.effort])
        if P[p.skill_erosion] != 0.0:  # skill erodes (or grows) with the share of the worker's chats the AI took
            days = max(0.0, (t - P[p.post_start]) / DAY_S)
            p_resolve -= P[p.skill_erosion] * days * st.WI[wi.ai_assigned, w] / max(1, st.WI[wi.assigned, w])
        if XI[c, xi.escalation]:  # the human starts from the AI's transcript
            p_resolve += CAT[cat.handoff_resolve, CI[c, ci.category]]
        XI[c, xi.resolved] = 1 if CF[c, cf.u_resolve] < p_resolve else 0
    if P[p.emotion_on] and XI[c, xi.resolved]:
        XF[c, xf.f] -= P[p.resolution_relief]
    f_end = XF[c, xf.f]
    ai_alone = XI[c, xi.routed_ai] == 1 and XI[c, xi.escalation] == NONE and XI[c, xi.abandoned] == 0
    peak = max(0.0, XF[c, xf.f_peak])
    sat = (P[p.rating_base] + P[p.rating_resolved] * XI[c, xi.resolved] - P[p.rating_peak] * peak
           - P[p.rating_end] * f_end)  # fmt: skip
    sat += P[p.rating_noise] * CF[c, cf.z_rating] - P[p.style_penalty] * (1.0 if ai_alone else 0.0)
    if XI[c, xi.human_rounds]:  # the worker's care that day
        sat += st.WD[wd.care, XI[c, xi.worker], _day(st, t)]
    esc = XI[c, xi.escalation]
    if esc == HUMAN_INIT:  # a hand takeover: the switch shows the customer an AI that had to be overridden
        sat -= P[p.gatekeeper_penalty]
    # the 1-5 rating: how many cut points the satisfaction passes (ordered response)
    satisfaction = XF[c, xf.satisfaction] = 1.0 + (
        (sat > P[p.rating_cut_1]) + (sat > P[p.rating_cut_2]) + (sat > P[p.rating_cut_3]) + (sat > P[p.rating_cut_4])
    )
    if not XI[c, xi.abandoned] and CF[c, cf.u_rate] < P[p.rate_base] + P[p.rate_frustration] * max(0.0, f_end):
        XI[c, xi.rated] = 1
        XF[c, xf.rating] = satisfaction
    unresolved = 1 - XI[c, xi.resolved]
    p_retry = P[p.retrial_base] + P[p.retrial_unresolved] * unresolved + P[p.retrial_frustration] * max(0.0, f_end)
    XI[c, xi.retrial] = 1 if CF[c, cf.u_retrial] < p_retry else 0
    XF[c, xf.f_end] = f_end
    _close(st, c, t)


@jit
def _close(st, c, t):
    XF, XI, WI, FIN, S = st.XF, st.XI, st.WI, st.FIN, st.S
    XF[c, xf.end_t] = t
    FIN[S[s.fin_n]] = c
    S[s.fin_n] += 1
    was_queued = XI[c, xi.mode] == QUEUED
    XI[c, xi.mode] = DONE
    if was_queued:
        return
    w = XI[c, xi.worker]
    WI[wi.held, w] -= 1
    if XI[c, xi.routed_ai] and XI[c, xi.escalation] == NONE:  # closed by or during the AI
        WI[wi.ai_held, w] -= 1
    _set_attention(st, c, w, 0.0)
    if WI[wi.online, w]:
        _drain_queue(st, t)


# ----------------------------------------------------------------- rewards
REWARD_COMPONENTS = ("rating", "duration", "worker_time", "retrial", "abandonment")
"""The reward components, in the order :func:`chat_rewards` sums them (:mod:`hitl_env.rewards` defines them)."""


@jit
def chat_rewards(XF, XI, CF, chats, dense, ai_only, out):
    """Add :func:`hitl_env.rewards.chat_components` of each finished chat in ``chats`` to ``out``,
    in :data:`REWARD_COMPONENTS` order, in the same float64 operations (``tests/test_envs.py``
    checks the sums bit for bit); with ``ai_only``, of the chats the router sent to the AI only.
    ``dense``: the rating component is the chat's satisfaction (NaN, without the rounds model:
    0), else the rating given (0 when none was)."""
    for c in chats:
        if c < 0 or c >= XF.shape[0]:  # (numba does not check bounds)
            raise IndexError("chat_rewards: a chat index is outside the team's chats")
        if ai_only and XI[c, xi.routed_ai] == 0:
            continue
        end, arrival = XF[c, xf.end_t], CF[c, cf.t]
        if dense:
            sat = XF[c, xf.satisfaction]
            out[0] += 0.0 if sat != sat else sat - 3.0
        else:
            out[0] += XF[c, xf.rating] - 3.0 if XI[c, xi.rated] else 0.0
        out[1] += -(end - arrival) / 60.0
        hand = 0.0  # minutes by hand: from the takeover (or assignment) to the end
        if XI[c, xi.human_rounds]:
            hand = (end - (arrival + XF[c, xf.takeover_t] if XI[c, xi.escalation] else XF[c, xf.assign_t])) / 60.0
        out[2] += -hand
        out[3] += -float(XI[c, xi.retrial])
        out[4] += -float(XI[c, xi.abandoned])
