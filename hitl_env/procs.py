"""Child processes that die with their parent, and Ctrl-C as one line.

Process pools (``simulate(n_jobs=...)``) and vector-env workers (``hitl-train``) call
:func:`die_with_parent` when they start: on Linux the kernel then kills them (``SIGKILL``) as
soon as the process that started them dies, however it dies (``SIGINT``, ``SIGTERM``,
``SIGKILL``), so no worker outlives a run or keeps its caller's pipes open. They also ignore
``SIGINT``: Ctrl-C reaches the whole foreground process group, and handling it is the parent's
job (it stops the workers and prints one line, :func:`interrupted`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1
INTERRUPTED = 130  # the shell's exit status after SIGINT


def die_with_parent(parent_pid: int | None = None) -> None:
    """In a child process: get ``SIGKILL`` when the parent dies (Linux), and leave Ctrl-C to the parent.

    Args:
        parent_pid: the parent's pid as the parent saw it; if the parent has already died
            (the child was adopted), exit at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        return  # no prctl: the parent's own cleanup (Ctrl-C, errors) still applies
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def stop_pool(pool: Any) -> None:
    """Kill a ``ProcessPoolExecutor``'s workers now and drop its pending work (after Ctrl-C or an error)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        p.kill()
    # RuntimeError: interrupted between creating its manager thread and starting it (none to wait for)
    with contextlib.suppress(RuntimeError):
        pool.shutdown(wait=True, cancel_futures=True)


def interrupted(prog: str, detail: str = "") -> int:
    """Say, on one line, that ``prog`` was interrupted; the exit status to return (130)."""
    print(f"\n{prog}: interrupted{detail}", file=sys.stderr)
    return INTERRUPTED
