"""The web page in a real headless Chromium (Debian's, driven by Playwright), against `asr serve`
with a token and a slot model: the token prompt, an upload's transcript (characters shaded by
confidence, with their times), the decoding options in the request, downloads equal to the API's,
the booking form, a phone-width screen, the keyboard; and recording from Chromium's fake
microphone (a sample played as the capture device): partial results, then the final transcript."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import srt

from conftest import SAMPLES, start_server

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)")
SAMPLE = sorted(SAMPLES.glob("*.wav"))[0]
BOOKING = SAMPLES / "test-belinda-00054.wav"  # "...从广州到台北": all four slots
TOKEN = "page-token"


@pytest.fixture(scope="module")
def server(tiny_model, slot_model):
    proc, url = start_server(tiny_model["model"], "--token", TOKEN, "--slots", slot_model)
    yield url
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


def open_page(browser, server: str, **kw):
    """The page opened with ?token= (a shared link), which it moves out of the address bar."""
    from playwright.sync_api import expect

    page = browser.new_page(**kw)
    page.goto(f"{server}/?token={TOKEN}")
    expect(page.locator("#app")).to_be_visible()
    assert TOKEN not in page.url and "token" not in page.url
    return page


def upload(page, sample: Path) -> None:
    from playwright.sync_api import expect

    page.set_input_files("#file", str(sample))
    page.click("#upload")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=30_000)


def api(server: str, sample: Path, **params) -> httpx.Response:
    """POST /v1/transcribe as a program would call it."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    files = {"file": (sample.name, sample.read_bytes())}
    response = httpx.post(f"{server}/v1/transcribe", params=params, headers=headers, files=files, timeout=60)
    assert response.status_code == 200, response.text
    return response


def test_token_prompt_then_a_transcript(browser, server, tiny_reads):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{server}/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    page.fill("#token", "not-the-token")
    page.press("#token", "Enter")
    expect(page.locator("#login-message")).to_contain_text("did not accept")
    page.fill("#token", TOKEN)
    page.click("#login-submit")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#result")).to_be_hidden()  # no empty boxes before a result
    expect(page.locator("#booking")).to_be_hidden()
    expect(page.locator("#model")).to_contain_text("bidirectional LSTM")
    with page.expect_request(lambda r: "/v1/transcribe" in r.url) as request:
        upload(page, SAMPLE)
    # the token travels as a header, and the options nobody set are left to the server
    assert request.value.headers["authorization"] == f"Bearer {TOKEN}"
    assert set(parse_qs(urlparse(request.value.url).query)) == {"format", "timestamps"}
    expect(page.locator("#transcript")).to_have_text(tiny_reads[SAMPLE.stem])
    expect(page.locator("#segments tbody tr")).to_have_count(1)
    assert TOKEN not in page.url
    # each character: its times (and how sure the model was) on hover, as the API has them
    chars = api(server, SAMPLE).json()["chars"]
    spans = page.locator("#transcript .c")
    expect(spans).to_have_count(len(chars))
    assert spans.first.get_attribute("title").startswith(f"{chars[0]['start']:.2f}–{chars[0]['end']:.2f} s")
    page.reload()  # the token lasts for the tab: no second prompt
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()
    page.close()


def test_decoding_options_reach_the_request(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server)
    expect(page.locator("#alpha")).to_be_hidden()  # LM weights only with an LM
    page.select_option("#decoder", "beam")
    page.fill("#beam", "4")
    page.fill("#nbest", "3")
    page.fill("#hotwords", "广州")
    page.fill("#hotword-boost", "2")
    with page.expect_request(lambda r: "/v1/transcribe" in r.url) as request:
        upload(page, SAMPLE)
    query = parse_qs(urlparse(request.value.url).query)
    assert {k: query[k] for k in ("decoder", "beam", "nbest", "hotwords", "hotword_boost")} == {
        "decoder": ["beam"],
        "beam": ["4"],
        "nbest": ["3"],
        "hotwords": ["广州"],
        "hotword_boost": ["2"],
    }
    assert "alpha" not in query and "beta" not in query
    nbest = api(server, SAMPLE, decoder="beam", beam=4, nbest=3, hotwords="广州", hotword_boost=2).json()["nbest"]
    if len(nbest) > 1:  # the alternatives, best first, when the beam found more than one
        assert page.locator("#readings li").all_inner_texts() == [h["text"] for h in nbest]
    page.select_option("#decoder", "greedy")  # what greedy decoding cannot use is switched off
    for field in ("#beam", "#nbest", "#hotwords", "#hotword-boost"):
        expect(page.locator(field)).to_be_disabled()
    page.close()


