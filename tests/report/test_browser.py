"""The report of a real scripted run in a real headless Chromium (Debian's), driven over CDP.

It loads with no console error or exception, draws the funnel, narrows the
item list by a filter and by search, opens an item's trajectory with its
instruction and both orders' scores, keeps markup in item text as text, and
paints something (the screenshot is not one colour). Without Chromium the
test is skipped, except in CI (``CI=true``), where .ci/run installs it and a
skip would hide a broken report.
"""

import asyncio
import io
import json

from benchmarks.headless import Browser
from tests.report.conftest import HOSTILE


def rows(page):
    return page.evaluate(
        "[...document.querySelectorAll('#item-browser tbody tr[data-id]')].map(tr => tr.dataset.id)"
    )


async def drive(report, tmp):
    async with Browser.start(tmp) as page:
        await page.send(
            "Page.addScriptToEvaluateOnNewDocument", source="window.alert = () => { window.__alerted = 1; };"
        )
        await page.open(report)

        funnel = await page.evaluate(
            "(() => { const e = document.getElementById('funnel-chart'), r = e.getBoundingClientRect();"
            " return {w: r.width, h: r.height, bars: e.querySelectorAll('rect').length,"
            " shown: getComputedStyle(e).visibility === 'visible' && getComputedStyle(e).display !== 'none',"
            " labels: [...e.querySelectorAll('text')].map(t => t.childNodes[0].nodeValue)}; })()"
        )
        assert funnel["shown"] and funnel["w"] > 300 and funnel["h"] > 100 and funnel["bars"] >= 6
        assert {"seeds", "metadata", "basic instructions", "kept"} <= set(funnel["labels"])

        total = await page.evaluate("D.items.length")
        everything = await rows(page)
        assert len(everything) == min(50, total) and total > 40  # the first page
        await page.evaluate(
            "(() => { const s = document.querySelector('#item-browser select[data-filter=outcome]');"
            " s.value = 'kept'; s.dispatchEvent(new Event('change')); })()"
        )
        kept = await rows(page)
        assert 0 < len(kept) < len(everything)
        assert (
            await page.evaluate("document.querySelector('#item-browser .count').textContent")
            == f"{len(kept)} of {total} items"
        )

        await page.click("#item-browser input[type=search]")
        await page.send("Input.insertText", text="alert")
        await page.wait("document.querySelectorAll('#item-browser tbody tr[data-id]').length === 1")
        (hostile,) = await rows(page)
        await page.click(f"#item-browser tbody tr[data-id='{hostile}']")
        detail = await page.evaluate("document.getElementById('item-browser-detail').innerText")
        assert HOSTILE in detail and "kept the strong answer" in detail
        scores = await page.evaluate(
            "[...document.querySelectorAll('#item-browser-detail table.scores tbody tr')]"
            ".map(tr => [...tr.children].map(td => td.textContent))"
        )
        assert scores == [
            ["strong answer first", "8", "2"],
            ["target answer first", "8", "2"],
            ["mean of both orders", "8", "2"],
        ]
        assert await page.evaluate("document.scripts.length") == 2 and not await page.evaluate(
            "window.__alerted"
        )

        shot = await page.screenshot()
        assert page.errors == [], page.errors
        return shot


def test_the_report_works_in_a_real_browser(chromium, scripted_run, tmp_path):
    from PIL import Image

    out, _ = scripted_run
    shot = asyncio.run(asyncio.wait_for(drive(out / "report.html", tmp_path), 60))
    image = Image.open(io.BytesIO(shot)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert image.size[0] >= 1000 and (colours is None or len(colours) > 20)  # None: more than 65,536 colours


def test_a_dropped_item_shows_every_round_and_its_rewrite(chromium, scripted_run, tmp_path):
    out, _ = scripted_run

    async def dropped():
        async with Browser.start(tmp_path) as page:
            await page.open(out / "report.html")
            await page.evaluate(
                "(() => { const s = document.querySelector('#item-browser select[data-filter=reason]');"
                " s.value = 'within_threshold'; s.dispatchEvent(new Event('change')); })()"
            )
            await page.click("#item-browser tbody tr[data-id]")
            text = await page.evaluate("document.getElementById('item-browser-detail').innerText")
            assert page.errors == [], page.errors
            return text

    text = asyncio.run(asyncio.wait_for(dropped(), 60))
    items = [json.loads(line) for line in (out / "rejected.jsonl").open()]
    row = next(r for r in items if r["reason"] == "within_threshold")
    assert "ROUND 1" in text.upper() and "ROUND 2" in text.upper()
    assert f"rewritten by action: {row['actions'][0]}" in text and row["attempts"][1]["instruction"] in text
    assert "sent back to Self-Rubrics" in text and "within_threshold at contrastive_filtering" in text
