"""The README's Python examples run as written, and its commands exist."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_example_runs(block: str) -> None:
    exec(compile(block, "README.md", "exec"), {})


def test_every_command_the_readme_shows_is_installed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.scripts]")[1].split("\n[")[0]
    scripts = set(re.findall(r"^([\w-]+) = ", section, flags=re.M))
    shown = set(re.findall(r"^(hitl-[a-z]+)\b", README, flags=re.M)) | set(re.findall(r"&& (hitl-[a-z]+)\b", README))
    assert shown, "the README shows no command"
    for command in shown:
        assert command in scripts, f"README shows {command}, which pyproject.toml does not install"
        assert shutil.which(command), f"{command} is not on PATH"
