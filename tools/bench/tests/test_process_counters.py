"""The bench's per-process counters, read from /proc for the processes under a root: the CPU
each used and what each wrote to disk, by the name the stack gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mes_bench.stack import process_cpu_and_written, process_cpu_seconds

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="per-process counters come from Linux's /proc"
)

_WRITER = """
import os, sys
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(4 << 20))
    f.flush()
    os.fsync(f.fileno())
print("written", flush=True)
sys.stdin.read()
"""
_SPINNER = """
import sys, time
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("spun", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def children(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """A process that wrote 4 MiB to a file, one that spun 0.3 s of CPU, one that did
    neither; each waits on its stdin until the test ends."""
    started = {
        "writer": [sys.executable, "-c", _WRITER, str(tmp_path / "written.bin")],
        "spinner": [sys.executable, "-c", _SPINNER],
        "idle": [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
    }
    procs = {
        name: subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for name, argv in started.items()
    }
    try:
        for proc in procs.values():
            assert proc.stdout is not None
            proc.stdout.readline()  # done with its work
        yield procs
    finally:
        for proc in procs.values():
            proc.communicate("", timeout=10)


def test_what_each_process_wrote_to_disk_is_told_apart(
    children: dict[str, subprocess.Popen[str]],
) -> None:
    names = {proc.pid: name for name, proc in children.items()}
    _, written = process_cpu_and_written(os.getpid(), names)
    assert written["writer"] >= 4 << 20
    assert written["idle"] < 1 << 20
    assert written["spinner"] < 1 << 20


def test_the_cpu_each_process_used_is_told_apart(
    children: dict[str, subprocess.Popen[str]],
) -> None:
    names = {proc.pid: name for name, proc in children.items()}
    for used in (
        process_cpu_seconds(os.getpid(), names),
        process_cpu_and_written(os.getpid(), names)[0],
    ):
        assert used["spinner"] >= 0.25
        assert used["idle"] < used["spinner"]
