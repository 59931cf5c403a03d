"""Build the three distributions, check them with twine, and run the README example from them.

A fresh virtual environment gets the built wheels (not editable installs), the README's code
blocks become files in an empty folder, a real `celery worker` runs from there against Redis on
127.0.0.1:6379, and `main.py` emits: the handler's output and the task's success must reach the
worker's log.

Run: `python .ci/check_wheels.py` (what `.ci/run` does). Exit status 0 when all of it passed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("events-core", "events-celery", "events-contrib")
EXPECTED = ("receipt sent for order", "succeeded in")
BLOCK = re.compile(r"```python\n# (?P<name>\w+\.py)[^\n]*\n(?P<code>.*?)```", re.DOTALL)


def run(*command: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(part) for part in command], cwd=cwd, check=True)


def make_venv(folder: Path) -> Path:
    venv.create(folder, with_pip=True)
    return folder / ("Scripts" if os.name == "nt" else "bin") / "python"


def build(tools: Path, dist: Path) -> list[Path]:
    run(tools, "-m", "pip", "install", "-q", "build>=1.2", "twine>=5")
    for package in PACKAGES:
        run(tools, "-m", "build", "-q", "--outdir", dist, ROOT / "packages" / package)
    built = sorted(dist.iterdir())
    run(tools, "-m", "twine", "check", "--strict", *built)
    return built


def wheel(built: list[Path], package: str) -> Path:
    prefix = package.replace("-", "_") + "-"
    [found] = [path for path in built if path.name.startswith(prefix) and path.suffix == ".whl"]
    return found


def write_example(folder: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = {match["name"]: match["code"] for match in BLOCK.finditer(readme)}
    missing = {"event_handlers.py", "worker.py", "main.py"} - set(blocks)
    if missing:
        raise SystemExit(f"README.md has no code block for {', '.join(sorted(missing))}")
    for name, code in blocks.items():
        (folder / name).write_text(code)


def run_example(python: Path, folder: Path) -> None:
    log_path = folder / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [python, "-m", "celery", "-A", "worker", "worker", "-l", "INFO", "-Q", "events"],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        run(python, "main.py", cwd=folder)
        while not all(line in log_path.read_text(errors="replace") for line in EXPECTED):
            if time.monotonic() > deadline:
                raise SystemExit(f"the handler did not run:\n{log_path.read_text()}")
            time.sleep(0.2)
        print("README example ran from the built wheels: the handler ran on the worker")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=20)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="events-wheels-") as scratch:
        scratch_path = Path(scratch)
        tools = make_venv(scratch_path / "tools")
        built = build(tools, scratch_path / "dist")
        python = make_venv(scratch_path / "fresh")
        run(
            python, "-m", "pip", "install", "-q",
            wheel(built, "events-core"),
            f"{wheel(built, 'events-celery')}[redis]",
            wheel(built, "events-contrib"),
        )  # fmt: skip
        example = scratch_path / "example"
        example.mkdir()
        write_example(example)
        run_example(python, example)


if __name__ == "__main__":
    sys.exit(main())
