"""FastSeedSequence is numpy's SeedSequence for an integer seed: the same pools, states, children
and draws (every env reset draws its team through it)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hitl_env.sim.seeding import FastSeedSequence

ENTROPIES = (0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**64 + 3, 2**130 + 7, 123456789012345678)


def same_sequence(a: object, b: object) -> bool:
    return (
        np.array_equal(a.pool, b.pool)
        and a.pool.dtype == b.pool.dtype
        and a.entropy == b.entropy
        and a.spawn_key == b.spawn_key
        and a.n_children_spawned == b.n_children_spawned
        and np.array_equal(a.generate_state(7), b.generate_state(7))
        and np.array_equal(a.generate_state(3, np.uint64), b.generate_state(3, np.uint64))
        and np.array_equal(a.generate_state(4, np.uint64), b.generate_state(4, np.uint64))
        and a.generate_state(4, np.uint64).dtype == np.uint64
    )


def same_generator(a: np.random.Generator, b: np.random.Generator) -> bool:
    return a.bit_generator.state == b.bit_generator.state and np.array_equal(a.random(5), b.random(5))


@pytest.mark.parametrize("entropy", ENTROPIES)
@pytest.mark.parametrize("spawn_key", [(), (3,), (1, 2**40)])
def test_same_as_numpy(entropy: int, spawn_key: tuple) -> None:
    ours, numpy = FastSeedSequence(entropy, spawn_key=spawn_key), np.random.SeedSequence(entropy, spawn_key=spawn_key)
    assert same_sequence(ours, numpy)
    assert same_generator(np.random.default_rng(ours), np.random.default_rng(numpy))


@pytest.mark.parametrize("entropy", ENTROPIES)
def test_descendants_as_numpy(entropy: int) -> None:
    """Children, grandchildren (through numpy's Generator.spawn) and further spawns continue alike."""
    ours, numpy = FastSeedSequence(entropy), np.random.SeedSequence(entropy)
    for a, b in zip(ours.spawn(3) + ours.spawn(1), numpy.spawn(3) + numpy.spawn(1), strict=True):
        assert same_sequence(a, b)
        ga, gb = np.random.default_rng(a), np.random.default_rng(b)
        for x, y in zip(ga.spawn(15) + ga.spawn(2), gb.spawn(15) + gb.spawn(2), strict=True):
            assert same_generator(x, y)
            assert same_sequence(x.bit_generator.seed_seq, y.bit_generator.seed_seq)
    assert same_sequence(ours, numpy)  # the count of children spawned


def test_many_seeds_draw_as_numpy() -> None:
    """The env's use: a random 63-bit root, three children, then 11 and 15 grandchildren."""
    for entropy in np.random.default_rng(0).integers(2**63, size=50).tolist():
        ours, numpy = FastSeedSequence(entropy).spawn(3), np.random.SeedSequence(entropy).spawn(3)
        for a, b in zip(ours, numpy, strict=True):
            ga, gb = np.random.default_rng(a), np.random.default_rng(b)
            assert same_generator(ga, gb)
            for x, y in zip(ga.spawn(11), gb.spawn(11), strict=True):
                assert np.array_equal(x.standard_normal(4), y.standard_normal(4))


def test_pickles() -> None:
    g = np.random.default_rng(FastSeedSequence(5).spawn(2)[1])
    g.random(3)
    h = pickle.loads(pickle.dumps(g))
    assert same_generator(g, h)
    assert same_sequence(h.bit_generator.seed_seq, np.random.SeedSequence(5).spawn(2)[1])


@pytest.mark.parametrize("bad", [-1, 1.5, True, "7", None])
def test_entropy_is_a_non_negative_int(bad: object) -> None:
    with pytest.raises(TypeError, match="entropy must be a non-negative int"):
        FastSeedSequence(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [(-1,), (1.5,), ("a",)])
def test_spawn_key_is_non_negative_ints(bad: tuple) -> None:
    with pytest.raises(TypeError, match="spawn_key must be non-negative ints"):
        FastSeedSequence(3, spawn_key=bad)


def test_uint32_or_uint64_only() -> None:
    with pytest.raises(ValueError, match="only support uint32 or uint64"):
        FastSeedSequence(3).generate_state(4, np.float64)


@pytest.mark.parametrize(("bad", "error"), [(2.0, TypeError), (True, TypeError), ("3", TypeError), (-1, ValueError)])
def test_counts_are_non_negative_ints(bad: object, error: type) -> None:
    ss = FastSeedSequence(3)
    with pytest.raises(error, match="n_children must be a non-negative int"):
        ss.spawn(bad)  # type: ignore[arg-type]
    with pytest.raises(error, match="n_words must be a non-negative int"):
        ss.generate_state(bad)  # type: ignore[arg-type]
    assert ss.n_children_spawned == 0


def test_numpy_int_counts_and_the_state_are_numpys() -> None:
    ours, numpy = FastSeedSequence(9), np.random.SeedSequence(9)
    a, b = ours.spawn(np.int64(2)), numpy.spawn(np.int64(2))
    assert [k.spawn_key for k in a] == [k.spawn_key for k in b] and type(ours.n_children_spawned) is int
    assert ours.state == {**numpy.state, "spawn_key": ()} and a[1].state["spawn_key"] == (1,)
    assert np.array_equal(ours.generate_state(np.int64(3)), numpy.generate_state(3))
    assert "FastSeedSequence(9" in repr(ours)
