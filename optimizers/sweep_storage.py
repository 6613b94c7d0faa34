"""The sweep's storage URL and study name, checked before anything runs.

Optuna opens whatever SQLAlchemy URL it is given and, when the URL's driver
is missing, fails with a bare ``ImportError: Failed to import DB access
module`` that names neither the module nor the URL. Here the URL is read
first: a scheme codeclm sweeps on, a sane host and port, a synchronous driver
that is installed (or the pip package that provides it), and for SQLite a
file path that is ours to write. Messages hide the password.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
import warnings
from pathlib import Path

from codeclm_dspy.errors import ConfigError, first_line
from codeclm_dspy.out_paths import check_file, shown, sqlite_problem
from codeclm_dspy.secrets import scrub


def shown_url(storage: str) -> str:
    """The storage URL without its password, on one line, for messages."""
    import sqlalchemy.engine

    try:
        text = sqlalchemy.engine.make_url(storage).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: mask what looks like user:password@
        text = re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", storage)
    return shown(scrub(text))


def check_study_name(name: str) -> None:
    """A study name is also part of its trials' directory names, so it must be a sane file name.

    Raises:
        ConfigError: empty, padded, too long, or holding a control character or a slash.
    """
    if not name.strip():
        raise ConfigError("--study: the study name is empty")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise ConfigError(f"--study {shown(name)}: a study name cannot hold control characters")
    if name != name.strip() or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(
            f"--study {name!r}: a study name names directories under trials/, so it cannot "
            "hold / or \\, be . or .., or start or end with a space"
        )
    if len(name.encode("utf-8")) > 200:
        raise ConfigError(f"--study: the study name is {len(name.encode('utf-8'))} bytes long; at most 200")


def check_storage(storage: str, *, existing: bool = False) -> None:
    """A storage URL Optuna can open, checked before anything runs.

    The scheme is SQLite, PostgreSQL or MySQL/MariaDB with a synchronous
    driver that is installed; a host, if given, is a host name or address and
    the port is in 1-65535; a SQLite file is a writable path and, if it
    exists, a SQLite database (Optuna's, or empty). Messages hide the password.

    Args:
        existing: the study must already be there (``sweep best``): a SQLite
            file must exist and hold Optuna's tables.

    Raises:
        ConfigError: anything above.
    """
    import sqlalchemy.engine
    import sqlalchemy.exc

    what = f"--storage {shown_url(storage)}"
    if any(unicodedata.category(c) == "Cc" for c in storage):
        raise ConfigError(f"{what}: the URL holds a control character")
    try:
        url = sqlalchemy.engine.make_url(storage)
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        why = "its port is not a number" if isinstance(exc, ValueError) else "not a database URL"
        raise ConfigError(
            f"{what}: {why}; give e.g. sqlite:///runs/sweep/study.db or "
            "postgresql+psycopg2://user@host:5432/db"
        ) from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        hint = " (SQLAlchemy spells it postgresql://)" if backend == "postgres" else ""
        raise ConfigError(
            f"{what}: '{backend}' is not a storage codeclm sweeps on; use sqlite, postgresql or mysql{hint}"
        )
    if backend == "sqlite":
        _check_sqlite_storage(url.database, what, existing)
        return
    if url.host is not None and not _HOST.fullmatch(url.host):
        raise ConfigError(f"{what}: '{shown(url.host)}' is not a host name or address")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ConfigError(f"{what}: port {url.port} is outside 1-65535")
    _check_driver(url, what)


_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+(%[A-Za-z0-9]+)?")
# SQLAlchemy driver name -> (Python module, pip package)
DRIVERS = {
    "psycopg": ("psycopg", "'psycopg[binary]'"),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "pg8000": ("pg8000", "pg8000"),
    "mysqldb": ("MySQLdb", "mysqlclient"),
    "pymysql": ("pymysql", "pymysql"),
    "mysqlconnector": ("mysql.connector", "mysql-connector-python"),
    "mariadbconnector": ("mariadb", "mariadb"),
}


def _check_driver(url, what: str) -> None:
    """The URL's driver is known, synchronous and installed, or the message names the package."""
    import importlib.util

    import sqlalchemy.exc

    backend, driver = url.get_backend_name(), url.get_driver_name()
    try:
        dialect = url.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError:
        raise ConfigError(f"{what}: SQLAlchemy has no '{shown(driver)}' driver for {backend}") from None
    if getattr(dialect, "is_async", False):
        raise ConfigError(
            f"{what}: {driver} is an asyncio driver; Optuna needs a plain one such as "
            f"{'postgresql+psycopg2' if backend == 'postgresql' else 'mysql+pymysql'}"
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module, package = DRIVERS.get(driver, (exc.name or driver, exc.name or driver))
        others = [
            d
            for d, (m, _) in DRIVERS.items()
            if d != driver and _pairs(backend, d) and importlib.util.find_spec(m.split(".")[0]) is not None
        ]
        if others:
            fixed = url.set(drivername=f"{backend}+{others[0]}").render_as_string(hide_password=True)
            hint = f", or use {others[0]}, which is installed: {shown(fixed)}"
        elif backend != "postgresql" and driver != "pymysql":
            hint = f", or write {backend}+pymysql:// and pip install pymysql"
        else:
            hint = ""
        raise ConfigError(
            f"{what}: {url.drivername}:// URLs need the {driver} driver (Python module {module}), "
            f"which is not installed: pip install {package}{hint}"
        ) from None


def _pairs(backend: str, driver: str) -> bool:
    postgres = driver in ("psycopg", "psycopg2", "pg8000")
    return postgres if backend == "postgresql" else not postgres


def _check_sqlite_storage(database: str | None, what: str, existing: bool) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        if database and database.startswith("file:"):
            raise ConfigError(f"{what}: give the SQLite file as a path, sqlite:///path/study.db")
        raise ConfigError(
            f"{what}: an in-memory study is gone when the sweep ends; "
            "give a file: sqlite:///runs/sweep/study.db"
        )
    path = Path(database)
    optuna = frozenset({"studies", "trials"})
    if existing and not path.is_file():
        raise ConfigError(f"{what}: no sweep storage at {shown(path)}")
    check_file(path, what, lambda p: sqlite_problem(p, needs=optuna if existing else frozenset()))


def retry_callback():
    import optuna.storages

    # renamed in Optuna 4.9; the old name still works there but warns
    return (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )


HEARTBEAT_S, GRACE_S = 20, 60


def open_study(storage: str, name: str, *, seed: int | None = None, create: bool = True):
    """The study ``name`` in ``storage`` (created when missing and ``create``).

    Workers started together on an empty database race to create Optuna's
    tables and the study; the loser of that race tries again.

    Raises:
        ConfigError: no such study, or a storage that cannot be opened.
    """
    import optuna
    import sqlalchemy.exc

    # ERROR: Optuna logs every failed trial with its traceback; the trial keeps its reason instead
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # heartbeats and retried_trial_number are marked experimental; they are what resume rests on.
    # A warning is filed under its caller's module: ours (optimizers.*) as much as Optuna's.
    warnings.filterwarnings(
        "ignore", category=optuna.exceptions.ExperimentalWarning, module=r"(optuna|optimizers)(\.|$)"
    )
    for attempt in range(4):
        try:
            rdb = optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=HEARTBEAT_S,
                grace_period=GRACE_S,
                heartbeat_stale_trial_callback=retry_callback()(max_retry=2),
            )
            if not create:
                return optuna.load_study(study_name=name, storage=rdb)
            return optuna.create_study(
                storage=rdb,
                study_name=name,
                directions=["maximize", "minimize"],
                sampler=optuna.samplers.TPESampler(seed=seed),
                load_if_exists=True,
            )
        except KeyError:
            raise ConfigError(f"no study named '{name}' in {shown_url(storage)}") from None
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.DuplicatedStudyError) as exc:
            if attempt == 3 or isinstance(exc, sqlalchemy.exc.ArgumentError):
                raise ConfigError(
                    f"cannot open the study storage {shown_url(storage)}: {scrub(first_line(exc))}"
                ) from None
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")
