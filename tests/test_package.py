"""The package works installed from its wheel (not the checkout): the prompts and the probe
questions ship inside it, and nothing is read from the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

DATA = {"qa/prompts/answer_system.txt", "qa/prompts/answer_user.txt", "qa/prompts/condense.txt",
        "qa/answerers/probes.txt"}  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this tree, installed (without its dependencies, which this
    environment has) into a folder of its own."""
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # built from a copy: building writes build/ beside pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "qa", source / "qa", ignore=shutil.ignore_patterns("__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(out), str(source)], check=True, timeout=300)
    (wheel,) = out.glob("qa-*.whl")
    target = out / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, "--target", str(target), str(wheel)], check=True, timeout=300)
    return target


def test_the_wheel_holds_the_prompts_and_probes(installed: Path) -> None:
    assert all((installed / name).is_file() for name in DATA)
    wheel = next(installed.parent.glob("qa-*.whl"))
    assert set(zipfile.ZipFile(wheel).namelist()) >= DATA


def test_the_installed_package_renders_prompts_and_finds_its_probes_elsewhere(
    installed: Path, tmp_path: Path
) -> None:
    script = (
        "import qa, qa.settings as s; from qa.prompts import render;"
        "from qa.answerers.extractive import probe_questions;"
        "print(qa.__file__); print(s.Settings().prompts_dir);"
        "print(len(render('answer_system', s.Settings().prompts_dir)) > 0, len(probe_questions()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env["PYTHONPATH"] = str(installed)
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    module, prompts, rendered = out.stdout.splitlines()
    assert Path(module).is_relative_to(installed), "the installed copy, not the checkout"
    assert Path(prompts).is_relative_to(installed)
    assert rendered.startswith("True ") and int(rendered.split()[1]) >= 40
