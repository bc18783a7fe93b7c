"""The size guard: estimate a simulation's chats and memory before it starts, and refuse one that cannot fit.

The estimate is the expected number of chats (each online worker-hour draws
``arrivals.rate_per_worker_hour`` chats on average) times :data:`BYTES_PER_CHAT`, about twice
the measured peak per chat of ``simulate`` (its records, 229 bytes a chat, held once per team
and once concatenated, and each team's running state), plus :data:`BASE_BYTES`. The limit is
the memory this process can still get: the system's available memory, the cgroup's
``memory.max`` less its current use, and ``RLIMIT_AS`` less the address space in use,
whichever is least.
"""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

from hitl_env.config import Config

BYTES_PER_CHAT = 1_000
BASE_BYTES = 300 * 2**20


class TooLarge(ValueError):
    """A simulation that the size guard refuses: its estimated memory exceeds the limit."""


def expected_chats(cfg: Config) -> float:
    """The expected number of chats of a run of ``cfg`` (all workers, all days)."""
    e, a = cfg.experiment, cfg.arrivals
    return a.rate_per_worker_hour * e.workers * e.days * min(a.shift_hours, 24.0)


def estimate_bytes(chats: float, copies: int = 1) -> float:
    """The estimated peak memory of ``copies`` simulations of ``chats`` chats each, held at once."""
    return BASE_BYTES + copies * chats * BYTES_PER_CHAT


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_limit() -> float:
    """The bytes this process can still allocate (inf where nothing says)."""
    limits = [float("inf")]
    available = _meminfo("MemAvailable")
    if available is not None:
        limits.append(available)
    cg_max, cg_now = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if cg_max is not None and cg_now is not None:
        limits.append(max(cg_max - cg_now, 0))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = 0
        with contextlib.suppress(OSError, ValueError, IndexError):
            used = os.sysconf("SC_PAGE_SIZE") * int(Path("/proc/self/statm").read_text().split()[0])
        limits.append(max(soft - used, 0))
    return min(limits)


def check_size(cfg: Config, copies: int = 1, limit: float | None = None) -> float:
    """Refuse a run that cannot fit in memory; the estimated bytes otherwise.

    Args:
        cfg: the run's config.
        copies: simulations held in memory at once (``hitl-rct``: the experiment and its
            counterfactual).
        limit: the bytes allowed (default: :func:`memory_limit`).

    Raises:
        TooLarge: the estimate exceeds the limit; the message gives both.
    """
    chats = expected_chats(cfg)
    need = estimate_bytes(chats, copies)
    limit = memory_limit() if limit is None else limit
    if need > limit:
        raise TooLarge(
            f"the run would draw about {chats:,.0f} chats{f' ({copies} simulations)' if copies > 1 else ''}, "
            f"needing about {_gib(need)} of memory; {_gib(limit)} is available. Reduce experiment.workers, "
            "the days or arrivals.rate_per_worker_hour"
        )
    return need


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"
