"""The heuristic agents: the registry, each heuristic behaving as named, masks, and the rankings they give."""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

import agents
import hitl_env
from agents import router, supervisor
from agents.router import RuleBased
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID, observations
from hitl_env.envs.observations import ROUTER_FIELDS, SUPERVISOR_FIELDS, field_index
from hitl_env.sim.hooks import PaperSupervisor, RoundView
from hitl_env.sim.team import HUMAN_INIT

CFG = hitl_env.load_config("taobao_2024")
CATEGORIES = list(CFG.categories)
OPEN, SHUT = np.array([1, 1], np.int8), np.array([1, 0], np.int8)


# the observation fields these tests read, by name from the envs' field tables
ROUNDS, READING, CAN_TAKEOVER = (field_index(SUPERVISOR_FIELDS, n) for n in ("ai_rounds", "reading", "can_takeover"))
RULE_ELIGIBLE, AI_ALLOWED = (field_index(ROUTER_FIELDS, n) for n in ("rule_eligible", "ai_allowed"))
CATEGORY = len(ROUTER_FIELDS)


def observation(fields: tuple, category: int, fill: float = 0.0, **values: float) -> np.ndarray:
    """An observation of the field table ``fields``: named values, every other field at ``fill``."""
    obs = np.zeros(len(fields) + len(CATEGORIES), np.float32)
    obs[: len(fields)] = fill
    for name, value in values.items():
        obs[field_index(fields, name)] = value
    obs[len(fields) + category] = 1.0
    return obs


def supervisor_obs(rounds: float = 1.0, reading: float = 0.0, category: int = 0) -> np.ndarray:
    return observation(SUPERVISOR_FIELDS, category, ai_rounds=rounds, reading=reading, can_takeover=1.0)


def router_obs(category: str) -> np.ndarray:
    cat = CFG.categories[category]
    return observation(ROUTER_FIELDS, CATEGORIES.index(category), rule_eligible=float(cat.eligible),
                       ai_allowed=float(cat.ai_allowed))  # fmt: skip


