"""The web page in a real headless Chromium (Debian's, driven by Playwright): upload a sample and
read the transcript and the booking form a slot model fills; record from Chromium's fake microphone (a sample played as the capture
device) and see partial results, then the final transcript."""

from __future__ import annotations

import shutil

import httpx
import pytest
import srt

from conftest import SAMPLES, start_server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)")
SAMPLE = sorted(SAMPLES.glob("*.wav"))[0]
TOKEN = "page-token"


@pytest.fixture(scope="module")
def page_url(tiny_model, slot_model):
    proc, url = start_server(tiny_model["model"], "--token", TOKEN, "--slots", slot_model)
    yield f"{url}/?token={TOKEN}"
    proc.terminate()
    proc.communicate(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={SAMPLE}",
            ],
        )
        yield b
        b.close()


def test_upload_shows_the_transcript(browser, page_url, tiny_reads):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(page_url)
    expect(page.locator("#model")).to_contain_text("bidirectional lstm")  # /v1/model with the page's token
    page.set_input_files("#file", str(SAMPLE))
    page.click("#upload")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.locator("#transcript")).to_have_text(tiny_reads[SAMPLE.stem])
    expect(page.locator("#segments tbody tr")).to_have_count(1)
    with page.expect_download() as download:
        page.click("#srt")
    api = httpx.post(
        page_url.split("/?")[0] + "/v1/transcribe",
        params={"format": "srt", "token": TOKEN},
        files={"file": (SAMPLE.name, SAMPLE.read_bytes())},
    )
    assert api.status_code == 200 and "".join(c.content for c in srt.parse(api.text)) == tiny_reads[SAMPLE.stem]
    assert download.value.path().read_text(encoding="utf-8") == api.text  # one renderer for both
    # the booking form: a row per slot the slot model fills, each holding the API's value
    filled = httpx.post(
        page_url.split("/?")[0] + "/v1/transcribe",
        params={"token": TOKEN},
        files={"file": (SAMPLE.name, SAMPLE.read_bytes())},
    ).json()["slots"]
    expect(page.locator("#booking")).to_be_visible()
    names = page.locator("#form th").all_inner_texts()
    assert names == ["origin", "destination", "date", "time"]
    for name in names:
        expect(page.locator(f'#form td[data-slot="{name}"]')).to_have_text(filled.get(name, "-"))
    page.close()


def test_microphone_gives_partials_then_the_final(browser, page_url):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(page_url)
    page.click("#record")
    expect(page.locator("#status")).to_have_attribute("data-state", "recording", timeout=30_000)
    # partial results while the audio comes in: wait for one with text (a model reads nothing in
    # the first fraction of a second)
    page.wait_for_function("document.querySelector('#partial').textContent.length > 0", timeout=60_000)
    assert int(page.locator("#status").get_attribute("data-partials")) >= 1
    page.click("#stop")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=30_000)
    assert "error" not in (page.locator("#status").get_attribute("class") or "")
    assert int(page.locator("#status").get_attribute("data-finals")) >= 1
    expect(page.locator("#segments tbody tr").first).to_be_visible()
    assert page.locator("#transcript").inner_text().strip()  # the final transcript is on the page
    with page.expect_download() as download:
        page.click("#srt")
    cues = list(srt.parse(download.value.path().read_text(encoding="utf-8")))
    assert cues and "".join(c.content for c in cues).replace(" ", "") == page.locator(
        "#transcript"
    ).inner_text().replace(" ", "")
    page.close()
