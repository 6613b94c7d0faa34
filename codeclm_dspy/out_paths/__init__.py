"""Where codeclm writes: one ownership rule for every output directory and file.

Every directory codeclm writes (a run, a CRR evaluation, a compiled program,
a benchmark split, a comparison, a sweep, the request cache) gets a small
marker, ``.codeclm``, naming its kind. An existing directory is written into
only when it is empty, or when it carries the marker of the same kind and
holds nothing but names that kind writes, so a folder of the user's is never
touched, whatever it holds; a symbolic link is judged by the directory it
points to. Directories written before markers existed are accepted when
their own database shows it (a run's state.sqlite with its tables and
identity, a sweep's Optuna tables, the cache's answers table) and hold only
our names; they get their marker then.

The checks here run before any work starts (the CLI calls ``check_dir`` and
``check_file`` first) and again when a directory is claimed, and each
problem is one ``RunDirError`` naming the path and what is wrong: a NUL or
control character, a name or path too long, a file where a directory should
be (or under one), no write permission, a database that is not ours.

The package splits the rule into ``kinds`` (what each kind of directory
writes), ``rule`` (whether an existing directory is ours, and of which kind),
``paths`` (whether a path can be written at all), ``atomic`` (a file
replaced whole or not at all) and ``checks`` (what callers call). Import from here.
"""

from __future__ import annotations

from codeclm_dspy.out_paths.atomic import WITH_ROOM, atomic_write, no_room
from codeclm_dspy.out_paths.checks import check_dir, check_file, claim_dir, replace_file
from codeclm_dspy.out_paths.kinds import (
    CRR,
    KINDS,
    MARKER,
    RUN,
    RUN_TABLES,
    SQLITE_HEADER,
    STATE,
    Kind,
    kind_of_identity,
)
from codeclm_dspy.out_paths.paths import ROOM, shown
from codeclm_dspy.out_paths.rule import sqlite_problem

__all__ = [
    "CRR",
    "KINDS",
    "MARKER",
    "ROOM",
    "RUN",
    "RUN_TABLES",
    "SQLITE_HEADER",
    "STATE",
    "WITH_ROOM",
    "Kind",
    "atomic_write",
    "check_dir",
    "check_file",
    "claim_dir",
    "kind_of_identity",
    "no_room",
    "replace_file",
    "shown",
    "sqlite_problem",
]
