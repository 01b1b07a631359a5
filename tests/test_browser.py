"""The HTML pages in a real browser: Debian's chromium, headless, driven by Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfpc import read_results, run_filter
from hfpc.evaluation.report import evaluate
from hfpc.report import write_report
from hfpc.types import Sample

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (apt install chromium)")
sync_api = pytest.importorskip("playwright.sync_api")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page()
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def results(demo_samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "results.jsonl"
    run_filter(demo_samples, out, workers=2, artifacts_dir=out.parent / "art")
    return out


def test_report_filters_and_images(page, results: Path) -> None:
    html = write_report(results, results.parent / "report.html")
    page.goto(html.as_uri())
    cards = page.locator(".card")
    rows = read_results(results)
    assert cards.count() == len(rows)
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length")
    assert broken == 0 and page.locator("img").count() >= 3 * len(rows) - 2
    page.click("button[data-filter=fail]")
    visible = page.locator(".card:visible").count()
    assert visible == sum(1 for r in rows if r["passed"] is False) > 0
    page.click("button[data-filter=check-consistency]")
    assert page.locator(".card:visible").count() == sum(
        1 for r in rows if r["checks"] and not r["checks"]["consistency"]["passed"])
    page.click("button[data-filter=pass]")
    assert page.locator(".card.fail:visible").count() == 0


def test_report_filters_by_reason(page, results: Path) -> None:
    html = write_report(results, results.parent / "report_reasons.html")
    page.goto(html.as_uri())
    rows = read_results(results)
    found: dict[str, int] = {}
    for r in rows:
        for code in {x["failure"] for x in r.get("reasons") or []}:
            found[code] = found.get(code, 0) + 1
    assert found, "the demo results have failed rows with reasons"
    buttons = page.locator("#reason-filters button")
    assert buttons.count() == len(found)
    for code, n in found.items():
        page.click(f"button[data-filter=reason-{code}]")
        visible = page.locator(".card:visible")
        assert visible.count() == n, code
        # every card shown names that reason in its list
        assert page.locator(f".card:visible .reasons li[data-reason={code}]").count() >= n
        assert page.locator(".card.pass:visible").count() == 0
    main = max(found, key=found.get)
    page.click(f"button[data-filter=reason-{main}]")
    page.screenshot(path=str(results.parent / "report_reason.png"), full_page=False)
    page.click("button[data-filter=all]")
    assert page.locator(".card:visible").count() == len(rows)


def test_evaluation_page_shows_curves_and_galleries(page, results: Path, demo_set: Path) -> None:
    evaluate(results, demo_set, results.parent / "ev", n_boot=20)
    page.goto((results.parent / "ev" / "index.html").as_uri())
    assert "Agreement with reviewers" in page.content()
    loaded = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 300).length")
    assert loaded >= 5  # four ROC/PR curves and the histogram
    assert page.locator("#metrics tr").count() >= 10
    classes = page.locator("#reason-confusion tr").first.locator("th").count() - 1
    assert classes >= 2 and page.locator("#reason-confusion tr").count() == classes + 1
    assert page.locator("#per-reason tr").count() == classes + 1
    page.screenshot(path=str(results.parent / "ev" / "screenshot.png"), full_page=True)


def _broken_images(page) -> list[str]:
    """alt text and src head of every <img> the browser could not decode."""
    return page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.alt + ': ' + i.src.slice(0, 80))")


def test_demo_report_and_evaluation_page_load_every_image(page, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`hfpc demo --out <relative>` then `hfpc evaluate` from another folder: no broken images."""
    from typer.testing import CliRunner

    from hfpc.cli import app

    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["demo", "--out", "demo1", "--n", "16", "-j", "2"])
    assert r.exit_code == 0, r.output
    page.goto((tmp_path / "demo1" / "report.html").as_uri())
    n_img = page.locator("img").count()
    assert n_img >= 2 * 16, f"the demo report shows {n_img} images for 16 samples"
    assert _broken_images(page) == []
    page.screenshot(path=str(tmp_path / "demo_report.png"), full_page=False)

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = runner.invoke(app, ["evaluate", "../demo1/results.jsonl", "--labels", "../demo1/data/manifest.jsonl",
                            "-o", "ev", "--bootstrap", "10"])
    assert r.exit_code == 0, r.output
    ev = tmp_path / "elsewhere" / "ev" / "index.html"
    page.goto(ev.as_uri())
    cards = page.locator(".gallery .card").count()
    assert cards > 0
    assert page.locator(".gallery img").count() == 2 * cards
    assert page.locator("img").count() >= 5 + 2 * cards
    assert _broken_images(page) == []
    page.screenshot(path=str(tmp_path / "evaluation.png"), full_page=True)
