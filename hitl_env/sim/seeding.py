"""numpy's ``SeedSequence`` for an integer seed, its hashing compiled.

An env reset draws a team from 29 seeded streams (one per attribute, so that changing one
parameter never shifts another's draws). numpy builds each child ``SeedSequence`` and the seed
its PCG64 reads through Python-level coercions and ``np.errstate`` contexts: about 10 us a
stream, a quarter of a reset. The hashing itself is a few dozen integer operations, and a
child's pool is its parent's with the child's index mixed in (numpy's ``mix_entropy`` hashes
words past the pool's size one by one, and it pads a spawned sequence's entropy with the very
zeros it hashes for missing words). :class:`FastSeedSequence` keeps each sequence's mixing state
and computes a spawn's children, pools and PCG64 seeds in one compiled call: a stream costs about
2 us. It follows numpy's ``mix_entropy`` and ``generate_state`` step by step, so the pools,
states, children and draws are numpy's (``tests/test_seeding.py`` checks them, and the golden
records were unchanged by it).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.random.bit_generator import ISpawnableSeedSequence

POOL_SIZE = 4  # numpy's default pool size, in 32-bit words
M32 = 0xFFFFFFFF
INIT_A, MULT_A, INIT_B, MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED  # numpy's hash constants
MIX_L, MIX_R, XSHIFT = 0xCA01F9DD, 0x4973F715, 16
# Arithmetic is on int64: products of 32-bit words wrap, and masking keeps their low 32 bits exact.


@njit(cache=True)
def _hashmix(value: int, hc: int) -> tuple[int, int]:
    value ^= hc
    hc = (hc * MULT_A) & M32
    value = (value * hc) & M32
    return value ^ (value >> XSHIFT), hc


@njit(cache=True)
def _mix(x: int, y: int) -> int:
    r = (MIX_L * x - MIX_R * y) & M32
    return r ^ (r >> XSHIFT)


@njit(cache=True)
def _mix_in(pool: np.ndarray, hc: int, words: np.ndarray) -> int:
    """Mix ``words`` into the full ``pool`` in place (``mix_entropy`` past the pool size); returns the hash constant."""
    for w in words:
        for dst in range(POOL_SIZE):
            h, hc = _hashmix(w, hc)
            pool[dst] = _mix(pool[dst], h)
    return hc


@njit(cache=True)
def _mix_entropy(words: np.ndarray) -> tuple[np.ndarray, int]:
    """numpy's ``mix_entropy`` of ``words``: the pool, and the hash constant it ends with."""
    pool, hc = np.zeros(POOL_SIZE, np.int64), INIT_A
    for i in range(POOL_SIZE):
        h, hc = _hashmix(words[i] if i < len(words) else 0, hc)
        pool[i] = h
    for src in range(POOL_SIZE):
        for dst in range(POOL_SIZE):
            if src != dst:
                h, hc = _hashmix(pool[src], hc)
                pool[dst] = _mix(pool[dst], h)
    return pool, _mix_in(pool, hc, words[POOL_SIZE:])


@njit(cache=True)
def _generate(pool: np.ndarray, n32: int) -> np.ndarray:
    """numpy's ``generate_state``: ``n32`` 32-bit words from ``pool``."""
    out, hc = np.empty(n32, np.uint32), INIT_B
    for i in range(n32):
        v = pool[i % POOL_SIZE] ^ hc
        hc = (hc * MULT_B) & M32
        v = (v * hc) & M32
        out[i] = v ^ (v >> XSHIFT)
    return out


@njit(cache=True)
def _children(pool: np.ndarray, hc: int, first: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Children ``first`` .. ``first + n - 1``: their pools, hash constants and PCG64 seeds (8 words each)."""
    pools, hcs, seeds = np.empty((n, POOL_SIZE), np.int64), np.empty(n, np.int64), np.empty((n, 8), np.uint32)
    for k in range(n):
        pools[k] = pool
        hcs[k] = _mix_in(pools[k], hc, np.array([first + k], np.int64))
        seeds[k] = _generate(pools[k], 8)
    return pools, hcs, seeds


def _count(n: object, name: str) -> int:
    """``n`` as a non-negative int (numpy ints too), else a TypeError or ValueError that names it."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {n!r}")
    if n < 0:
        raise ValueError(f"{name} must be a non-negative int, got {n!r}")
    return int(n)


