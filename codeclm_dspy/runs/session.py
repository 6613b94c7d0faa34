"""One session of a durable run: set up, written down, and closed on every path.

``generate``, ``eval crr`` and ``compile`` (and every sweep trial through
them) open a run the same way: check the roles before anything is written,
open or resume the run directory, build the role LMs on its journal, write
the base of the manifest; and end it the same way: on success or on any
error (a budget, a dead provider, Ctrl-C, a bug), the manifest gets its
status (``errors.status_of``), the scrubbed error, the usage and the times,
and the directory and the runtime are closed. ``RunSession`` is that, once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.preflight import check_usd_cap
from codeclm_dspy.engine.routing import build_lms, check_role
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.engine.usage import UsageMeter, usage_report
from codeclm_dspy.errors import CodecLMError, status_of
from codeclm_dspy.runs.allocator import keep_thresholds_fixed
from codeclm_dspy.runs.manifest import models_of, package_versions, utc_now
from codeclm_dspy.runs.run_dir import RunDir, saving
from codeclm_dspy.secrets import scrub

logger = logging.getLogger(__name__)


class RunSession:
    """A run directory with its runtime, as a context manager.

    Args:
        config: the validated config (roles, engine, and what goes in the manifest).
        out: the directory: new, or an earlier one of the same kind to resume.
        identity: what the output depends on; a resumed run must match it.
        kind: "run", "crr" or "program" (``out_paths``).
        manifest: fields of this kind of run for the manifest's base.
        lm_config: the config to build the LMs from, when it differs (compile's own budget).
        workers: side threads of the runtime (default: ``engine.workers``).
        keep_trace: keep DSPy's trace on (compiling).
        closing: called when the session ends, whatever the ending (``status``
            holds it by then); returns fields for the final manifest
            (exported row counts, ...).

    Raises:
        CodecLMError: a role that cannot be used or a directory that is not
            ours, before anything is written.
    """

    def __init__(
        self,
        config,
        out: str | Path,
        identity: dict[str, Any],
        *,
        kind: str,
        manifest: dict[str, Any] | None = None,
        lm_config=None,
        workers: int | None = None,
        keep_trace: bool = False,
        closing: Callable[[RunSession], dict[str, Any]] | None = None,
    ):
        for name, role in config.models.roles().items():
            check_role(name, role)  # before the directory exists
        check_usd_cap((lm_config or config).engine.budget.max_usd, (lm_config or config).models.roles())
        keep_thresholds_fixed()  # freed memory goes back to the system (runs/allocator.py)
        self.run_dir = RunDir(out, identity, kind=kind)
        self.meter = UsageMeter()
        try:
            lms = build_lms(lm_config or config, state=self.run_dir.state, meter=self.meter, check=False)
        except BaseException:
            self.run_dir.close()
            raise
        self.rt = Runtime(
            lms, config.engine.parse_retries, workers or config.engine.workers, keep_trace=keep_trace
        )
        self.clock, self.started = time.monotonic(), time.time()
        self.manifest: dict[str, Any] = {
            "status": "running",
            "started_at": self.run_dir.started_at,
            "sessions": self.run_dir.sessions,
            **(manifest or {}),
            "config": config.public_dict(),
            "models": models_of(config),
            "packages": package_versions(),
        }
        self._closing = closing
        self.ended = False
        self.status: str | None = None  # the ending ``end`` is writing ("complete", "stopped", ...)

    @property
    def state(self):
        return self.run_dir.state

    def __enter__(self) -> RunSession:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc is not None and not self.ended:
                self.end(status_of(exc), error=scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            self.close()
        return False  # the error goes on to the caller

    def end(self, status: str, **fields: Any) -> dict[str, Any]:
        """Write the final manifest with ``status`` ("complete", "stopped", ...) and ``fields``.

        A caller that has already reported the usage (a complete run's card)
        passes it as ``usage``: grouping every call of a long run is not
        repeated.

        Whatever ended a session that did not complete, its manifest says so:
        when ``closing`` cannot save what it exports (a full disk), the
        manifest is still written, naming that as ``save_error``, since a
        manifest left from an earlier session would say "complete". A
        ``complete`` is written only once every write of the state landed.

        Raises:
            OutputWriteFailed: the manifest cannot be written (``RunDir.write_manifest``).
            JournalWriteFailed: ``complete``, but a write of the state was lost.
        """
        if status == "complete":
            self.state.flush()
        self.status = status
        try:
            with saving(self.run_dir.path):  # what ``closing`` writes itself (a CRR's verdicts)
                extra = self._closing(self) if self._closing else {}
        except CodecLMError as exc:
            if status == "complete":
                raise
            logger.debug("ending the session as %s, its files were not saved: %s", status, exc)
            extra = {"save_error": scrub(f"{type(exc).__name__}: {exc}")}
        usage = fields.pop("usage", None) or usage_report(self.state.usage_rows())
        manifest = {
            **self.manifest,
            **extra,
            "finished_at": utc_now(),
            "wall_time_s": round(time.monotonic() - self.clock, 3),
            "usage": usage,
            "this_session": self.meter.session(),
            **fields,
            "status": status,
        }
        self.run_dir.write_manifest(manifest)
        self.ended = True
        return manifest

    def close(self) -> None:
        """Close the directory and the runtime (idempotent)."""
        self.run_dir.close()
        self.rt.close()
