"""hitl-env: a calibrated simulator of human-in-the-loop agentic AI in chat customer service."""

from hitl_env import envs  # noqa: F401  (registers the Gymnasium environments)
from hitl_env.config import Config, ConfigError, load_config, preset_names
from hitl_env.sim.run import simulate

__version__ = "0.1.0"
__all__ = ["Config", "ConfigError", "__version__", "load_config", "preset_names", "simulate"]
