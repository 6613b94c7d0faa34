"""A headless Chromium driven over the Chrome DevTools Protocol, for the report's tests and benchmark.

Debian's ``chromium`` package, started with ``--remote-debugging-port=0``,
picks a free port and writes it to ``DevToolsActivePort`` in its user-data
directory; we read it there, find the page's websocket through ``/json/list``
and talk CDP over aiohttp's websocket client. No browser-automation library
is needed, and the browser really lays out, runs and paints the page.

    async with Browser.start(tmp_path) as page:
        await page.open(Path("report.html"))
        print(await page.evaluate("document.title"), page.errors)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser to drive: ``$CHROMIUM`` if set, else the first of ``BINARIES`` on the PATH."""
    return os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BINARIES)), None)


class BrowserError(RuntimeError):
    """The browser did not start, or a DevTools command failed."""


class Page:
    """One browser tab over CDP: commands, and the console errors and exceptions it reported."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.errors: list[str] = []  # console.error, uncaught exceptions, browser log errors
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._events: dict[str, list[asyncio.Future]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future and not future.done():
                    future.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            self._note(method, params)
            for future in self._events.pop(method, []):
                if not future.done():
                    future.set_result(params)

    def _note(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(
                "exception: " + str(details.get("exception", {}).get("description") or details.get("text"))
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + str(params["entry"].get("text")))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command; return its result.

        Raises:
            BrowserError: the browser answered with an error.
        """
        key = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        await self.ws.send_str(json.dumps({"id": key, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def event(self, method: str) -> asyncio.Future:
        """A future for the next ``method`` event (ask before causing it)."""
        future = asyncio.get_running_loop().create_future()
        self._events.setdefault(method, []).append(future)
        return future

    async def open(self, path: Path, wait_for: str = "document.body.dataset.ready === '1'") -> float:
        """Load a local file and wait until ``wait_for`` holds; return the seconds it took."""
        started = time.perf_counter()
        loaded = self.event("Page.loadEventFired")
        await self.send("Page.navigate", url=Path(path).resolve().as_uri())
        await asyncio.wait_for(loaded, 60)
        await self.wait(wait_for)
        return time.perf_counter() - started

    async def wait(self, condition: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not await self.evaluate(f"Boolean({condition})"):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {condition}")
            await asyncio.sleep(0.02)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    async def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the element ``selector``."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1
            )

    async def screenshot(self) -> bytes:
        import base64

        return base64.b64decode((await self.send("Page.captureScreenshot", format="png"))["data"])


class Browser:
    """``async with Browser.start(tmp) as page``: a headless Chromium and one tab, closed on exit."""

    @staticmethod
    @contextlib.asynccontextmanager
    async def start(tmp: Path, width: int = 1400, height: int = 1000):
        binary = find_chromium()
        if binary is None:
            raise BrowserError(
                f"no Chromium found (tried $CHROMIUM, {', '.join(BINARIES)}); apt-get install chromium"
            )
        profile = Path(tmp) / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # an earlier browser's port, now closed
        args = [
            binary,
            "--headless=new",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--hide-scrollbars",
            "about:blank",
        ]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = await _port(profile / "DevToolsActivePort", proc)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets = await answer.json()
                url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
                async with http.ws_connect(url, max_msg_size=0) as ws:
                    page = Page(ws)
                    for domain in ("Page", "Runtime", "Log"):
                        await page.send(f"{domain}.enable")
                    # the viewport exactly (the window size includes what a window would draw around it)
                    await page.send(
                        "Emulation.setDeviceMetricsOverride",
                        width=width,
                        height=height,
                        deviceScaleFactor=1,
                        mobile=False,
                    )
                    yield page
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _port(path: Path, proc: subprocess.Popen, timeout: float = 30) -> int:
    """The DevTools port Chromium chose, from the file it writes once it listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrowserError(f"Chromium exited with code {proc.returncode} before DevTools listened")
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(path.read_text().splitlines()[0])
        await asyncio.sleep(0.05)
    raise BrowserError(f"Chromium wrote no {path.name} within {timeout:.0f}s")
