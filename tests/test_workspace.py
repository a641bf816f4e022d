"""The workspace as the Makefile and pytest see it: every Python package of the workspace is
installed by ``make deps-latest`` and has its tests collected by ``make test``; nothing that is
not a Python package is handed to pip."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MEMBERS: list[str] = PROJECT["tool"]["uv"]["workspace"]["members"]


def test_every_workspace_member_is_a_python_package() -> None:
    for member in MEMBERS:
        assert (ROOT / member / "pyproject.toml").is_file(), member


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_deps_latest_installs_exactly_the_workspace_packages() -> None:
    # `make -n` prints the commands without running them: the install line names each
    # package it installs editable with `-e`.
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "deps-latest"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    install = next(line for line in dry.splitlines() if " pip install " in line)
    words = shlex.split(install)
    editable = [words[i + 1] for i, word in enumerate(words) if word == "-e"]
    assert sorted(editable) == sorted(MEMBERS)
    for path in editable:
        assert (ROOT / path / "pyproject.toml").is_file(), path


def test_the_suite_collects_every_package_s_tests() -> None:
    testpaths = set(PROJECT["tool"]["pytest"]["ini_options"]["testpaths"])
    with_tests = {member + "/tests" for member in MEMBERS if (ROOT / member / "tests").is_dir()}
    assert with_tests - testpaths == set()
    assert "tests" in testpaths
