"""The stub server's OpenAI-compatible batch API: ``/v1/files`` and ``/v1/batches``.

A batch answers each line exactly as ``POST /v1/chat/completions`` would answer
that line's body (the same pure function, ``reply``), so a run in batch mode
can be checked against the same run online. What a real provider does slowly
or rarely is configurable, to test the client's side of it:

- ``delay_s``: a batch stays ``in_progress`` this long after it is created
  (``POST /batch-delay?s=N`` changes it for every batch not yet done: a test
  holds a batch in flight, kills its client, then lets the batch finish);
- ``fail_rate`` with ``fail_mode``: that share of lines (chosen from the
  seed and the line's ``custom_id``) come back as a 500 error line, the
  first time the server sees them (``once``: a retry succeeds) or every time
  (``always``: a request that fails for good);
- ``expire``: the first N batches expire: half their lines are answered, the
  rest come back in the error file with ``batch_expired``, as OpenAI does.

``stats["batch"]`` counts uploads, batches created (``created``: the number
a resumed run must not grow), lines answered and failed, and look-ups.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web


def add_batch_routes(
    app: web.Application,
    stats: dict[str, Any],
    reply: Callable[[dict], dict],
    *,
    seed: int = 0,
    delay_s: float = 0.0,
    fail_rate: float = 0.0,
    fail_mode: str = "once",
    expire: int = 0,
) -> None:
    """Serve files and batches on ``app``; ``reply(body)`` is the chat endpoint's answer to ``body``."""
    files: dict[str, bytes] = {}
    batches: dict[str, dict[str, Any]] = {}
    failed_once: set[str] = set()
    stats["batch"] = Counter()
    delay = {"s": delay_s}

    def new_id(prefix: str) -> str:
        return f"{prefix}-{len(files) + len(batches):06d}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:8]}"

    def not_found(what: str) -> web.Response:
        payload = {"error": {"message": f"no such {what}", "type": "invalid_request_error", "code": 404}}
        return web.json_response(payload, status=404)

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        field = form.get("file")
        data = field.file.read() if hasattr(field, "file") else str(field or "").encode()
        file_id = new_id("file")
        files[file_id] = data
        stats["batch"]["uploads"] += 1
        return web.json_response(_file(file_id, data, str(form.get("purpose", "batch"))))

    async def content(request: web.Request) -> web.Response:
        data = files.get(request.match_info["file_id"])
        return not_found("file") if data is None else web.Response(body=data)

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("input_file_id") not in files:
            return not_found("file")
        stats["batch"]["created"] += 1
        batch_id = new_id("batch")
        now = int(time.time())
        batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint"),
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window", "24h"),
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": now,
            "expires_at": now + 86400,
            "completed_at": None,
            "expired_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "_created": time.monotonic(),
            "_expire": stats["batch"]["created"] <= expire,
        }
        return web.json_response(_public(batches[batch_id]))

    def finish(batch: dict[str, Any]) -> None:
        """Answer every line of a batch whose delay is over (or expire it)."""
        if batch["status"] != "in_progress" or time.monotonic() < batch["_created"] + delay["s"]:
            return
        out, err = [], []
        lines = [json.loads(line) for line in files[batch["input_file_id"]].splitlines() if line.strip()]
        for n, line in enumerate(lines):
            custom_id = line["custom_id"]
            if batch["_expire"] and n % 2:
                error = {"code": "batch_expired", "message": "the batch expired before this request ran"}
                err.append({"id": f"req-{n}", "custom_id": custom_id, "response": None, "error": error})
                continue
            if _fails(seed, custom_id, fail_rate) and (fail_mode == "always" or custom_id not in failed_once):
                failed_once.add(custom_id)
                stats["batch"]["lines_failed"] += 1
                body = {"error": {"message": "internal server error", "type": "server_error", "code": 500}}
                response = {"status_code": 500, "request_id": f"req-{n}", "body": body}
                err.append({"id": f"req-{n}", "custom_id": custom_id, "response": response, "error": None})
                continue
            stats["batch"]["lines_answered"] += 1
            response = {"status_code": 200, "request_id": f"req-{n}", "body": reply(line["body"])}
            out.append({"id": f"req-{n}", "custom_id": custom_id, "response": response, "error": None})
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = new_id("file")
                files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id
        now = int(time.time())
        batch["status"] = "expired" if batch["_expire"] else "completed"
        batch["expired_at" if batch["_expire"] else "completed_at"] = now
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

    async def retrieve(request: web.Request) -> web.Response:
        stats["batch"]["retrieves"] += 1
        batch = batches.get(request.match_info["batch_id"])
        if batch is None:
            return not_found("batch")
        finish(batch)
        return web.json_response(_public(batch))

    async def listing(request: web.Request) -> web.Response:
        stats["batch"]["lists"] += 1
        newest = sorted(batches.values(), key=lambda b: b["id"], reverse=True)
        after = request.query.get("after")
        if after in batches:
            newest = [b for b in newest if b["id"] < after]
        limit = int(request.query.get("limit", 20))
        page = [_public(b) for b in newest[:limit]]
        more = len(newest) > limit
        first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
        return web.json_response(
            {"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": more}
        )

    async def cancel(request: web.Request) -> web.Response:
        batch = batches.get(request.match_info["batch_id"])
        if batch is None:
            return not_found("batch")
        if batch["status"] == "in_progress":
            batch.update(status="cancelled", cancelled_at=int(time.time()))
            stats["batch"]["cancelled"] += 1
        return web.json_response(_public(batch))

    async def set_delay(request: web.Request) -> web.Response:
        delay["s"] = float(request.query.get("s", 0))
        return web.json_response(delay)

    app.router.add_post("/batch-delay", set_delay)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/files", upload)
        app.router.add_get(f"{prefix}/files/{{file_id}}/content", content)
        app.router.add_post(f"{prefix}/batches", create)
        app.router.add_get(f"{prefix}/batches", listing)
        app.router.add_get(f"{prefix}/batches/{{batch_id}}", retrieve)
        app.router.add_post(f"{prefix}/batches/{{batch_id}}/cancel", cancel)


def _fails(seed: int, custom_id: str, rate: float) -> bool:
    """Whether a line is one of the ``rate`` share that fail (a function of seed and id only)."""
    if rate <= 0:
        return False
    draw = int(hashlib.sha256(f"{seed}|fail|{custom_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return draw < rate


def _file(file_id: str, data: bytes, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(data),
        "created_at": int(time.time()),
        "filename": "batch.jsonl",
        "purpose": purpose,
        "status": "processed",
    }


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}
