"""Rendering of a team's state, apart from the simulator: a text snapshot and a dashboard image."""

from __future__ import annotations

from typing import Any

import numpy as np

WIDTH, HEIGHT = 480, 320
RENDER_MODES = ("ansi", "rgb_array")


def check_render_mode(mode: str | None) -> None:
    """Reject a render mode the envs do not offer (None means no rendering)."""
    if mode is not None and mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {list(RENDER_MODES)} or None")


def render(sim: Any, time_s: float, mode: str) -> str | np.ndarray:
    """Render a team simulation's state at ``time_s`` as ``"ansi"`` text or an ``"rgb_array"``."""
    state = render_state(sim, time_s)
    return ansi(state) if mode == "ansi" else rgb_array(state)


def render_state(sim: Any, time_s: float) -> dict[str, Any]:
    """What the renderers show, read off a :class:`~hitl_env.sim.team.TeamSim`."""
    from hitl_env.sim.team import AI

    arrived = sim.mode[: sim.next_arrival]
    return {
        "time_s": time_s,
        "queue": sim.n_queued,
        "held": list(sim.held),
        "ai_held": list(sim.ai_held),
        "online": list(sim.online),
        "ai_chats": [(c, sim.reading[c]) for c, m in enumerate(arrived) if m == AI],
        "max_concurrency": sim.cfg.service.max_concurrency,
    }


def ansi(state: dict[str, Any]) -> str:
    """A text snapshot: time, queue, each worker's chats, the AI chats with their sentiment."""
    t = state["time_s"]
    clock = f"{int(t // 3600) % 24:02d}:{int(t % 3600 // 60):02d}"
    lines = [f"time {clock}  queue {state['queue']}"]
    for w, (held, ai) in enumerate(zip(state["held"], state["ai_held"], strict=True)):
        status = "on " if state["online"][w] else "off"
        lines.append(f"worker {w:2d} {status} {'#' * (held - ai)}{'a' * ai}{'.' * (state['max_concurrency'] - held)}")
    for c, reading in state["ai_chats"]:
        bar = "-" * min(20, int(max(0.0, -reading) * 10))
        lines.append(f"AI chat {c:5d} sentiment {reading:+.2f} {bar}")
    return "\n".join(lines) + "\n"


def rgb_array(state: dict[str, Any]) -> np.ndarray:
    """A dashboard image (HEIGHT x WIDTH x 3, uint8): worker load bars and AI chats' sentiment."""
    img = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    n = max(1, len(state["held"]))
    cap = max(1, state["max_concurrency"])
    bar_w = max(2, (WIDTH // 2 - 10) // n)
    for w, (held, ai) in enumerate(zip(state["held"], state["ai_held"], strict=True)):
        x0 = 5 + w * bar_w
        grey = (200, 200, 200) if state["online"][w] else (235, 235, 235)
        img[20 : HEIGHT - 20, x0 : x0 + bar_w - 1] = grey  # capacity frame (lighter when offline)
        h_hand = int((held - ai) / cap * (HEIGHT - 40))
        h_ai = int(ai / cap * (HEIGHT - 40))
        img[HEIGHT - 20 - h_hand : HEIGHT - 20, x0 : x0 + bar_w - 1] = (60, 90, 200)  # by hand
        img[HEIGHT - 20 - h_hand - h_ai : HEIGHT - 20 - h_hand, x0 : x0 + bar_w - 1] = (120, 200, 120)  # AI
    q = min(WIDTH // 2 - 10, state["queue"] * 10)
    img[5:15, 5 : 5 + q] = (200, 60, 60)  # queue
    chats = state["ai_chats"][:40]
    row_h = min(20, max(2, (HEIGHT - 20) // max(1, len(chats))))
    for i, (_, reading) in enumerate(chats):
        y0 = 10 + i * row_h
        length = int(min(1.0, abs(reading) / 2.0) * (WIDTH // 2 - 20))
        colour = (200, 60, 60) if reading < 0 else (60, 160, 60)
        img[y0 : y0 + row_h - 1, WIDTH // 2 + 10 : WIDTH // 2 + 10 + length] = colour
    return img
