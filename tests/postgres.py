"""A throwaway PostgreSQL server on 127.0.0.1 for the sweep storage tests.

It needs Debian's postgresql package (``.ci/run`` installs it). PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` user
the package creates, in a temporary directory that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def available() -> bool:
    return bool(_bin("initdb") and _bin("pg_ctl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server() -> Iterator[str]:
    """Start a server; yield its SQLAlchemy URL; stop it and remove its files."""
    root = tempfile.mkdtemp(prefix="codeclm-pg-")
    as_user: list[str] = []
    user = "postgres"
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    else:
        import getpass

        user = getpass.getuser()
    data, port = os.path.join(root, "data"), _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    try:
        run(_bin("initdb"), "-D", data, "-U", user, "--auth=trust", "--no-sync")
        run(
            _bin("pg_ctl"),
            "-D",
            data,
            "-w",
            "-l",
            os.path.join(root, "log"),
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", data, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
