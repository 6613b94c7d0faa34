"""Batch mode: a run advances in rounds of provider batches, resumable across processes and days.

Why rounds: a run is a deterministic replay of its journal (``run_state.py``),
so a call without an answer can simply wait. ``run_in_rounds`` runs the
pipeline pass; a batched role's call that the journal and the request cache
cannot answer waits (``engine/batch_wait.py``), every other item runs on to
its own next waiting call, and the pass ends at the first stage that cannot
go on without them. The waiting requests then go out as batches (per role,
split by the provider's limits: ``engine/batches.py``), recorded in the run's
state before anything is sent (``batch_store.py``). Once they are done, each
answer is journaled under its request key at the batch price, and the pass
runs again: what was answered replays from the journal at no cost, and the
items advance to their next waiting call. When a pass ends without waiting,
the run is done; every item has ended kept, rejected or failed as online.

A process killed while a batch is in flight loses nothing: the next
``codeclm generate`` on the directory polls the same batch (never submits it
again), journals its answers and goes on. A line that fails (a provider
error, or unanswered in an expired or failed batch) goes out again in the
next round, up to ``engine.batch.max_attempts`` batches, after which its
item fails with the line's error; with ``retry_failed: online`` it is sent
online in the next pass instead, with the engine's usual retries.

The budget counts each line when its batch is submitted (the call cap is
exact; tokens and USD are known only when the batch is done, so one round
can pass them by that batch's cost). Replaying costs CPU, not money: pass n
replays the calls of passes 1..n-1 from the journal.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from typing import Any

from codeclm_dspy.engine.batch_wait import AwaitingBatch, BatchHold, WaitingRequest
from codeclm_dspy.engine.batches import DONE, BatchClient, batch_provider, batch_usd, jsonl, split
from codeclm_dspy.engine.retries import as_stop, is_transient, provider_message
from codeclm_dspy.engine.usage import count_missing
from codeclm_dspy.errors import BudgetExhausted, ConfigError, ProviderStopped
from codeclm_dspy.runs.batch_store import BatchStore

RETRIES = 4  # of one batch API call's transient errors (1 + 2 + 4 + 8 s of waiting)


def batch_roles(config) -> dict[str, str]:
    """Role -> batch provider, for the roles whose calls go through batches in this run.

    No role when the run says online (``engine.batch.enabled: false``,
    ``--online``). Otherwise a role's own ``batch: true`` always; ``batch:
    false`` never; unset, when the run asks for batches (``enabled: true``)
    and the role's provider has a batch API.

    Raises:
        ConfigError: a role says ``batch: true`` on a provider without one.
    """
    chosen = {}
    if config.engine.batch.enabled is False:
        return chosen
    for name, role in config.models.roles().items():
        if role.batch:
            chosen[name] = batch_provider(name, role.model)
        elif role.batch is None and config.engine.batch.enabled and not role.deployments:
            try:
                chosen[name] = batch_provider(name, role.model)
            except ConfigError:
                continue  # the run switch batches what can be batched
    return chosen


def run_in_rounds(session, config, run_pass: Callable[[], Any], progress=None) -> Any:
    """``run_pass()`` once online; in batch mode, again after each round of batches until no call waits."""
    roles = batch_roles(config)
    if not roles:
        return run_pass()
    rounds = BatchRounds(session, config, roles, progress)
    try:
        return rounds.run(run_pass)
    finally:
        rounds.close()


class BatchRounds:
    """The round loop of one session of a batch run."""

    def __init__(self, session, config, roles: dict[str, str], progress=None):
        self.session, self.cfg = session, config.engine.batch
        self.engine = session.rt.lms.engine
        self.store = BatchStore(session.state.path)
        # a role's endpoint and key, as the engine holds them (never written anywhere)
        self.clients = {r: BatchClient(self.engine.connection(r), p) for r, p in roles.items()}
        self.roles, self.progress = roles, progress
        self.waited_s = 0.0
        tag = session.state.get_meta("batch_tag") or uuid.uuid4().hex[:12]
        session.state.set_meta("batch_tag", tag)
        self.tag = tag
        if self.engine.budget:  # lines submitted by an earlier session are spent, though not yet journaled
            self.engine.budget.calls += sum(row["requests"] for row in self.store.in_flight())

    def run(self, run_pass: Callable[[], Any]) -> Any:
        self._collect()  # batches an earlier session left in flight
        while True:
            self._arm()
            try:
                result = run_pass()
            except AwaitingBatch:
                waiting = self.engine.batch.take()
            else:
                self._report()
                return result
            finally:
                self.engine.batch = None
            self._submit(waiting, self.store.rounds() + 1)
            self._report()
            self._collect()

    def _call(self, request: Callable, retries: int = RETRIES) -> Any:
        """One batch API call (``request()`` makes its coroutine) on the engine's loop.

        A transient error is retried with doubling waits (a poll may span
        hours of network weather); anything left stops the run cleanly, in one
        line, resumable with every batch in flight kept.
        """
        return self.engine.loop.run(_patiently(request, retries))

    def _arm(self) -> None:
        """A fresh hold for the next pass, knowing which requests failed for good or go online."""
        failed, online = {}, set()
        for key, (attempts, error) in self.store.failures().items():
            if self.cfg.retry_failed == "online":
                online.add(key)
            elif attempts >= self.cfg.max_attempts:
                failed[key] = f"{error} ({attempts} batches)"
        self.engine.batch = BatchHold(set(self.roles), failed=failed, online=online)

    def _submit(self, waiting: list[WaitingRequest], round_: int) -> None:
        """Send the waiting requests as batches: intent recorded, file uploaded, batch created."""
        by_role: dict[str, list[WaitingRequest]] = {}
        for request in waiting:
            by_role.setdefault(request.role, []).append(request)
        for role, requests in sorted(by_role.items()):
            requests = self._reserve(requests)
            for n, chunk in enumerate(split(requests, self.cfg.max_requests, self.cfg.max_bytes)):
                ours = f"{self.tag}-r{round_:03d}-{role}-{n}"
                self.store.intend(ours, round_, role, chunk[0].model, [(r.key, r.step) for r in chunk])
                client = self.clients[role]
                file_id = self._call(partial(client.upload, jsonl(chunk)))
                self.store.uploaded(ours, file_id)
                # never retried here: a create that timed out may have been made (resume finds it)
                batch_id = self._call(partial(client.create, file_id, ours, self.cfg.completion_window), 0)
                self.store.submitted(ours, batch_id)

    def _reserve(self, requests: list[WaitingRequest]) -> list[WaitingRequest]:
        """The requests the budget allows (one call each); raise if it allows none."""
        budget = self.engine.budget
        if budget is None:
            return requests
        allowed = []
        for request in requests:
            try:
                budget.reserve()
            except BudgetExhausted:
                if not allowed:
                    raise
                break
            allowed.append(request)
        return allowed

    def _collect(self) -> None:
        """Wait for every batch in flight to be done; journal its answers."""
        rows = self.store.in_flight()
        if not rows:
            return
        started = time.monotonic()
        pending = []
        for row in rows:
            if row["provider_id"] is None:
                found = self._call(partial(self.clients[row["role"]].find, row["id"]))
                if found is None:  # never created: the replay asks for its requests again
                    self._release(row["requests"])
                    self.store.abandon(row["id"])
                    continue
                self.store.submitted(row["id"], found)
                row = {**dict(row), "provider_id": found}
            pending.append(dict(row))
        waiting = sum(row["requests"] for row in pending)
        label = f"batch round {self.store.rounds()}: {len(pending)} batches, {waiting} requests"
        shown = self.progress.stage(label, len(pending)) if self.progress else nullcontext(lambda: None)
        try:
            with shown as tick:
                while pending:
                    for row in list(pending):
                        batch = self._call(partial(self.clients[row["role"]].status, row["provider_id"]))
                        if batch.status not in DONE:
                            self.store.polled(row["id"], batch.status)
                            continue
                        self._settle(row, batch)
                        pending.remove(row)
                        tick()
                    if pending:
                        time.sleep(self.cfg.poll_s)
        finally:
            self.waited_s += time.monotonic() - started

    def _settle(self, row: dict, batch) -> None:
        """Journal a finished batch's answers (batch price), then record its failed lines."""
        outcome = self._call(partial(self.clients[row["role"]].outcome, batch))
        requests = self.store.requests_of(row["id"])
        seconds = time.time() - (row["submitted"] or row["created"])
        answered, failed, writes = [], {}, []
        for request in requests:
            key = request["key"]
            answer = outcome.answers.get(key)
            if answer is None:
                failed[key] = outcome.errors.get(key) or outcome.errors.get("*") or "no answer in the batch"
                continue
            count_missing(row["model"], [], answer)
            usage = answer["usage"]
            usd = batch_usd(row["model"], usage["prompt_tokens"], usage["completion_tokens"])
            writes.append(
                self.engine.book(key, row["role"], request["step"], row["model"], answer, usd, seconds)
            )
            answered.append(key)
        for done in writes:  # every answer durable before the batch is marked done
            if done is not None:
                done.result()
        self._release(len(failed))
        self.store.finish(row["id"], batch.status, failed, answered)

    def _release(self, calls: int) -> None:
        if self.engine.budget:
            for _ in range(calls):
                self.engine.budget.release()

    def _report(self) -> None:
        report = self.store.report()
        paid = self.session.state.spent()["calls"]
        report.update(
            roles=sorted(self.roles),
            batch_calls=report["lines_answered"],
            online_calls=paid - report["lines_answered"],
            waited_s=round(self.waited_s, 3),
        )
        self.session.manifest["batch"] = report

    def close(self) -> None:
        self.engine.batch = None
        self.store.close()


async def _patiently(request: Callable, retries: int):
    for attempt in range(retries + 1):
        try:
            return await request()
        except Exception as exc:
            if is_transient(exc) and attempt < retries:
                await asyncio.sleep(2**attempt)
                continue
            raise as_stop(exc) or ProviderStopped(
                f"the provider's batch API failed ({provider_message(exc)}); everything so far is saved, "
                "batches in flight included: fix the cause and run the same command again to resume"
            ) from exc
