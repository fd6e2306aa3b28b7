"""The Space in a real browser: headless Debian Chromium driven by Playwright.

Opens the page, types a dataset id, clicks Rank, waits for the table, checks the first rows against
`fennec_hub.recommend()` and saves a screenshot to artifacts/space.png (git-ignored). The browser may
only talk to 127.0.0.1: every other request is aborted and recorded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

import fennec_hub
from fennec_hub.datasets import resolve_dataset

from test_app import free_port, load_app_module

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (scripts/test.sh does: apt-get install -y chromium)")
    pytest.skip("no chromium on this machine (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.outside_requests = []

    def only_loopback(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            page.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    yield page
    context.close()


def _serve(picker: str):
    app = load_app_module()
    if picker == "hub" and app.dataset_picker_kind("hub") != "hub":
        pytest.skip("gradio_huggingfacehub_search_next is not installed")
    demo = app.build_demo(picker=picker)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, share=False, **app.launch_options())
    return demo, url


def _table_rows(page, n: int) -> list[list[str]]:
    rows = page.locator('#fennec-table [role="row"]')
    out = []
    for i in range(1, n + 1):  # row 0 is the header
        out.append([c.inner_text().strip() for c in rows.nth(i).locator('[role="gridcell"]').all()])
    return out


def _wait_for_first_model(page, model_id: str) -> None:
    page.wait_for_function(
        """(id) => {
            const row = document.querySelectorAll('#fennec-table [role="row"]')[1];
            const cells = row ? row.querySelectorAll('[role="gridcell"]') : [];
            return cells.length > 1 && cells[1].innerText.trim().split(' · ')[0] === id;
        }""",
        arg=model_id,
    )


def _assert_rows_match(page, expected) -> None:
    rows = _table_rows(page, 5)
    for row, exp in zip(rows, expected.head(5).itertuples(index=False)):
        assert row[0] == str(exp.rank)
        # the linked id, then the other upload of the same weights where there is one
        assert row[1] == exp.model_id + (f" · same weights: {exp.same_weights_as}"
                                         if isinstance(exp.same_weights_as, str) else "")
        assert float(row[2]) == pytest.approx(float(exp.score), abs=0.051)
    links = page.locator('#fennec-table [role="row"] a')
    assert links.first.get_attribute("href") == f"https://huggingface.co/{expected.iloc[0].model_id}"


def _wait_for_plot(page, top_ids: list[str]) -> None:
    """Plotly has drawn the figure in the browser, with the top-k trace holding ``top_ids``."""
    page.wait_for_function(
        """(ids) => {
            const gd = document.querySelector('#fennec-plot .js-plotly-plot');
            if (!gd || !gd.data || gd.querySelectorAll('path.point').length < 50) return false;
            const top = gd.data.find(t => t.name.startsWith('your top'));
            return top && JSON.stringify(top.text) === JSON.stringify(ids);
        }""",
        arg=top_ids,
    )


# The most isolated point of the top-k trace (so hovering it cannot pick a neighbour): its centre on
# the page and the model id the figure holds for it.
_ISOLATED_TOP_POINT = """() => {
    const gd = document.querySelector('#fennec-plot .js-plotly-plot');
    const layers = gd.querySelectorAll('g.trace.scatter');
    const points = [];
    gd.data.forEach((trace, t) => layers[t].querySelectorAll('path.point').forEach((el, j) => {
        const r = el.getBoundingClientRect();
        points.push({x: r.x + r.width / 2, y: r.y + r.height / 2, id: trace.text[j],
                     top: trace.name.startsWith('your top')});
    }));
    let best = null, bestGap = -1;
    for (const p of points.filter(p => p.top)) {
        const gap = Math.min(...points.filter(q => q.id !== p.id).map(q => Math.hypot(q.x - p.x, q.y - p.y)));
        if (gap > bestGap) { best = p; bestGap = gap; }
    }
    return best;
}"""


def _assert_hover_names_the_model(page) -> str:
    page.locator("#fennec-plot").scroll_into_view_if_needed()
    point = page.evaluate(_ISOLATED_TOP_POINT)
    page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.mouse.move(point["x"], point["y"], steps=5)
    page.wait_for_function(
        "(id) => [...document.querySelectorAll('#fennec-plot .hoverlayer .hovertext')]"
        ".some(el => el.textContent.includes(id))", arg=point["id"])
    hover = page.locator("#fennec-plot .hoverlayer .hovertext").first.text_content()
    assert "parameters" in hover and "score" in hover
    return point["id"]


@pytest.mark.parametrize("picker", ["dropdown", "hub"])
def test_rank_in_the_browser(page, picker):
    demo, url = _serve(picker)
    try:
        page.goto(url, wait_until="domcontentloaded")
        # The page opens with a ranked example; then rank another dataset typed by hand.
        first = fennec_hub.recommend(load_app_module().DEFAULT_DATASET, top_k=10)
        _wait_for_first_model(page, first.iloc[0].model_id)
        assert page.get_by_role("heading", name="fennec_hub").first.is_visible()

        dataset = "food101"
        expected = fennec_hub.recommend(dataset, top_k=10)
        if expected.iloc[0].model_id == first.iloc[0].model_id:
            dataset, expected = "eurosat", fennec_hub.recommend("eurosat", top_k=10)
        box = page.locator("#fennec-dataset input, #fennec-dataset textarea").first
        box.click()
        box.fill(dataset)
        box.blur()  # commits a typed value and closes any suggestion list
        page.get_by_role("button", name="Rank", exact=True).click()
        _wait_for_first_model(page, expected.iloc[0].model_id)
        page.wait_for_function("(name) => document.querySelector('#fennec-message').innerText.includes(name)",
                               arg=resolve_dataset(dataset).name)
        _assert_rows_match(page, expected)
        # The plot is drawn in the browser from the ranking: every sized checkpoint, top-k marked.
        everything = fennec_hub.recommend(dataset, top_k=None)
        sized = everything[everything["params"].notna() & everything["params"].gt(0)]
        _wait_for_plot(page, [m for m in sized["model_id"] if m in set(expected["model_id"])])
        hovered = _assert_hover_names_the_model(page)
        assert hovered in set(expected["model_id"])
        # The CSV is written when the button is clicked, and the browser saves it.
        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV").click()
        assert download.value.suggested_filename.endswith(".csv")
        saved = pd.read_csv(download.value.path())
        assert saved["model_id"].tolist() == expected["model_id"].tolist()

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / ("space.png" if picker == "dropdown" else f"space-{picker}-search.png")
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000

        if picker == "dropdown":
            # One click on an example ranks it.
            example = fennec_hub.recommend("dtd", top_k=10)
            page.get_by_role("button", name="dtd", exact=True).click()
            _wait_for_first_model(page, example.iloc[0].model_id)
            _assert_rows_match(page, example)
            # An unknown dataset gets a message with suggestions, not an error.
            box.click()
            box.fill("cifar1000")
            box.blur()
            page.get_by_role("button", name="Rank", exact=True).click()
            page.wait_for_function(
                "() => document.querySelector('#fennec-message').innerText.includes('cifar1000')")
            assert "Did you mean" in page.locator("#fennec-message").inner_text()
            assert page.outside_requests == []  # the page itself is fully offline
        else:
            # The Hub search box asks huggingface.co for suggestions; nothing else leaves the machine.
            assert all(urlparse(u).hostname == "huggingface.co" for u in page.outside_requests)
    finally:
        demo.close()
