"""The decision hooks: pluggable policies, and pausing for an external decision-maker."""

from __future__ import annotations

import pandas as pd
import pytest

import hitl_env
from hitl_env.sim import kernel
from hitl_env.sim.decisions import default_supervisor
from hitl_env.sim.hooks import PENDING, NeverTakeover, PaperSupervisor, RuleRouter
from hitl_env.sim.run import build_team, run_team, team_jobs, team_records
from hitl_env.sim.team import QUEUED

SMALL = {"experiment.workers": 10, "experiment.days_pre": 1, "experiment.days_post": 3}


def small(**extra: object) -> hitl_env.Config:
    return hitl_env.load_config("taobao_2024", {**SMALL, **extra})


class Deferring:
    """Returns PENDING for every decision, so the caller must answer through ``decide``."""

    def route(self, view: object) -> None:
        return PENDING

    def takeover(self, view: object) -> None:
        return PENDING


def test_external_decisions_reproduce_in_process_policies() -> None:
    cfg = small()
    (job,) = team_jobs(cfg, seed=3)
    expected = run_team(job)
    sim = build_team(team_jobs(cfg, seed=3, router=Deferring(), supervisor=Deferring())[0])
    router, supervisor = RuleRouter(), default_supervisor(cfg)
    counts = {"route": 0, "takeover": 0}
    while (decision := sim.run()) is not None:
        kind, view = decision
        counts[kind] += 1
        admitted = sim.next_arrival - (kind == "route")  # a chat awaiting its route is not admitted yet
        assert sim.n_queued == sum(m == QUEUED for m in sim.mode[:admitted])
        sim.decide(router.route(view) if kind == "route" else supervisor.takeover(view))
    assert counts["route"] == len(expected)
    assert counts["takeover"] > 50
    assert sim.n_queued == 0
    pd.testing.assert_frame_equal(team_records(sim, job), expected)


def test_answer_is_decide_then_run() -> None:
    """TeamSim.answer (one call of the compiled loop) leaves the run exactly as decide() then run()."""
    cfg = small()
    a, b = (build_team(team_jobs(cfg, seed=4, router=Deferring(), supervisor=Deferring())[0]) for _ in range(2))
    (job,) = team_jobs(cfg, seed=4)
    router, supervisor = RuleRouter(), default_supervisor(cfg)
    da, db, n = a.run(), b.run(), 0
    while da is not None:
        assert db is not None and da[0] == db[0] and da[1] == db[1]
        kind, view = da
        action = router.route(view) if kind == "route" else supervisor.takeover(view)
        a.decide(action)
        da, db, n = a.run(), b.answer(action), n + 1
    assert db is None and n > 100
    pd.testing.assert_frame_equal(team_records(a, job), team_records(b, job))
    with pytest.raises(RuntimeError, match="no decision is pending"):
        b.answer(True)


def test_rule_router_object_equals_default_rule() -> None:
    cfg = small()
    a = hitl_env.simulate(cfg, seed=1)
    b = hitl_env.simulate(cfg, seed=1, router=RuleRouter())
    pd.testing.assert_frame_equal(a, b)


def test_decide_without_pending_and_run_with_pending_fail() -> None:
    sim = build_team(team_jobs(small(), seed=0, router=Deferring())[0])
    with pytest.raises(RuntimeError, match="no decision is pending"):
        sim.decide(True)
    assert sim.run() is not None
    with pytest.raises(RuntimeError, match="decision is pending"):
        sim.run()


def test_the_compiled_loop_raises_instead_of_running_past_its_arrays() -> None:
    """numba does not check bounds: the loop's own guards must stop it with an error."""
    sim = build_team(team_jobs(small(), seed=0)[0])
    n = sim.state.S[kernel.s.heap_n]
    sim.state = sim.state._replace(HT=sim.state.HT[:n], HI=sim.state.HI[:n])  # no room for a chat's event
    with pytest.raises(RuntimeError, match="event heap full"):
        sim.run()
    sim = build_team(team_jobs(small(), seed=0)[0])
    sim.state.P[kernel.p.margin] = 0  # the loop no longer asks for a new block before the first round
    with pytest.raises(RuntimeError, match="block of draws exhausted"):
        sim.run()


def test_never_takeover_leaves_only_algorithmic_escalations() -> None:
    df = hitl_env.simulate(small(**{"experiment.workers": 40}), seed=0, supervisor=NeverTakeover())
    mix = df.loc[df.routed_ai, "escalation"].value_counts()
    assert mix["human"] == 0
    assert mix["technical"] > 0 and mix["emotional"] > 0 and mix["none"] > 0


def test_eager_supervisor_takes_over_before_the_sentiment_trigger() -> None:
    eager = PaperSupervisor(base=1.0, sentiment_slope=0.0, sentiment_level=0.0)
    # no cap on chats by hand: a worker at supervisor.max_hand_chats would have to wait for round 2
    cfg = small(**{"experiment.workers": 40, "supervisor.max_hand_chats": 50})
    df = hitl_env.simulate(cfg, seed=0, supervisor=eager)
    routed = df[df.routed_ai]
    mix = routed["escalation"].value_counts()
    # every AI chat that neither resolves, nor trips a trigger, nor loses its customer in round 1
    # is taken over in round 1; the two-round sentiment trigger can then never fire
    assert mix["emotional"] == 0
    assert mix["human"] > mix["technical"]
    assert (routed.loc[routed.escalation == "human", "takeover_round"] == 1).all()


def test_routing_everything_to_humans_means_no_ai_chats() -> None:
    class AllHuman:
        def route(self, view: object) -> bool:
            return False

    df = hitl_env.simulate(small(), seed=0, router=AllHuman())
    assert not df.eligible.any() and not df.routed_ai.any()
    assert (df.ai_rounds == 0).all()


