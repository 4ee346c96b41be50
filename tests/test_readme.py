"""The README's examples are the code's output, never typed by hand.

Every ```console block is run (each ``$ command`` in bash, from the project root, offline, with
a fresh data folder) and its stdout compared with the lines under it; the ```pycon block is
run as a doctest. ``python -m tests.test_readme --update`` rewrites both from a fresh run.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

README = ROOT / "README.md"
CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
PYCON = re.compile(r"```pycon\n(.*?)```", re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def commands(block: str) -> list[tuple[str, str]]:
    """(command, expected stdout) for each ``$ `` line of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return [(cmd, "\n".join(lines).strip("\n")) for cmd, lines in out]


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env["XDG_DATA_HOME"] = str(data)
    return env


def run_command(command: str, data: Path) -> str:
    """``command`` run as a user would in a fresh shell at the project root: its stdout."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}\n{done.stderr}"
    return done.stdout.strip("\n")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme-data")


@pytest.mark.slow
def test_console_examples_print_what_the_readme_shows(data_dir: Path) -> None:
    blocks = CONSOLE.findall(README.read_text(encoding="utf-8"))
    assert blocks, "the README shows at least one command with its output"
    for block in blocks:
        for command, expected in commands(block):
            assert run_command(command, data_dir) == expected, command


@pytest.mark.slow
def test_python_examples_run_as_doctests(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("XDG_DATA_HOME", str(data_dir))
    blocks = PYCON.findall(README.read_text(encoding="utf-8"))
    assert blocks
    for n, block in enumerate(blocks):
        test = doctest.DocTestParser().get_doctest(block, {}, f"README[{n}]", str(README), 0)
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        report = io.StringIO()
        runner.run(test, out=report.write)
        assert runner.failures == 0, report.getvalue()


def _replay_pycon(block: str, globs: dict[str, object]) -> str:
    """The block with each example's output replaced by what it prints now."""
    out: list[str] = []
    for example in doctest.DocTestParser().get_examples(block):
        lines = example.source.rstrip("\n").splitlines()
        out += [f">>> {lines[0]}", *(f"... {line}" for line in lines[1:])]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(example.source, "<README>", "single"), globs)
        out += printed.getvalue().rstrip("\n").splitlines()
    return "\n".join(out) + "\n"


def update() -> None:
    """Rewrite the README's console outputs and pycon outputs from a fresh run."""
    text = README.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)

        def console(match: re.Match[str]) -> str:
            body = []
            for command, _ in commands(match.group(1)):
                body += [f"$ {command}", run_command(command, data)]
            return "```console\n" + "\n".join(body) + "\n```"

        text = CONSOLE.sub(console, text)
        os.environ["XDG_DATA_HOME"] = str(data)
        for key in [k for k in os.environ if k.startswith(("QA_", "OPENAI_"))]:
            del os.environ[key]
        os.chdir(ROOT)
        text = PYCON.sub(lambda m: "```pycon\n" + _replay_pycon(m.group(1), {}) + "```", text)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python -m tests.test_readme --update")
    update()