def _words(x: int) -> list[int]:
    """An int as little-endian 32-bit words (numpy's ``_int_to_uint32_array``; 0 is one word)."""
    out = [x & M32]
    while x > M32:
        x >>= 32
        out.append(x & M32)
    return out


class FastSeedSequence(ISpawnableSeedSequence):
    """numpy's ``SeedSequence(entropy, spawn_key=...)`` for a non-negative integer ``entropy``:
    the same ``pool``, ``generate_state`` and ``spawn`` (children of this class), so
    ``np.random.default_rng(FastSeedSequence(s))`` draws what ``np.random.default_rng(s)`` does,
    and so do the generators its ``spawn`` (and numpy's ``Generator.spawn``) make.
    """

    pool_size = POOL_SIZE

    def __init__(self, entropy: int, *, spawn_key: tuple[int, ...] = ()) -> None:
        if not isinstance(entropy, (int, np.integer)) or isinstance(entropy, (bool, np.bool_)) or entropy < 0:
            raise TypeError(f"entropy must be a non-negative int, got {entropy!r}")
        if any(not isinstance(k, (int, np.integer)) or k < 0 for k in spawn_key):
            raise TypeError(f"spawn_key must be non-negative ints, got {spawn_key!r}")
        self.entropy, self.spawn_key, self.n_children_spawned = int(entropy), tuple(map(int, spawn_key)), 0
        words = _words(self.entropy)
        if self.spawn_key:  # numpy pads the entropy to the pool's size before the spawn key
            words += [0] * (POOL_SIZE - len(words)) + [w for k in self.spawn_key for w in _words(k)]
        self._pool, self._hc = _mix_entropy(np.array(words, np.int64))
        self._seed: np.ndarray | None = None  # generate_state(4, np.uint64), what PCG64 asks for

    @property
    def pool(self) -> np.ndarray:
        return self._pool.astype(np.uint32)

    @property
    def state(self) -> dict:
        """numpy's ``SeedSequence.state``: what the sequence is made from."""
        return {"entropy": self.entropy, "spawn_key": self.spawn_key, "pool_size": self.pool_size,
                "n_children_spawned": self.n_children_spawned}  # fmt: skip

    def __repr__(self) -> str:
        return f"FastSeedSequence({self.entropy}, spawn_key={self.spawn_key})"

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        """numpy's ``SeedSequence.generate_state``."""
        if n_words == 4 and dtype is np.uint64 and self._seed is not None:  # (PCG64's request, computed at the spawn)
            return self._seed.copy()
        n_words = _count(n_words, "n_words")
        wide = np.dtype(dtype) == np.uint64
        if not wide and np.dtype(dtype) != np.uint32:
            raise ValueError("only support uint32 or uint64")
        out = _generate(self._pool, n_words * (2 if wide else 1))
        return out.view(np.uint64) if wide else out  # (numpy's view on a little-endian machine)

    def spawn(self, n_children: int) -> list[FastSeedSequence]:
        """numpy's ``SeedSequence.spawn``: the next ``n_children`` children."""
        n_children, first = _count(n_children, "n_children"), self.n_children_spawned
        if first + n_children > M32 + 1:  # (a child's index is one 32-bit word)
            raise ValueError("FastSeedSequence spawns at most 2**32 children")
        pools, hcs, seeds = _children(self._pool, self._hc, first, n_children)
        self.n_children_spawned += n_children
        seeds = seeds.view(np.uint64)
        kids = []
        for k in range(n_children):
            kid = object.__new__(FastSeedSequence)
            kid.entropy, kid.spawn_key, kid.n_children_spawned = self.entropy, (*self.spawn_key, first + k), 0
            kid._pool, kid._hc, kid._seed = pools[k], int(hcs[k]), seeds[k]
            kids.append(kid)
        return kids