def _reimported(module: ModuleType) -> ModuleType:
    """A fresh copy of ``module`` (sys.modules keeps the original), built against today's tables."""
    spec = importlib.util.spec_from_file_location(f"{module.__name__}_copy", module.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy


@pytest.mark.parametrize("order", ["as defined", "reversed"])
def test_heuristics_read_their_fields_by_name(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each heuristic decides on its own field, wherever the field table puts it.

    Every other field holds a value that would flip the decision if the heuristic read it instead.
    """
    if order == "reversed":
        monkeypatch.setattr(observations, "SUPERVISOR_FIELDS", SUPERVISOR_FIELDS[::-1])
        monkeypatch.setattr(observations, "ROUTER_FIELDS", ROUTER_FIELDS[::-1])
    sup, rout = _reimported(supervisor), _reimported(router)
    s_fields, r_fields = observations.SUPERVISOR_FIELDS, observations.ROUTER_FIELDS
    assert (sup.READING == READING) == (order == "as defined")
    cases = [
        (sup.SentimentThreshold(level=-0.5), s_fields, "reading", -1.0, 0.0, -1.0),
        (sup.RoundsThreshold(k=3), s_fields, "ai_rounds", 5.0, 0.0, 5.0),
        (rout.RuleBased(), r_fields, "rule_eligible", 1.0, 0.0, 1.0),
        (rout.ConfidenceThreshold(threshold=0.5), r_fields, "rule_eligible", 1.0, 0.0, 1.0),
    ]
    for policy, fields, name, yes, no, decoy in cases:
        assert policy.act(observation(fields, 0, fill=no, **{name: yes}), {"action_mask": OPEN}) == 1, policy
        assert policy.act(observation(fields, 0, fill=decoy, **{name: no}), {"action_mask": OPEN}) == 0, policy


def router_info(category: str) -> dict:
    return {"action_mask": OPEN if CFG.categories[category].ai_allowed else SHUT}


# ------------------------------------------------------------------------------ registry


def test_registry_names_and_protocol() -> None:
    assert agents.SUPERVISOR_POLICIES == (
        "algorithm_only", "paper_workers", "sentiment_threshold", "rounds_threshold", "always_takeover", "random"
    )  # fmt: skip
    assert agents.ROUTER_POLICIES == ("rule_based", "all_human", "confidence_threshold", "random")
    for name in {*agents.SUPERVISOR_POLICIES, *agents.ROUTER_POLICIES}:
        policy = agents.make(name)
        assert isinstance(policy, agents.Policy)
        assert policy.name == name


def test_unknown_names_and_params_fail_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'greedy'.*algorithm_only.*rule_based"):
        agents.make("greedy")
    with pytest.raises(ValueError, match=r"no parameter 'kk'; parameters: k"):
        agents.make("rounds_threshold", kk=3)
    with pytest.raises(ValueError, match=r"parameters: \(none\)"):
        agents.make("always_takeover", p=1)
    for name, params in [
        ("rounds_threshold", {"k": 0}),
        ("rounds_threshold", {"k": 2.5}),
        ("sentiment_threshold", {"level": "low"}),
        ("random", {"p": 1.5}),
        ("paper_workers", {"base": -0.1}),
        ("paper_workers", {"sentiment_slope": float("nan")}),
        ("paper_workers", {"sentiment_level": float("nan")}),
        ("confidence_threshold", {"scores": {"refund": 0.9}}),
        ("confidence_threshold", {"scores": [0.5, 0.5]}),
        ("confidence_threshold", {"scores": {"refund_status": float("nan")}}),
    ]:
        with pytest.raises(ValueError, match=name):
            agents.make(name, **params)


def test_spec_strings() -> None:
    assert agents.parse_spec("always_takeover") == ("always_takeover", {})
    assert agents.parse_spec(" sentiment_threshold:level=-0.6 ") == ("sentiment_threshold", {"level": -0.6})
    assert agents.parse_spec("random:p=0.25,seed=7") == ("random", {"p": 0.25, "seed": 7})
    assert agents.parse_spec("paper_workers:config=mmn_abandonment,base=0.1") == (
        "paper_workers",
        {"config": "mmn_abandonment", "base": 0.1},
    )
    assert agents.parse_spec("confidence_threshold:threshold=0.4,scores={'a': 0.5, 'b': 0.3}") == (
        "confidence_threshold",
        {"threshold": 0.4, "scores": {"a": 0.5, "b": 0.3}},
    )
    assert agents.from_spec("rounds_threshold:k=4").k == 4  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="bad policy spec"):
        agents.parse_spec("rounds_threshold:4")
    with pytest.raises(ValueError, match="'level' is given twice"):
        agents.parse_spec("sentiment_threshold:level=-1,level=-2")


# ------------------------------------------------------------------------------ behaviour on hand-built observations


def test_supervisor_heuristics_on_hand_built_observations() -> None:
    never, always = agents.make("algorithm_only"), agents.make("always_takeover")
    sentiment, rounds = agents.make("sentiment_threshold", level=-0.5), agents.make("rounds_threshold", k=3)
    for r in range(1, 8):
        for reading in (-3.0, -0.51, -0.5, -0.49, 0.0, 2.0):
            obs = supervisor_obs(rounds=r, reading=reading)
            assert never.act(obs, {"action_mask": OPEN}) == 0
            assert always.act(obs, {"action_mask": OPEN}) == 1
            assert sentiment.act(obs, {"action_mask": OPEN}) == int(np.float32(reading) < -0.5)
            assert rounds.act(obs, {"action_mask": OPEN}) == int(r >= 3)
            for policy in (never, always, sentiment, rounds):
                assert policy.act(obs, {"action_mask": SHUT}) == 0


DECOYS = (-1000.0, -1.0, 0.0, 1.0, 1000.0)  # every other field at these values: the decision must not move


def named_obs(fill: float, **values: float) -> np.ndarray:
    """A supervisor observation with named values and every other field (clipped to its bounds) at ``fill``."""
    low, high = (np.array([f[i] for f in SUPERVISOR_FIELDS], np.float32) for i in (1, 2))
    obs = observation(SUPERVISOR_FIELDS, 0, **values)
    named = [field_index(SUPERVISOR_FIELDS, n) for n in values]
    rest = np.setdiff1d(np.arange(len(SUPERVISOR_FIELDS)), named)
    obs[rest] = np.clip(fill, low[rest], high[rest])
    return obs


@pytest.mark.parametrize("level", [-1.5, -0.3, 0.0, 0.7])
def test_sentiment_threshold_takes_over_exactly_below_its_level(level: float) -> None:
    policy = agents.make("sentiment_threshold", level=level)
    for reading in (level - 3.0, level - 0.01, level, level + 0.01, level + 3.0):
        for fill in DECOYS:
            obs = named_obs(fill, reading=reading)
            expected = int(obs[READING] < np.float32(level))
            assert policy.act(obs, {"action_mask": OPEN}) == expected, (level, reading, fill)
            assert policy.act(obs, {"action_mask": SHUT}) == 0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_rounds_threshold_takes_over_from_round_k(k: int) -> None:
    policy = agents.make("rounds_threshold", k=k)
    for rounds in range(1, 9):
        for fill in DECOYS:
            obs = named_obs(fill, ai_rounds=rounds)
            assert policy.act(obs, {"action_mask": OPEN}) == int(rounds >= k), (k, rounds, fill)
            assert policy.act(obs, {"action_mask": SHUT}) == 0


def test_always_takeover_whenever_allowed_and_algorithm_only_never() -> None:
    always, never = agents.make("always_takeover"), agents.make("algorithm_only")
    for fill in DECOYS:
        obs = named_obs(fill)
        assert (always.act(obs, {"action_mask": OPEN}), always.act(obs, {"action_mask": SHUT})) == (1, 0)
        assert (never.act(obs, {"action_mask": OPEN}), never.act(obs, {"action_mask": SHUT})) == (0, 0)


def test_paper_workers_take_over_with_their_formulas_probability() -> None:
    """``base + sentiment_slope * max(0, -reading - sentiment_level)``, drawn once per decision."""
    policy = agents.make("paper_workers", base=0.1, sentiment_slope=0.2, sentiment_level=0.5, seed=0)
    for reading, chance in ((1.0, 0.1), (-0.5, 0.1), (-1.0, 0.2), (-2.5, 0.5), (-5.0, 1.0)):
        assert policy.takeover_chance(reading) == pytest.approx(chance)  # type: ignore[attr-defined]
        n = 4000
        share = np.mean([policy.act(named_obs(-1.0, reading=reading), {"action_mask": OPEN}) for _ in range(n)])
        assert abs(share - chance) <= 4 * np.sqrt(chance * (1 - chance) / n) + 1e-12, (reading, share)  # 4 sd


@pytest.mark.parametrize("p", [0.0, 0.1, 0.7, 1.0])
def test_random_takes_over_at_its_rate(p: float) -> None:
    policy, n = agents.make("random", p=p, seed=3), 4000
    share = np.mean([policy.act(named_obs(0.0), {"action_mask": OPEN}) for _ in range(n)])
    assert abs(share - p) <= 4 * np.sqrt(p * (1 - p) / n), share  # 4 sd; exact at 0 and 1


def test_confidence_threshold_routes_by_its_scores_strictly_above_the_threshold() -> None:
    scores = {name: 0.1 * i for i, name in enumerate(CATEGORIES)}
    for threshold in (-1.0, 0.25, 0.3, 0.55, 2.0):
        policy = agents.make("confidence_threshold", threshold=threshold, scores=scores)
        for category in CATEGORIES:
            expected = int(scores[category] > threshold and CFG.categories[category].ai_allowed)
            assert policy.act(router_obs(category), router_info(category)) == expected, (threshold, category)


def test_paper_workers_follow_the_core_rule_in_distribution() -> None:
    cfg = hitl_env.load_config("taobao_2024", {"supervisor.base": 0.05, "supervisor.sentiment_slope": 0.2})
    policy = agents.make("paper_workers", config=cfg, seed=1)
    core = PaperSupervisor(0.05, 0.2, cfg.supervisor.sentiment_level)
    n = 20_000
    for reading in (1.0, -0.2, -1.0, -2.5, -8.0):
        chance = policy.takeover_chance(reading)  # type: ignore[attr-defined]
        for u in (chance - 1e-9, chance + 1e-9):  # the same threshold as the core's hook
            view = RoundView(0, 0, 0.0, 0.0, 1, reading, 0.0, 0.5, 0, 1, 1, 0, True, u)
            assert core.takeover(view) == (u < chance)
        share = np.mean([policy.act(supervisor_obs(reading=reading), {"action_mask": OPEN}) for _ in range(n)])
        p = min(chance, 1.0)
        assert abs(share - p) <= 4 * np.sqrt(p * (1 - p) / n), (reading, share, chance)  # 4 sd
        assert policy.act(supervisor_obs(reading=reading), {"action_mask": SHUT}) == 0
    defaults = agents.make("paper_workers")
    s = CFG.supervisor
    assert (defaults.base, defaults.sentiment_slope, defaults.sentiment_level) == (  # type: ignore[attr-defined]
        s.base, s.sentiment_slope, s.sentiment_level
    )  # fmt: skip


def test_random_policies_are_seeded_and_masked() -> None:
    obs, n = supervisor_obs(), 20_000
    a, b = agents.make("random", p=0.3, seed=5), agents.make("random", p=0.3)
    b.reset(5)
    draws = [a.act(obs, {"action_mask": OPEN}) for _ in range(n)]
    assert draws == [b.act(obs, {"action_mask": OPEN}) for _ in range(n)]
    assert abs(np.mean(draws) - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    b.reset(6)
    assert draws[:64] != [b.act(obs, {"action_mask": OPEN}) for _ in range(64)]
    assert all(a.act(obs, {"action_mask": SHUT}) == 0 for _ in range(1000))


def test_router_heuristics_on_hand_built_observations() -> None:
    rule, human = agents.make("rule_based"), agents.make("all_human")
    default_conf = agents.make("confidence_threshold")
    conf = agents.make(
        "confidence_threshold",
        threshold=0.5,
        scores={"product_inquiry": 0.9, "logistics_tracking": 0.2, "complaint": 1.0},
    )
    for category in CATEGORIES:
        obs, info = router_obs(category), router_info(category)
        cat = CFG.categories[category]
        assert rule.act(obs, info) == int(cat.eligible and cat.ai_allowed)
        assert human.act(obs, info) == 0
        assert default_conf.act(obs, info) == rule.act(obs, info)
        expected = {"product_inquiry": 1, "logistics_tracking": 0, "complaint": 0}.get(category, int(cat.eligible))
        assert conf.act(obs, info) == expected, category  # complaint: scored, but masked
        for policy in (rule, default_conf, conf):
            assert policy.act(obs, {"action_mask": SHUT}) == 0


# ------------------------------------------------------------------------------ the real envs


def run_checked(env: gym.Env, policy: agents.Policy, seed: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """One episode; every (obs, mask, action), after checking the action against the mask."""
    policy.reset(seed)
    obs, info = env.reset(seed=seed)
    steps, done = [], False
    while not done:
        action = policy.act(obs, info)
        assert info["action_mask"][action] == 1, (policy, obs, info["action_mask"])
        steps.append((obs, info["action_mask"], action))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    return steps


def test_supervisors_on_the_real_env_respect_masks_and_names() -> None:
    env = gym.make(SUPERVISOR_ID, overrides={"supervisor.max_hand_chats": 1})
    assert env.observation_space.shape == (len(SUPERVISOR_FIELDS) + len(CATEGORIES),)
    for name in agents.SUPERVISOR_POLICIES:
        policy = agents.make(name)
        steps = run_checked(env, policy, seed=0)
        masks = np.array([m[1] for _, m, _ in steps])
        acts = np.array([a for *_, a in steps])
        assert np.array_equal([o[CAN_TAKEOVER] for o, *_ in steps], masks)
        assert 0 < masks.sum() < len(masks)  # the mask binds at some decisions
        obs = np.array([o for o, *_ in steps])
        if name == "algorithm_only":
            assert acts.sum() == 0
            assert HUMAN_INIT not in env.unwrapped.sim.rec["escalation"]  # type: ignore[attr-defined]
        if name == "always_takeover":
            assert np.array_equal(acts, masks)
        if name == "sentiment_threshold":
            assert np.array_equal(acts, masks * (obs[:, READING] < -0.5))
        if name == "rounds_threshold":
            assert np.array_equal(acts, masks * (obs[:, ROUNDS] >= 3))


def test_routers_on_the_real_env_respect_masks_and_names() -> None:
    env = gym.make(ROUTER_ID, shift_hours=2.0)
    assert env.observation_space.shape == (CATEGORY + len(CATEGORIES),)
    for name in agents.ROUTER_POLICIES:
        steps = run_checked(env, agents.make(name), seed=0)
        obs = np.array([o for o, *_ in steps])
        masks = np.array([m[1] for _, m, _ in steps])
        acts = np.array([a for *_, a in steps])
        assert np.array_equal(obs[:, AI_ALLOWED], masks)
        assert 0 < masks.sum() < len(masks)
        if name in ("rule_based", "confidence_threshold"):
            assert np.array_equal(acts, obs[:, RULE_ELIGIBLE] * masks)
            assert 0 < acts.sum() < len(acts)
        if name == "all_human":
            assert acts.sum() == 0


# ------------------------------------------------------------------------------ rankings on the real envs
# Each policy runs the same seeded episodes (common random numbers: episode i of every policy
# uses env seed i, and the policy is reset with seed i), on the envs' default arguments (team of
# 10, one 8-hour shift, dense rating). Whether a heuristic beats ``random`` is a property of the
# reward weights, not of the heuristic (issue 17 dropped it as a criterion): the tests above check
# that each heuristic does what its name says, and the README ranks them, tuned, on the default
# objective (``hitl-eval --tune``).

SUPERVISOR_SEEDS, SUPERVISOR_MARGIN = range(80), 4.0
ROUTER_SEEDS, ROUTER_MARGIN = range(10), 50.0


@functools.cache
def returns(env_id: str, name: str, seeds: range, rating: float | None = None) -> np.ndarray:
    """Episode returns of a policy on the default objective, or with a rating point worth ``rating``."""
    env = gym.make(env_id, **({} if rating is None else {"reward_weights": {"rating": rating}}))
    policy = agents.make(name)
    return np.array([agents.episode_return(env, policy, s) for s in seeds])


def paired_ci(diff: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean() - half), float(diff.mean() + half)


@pytest.mark.parametrize("name", ["algorithm_only", "paper_workers", "sentiment_threshold", "rounds_threshold"])
def test_the_value_of_a_rating_point_turns_the_supervisor_ranking_around(name: str) -> None:
    """The trade-off, not the heuristics, decides the ranking.

    On the default objective (hitl_env.rewards: a rating point worth 1 worker-minute) every
    heuristic beats ``always_takeover``: the labour the AI saves is worth more than the ratings a
    takeover buys. With a rating point worth 20 worker-minutes ``always_takeover`` beats them all.
    Measured on these 80 seeds, heuristic - always_takeover: default algorithm_only +16.5 (95% CI
    9.1 to 23.9), paper_workers +10.4 (3.1 to 17.6), sentiment_threshold +10.6 (4.6 to 16.7),
    rounds_threshold +8.4 (1.0 to 15.8); rating at 20: -203.2 (-253.9 to -152.5), -195.3, -108.6,
    -101.3 (the highest upper bound -52.5).
    """
    env_id = SUPERVISOR_ID
    low, high = paired_ci(
        returns(env_id, name, SUPERVISOR_SEEDS) - returns(env_id, "always_takeover", SUPERVISOR_SEEDS)
    )
    assert low > 0.0, f"{name} - always_takeover on the default objective: 95% CI [{low:.2f}, {high:.2f}]"
    rating = 20.0
    ours = returns(env_id, name, SUPERVISOR_SEEDS, rating)
    low, high = paired_ci(ours - returns(env_id, "always_takeover", SUPERVISOR_SEEDS, rating))
    assert high < 0.0, f"{name} - always_takeover, a rating point at {rating} minutes: 95% CI [{low:.2f}, {high:.2f}]"


@pytest.mark.parametrize("name", ["rule_based", "confidence_threshold"])
def test_router_heuristic_beats_random(name: str) -> None:
    """Routing by the rule beats routing at random on the default objective.

    Measured on 60 seeds: rule_based (and confidence_threshold, whose default is the rule) -
    random +329.5 (95% CI 291.5 to 367.6). ``all_human`` is not tested: it saves no labour, and
    on the cost model it is level with random (-3.3, 95% CI -42.7 to 36.1).
    """
    env_id = ROUTER_ID
    diff = returns(env_id, name, ROUTER_SEEDS) - returns(env_id, "random", ROUTER_SEEDS)
    low, high = paired_ci(diff)
    assert low > ROUTER_MARGIN, f"{name} - random: mean {diff.mean():.2f}, 95% CI [{low:.2f}, {high:.2f}]"


def test_no_router_beats_the_rule_by_keeping_unsolvable_chats_from_the_ai() -> None:
    """Why a learned router can at best match ``rule_based`` on the default reward.

    An oracle that sees each chat's latent AI-solvability, which no observation carries, and
    sends only the solvable AI-eligible chats to the AI, loses to the rule: an escalated chat
    within the AI's scope still leaves the worker less work (``ai.handoff_work``) and a better
    chance to resolve it (``ai.handoff_resolve``), so the team's queue is shorter for everyone.
    Every other category is beyond the AI (``ai_solvable`` 0), so sending more chats to it cannot
    help either. Measured on these 60 paired seeds on the default objective: difference -123.2,
    95% CI [-156.3, -90.1].
    """
    env = gym.make(ROUTER_ID)
    base = env.unwrapped

    class SolvableOnly(RuleBased):
        def act(self, obs: np.ndarray, info: dict) -> int:
            team = base.sim
            chat = team.pending[1]  # the arriving chat (its latent solvability is the oracle's)
            return int(super().act(obs, info) and bool(team.C.solvable[chat]))

    seeds = range(60)
    oracle = np.array([agents.episode_return(env, SolvableOnly(), s) for s in seeds])
    low, high = paired_ci(oracle - returns(ROUTER_ID, "rule_based", seeds))
    assert high < 0.0, f"the solvability oracle - rule_based: 95% CI [{low:.2f}, {high:.2f}]"


# measured on these 60 paired seeds on the default objective, flipped - rule_based (95% CI):
# logistics_tracking -158.2 (-191.7 to -124.8), refund_status -104.9 (-137.9 to -71.8), invoice_request
# -77.9 (-110.6 to -45.2), product_inquiry -116.3 (-143.2 to -89.5), order_modification -73.3 (-98.9 to
# -47.7), delivery_problem -54.9 (-81.1 to -28.7), refund_dispute -44.7 (-72.6 to -16.8)
CATEGORY_FLIPS = (
    "logistics_tracking", "refund_status", "invoice_request", "product_inquiry", "order_modification",
    "delivery_problem", "refund_dispute",
    pytest.param("payment_issue", marks=pytest.mark.xfail(
        strict=True, raises=AssertionError,
        reason="sending payment issues to the AI loses by less than the noise on the cost-model objective: "
               "-19.9, 95% CI [-48.1, 8.3] on 60 seeds")),
)  # fmt: skip


@pytest.mark.parametrize("category", CATEGORY_FLIPS)
def test_the_rule_is_the_best_router_category_by_category(category: str) -> None:
    """Routing any one category the other way than the paper's rule loses on the default reward.

    Every category that may go to the AI is tested. At the default load a routing rule has little
    else to act on: the team's queue was empty at every one of 8,959 arrivals measured (10 shifts
    under the rule; workers held 1.3 chats each on average against a cap of 5). So a learned
    router can at best match ``rule_based`` (see the README).
    """
    env = gym.make(ROUTER_ID)
    flip = list(env.unwrapped.cfg.categories).index(category)

    class Flipped(RuleBased):
        def act(self, obs: np.ndarray, info: dict) -> int:
            rule = super().act(obs, info)
            return int(not rule) if int(np.argmax(obs[CATEGORY:])) == flip else rule

    seeds = range(60)
    flipped = np.array([agents.episode_return(env, Flipped(), s) for s in seeds])
    low, high = paired_ci(flipped - returns(ROUTER_ID, "rule_based", seeds))
    assert high < 0.0, f"{category} flipped - rule_based: 95% CI [{low:.2f}, {high:.2f}]"


def test_on_promotion_day_routing_matters() -> None:
    """``promotion_day``: queues form, and the paper's rule leaves labour on the table.

    With 2.5 times August's chats per worker the team's queue holds chats at some arrivals, and
    with the AI resolving 30% of product inquiries, sending them to the AI (which the rule does
    not) beats ``rule_based`` on every seed. Measured on seeds 1000-1007 (8 shifts): +2,199.5
    worker-minutes a shift (95% CI 1,950 to 2,449); the queue held chats at 6% of the rule's
    arrivals. The test plays the first 4 of those shifts.
    """
    env = gym.make(ROUTER_ID, preset="promotion_day")
    base = env.unwrapped
    product = list(base.cfg.categories).index("product_inquiry")
    queue = field_index(ROUTER_FIELDS, "queue_per_worker")
    queued: list[float] = []

    class Watching(RuleBased):
        def act(self, obs: np.ndarray, info: dict) -> int:
            queued.append(float(obs[queue]))
            return super().act(obs, info)

    class ProductToAI(RuleBased):
        def act(self, obs: np.ndarray, info: dict) -> int:
            return 1 if int(np.argmax(obs[CATEGORY:])) == product else super().act(obs, info)

    seeds = range(1000, 1004)
    rule = np.array([agents.episode_return(env, Watching(), s) for s in seeds])
    wider = np.array([agents.episode_return(env, ProductToAI(), s) for s in seeds])
    assert 0.01 < np.mean(np.array(queued) > 0) < 0.5, "the queue should form at peaks, not always or never"
    assert (wider > rule).all(), (wider - rule).round(1)
    low, _ = paired_ci(wider - rule)
    assert low > 1000.0, f"product inquiries to the AI - rule_based: 95% CI low {low:.1f}"
