"""Callbacks of a training run: episode statistics, seeded evaluation, progress, the config.

All log through the model's logger, so the scalars land in the run's TensorBoard folder:
``reward/<component>`` and ``kpi/...`` (means over the last training episodes; see
:func:`train.envs.shift_kpis`), ``eval/mean_reward`` with ``eval/reward/...`` and
``eval/kpi/...`` (means over each evaluation's episodes), and the run's config as text
(``config``) and hyperparameters (TensorBoard's HPARAMS tab).
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import HParam

from hitl_env.io import atomic_path


def _record_means(logger: Any, stats: list[Mapping[str, float]], prefix: str = "") -> None:
    """Record the mean of each statistic over the ``stats`` that have it (NaN entries left out; all
    NaN: skipped). Under ``credit="chat"`` only an episode that ends a shift has its KPIs."""
    for key in dict.fromkeys(k for s in stats for k in s):
        values = np.array([s[key] for s in stats if key in s], float)
        values = values[~np.isnan(values)]
        if len(values):
            logger.record(prefix + key, float(values.mean()))


class EpisodeStatsLogger(BaseCallback):
    """Log the mean ``info["episode_stats"]`` of the last ``window`` training episodes.

    Recorded at the end of each rollout (when episodes ended since), dumped with the algorithm's
    own logs, like ``rollout/ep_rew_mean``.
    """

    def __init__(self, window: int = 50) -> None:
        super().__init__()
        self.stats: deque[Mapping[str, float]] = deque(maxlen=window)
        self._fresh = False

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode_stats" in info:
                self.stats.append(info["episode_stats"])
                self._fresh = True
        return True

    def _on_rollout_end(self) -> None:
        if self._fresh:
            _record_means(self.logger, list(self.stats))
            self._fresh = False


class ConfigLogger(BaseCallback):
    """Write the run's config to TensorBoard once, as text and as hyperparameters."""

    def __init__(self, config_yaml: str, hparams: Mapping[str, Any]) -> None:
        super().__init__()
        self.config_yaml, self.hparams = config_yaml, dict(hparams)

    def _on_training_start(self) -> None:
        self.logger.record("config", f"```yaml\n{self.config_yaml}```", exclude=("stdout", "log", "json", "csv"))
        metrics = {"eval/mean_reward": 0.0, "rollout/ep_rew_mean": 0.0}
        self.logger.record("hparams", HParam(self.hparams, metrics), exclude=("stdout", "log", "json", "csv"))

    def _on_step(self) -> bool:
        return True


class ProgressBar(BaseCallback):
    """A tqdm progress bar over the run's env steps (stable-baselines3's own needs ``rich``)."""

    def __init__(self, disable: bool = False) -> None:
        super().__init__()
        self.disable = disable
        self.bar: Any = None  # made when training starts

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        done, steps = self.model.num_timesteps, self.locals["total_timesteps"] - self.model.num_timesteps
        rollout = getattr(self.model, "n_steps", 1) * self.training_env.num_envs  # on-policy: whole rollouts
        total = done + math.ceil(steps / rollout) * rollout
        self.bar = tqdm(total=total, initial=done, unit="step", desc="training", disable=self.disable,
                        dynamic_ncols=True)  # fmt: skip

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.total = max(self.bar.total, self.bar.n)
        self.close()

    def close(self) -> None:
        """Close the bar (also after Ctrl-C, when ``_on_training_end`` does not run, or before it
        was made: a Ctrl-C during the environments' first reset)."""
        if self.bar is not None:
            self.bar.close()


