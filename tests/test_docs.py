"""The docs show code that runs: the tutorial's files are the example's, guides' snippets run."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from celery import Celery

from events_celery import CeleryEventEmitter
from events_core import EventLinker

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = ROOT / "docs" / "tutorial.md"
EXAMPLE = ROOT / "examples" / "tutorial"
BLOCK = re.compile(r'```python title="(?P<name>[\w.]+)"\n(?P<code>.*?)```', re.DOTALL)


def tutorial_blocks() -> dict[str, str]:
    return {match["name"]: match["code"] for match in BLOCK.finditer(TUTORIAL.read_text())}


def test_the_tutorial_shows_every_file_of_the_example_but_the_demo_runner() -> None:
    example_files = {path.name for path in EXAMPLE.glob("*.py")} - {"demo.py"}

    assert set(tutorial_blocks()) == example_files


@pytest.mark.parametrize(
    "name", ["event_handlers.py", "celeryconfig.py", "worker.py", "main.py", "telemetry.py"]
)
def test_each_tutorial_block_is_the_example_file_to_the_letter(name: str) -> None:
    assert tutorial_blocks()[name] == (EXAMPLE / name).read_text()


def test_the_add_on_example_of_the_configuration_guide_installs_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guide = (DOCS / "guides" / "configuration.md").read_text()
    section = guide.split("## Writing an add-on", 1)[1]
    source = section.split("```python\n", 1)[1].split("```", 1)[0]
    app = Celery("docs-example", broker="memory://", set_as_current=False)
    app.conf.events_audit_level = "warning"
    app.conf.task_always_eager = True
    namespace: dict[str, object] = {"app": app, "__name__": "docs_example"}

    exec(compile(source, "configuration.md", "exec"), namespace)  # noqa: S102 (the guide's own code)
    Example.on("docs.example")(noted)
    with caplog.at_level(logging.INFO, logger="audit"):
        CeleryEventEmitter(app, linker=Example).emit("docs.example")

    assert [record.levelname for record in caplog.records if record.name == "audit"] == ["WARNING"]


class Example(EventLinker):
    """Handlers of the documentation's examples."""


def noted() -> None:
    """A handler that does nothing."""


MIGRATION = DOCS / "guides" / "migrating-from-pyventus.md"
MIGRATION_EXAMPLE = ROOT / "examples" / "migrating-from-pyventus"


def test_the_migration_guide_shows_the_after_files_of_its_example_to_the_letter() -> None:
    blocks = {match["name"]: match["code"] for match in BLOCK.finditer(MIGRATION.read_text())}
    files = {path.name: path.read_text() for path in MIGRATION_EXAMPLE.glob("*.py")}

    assert set(files) == {"event_handlers.py", "worker.py", "main.py"}
    assert {name: blocks.get(name) for name in files} == files
