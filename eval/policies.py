"""The policies ``hitl-eval`` compares: spec lists, the env they belong to, and building them.

A spec is a heuristic's name with parameters (``agents.parse_spec``) or a saved model's path
(by ``hitl-train``, or any stable-baselines3 ``model.save``); policies are built by the one
loader, :func:`agents.loading.load`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import train  # noqa: F401  (registers the shared-supervisor env, whose models decide takeovers)
from agents.loading import MODEL_ENVS, is_model_spec, load, model_kind, observation_spaces


class EvalError(ValueError):
    """A bad argument, policy or training run: reported in one line, exit code 2."""


# ----------------------------------------------------------------------------- policy specs
_CONTINUATION = re.compile(r"\s*[A-Za-z_]\w*\s*=")


def split_specs(text: str) -> list[str]:
    """Split a ``--policies`` list on the commas outside brackets and quotes.

    A piece that is only ``key=value`` continues the previous spec's parameters, so
    ``random:p=0.2,seed=1,algorithm_only`` is two specs; ``confidence_threshold:scores={...}``
    stays whole.

    Raises:
        EvalError: unbalanced brackets or quotes, or no spec at all.
    """
    pieces, buf, depth, quote = [], [], 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise EvalError(f"unbalanced brackets in policy list {text!r}")
        elif ch == "," and depth == 0:
            pieces.append("".join(buf).strip())
            buf = []
            continue
        buf.append(ch)
    if depth or quote:
        raise EvalError(f"unbalanced brackets or quotes in policy list {text!r}")
    pieces.append("".join(buf).strip())
    specs: list[str] = []
    for piece in filter(None, pieces):
        if specs and ":" in specs[-1] and _CONTINUATION.match(piece) and not is_model_spec(piece):
            specs[-1] = f"{specs[-1]},{piece}"
        else:
            specs.append(piece)
    if not specs:
        raise EvalError("no policy given")
    return specs


@dataclass
class Entry:
    """One policy to evaluate: its label in the reports, the spec that rebuilds it, its kind."""

    label: str
    spec: str
    kind: str = "heuristic"  # or "learned", or "upper_bound" (entry_kind)
    policy: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def entry_kind(spec: str) -> str:
    """``learned`` (a saved model), ``upper_bound`` (reads latent state: ``oracle``) or ``heuristic``."""
    from agents.registry import REFERENCE_POLICIES

    if is_model_spec(spec):
        return "learned"
    return "upper_bound" if spec.partition(":")[0].strip() in REFERENCE_POLICIES else "heuristic"


def env_of_spec(spec: str, cfg: Any = None) -> str | None:
    """The env a spec belongs to (None: either, or unknown).

    A saved model's env is its ``run.json``'s; without one, the env whose observation space the
    model has under ``cfg`` (:func:`agents.loading.model_kind`).
    """
    import agents
    from agents.learned import run_info
    from agents.rllib import checkpoint_kind, is_checkpoint

    if is_checkpoint(spec):  # a team checkpoint makes both kinds of decision: None
        try:
            return checkpoint_kind(spec, observation_spaces(cfg)) if cfg is not None else None
        except (ValueError, ImportError, OSError) as e:
            raise EvalError(f"policy {spec!r}: {e}") from e
    if is_model_spec(spec):
        try:
            env_id = run_info(Path(spec)).get("env_id", "")
        except ValueError:  # no run.json
            return _kind_by_spaces(spec, cfg)
        return next((k for k, ids in MODEL_ENVS.items() if env_id in ids), None)
    name = spec.strip().partition(":")[0].strip()  # a bad parameter list is build_policy's to report
    supervisors = (*agents.SUPERVISOR_POLICIES, *agents.REFERENCE_POLICIES)
    kinds = {k for k, names in (("supervisor", supervisors), ("router", agents.ROUTER_POLICIES)) if name in names}
    return kinds.pop() if len(kinds) == 1 else None


def _kind_by_spaces(spec: str, cfg: Any) -> str | None:
    if cfg is None or not Path(spec).is_file():
        return None  # (a missing file is build_policy's to report)
    try:
        return model_kind(spec, cfg)
    except (ValueError, ImportError, OSError) as e:
        raise EvalError(f"policy {spec!r}: {e}") from e


def infer_env(specs: list[str], given: str | None, cfg: Any = None) -> str:
    """``--env``, or the one env the policies name (supervisor when none does).

    ``cfg`` (the run's config) tells the env of saved models without ``run.json`` by their spaces.
    """
    found = {s: env_of_spec(s, cfg) for s in specs}
    kinds = {k for k in found.values() if k is not None}
    if given is not None:
        wrong = [s for s in specs if found[s] not in (None, given)]
        if wrong:
            raise EvalError(f"policies {', '.join(wrong)} are not for the {given} env")
        return given
    if len(kinds) > 1:
        raise EvalError("the policies mix supervisor and router policies; evaluate them separately")
    return kinds.pop() if kinds else "supervisor"


def build_policy(kind: str, spec: str, cfg: Any, env: Any = None) -> Any:
    """The ``kind`` policy of a spec (:func:`agents.loading.load`).

    An upper bound that reads the simulator's latent state (``oracle``) is bound to ``env``, the
    env it will be evaluated on; the observable policies never see it.
    """
    from agents.oracle import needs_env

    try:
        policy = load(kind, spec, cfg)
        if needs_env(policy):
            if env is None:
                raise ValueError("it reads the simulator's latent state and needs the env it is evaluated on")
            policy.bind(env)
        return policy
    except (ValueError, TypeError, KeyError, ImportError, OSError) as e:
        raise EvalError(f"policy {spec!r}: {e}") from e
