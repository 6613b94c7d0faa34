"""scripts/setup.sh on a user's machine: where the CPU torch build comes from.

PyPI serves no ``+cpu`` torch build, so a machine whose pip sees only public
indexes must get the evals lock's ``torch==2.13.0+cpu`` from PyTorch's CPU
index, and a machine with the wheel in its local wheel directory must keep
using that. The set-up's dry run prints the commands a fresh set-up would
run, offline; these tests read them.
"""

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-evals.lock"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"

pytestmark = pytest.mark.skipif(
    (sys.platform, platform.machine(), sys.version_info[:2]) != ("linux", "x86_64", (3, 11)),
    reason="the evals lock's torch is the CPython 3.11 Linux x86_64 wheel",
)


def torch_entry() -> tuple[str, list[str]]:
    """The lock's torch pin and its hashes."""
    text = LOCK.read_text()
    version = re.search(r"^torch==(\S+)", text, re.M).group(1)
    block = text[text.index(f"torch=={version}") :].split("# via")[0]
    return version, re.findall(r"--hash=sha256:([0-9a-f]{64})", block)


def dry_run(tmp_path, *args, wheels: Path, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CODECLM_SETUP_DRY_RUN": "1",
        "CODECLM_WHEELS": str(wheels),
        "PYTHON": python,
        "TMPDIR": str(tmp_path),
    }
    env.pop("CODECLM_TORCH_INDEX", None)
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def pip_commands(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [
        line[2:] for line in done.stdout.splitlines() if line.startswith("+ ") and " pip install " in line
    ]


def test_a_local_torch_wheel_is_installed_from_the_wheel_directory(tmp_path):
    version, _ = torch_entry()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / f"torch-{version}-{TAG}-{TAG}-manylinux_2_28_x86_64.whl").write_bytes(b"")
    commands = pip_commands(dry_run(tmp_path, "evals", wheels=wheels))
    assert not any(TORCH_INDEX in c for c in commands)
    assert commands[-1].endswith(
        f"pip install --quiet --require-hashes --no-deps --find-links {wheels} -r requirements-evals.lock"
    )


@pytest.mark.parametrize("present", [None, "torch-2.1.0+cpu-cp311-cp311-linux_x86_64.whl", "other.whl"])
def test_without_it_torch_alone_comes_from_pytorchs_cpu_index_hash_checked(tmp_path, present):
    version, hashes = torch_entry()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    if present:
        (wheels / present).write_bytes(b"")  # another version is not the locked wheel
    done = dry_run(tmp_path, "evals", wheels=wheels)
    commands = pip_commands(done)
    torch_cmd, lock_cmd = commands[-2:]
    # first torch, and nothing else, from PyTorch's index (--index-url: no other index for it)
    assert f"--require-hashes --no-deps --index-url {TORCH_INDEX} -r " in torch_cmd
    pin_file = torch_cmd.rsplit(" -r ", 1)[1]
    listed = [
        line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith(f"# {pin_file}: ")
    ]
    assert listed[0] == f"torch=={version} \\" and len(listed) == 1 + len(hashes)
    assert re.findall(r"sha256:([0-9a-f]{64})", "\n".join(listed)) == hashes and hashes
    # then the whole lock, hash-checked, from the indexes the lock names; torch is already there
    assert lock_cmd.endswith("pip install --quiet --require-hashes --no-deps -r requirements-evals.lock")
    assert TORCH_INDEX not in lock_cmd and "--find-links" not in lock_cmd
    assert not list(tmp_path.glob("codeclm-torch.*"))  # its temporary requirements file is gone


def test_the_core_set_up_never_asks_for_torch(tmp_path):
    commands = pip_commands(dry_run(tmp_path, wheels=tmp_path))
    assert commands and not any("torch" in c or "requirements-evals.lock" in c for c in commands)
    assert any("--require-hashes --no-deps -r requirements.lock" in c for c in commands)


def test_another_python_is_refused_for_the_evals_lock(tmp_path):
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3.12\n")  # what the version probe asks, answered as 3.12 would
    fake.chmod(0o755)
    done = dry_run(tmp_path, "evals", wheels=tmp_path, python=str(fake))
    assert done.returncode == 2
    assert "compiled for CPython 3.11" in done.stderr and "PYTHON=python3.11" in done.stderr
    assert " pip install " not in done.stdout  # refused before installing anything