class _SeededEval:
    """Evaluation on the same seeded episodes every time, with episode statistics, and at the end.

    Mixed into stable-baselines3's ``EvalCallback`` (or sb3-contrib's ``MaskableEvalCallback``):
    before each evaluation the eval envs are reseeded with ``eval_seed``, so every evaluation
    (and the choice of the best model) compares policies on common random numbers. The mean
    episode statistics are logged under ``eval/``. At the end of training the final model is
    evaluated too, unless the last evaluation was at the final step. ``resume_from`` (an earlier
    ``evaluations.npz``) restores the history and the best mean reward of a resumed run.
    """

    def __init__(self, *args: Any, eval_seed: int, resume_from: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_seed = eval_seed
        self._stats: list[Mapping[str, float]] = []
        self._last_eval_step = -1
        if resume_from is not None and os.path.isfile(resume_from):
            past = np.load(resume_from)
            self.evaluations_timesteps = [int(t) for t in past["timesteps"]]
            self.evaluations_results = [list(r) for r in past["results"]]
            self.evaluations_length = [list(n) for n in past["ep_lengths"]]
            if len(self.evaluations_results):
                self.best_mean_reward = float(max(np.mean(r) for r in self.evaluations_results))

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.eval_env.seed(self.eval_seed)
            self._stats = []
            self._last_eval_step = self.num_timesteps
        return super()._on_step()

    def _log_success_callback(self, locals_: dict[str, Any], globals_: dict[str, Any]) -> None:
        super()._log_success_callback(locals_, globals_)
        if locals_["done"] and "episode_stats" in locals_["info"]:
            self._stats.append(locals_["info"]["episode_stats"])
            _record_means(self.logger, self._stats, "eval/")  # recorded before the evaluation's dump

    def _on_training_end(self) -> None:
        if self.eval_freq > 0 and self._last_eval_step != self.num_timesteps:
            freq, self.eval_freq = self.eval_freq, 1
            self._on_step()
            self.eval_freq = freq


class SeededEvalCallback(_SeededEval, EvalCallback):
    """``EvalCallback`` with :class:`_SeededEval`'s behaviour."""


def eval_callback(masked: bool, *args: Any, **kwargs: Any) -> EvalCallback:
    """The evaluation callback for a model (sb3-contrib's masked variant for MaskablePPO)."""
    if masked:
        from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

        class SeededMaskableEvalCallback(_SeededEval, MaskableEvalCallback):
            """``MaskableEvalCallback`` with :class:`_SeededEval`'s behaviour."""

        return SeededMaskableEvalCallback(*args, **kwargs)
    return SeededEvalCallback(*args, **kwargs)


class Checkpoints(BaseCallback):
    """Save ``checkpoints/model_<steps>_steps.zip`` every ``freq`` steps, after the update.

    stable-baselines3's ``CheckpointCallback`` saves during a rollout, before that rollout's
    update, so its ``model_4096_steps.zip`` holds the weights of 2048 steps. This one saves when
    the next rollout starts (and when training ends), so a checkpoint's weights, optimizer state
    and counters are those of a run that stopped at its step count. Files are written under a
    temporary name and renamed into place. Off-policy models also save their replay buffer
    (``model_replay_buffer_<steps>_steps.pkl``).
    """

    def __init__(self, freq: int, folder: Path, save_replay_buffer: bool = False) -> None:
        super().__init__()
        self.freq, self.folder, self.save_replay_buffer = int(freq), Path(folder), save_replay_buffer
        self._next = 0

    def _init_callback(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._next = (self.model.num_timesteps // self.freq + 1) * self.freq

    def _on_rollout_start(self) -> None:
        self._save_if_due()

    def _on_training_end(self) -> None:
        self._save_if_due()

    def _on_step(self) -> bool:
        return True

    def _save_if_due(self) -> None:
        steps = self.model.num_timesteps
        if steps < self._next:
            return
        with atomic_path(self.folder / f"model_{steps}_steps.zip") as tmp:
            self.model.save(tmp)
        if self.save_replay_buffer and getattr(self.model, "replay_buffer", None) is not None:
            with atomic_path(self.folder / f"model_replay_buffer_{steps}_steps.pkl") as tmp:
                self.model.save_replay_buffer(tmp)
        self._next = (steps // self.freq + 1) * self.freq


class SaveBest(BaseCallback):
    """``callback_on_new_best`` of the evaluation: save the model as ``path``, atomically."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)

    def _on_step(self) -> bool:
        with atomic_path(self.path) as tmp:
            self.model.save(tmp)
        return True  # False would stop training
