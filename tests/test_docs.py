"""The tutorial shows the runnable example's files as they are: what is tested is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
EXAMPLE = ROOT / "examples" / "tutorial"
BLOCK = re.compile(r'```python title="(?P<name>[\w.]+)"\n(?P<code>.*?)```', re.DOTALL)


def tutorial_blocks() -> dict[str, str]:
    return {match["name"]: match["code"] for match in BLOCK.finditer(TUTORIAL.read_text())}


def test_the_tutorial_shows_every_file_of_the_example_but_the_demo_runner() -> None:
    example_files = {path.name for path in EXAMPLE.glob("*.py")} - {"demo.py"}

    assert set(tutorial_blocks()) == example_files


@pytest.mark.parametrize("name", ["event_handlers.py", "celeryconfig.py", "worker.py", "main.py"])
def test_each_tutorial_block_is_the_example_file_to_the_letter(name: str) -> None:
    assert tutorial_blocks()[name] == (EXAMPLE / name).read_text()