def test_downloads_are_named_after_the_file_and_equal_the_api(browser, server):
    page = open_page(browser, server)
    upload(page, SAMPLE)
    for fmt in ("srt", "vtt", "json"):
        with page.expect_download() as download:
            page.click(f"#{fmt}")
        assert download.value.suggested_filename == f"{SAMPLE.stem}.{fmt}"
        got = download.value.path().read_bytes()
        if fmt == "json":
            assert json.loads(got) == api(server, SAMPLE).json()
        else:  # one renderer for both: the page asks the server for the subtitles
            assert got == api(server, SAMPLE, format=fmt).content
    page.close()


def slot_text(value) -> str:
    """A slot as the API gives it: its text, or an object {"text", "value"} (text heard, value normalized)."""
    return value["text"] if isinstance(value, dict) else value


def test_booking_form_is_labelled_and_filled(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server)
    upload(page, BOOKING)
    filled = api(server, BOOKING).json()["slots"]
    assert filled, "the slot model fills nothing for this sample"
    expect(page.locator("#booking")).to_be_visible()
    labels = page.locator("#form label").all_inner_texts()
    for zh, en in (("出发地", "Origin"), ("目的地", "Destination"), ("日期", "Date"), ("时间", "Time")):
        assert any(zh in label and en in label for label in labels), labels
    for name in ("origin", "destination", "date", "time"):
        field = page.locator(f'#form input[data-slot="{name}"]')
        expect(field).to_have_value(slot_text(filled.get(name, "")))
        expect(field).to_be_editable()
    # a slot as an object (heard text, normalized value): the text in the field, the value beside it
    page.evaluate(
        """async () => (await import('/static/view.js')).fillForm({date: {text: '十一月二号', value: '--11-02'}})"""
    )
    expect(page.locator('#form input[data-slot="date"]')).to_have_value("十一月二号")
    expect(page.locator('#form output[data-norm="date"]')).to_contain_text("--11-02")
    page.close()


def test_phone_width_has_no_sideways_scroll(browser, server):
    page = open_page(browser, server, viewport={"width": 390, "height": 844})
    page.select_option("#decoder", "beam")  # the alternatives list too
    upload(page, BOOKING)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.close()


def test_every_control_is_reachable_by_keyboard(browser, server):
    page = open_page(browser, server)
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')].filter(e => !e.labels.length).map(e => e.id)"
    )
    assert unlabelled == []
    upload(page, BOOKING)
    page.locator("#file").focus()
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("(e => e.id || e.classList[0] || e.tagName)(document.activeElement)"))
    wanted = ["upload", "record", "decoder", "beam", "nbest", "hotwords", "c", "srt", "vtt", "json", "slot-0"]
    assert set(wanted) <= set(reached), reached
    # a visible focus ring, and the arrow keys walk the transcript's characters, their times shown
    page.locator("#transcript .c").first.focus()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("ArrowRight")
    second = page.locator("#transcript .c").nth(1)
    assert second.evaluate("e => e === document.activeElement")
    assert second.get_attribute("title") in page.locator("#char-info").inner_text()
    page.close()


def test_microphone_gives_partials_then_the_final(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server)
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
    transcript = page.locator("#transcript").inner_text()
    assert transcript.strip()  # the final transcript is on the page
    with page.expect_download() as download:
        page.click("#srt")
    assert re.fullmatch(r"recording-\d{8}-\d{6}\.srt", download.value.suggested_filename)
    cues = list(srt.parse(download.value.path().read_text(encoding="utf-8")))
    assert cues and "".join(c.content for c in cues).replace(" ", "") == transcript.replace(" ", "")
    page.close()
