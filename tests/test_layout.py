"""The kernel's layout is defined once and read by name: parameters, views, decision kinds."""

from __future__ import annotations

import ast
import dataclasses
import pickle
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher as Dispatcher

import hitl_env
from hitl_env.sim import kernel as K
from hitl_env.sim.decisions import DECISIONS, decision
from hitl_env.sim.hooks import PENDING, ArrivalView, RoundView
from hitl_env.sim.team import parameters


def test_every_parameter_is_given_by_name_once() -> None:
    P = parameters(hitl_env.load_config("taobao_2024"))
    assert P.shape == (len(K.PARAMS),) and len(set(K.PARAMS)) == len(K.PARAMS)
    cfg = hitl_env.load_config("taobao_2024")
    assert P[K.p.decay] == cfg.emotion.decay and P[K.p.margin] == cfg.service.max_concurrency + 2
    assert P[K.p.post_start] == cfg.experiment.days_pre * 86400


def test_each_layout_is_one_tuple_of_distinct_names() -> None:
    for fields in (K.CF_FIELDS, K.CI_FIELDS, K.XF_FIELDS, K.XI_FIELDS, K.WF_FIELDS, K.WI_FIELDS, K.CAT_FIELDS,
                   K.S_FIELDS, K.SF_FIELDS, K.ROUND_VIEW, K.ARRIVAL_VIEW):  # fmt: skip
        assert len(set(fields)) == len(fields)
    assert K.xf.satisfaction == K.XF_FIELDS.index("satisfaction")
    assert max(len(K.ROUND_VIEW), len(K.ARRIVAL_VIEW)) <= K.V_SIZE


def test_views_are_read_by_field_name_in_their_types() -> None:
    take = DECISIONS["takeover"]
    values = [float(i) for i in range(K.V_SIZE)]
    view = take.read(values)
    assert isinstance(view, RoundView)
    for f in dataclasses.fields(RoundView):
        got = getattr(view, f.name)
        assert type(got).__name__ == f.type and got == type(got)(K.ROUND_VIEW.index(f.name))
    arrival = DECISIONS["route"].read(values)
    assert isinstance(arrival, ArrivalView) and arrival.u == float(K.ARRIVAL_VIEW.index("u"))


def test_a_view_field_outside_the_layout_or_of_another_type_is_refused() -> None:
    from hitl_env.sim.decisions import Decision

    @dataclasses.dataclass
    class Odd:
        chat: int
        note: str

    @dataclasses.dataclass
    class Missing:
        chat: int
        mood: float

    with pytest.raises(TypeError, match=r"Odd fields \{'note': 'str'\}: a view field is an int, float or bool"):
        Decision("odd", "oddity", 9, Odd, ("chat", "note"), "odd", lambda cfg: None)
    with pytest.raises(TypeError, match=r"Missing fields \['mood'\] are not in the kernel's view layout"):
        Decision("missing", "oddity", 9, Missing, ("chat",), "odd", lambda cfg: None)


def test_decision_kinds_are_looked_up_by_name_or_agent_and_unknown_ones_raise() -> None:
    assert decision("route") is decision("router") is DECISIONS["route"]
    assert decision("supervisor").method == "takeover" and decision("takeover").code == K.TAKEOVER
    with pytest.raises(ValueError, match="unknown decision kind 'staffing'; known: route \\(router\\)"):
        decision("staffing")


def test_a_decision_kind_pickles_with_its_reader() -> None:
    take = pickle.loads(pickle.dumps(DECISIONS["takeover"]))
    values = [float(i) for i in range(K.V_SIZE)]
    assert take == DECISIONS["takeover"] and take.read(values) == DECISIONS["takeover"].read(values)


def test_pending_is_not_none_and_pickles_as_itself() -> None:
    assert PENDING is not None and not isinstance(PENDING, bool)
    assert pickle.loads(pickle.dumps(PENDING)) is PENDING


def test_no_kernel_function_takes_more_than_eight_parameters() -> None:
    tree = ast.parse(Path(K.__file__).read_text())
    sizes = {f.name: len(f.args.args) for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert "advance" in sizes and max(sizes.values()) <= 8, sizes


def test_every_compiled_function_runs_without_reference_counting() -> None:
    # the functions take the whole State, a tuple of arrays; with numba's runtime on, every call
    # would incref and decref each array in it (about 1.6x slower, see kernel.py)
    compiled = {name: f for name, f in vars(K).items() if isinstance(f, Dispatcher)}
    assert {"advance", "resume", "push", "_ai_round", "_pop"} <= set(compiled)
    assert {name: f.targetoptions.get("_nrt") for name, f in compiled.items()} == dict.fromkeys(compiled, False)
