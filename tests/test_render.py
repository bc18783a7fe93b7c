"""The dashboard people read: what the ansi and rgb_array frames show, checked against the state."""

from __future__ import annotations

import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import hitl_env  # noqa: F401  (registers the envs)
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.envs.render import ANSI_LEGEND, HEIGHT, HIGHLIGHT, WIDTH, dashboard, render_state
from hitl_env.multi_agent import parallel_env
from hitl_env.sim.team import AI

SMALL = {"team_size": 5, "shift_hours": 2.0}


def played(env_id: str, mode: str, steps: int = 12) -> gym.Env:
    env = gym.make(env_id, render_mode=mode, **SMALL)
    env.reset(seed=0)
    for _ in range(steps):
        env.step(0)
    return env


def highlighted(img: np.ndarray) -> int:
    """Pixels of the highlight colour above the legend (which shows it once, always)."""
    return int(np.all(img[: int(HEIGHT * 0.85)] == HIGHLIGHT, axis=-1).sum())


def test_ansi_shows_clock_queue_each_workers_chats_the_pending_decision_and_a_legend() -> None:
    env = played(SUPERVISOR_ID, "ansi")
    sim, (_, view) = env.unwrapped.sim, env.unwrapped.decision
    lines = env.render().splitlines()
    t = view.time_s
    assert lines[0] == f"time {int(t // 3600):02d}:{int(t % 3600 // 60):02d}  queue {sim.n_queued}  online 5/5"
    assert lines[1] == f"pending: take over chat {view.chat} from the AI? (worker {view.worker})"
    rows = [line for line in lines if line.startswith("worker ")]
    assert len(rows) == 5 and lines[-1] == ANSI_LEGEND
    for w, row in enumerate(rows):
        cells = re.findall(r"(>?)(AI|H) ([+-]\d+\.\d)", row)
        assert len(cells) == sim.held[w]  # every chat the worker holds, no other
        assert sum(who == "AI" for _, who, _ in cells) == sim.ai_held[w]
        assert [m for m, _, _ in cells].count(">") == (w == view.worker)
    marked = next(c for c in re.findall(r">(AI|H) ([+-]\d+\.\d)", rows[view.worker]))
    assert marked[0] == "AI" and sim.mode[view.chat] == AI


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID])
def test_rgb_array_frame_and_its_content(env_id: str) -> None:
    env = played(env_id, "rgb_array")
    img = env.render()
    assert img.shape == (HEIGHT, WIDTH, 3) and img.dtype == np.uint8
    assert highlighted(img) > 200  # the pending decision's outline
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # colour scale, text, chats: not a blank frame
    kind, view = env.unwrapped.decision
    state = render_state(env.unwrapped.sim, view.time_s, env.unwrapped.decision)
    fig = dashboard(state)
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    t = view.time_s
    clock = f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}"
    assert any(s.startswith(f"{clock}   queue {state['queue']}   online 5/5") for s in texts)
    assert {f"worker {w}" for w in range(5)} <= set(texts)
    assert {"AI: handled by the AI", "H: by a human", "pending decision"} <= set(texts)
    assert "customer's sentiment (below 0: frustrated)" in texts
    assert sum(s.startswith(("AI ", "H ")) for s in texts) == sum(env.unwrapped.sim.held)  # one label per chat
    assert any(s.startswith("pending: ") and str(view.chat) in s for s in texts)
    boxes = fig.findobj(lambda a: hasattr(a, "get_edgecolor") and hasattr(a, "get_xy") and a.axes is not None)
    outlined = [p for p in boxes if tuple(np.round(np.array(p.get_edgecolor()[:3]) * 255)) == HIGHLIGHT]
    assert len(outlined) == 1
    if kind == "takeover":  # the outline sits in the worker's row, on the chat's slot
        row = [c for c, _, _ in state["chats"][view.worker]]
        assert outlined[0].get_xy() == pytest.approx((row.index(view.chat) + 0.05, 5 - 1 - view.worker + 0.1))
    else:
        assert any(s == f"arriving: chat {view.chat}" for s in texts)


def test_the_last_frame_has_no_pending_decision_and_the_team_env_renders_too() -> None:
    env = gym.make(SUPERVISOR_ID, render_mode="rgb_array", **SMALL)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, done, _, _ = env.step(0)
    assert highlighted(env.render()) == 0
    team = parallel_env(render_mode="rgb_array", **SMALL)
    team.reset(seed=0)
    assert highlighted(team.render()) > 200


def test_hitl_env_imports_and_renders_text_without_matplotlib() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import gymnasium as gym, hitl_env\n"
        "env = gym.make('hitl_env/Router-v3', render_mode='ansi', team_size=2, shift_hours=1.0)\n"
        "env.reset(seed=0); print(env.render().splitlines()[0][:5])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "time"
