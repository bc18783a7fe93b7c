"""Rendering of a team's state, apart from the simulator: a text snapshot and a dashboard image.

Both show the clock, the queue, each worker's chats (who handles each, human or AI, and the
customer's sentiment) and the pending decision, with a legend. The sentiment shown is the
customer's state, minus their frustration (below 0 is frustrated); the supervisor's
observation holds only a noisy reading of it. The image is drawn with matplotlib, imported only
when an ``rgb_array`` frame is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WIDTH, HEIGHT = 800, 500
RENDER_MODES = ("ansi", "rgb_array")
HIGHLIGHT = (255, 0, 255)  # the pending decision's outline in rgb_array frames (in no colour map)
SENTIMENT_RANGE = 3.0  # the colour scale's sentiment at its ends (-3 red, +3 green)


def check_render_mode(mode: str | None) -> None:
    """Reject a render mode the envs do not offer (None means no rendering)."""
    if mode is not None and mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be one of {list(RENDER_MODES)} or None")


def render(sim: Any, time_s: float, mode: str, decision: tuple[str, Any] | None = None) -> str | np.ndarray:
    """Render a team simulation's state at ``time_s`` as ``"ansi"`` text or an ``"rgb_array"``.

    ``decision`` is the pending ``(kind, view)``, highlighted in both.
    """
    state = render_state(sim, time_s, decision)
    return ansi(state) if mode == "ansi" else rgb_array(state)


def render_state(sim: Any, time_s: float, decision: tuple[str, Any] | None = None) -> dict[str, Any]:
    """What the renderers show, read off a :class:`~hitl_env.sim.team.TeamSim` (never changing it)."""
    from hitl_env.sim.kernel import xf
    from hitl_env.sim.team import AI, HUMAN

    n = sim.next_arrival
    mode, worker = sim.mode[:n], sim.rec["worker"][:n]
    sentiment = -sim.state.XF[:n, xf.f]
    chats: list[list[tuple[int, bool, float]]] = [[] for _ in sim.held]
    for c in np.flatnonzero((mode == AI) | (mode == HUMAN)):
        chats[worker[c]].append((int(c), bool(mode[c] == AI), float(sentiment[c])))
    pending = None
    if decision is not None:
        kind, view = decision
        pending = {"kind": kind, "chat": int(view.chat), "worker": int(getattr(view, "worker", -1))}
    return {
        "time_s": time_s,
        "queue": sim.n_queued,
        "online": list(sim.online),
        "chats": chats,
        "max_concurrency": sim.cfg.service.max_concurrency,
        "pending": pending,
    }


def clock(time_s: float) -> str:
    """``HH:MM`` of a simulation time (seconds since the first midnight)."""
    return f"{int(time_s // 3600) % 24:02d}:{int(time_s % 3600 // 60):02d}"


def pending_text(pending: dict[str, Any] | None) -> str:
    """The pending decision in words."""
    if pending is None:
        return "no decision pending (shift over)"
    if pending["kind"] == "takeover":
        return f"take over chat {pending['chat']} from the AI? (worker {pending['worker']})"
    if pending["kind"] == "route":
        return f"send arriving chat {pending['chat']} to the AI or to a human?"
    return f"{pending['kind']} decision on chat {pending['chat']}"


ANSI_LEGEND = (
    "legend: H chat handled by a human, AI chat handled by the AI, the number after it the customer's"
    " sentiment (below 0 frustrated); > the pending decision; . a free slot; off: offline"
)


def ansi(state: dict[str, Any]) -> str:
    """A text snapshot: clock, queue, pending decision, one row per worker, a legend."""
    online = state["online"]
    lines = [f"time {clock(state['time_s'])}  queue {state['queue']}  online {sum(online)}/{len(online)}"]
    lines.append(f"pending: {pending_text(state['pending'])}")
    target = state["pending"]["chat"] if state["pending"] else -1
    for w, chats in enumerate(state["chats"]):
        cells = [f"{'>' if c == target else ' '}{'AI' if ai else 'H'} {_signed(s)}" for c, ai, s in chats]
        cells += ["."] * max(0, state["max_concurrency"] - len(chats))
        lines.append(f"worker {w:2d} {'on ' if online[w] else 'off'} | {' | '.join(cells)}")
    lines.append(ANSI_LEGEND)
    return "\n".join(lines) + "\n"


def rgb_array(state: dict[str, Any]) -> np.ndarray:
    """The dashboard as an image (HEIGHT x WIDTH x 3, uint8)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # (no pyplot: no display, no global figures)
    except ImportError as e:
        raise ImportError("render_mode='rgb_array' draws with matplotlib: pip install matplotlib") from e

    canvas = FigureCanvasAgg(dashboard(state))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def dashboard(state: dict[str, Any]) -> Any:
    """The dashboard as a matplotlib figure (:func:`rgb_array` draws it)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    cmap, highlight = _sentiment_cmap(), tuple(v / 255 for v in HIGHLIGHT)
    fig = Figure(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    ax = fig.add_axes((0.13, 0.2, 0.6, 0.62))
    chats = state["chats"]
    cap = max(state["max_concurrency"], *(len(c) for c in chats), 1)
    target = state["pending"]["chat"] if state["pending"] else -1
    for w, row in enumerate(chats):
        y = len(chats) - 1 - w
        for slot in range(cap):
            ax.add_patch(Rectangle((slot + 0.05, y + 0.1), 0.9, 0.8, facecolor="0.95", edgecolor="0.8"))
        for slot, (c, ai, s) in enumerate(row):
            colour = cmap((np.clip(s, -SENTIMENT_RANGE, SENTIMENT_RANGE) + SENTIMENT_RANGE) / (2 * SENTIMENT_RANGE))
            mine = c == target
            ax.add_patch(Rectangle((slot + 0.05, y + 0.1), 0.9, 0.8, facecolor=colour,
                                   edgecolor=highlight if mine else "black", linewidth=4 if mine else 0.8,
                                   hatch=None if ai else "//"))  # fmt: skip
            ax.text(slot + 0.5, y + 0.5, f"{'AI' if ai else 'H'} {_signed(s)}", ha="center", va="center", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})  # fmt: skip
    ax.set_xlim(0, cap)
    ax.set_ylim(0, max(1, len(chats)))
    ax.set_yticks([len(chats) - 1 - w + 0.5 for w in range(len(chats))])
    ax.set_yticklabels([f"worker {w}{'' if on else ' (off)'}" for w, on in enumerate(state["online"])], fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel(f"chats each worker holds (up to {state['max_concurrency']} at once)", fontsize=9)
    online = state["online"]
    fig.text(0.02, 0.93, f"{clock(state['time_s'])}   queue {state['queue']}   online {sum(online)}/{len(online)}",
             fontsize=14, weight="bold")  # fmt: skip
    fig.text(0.02, 0.87, f"pending: {pending_text(state['pending'])}", fontsize=10,
             color=highlight if state["pending"] else "black")  # fmt: skip
    _queue_panel(fig, state["queue"], state["pending"], highlight)
    handles = [Patch(facecolor="white", edgecolor="black", label="AI: handled by the AI"),
               Patch(facecolor="white", edgecolor="black", hatch="//", label="H: by a human"),
               Patch(facecolor="white", edgecolor=highlight, linewidth=3, label="pending decision")]  # fmt: skip
    fig.legend(handles=handles, loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    cax = fig.add_axes((0.13, 0.09, 0.6, 0.025))
    scale = np.linspace(-SENTIMENT_RANGE, SENTIMENT_RANGE, 64)[None, :]
    cax.imshow(scale, aspect="auto", cmap=cmap, extent=(-SENTIMENT_RANGE, SENTIMENT_RANGE, 0, 1))
    cax.set_yticks([])
    cax.tick_params(labelsize=7)
    cax.set_title("customer's sentiment (below 0: frustrated)", fontsize=8)
    return fig


def _queue_panel(fig: Any, queue: int, pending: dict[str, Any] | None, highlight: tuple) -> None:
    """The queue, as grey squares (not a sentiment colour), and an arriving chat awaiting routing."""
    from matplotlib.patches import Rectangle

    ax = fig.add_axes((0.78, 0.2, 0.2, 0.62))
    ax.set_xlim(0, 5)
    ax.set_ylim(0, 12)
    ax.axis("off")
    ax.set_title(f"queue: {queue} waiting", fontsize=9)
    for i in range(min(queue, 50)):
        ax.add_patch(Rectangle((i % 5 + 0.1, 10.9 - i // 5), 0.8, 0.8, facecolor="0.55", edgecolor="0.3"))
    if queue > 50:
        ax.text(2.5, 0.5, f"+{queue - 50} more", ha="center", fontsize=8)
    if pending is not None and pending["kind"] == "route":
        ax.add_patch(Rectangle((0.1, 0.8), 4.8, 1.6, facecolor="white", edgecolor=highlight, linewidth=4))
        ax.text(2.5, 1.6, f"arriving: chat {pending['chat']}", ha="center", va="center", fontsize=8)


def _signed(x: float) -> str:
    text = f"{x:+.1f}"
    return "+0.0" if text == "-0.0" else text


def _sentiment_cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["RdYlGn"]