def test_queue_count_seen_by_policies_excludes_customers_who_left() -> None:
    # Overloaded (5x the calibrated arrival rate): queues form and customers renege.
    sim = build_team(team_jobs(small(**{"arrivals.rate_per_worker_hour": 60.0}), seed=0)[0])
    seen = []
    for hour in range(6, 96, 3):
        assert sim.run(until=hour * 3600.0) is None
        waiting = sum(m == QUEUED for m in sim.mode[: sim.next_arrival])
        assert sim.n_queued == waiting
        seen.append(waiting)
    assert max(seen) >= 3  # the check above ran on real queues
    assert len(sim.queue) > sim.n_queued or sum(sim.rec["abandoned"]) > 0


def test_counters_drain_and_satisfaction_is_the_rating_when_rated() -> None:
    cfg = small(**{"experiment.workers": 20})
    sims = [build_team(job) for job in team_jobs(cfg, seed=2)]
    for sim in sims:
        assert sim.run() is None
        assert sim.held == [0] * len(sim.held)
        assert sim.ai_held == [0] * len(sim.ai_held)
        assert sorted(sim.take_finished()) == list(range(len(sim.t_arr)))
        assert sim.take_finished() == []  # each closed chat is handed out once
    df = hitl_env.simulate(cfg, seed=2)
    rated = df[df.rated]
    assert len(rated) > 100
    assert (rated.rating == rated.satisfaction).all()
    assert df.satisfaction.between(1, 5).all()


def test_ai_transcript_saves_work_only_in_categories_within_the_ais_scope() -> None:
    class AllToAI:
        def route(self, view: object) -> bool:
            return True

    cfg = small(**{"experiment.treatment_share": 1.0})
    sim = build_team(team_jobs(cfg, seed=0, router=AllToAI(), supervisor=NeverTakeover())[0])
    assert sim.run() is None
    cats = list(cfg.categories.values())
    zeta, sigma = cfg.ai.handoff_work, cfg.effort.scope_exponent
    seen = {True: 0, False: 0}
    for c, kind in enumerate(sim.rec["escalation"]):
        if kind and not sim.rec["abandoned"][c]:
            in_scope = cats[sim.category[c]].ai_solvable > 0.0
            share = zeta if in_scope else 1.0
            assert sim.need[c] == pytest.approx(sim.C.work[c] * share * sim.rec["effort"][c] ** sigma)
            seen[in_scope] += 1
    assert zeta < 1.0 and min(seen.values()) > 20  # both kinds of category were escalated


def test_a_hook_with_for_team_decides_each_team_with_the_hook_it_returns() -> None:
    cfg = small(**{"experiment.workers": 25})  # 3 teams

    class PerTeam:
        def __init__(self) -> None:
            self.bound: list[tuple[int, list[int]]] = []

        def for_team(self, team: int, workers: object) -> NeverTakeover:
            self.bound.append((team, workers.shift_start_h.tolist()))  # type: ignore[attr-defined]
            return NeverTakeover()

    hook = PerTeam()
    df = hitl_env.simulate(cfg, seed=1, supervisor=hook)
    assert hook.bound == [(job.team, job.workers.shift_start_h.tolist()) for job in team_jobs(cfg, seed=1)]
    pd.testing.assert_frame_equal(df, hitl_env.simulate(cfg, seed=1, supervisor=NeverTakeover()))
    assert (df["escalation"] != "human").all()


def test_simulate_names_bad_hooks_and_arguments() -> None:
    class Forgets:  # no return statement: None is an error, not a deferral
        def route(self, view: object) -> None:
            pass

    class Defers:  # PENDING, which only TeamSim.run/decide can answer
        def takeover(self, view: object) -> object:
            return PENDING

    class SaysNo:  # not a bool: "no" would count as True
        def takeover(self, view: object) -> str:
            return "no"

    cfg = small()
    for kwargs, error, match in [
        ({"router": Forgets()}, TypeError, r"router hook Forgets.route\(\) returned None: it must return True"),
        ({"supervisor": SaysNo()}, TypeError, r"SaysNo.takeover\(\) returned 'no': it must return True, False"),
        ({"supervisor": Defers()}, TypeError, r"hook returned PENDING: route\(\) and takeover\(\) must return True"),
        ({"router": object()}, TypeError, r"a route hook needs a route\(view\) method, got object"),
        ({"supervisor": lambda view: True}, TypeError, r"a takeover hook needs a takeover\(view\) method"),
        ({"n_jobs": 0}, ValueError, "n_jobs must be a positive integer or None"),
        ({"progress": True}, TypeError, "progress must be a callable"),
    ]:
        with pytest.raises(error, match=match):
            hitl_env.simulate(cfg, seed=0, **kwargs)


def test_a_router_cannot_send_a_masked_category_to_the_ai() -> None:
    class AllToAIRouter:
        def route(self, view: object) -> bool:
            return True

    def check(df: pd.DataFrame) -> None:
        masked = df["category"].isin(["account_security", "complaint"]).to_numpy()  # ai_allowed: false
        treated_post = ((df["arm"] == "treatment") & (df["period"] == "post")).to_numpy()
        assert masked.sum() > 10 and not df["routed_ai"].to_numpy()[masked].any()
        assert df["routed_ai"].to_numpy()[~masked & treated_post].mean() > 0.9  # the rest went to the AI

    check(hitl_env.simulate(small(), seed=0, router=AllToAIRouter()))  # a hook
    job = team_jobs(small(), seed=0, router=Deferring(), supervisor=NeverTakeover())[0]
    sim = build_team(job)  # a caller answering through decide, as the envs do
    while (pending := sim.run()) is not None:
        sim.decide(pending[0] == "route")
    check(team_records(sim, job))
