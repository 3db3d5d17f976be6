"""`asr serve` against a real uvicorn process on loopback: every endpoint, every bad input,
a concurrent burst, a client that disconnects mid-stream; and the streaming segmenter alone."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import httpx
import numpy as np
import pytest
import soundfile as sf
import srt
import websockets

from asr.audio import load_audio
from asr.errors import AudioError
from asr.forked import CAN_FORK, Forked
from asr.recognizer import Recognizer
from asr.serve.errors import ApiError, Busy
from asr.serve.options import for_format
from asr.serve.pool import Batcher, Pool
from asr.serve.stream import Stream, StreamConfig
from asr.transcript import Transcript
from conftest import SAMPLES, run_asr, start_server

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = sorted(SAMPLES.glob("*.wav"))[0]


@pytest.fixture(scope="module")
def server(tiny_model):
    proc, url = start_server(
        tiny_model["model"],
        *("--token", TOKEN, "--workers", "1", "--queue", "2", "--max-upload-mb", "1", "--max-seconds", "30"),
        *("--idle-timeout", "1"),
    )
    yield url
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err  # every bad input below was answered, none crashed a handler


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as c:
        yield c


def wav_bytes(wave: np.ndarray, rate: int = 16000, fmt: str = "WAV", channels: int = 1) -> bytes:
    buf = io.BytesIO()
    data = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave
    sf.write(buf, data, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def test_health_and_model(server, client):
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"  # no token needed to probe
    info = client.get("/v1/model").json()
    assert info["sample_rate"] == 16000 and info["units"] > 3 and info["model"]["cell"] == "lstm"
    assert info["limits"]["max_seconds"] == 30


def test_token_is_required_on_the_api(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx.get(f"{server}/v1/model", headers=headers)
        assert r.status_code == 401 and "token" in r.json()["error"]
    assert httpx.get(f"{server}/v1/model", params={"token": TOKEN}).status_code == 200


def test_transcribe_multipart_and_raw_body(client, tiny_reads):
    data = SAMPLE.read_bytes()
    r = client.post("/v1/transcribe", files={"file": (SAMPLE.name, data, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == tiny_reads[SAMPLE.stem] and body["path"] == SAMPLE.name
    assert body["duration"] == pytest.approx(len(load_audio(SAMPLE)) / 16000, abs=1e-3)
    raw = client.post("/v1/transcribe", content=data, headers={"Content-Type": "audio/wav"})
    assert raw.json()["text"] == body["text"]
    text = client.post("/v1/transcribe", params={"format": "text"}, content=data, headers={"Content-Type": "audio/wav"})
    assert text.text == body["text"] + "\n"


def test_transcribe_formats_timestamps_and_decoders(client, tiny_reads):
    post = lambda **p: client.post("/v1/transcribe", params=p, files={"file": (SAMPLE.name, SAMPLE.read_bytes())})
    timed = post(timestamps="true").json()
    assert [c["char"] for c in timed["chars"]] == [c for c in tiny_reads[SAMPLE.stem] if c != " "]
    assert all(0 <= c["start"] < c["end"] <= timed["duration"] + 0.05 for c in timed["chars"])
    cues = list(srt.parse(post(format="srt").text))
    assert "".join(c.content for c in cues) == tiny_reads[SAMPLE.stem]
    assert post(format="vtt").text.startswith("WEBVTT")
    beam = post(decoder="beam", beam="4").json()
    assert beam["nbest"] and beam["nbest"][0]["text"] == beam["text"]
    hot = post(hotwords="好棒\n北京").json()
    assert "nbest" in hot  # hotwords switch to the beam, as on the command line


def test_transcribe_json_is_what_the_cli_prints_and_takes_its_options(client, tiny_model, tiny_reads):
    post = lambda **p: client.post("/v1/transcribe", params=p, files={"file": (SAMPLE.name, SAMPLE.read_bytes())})
    cli = json.loads(run_asr("transcribe", "-m", tiny_model["model"], "-f", "json", SAMPLE).stdout)
    served = post().json()
    assert {k: v for k, v in served.items() if k != "path"} == {k: v for k, v in cli.items() if k != "path"}
    assert served["chars"] and 0 < served["confidence"] <= 1  # times and confidence by default
    assert "chars" not in post(timestamps="false").json()
    beam = post(decoder="beam", beam="8", nbest="2").json()
    assert 1 <= len(beam["nbest"]) <= 2 and beam["nbest"][0]["text"] == beam["text"]
    assert len(post(decoder="beam", beam="8", nbest="1").json()["nbest"]) == 1
    boosted = post(hotwords="好棒", hotword_boost="0")
    assert boosted.status_code == 200 and "warning" not in boosted.json()
    unknown = post(hotwords="好棒\n東京")  # 東 and 京 are no units of the model
    assert "東京" in unknown.json()["warning"] and "東 京" in unquote(unknown.headers["X-ASR-Warning"])
    tsv = post(format="tsv").text.splitlines()
    assert tsv[0] == "path\tstart\tend\ttext" and tsv[1].split("\t")[3] == tiny_reads[SAMPLE.stem]
    for params, words in (
        ({"nbest": "0"}, "nbest"),
        ({"hotword_boost": "-1", "hotwords": "好棒"}, "hotword_boost"),
        ({"nbest": "3", "format": "srt"}, "written by format=json only"),  # the command line's rule
    ):
        r = post(**params)
        assert r.status_code == 400 and words in r.json()["error"]


def test_subtitles_of_a_result_are_the_apis_subtitles(client):
    post = lambda **p: client.post("/v1/transcribe", params=p, files={"file": (SAMPLE.name, SAMPLE.read_bytes())})
    timed = post().json()
    for fmt in ("srt", "vtt"):
        rendered = client.post(
            "/v1/subtitles", params={"format": fmt}, json={"chars": timed["chars"], "duration": timed["duration"]}
        )
        assert rendered.status_code == 200 and rendered.text == post(format=fmt).text
    bad = client.post("/v1/subtitles", json={"chars": "nope"})
    assert bad.status_code == 400 and "chars" in bad.json()["error"]
    chars = {"chars": timed["chars"], "duration": timed["duration"]}
    unknown = client.post("/v1/subtitles", params={"format": "srt", "max_line_chars": 2}, json=chars)
    assert unknown.status_code == 400 and "unknown parameter(s) max_line_chars" in unknown.json()["error"]
    cut = client.post("/v1/subtitles", content=b'{"chars": [', headers={"Content-Type": "application/json"})
    assert cut.status_code == 400 and cut.json()["error"].startswith("the body is not JSON (")


@pytest.mark.parametrize(
    "chars, duration, words",
    [
        ([{"char": "好", "start": 5.0, "end": 1.0}], None, "before it starts"),
        ([{"char": "好", "start": 1.0, "end": 1.2}, {"char": "棒", "start": 0.5, "end": 0.7}], None, "before the one"),
        ([{"char": "好", "start": 1.0, "end": 3.0}], 2.0, "after the duration"),
        ([{"char": "", "start": 1.0, "end": 3.0}], None, "char"),
        ([{"char": "好", "start": -1.0, "end": 3.0}], None, "start"),
    ],
)
def test_subtitles_refuse_times_that_cannot_be(client, chars, duration, words):
    r = client.post("/v1/subtitles", json={"chars": chars, "duration": duration})
    assert r.status_code == 400 and words in r.json()["error"], r.text
    assert "\n" not in r.json()["error"]


@pytest.mark.parametrize(
    "params, words",
    [
        ({"alpha": "0.5"}, "there is none"),
        ({"beta": "1"}, "there is none"),
        ({"alpha": "11"}, "alpha"),
        ({"alpha": "nan"}, "alpha"),
        ({"decoder": "greedy", "beam": "4"}, "only the beam search"),
    ],
)
def test_lm_weights_and_contradictions_are_a_400(client, params, words):
    r = client.post("/v1/transcribe", params=params, content=SAMPLE.read_bytes(), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 400 and words in r.json()["error"], r.text


def test_serve_takes_the_lm_weights(tiny_model, tmp_path):
    arpa = tmp_path / "chars.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    proc, url = start_server(tiny_model["model"], "--lm", arpa, "--alpha", "0.3", "--beta", "0.7")
    try:
        decode = httpx.get(f"{url}/v1/model").json()["decode"]
        assert decode == {
            "decoder": "beam",
            "beam": 10,
            "lm": True,
            "alpha": 0.3,
            "beta": 0.7,
            "hotwords": False,
            "hotword_boost": 1.5,
        }
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_any_format_libsndfile_reads(client, tiny_model, tmp_path):
    wave, _ = sf.read(SAMPLE, dtype="float32")
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([wave, wave], axis=1), 16000, format="FLAC")
    expected = Recognizer(tiny_model["model"]).transcribe(path).text
    r = client.post("/v1/transcribe", files={"file": ("stereo.flac", path.read_bytes())})
    assert r.status_code == 200 and r.json()["text"] == expected


@pytest.mark.parametrize(
    "case, status, words",
    [
        ("empty", 400, "empty body"),
        ("not audio", 400, "not a readable audio file"),
        ("truncated", 400, "truncated"),
        ("content type", 415, "unsupported content type"),
        ("no file field", 400, "`file` field"),
        ("oversize", 413, "exceeds the limit"),
        ("too long", 413, "exceeds the limit of 30 s"),
        ("absurd rate", 400, "sample rate outside 4000-768000 Hz (1 Hz)"),
        ("no samples", 400, "contains no audio samples"),
        ("bad beam", 400, "beam"),
        ("bad format", 400, "format"),
        ("unknown option", 400, "unknown parameter"),
    ],
)
def test_bad_input_is_a_4xx_with_one_message_and_the_server_goes_on(client, case, status, words, tiny_reads):
    wav = SAMPLE.read_bytes()
    audio = {"Content-Type": "audio/wav"}
    requests = {
        "empty": dict(content=b"", headers=audio),
        "not audio": dict(files={"file": ("notes.txt", b"just some text, not audio at all")}),
        "truncated": dict(files={"file": ("cut.wav", wav[: len(wav) // 3])}),
        "content type": dict(content=b'{"audio": "x"}', headers={"Content-Type": "application/json"}),
        "no file field": dict(files={"audio": ("x.wav", wav)}),
        "oversize": dict(content=b"\0" * (1024 * 1024 + 10), headers=audio),
        "too long": dict(content=wav_bytes(np.zeros(31 * 8000, np.float32), rate=8000), headers=audio),
        "absurd rate": dict(content=wav_bytes(np.zeros(100, np.float32), rate=1), headers=audio),
        "no samples": dict(content=wav_bytes(np.zeros(0, np.float32)), headers=audio),
        "bad beam": dict(params={"beam": "wide"}, content=wav, headers=audio),
        "bad format": dict(params={"format": "docx"}, content=wav, headers=audio),
        "unknown option": dict(params={"path": "/etc/passwd"}, content=wav, headers=audio),
    }
    r = client.post("/v1/transcribe", **requests[case])
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert words in error and "\n" not in error and "Traceback" not in error
    ok = client.post("/v1/transcribe", content=wav, headers=audio)
    assert ok.status_code == 200 and ok.json()["text"] == tiny_reads[SAMPLE.stem]


def test_concurrent_burst_gets_results_or_503(server, tiny_reads):
    async def burst():
        async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=120) as c:
            files = lambda: {"file": (SAMPLE.name, SAMPLE.read_bytes())}
            return await asyncio.gather(*[c.post("/v1/transcribe", files=files()) for _ in range(12)])

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} <= {200, 503}
    done = [r for r in responses if r.status_code == 200]
    assert done and all(r.json()["text"] == tiny_reads[SAMPLE.stem] for r in done)
    assert all(r.headers["Retry-After"] and "busy" in r.json()["error"] for r in responses if r.status_code == 503)


def test_a_full_pool_refuses_instead_of_queueing():
    async def scenario():
        pool, release = Pool(workers=1, queue=0), threading.Event()
        first = asyncio.ensure_future(pool.run(release.wait))
        while pool.in_flight == 0:  # the first job holds the only slot
            await asyncio.sleep(0)
        with pytest.raises(Busy):
            await pool.run(lambda: None)
        waited = asyncio.ensure_future(pool.run(lambda: "final", wait=True))  # a stream's final still gets in
        release.set()
        return await first, await waited

    assert asyncio.run(scenario()) == (True, "final")


class CountingRecognizer:
    """decode_waves of a recognizer that reads each wave's first sample as its text, and records
    the batches it is given (sizes) and how many run at once."""

    def __init__(self, fail_on: float | None = None) -> None:
        self.batches: list[int] = []
        self.running = self.most = 0
        self.lock, self.fail_on = threading.Lock(), fail_on

    def decode_waves(self, waves, times=False, warp=1.0, options=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.batches.append(len(waves))
        threading.Event().wait(0.02)  # a model's time: callers pile up meanwhile
        with self.lock:
            self.running -= 1
        if self.fail_on is not None and any(w[0] == self.fail_on for w in waves):
            raise AudioError("a piece that cannot be decoded")
        return [Transcript("", text=f"{w[0]:g}{'+t' if times else ''}") for w in waves]


def test_the_batcher_decodes_concurrent_calls_together_each_getting_its_own_results():
    rec = CountingRecognizer()
    batcher = Batcher(rec, workers=2, max_pieces=6)
    calls = [([np.full(10, 3 * i + k, np.float32) for k in range(3)], i % 2 == 0) for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda c: batcher.decode(c[0], times=c[1]), calls))
    for (waves, times), got in zip(calls, results):  # each call its own pieces, in order, its own options
        assert [t.text for t in got] == [f"{w[0]:g}{'+t' if times else ''}" for w in waves]
    assert rec.most <= 2 and max(rec.batches) <= 6 and len(rec.batches) < 12  # shared batches, bounded
    alone = CountingRecognizer()
    assert Batcher(alone).decode([np.zeros(10, np.float32)])[0].text == "0" and alone.batches == [1]


def test_a_failed_piece_fails_only_its_call_and_the_batcher_goes_on():
    batcher = Batcher(CountingRecognizer(fail_on=7.0), workers=1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.decode, [np.full(10, v, np.float32)]) for v in (1.0, 7.0, 2.0, 3.0)]
    outcomes = [f.exception() or f.result()[0].text for f in futures]
    assert isinstance(outcomes[1], AudioError) and outcomes[::2] == ["1", "2"] and outcomes[3] == "3"  # only 7 failed
    assert batcher.decode([np.full(10, 5.0, np.float32)])[0].text == "5"


def test_json_lists_five_hypotheses_when_the_beam_runs_and_none_were_asked_for(tiny_model):
    """One rule for the command line (-f json) and the server (format=json): Recognizer.for_json."""
    rec = Recognizer(tiny_model["model"])
    assert rec.decode.decoder == "greedy" and rec.for_json(rec.overrides()).nbest is None  # no list to fill
    assert rec.for_json(rec.overrides(decoder="beam")).nbest == 5
    assert rec.for_json(rec.overrides(nbest=2)).nbest == 2
    assert for_format(rec, rec.overrides(decoder="beam"), "json").nbest == 5
    assert for_format(rec, rec.overrides(decoder="beam"), "text").nbest is None
    with pytest.raises(ApiError, match="written by format=json only"):
        for_format(rec, rec.overrides(nbest=2), "srt")


def _pid(rec, _) -> int:
    return os.getpid()


def _pid_then_wait(rec, path: Path) -> int:
    """Says which process runs it (in `path`, whole), then takes a second: time to kill it."""
    (path.parent / "partial").write_text(str(os.getpid()))
    (path.parent / "partial").rename(path)
    time.sleep(1)
    return os.getpid()


class _TwoPartError(Exception):  # pickles, but cannot be rebuilt from its args in the parent
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def _raise_two_part(rec, _) -> None:
    raise _TwoPartError("a piece", "cannot be decoded")


def _alive(pid: str) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not CAN_FORK, reason="decoding processes are forked on Linux only")
def test_forked_decoders_read_what_the_request_threads_read_and_outlive_a_killed_one(
    tiny_model, tiny_reads, capsys, tmp_path
):
    """`asr serve`'s decoding processes: each call's results equal those decoded in the calling
    thread; concurrent calls share batches; a process killed (as the OOM killer would) loses no
    call, the rest is decoded in the server's process, and says so once."""
    rec = Recognizer(tiny_model["model"])
    paths = sorted(SAMPLES.glob("*.wav"))[:6]
    waves = [load_audio(p).numpy() for p in paths]
    here = [Batcher(rec).decode([w], times=True)[0].to_json() for w in waves]
    with Forked(rec, 2) as decoders:
        batcher = Batcher(rec, workers=2, decoders=decoders)
        assert decoders.call(_pid, None) != os.getpid()
        with pytest.raises(RuntimeError, match="_TwoPartError: a piece: cannot be decoded"):
            decoders.call(_raise_two_part, None)  # an error the parent could not rebuild breaks no process
        assert decoders.running == 2
        assert [batcher.decode([w], times=True)[0].to_json() for w in waves] == here
        with ThreadPoolExecutor(6) as pool:
            together = list(pool.map(lambda w: batcher.decode([w])[0].text, waves))
        assert together == [tiny_reads[p.stem] for p in paths]
        with ThreadPoolExecutor(1) as one:  # killed at work: its call is not lost, and the pool is known dead
            busy = one.submit(decoders.call, _pid_then_wait, tmp_path / "pid")
            while not (tmp_path / "pid").exists():
                time.sleep(0.01)
            os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
            assert busy.result() == os.getpid()  # done again here
        with ThreadPoolExecutor(6) as pool:
            after = list(pool.map(lambda w: batcher.decode([w])[0].text, waves))
        assert decoders.running == 0
    assert after == together
    assert capsys.readouterr().err.count("a decoding process died") == 1


@pytest.mark.skipif(not CAN_FORK, reason="decoding processes are forked on Linux only")
def test_asr_serve_decodes_in_processes_that_end_with_it_even_killed(tiny_model, tiny_reads):
    proc, url = start_server(tiny_model["model"], "--workers", "2")
    try:
        forked = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(forked) == 2 and httpx.get(f"{url}/healthz").json()["decoding_processes"] == 2
        r = httpx.post(f"{url}/v1/transcribe", content=SAMPLE.read_bytes(), headers={"Content-Type": "audio/wav"})
        assert r.json()["text"] == tiny_reads[SAMPLE.stem]
    finally:
        proc.kill()  # as the OOM killer would: no shutdown of its own
        proc.communicate(timeout=20)
    deadline = time.monotonic() + 10
    while any(map(_alive, forked)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, forked))


def ws_url(server: str, token: str | None = TOKEN) -> str:
    return server.replace("http", "ws", 1) + "/v1/stream" + (f"?token={token}" if token else "")


async def stream_file(url: str, audio: bytes, start: dict, chunk: int = 3200) -> list[dict]:
    """Send a start message, `audio` in chunks and the end message; every server message."""
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(start))
        messages = [json.loads(await ws.recv())]
        for k in range(0, len(audio), chunk):
            await ws.send(audio[k : k + chunk])
        await ws.send(json.dumps({"signal": "end"}))
        messages += [json.loads(m) async for m in ws]
    return messages


def test_stream_partials_then_the_final(server, tiny_reads):
    wave, _ = sf.read(SAMPLE, dtype="int16")
    start = {"signal": "start", "sample_rate": 16000, "format": "pcm16"}
    msgs = asyncio.run(stream_file(ws_url(server), wave.tobytes(), start, chunk=1601))  # odd: samples split
    types = [m["type"] for m in msgs]
    assert types[0] == "server_ready" and types[-1] == "speech_end"
    assert "partial_result" in types and types.index("partial_result") < types.index("final_result")
    finals = [m for m in msgs if m["type"] == "final_result"]
    assert len(finals) == 1 and finals[0]["text"] == tiny_reads[SAMPLE.stem]  # one segment: the whole file
    assert finals[0]["start"] == 0 and finals[0]["end"] == pytest.approx(len(wave) / 16000, abs=0.01)
    assert msgs[-1]["seconds"] == pytest.approx(len(wave) / 16000, abs=1e-3)


def test_stream_speaks_wenets_protocol(server, tiny_reads):
    wave, _ = sf.read(SAMPLE, dtype="int16")
    two = np.concatenate([wave, np.zeros(16000, np.int16), wave]).tobytes()
    url = ws_url(server)
    for continuous in (True, False):
        start = {"signal": "start", "nbest": 1, "continuous_decoding": continuous}  # what WeNet's clients send
        msgs = asyncio.run(stream_file(url, two, start))
        assert all(m["status"] == "ok" for m in msgs), msgs
        assert msgs[0]["type"] == "server_ready" and msgs[-1]["type"] == "speech_end"
        finals = [m for m in msgs if m["type"] == "final_result"]
        assert len(finals) == (2 if continuous else 1)  # without continuous decoding: the first utterance only
        for m in finals:
            [best] = json.loads(m["nbest"])
            assert best["sentence"] == m["text"] == tiny_reads[SAMPLE.stem]
            pieces = best["word_pieces"]
            assert [p["word"] for p in pieces] == [c["char"] for c in m["chars"]]
            assert all(round(m["start"] * 1000) <= p["start"] <= p["end"] <= round(m["end"] * 1000) for p in pieces)
        partials = [json.loads(m["nbest"]) for m in msgs if m["type"] == "partial_result"]
        assert partials and all("word_pieces" not in p[0] for p in partials)


def test_stream_float32_at_another_rate_segments_at_pauses(server):
    wave = load_audio(SAMPLE).numpy()
    silence = np.zeros(16000, np.float32)
    two = np.concatenate([wave, silence, wave])
    import soxr

    audio = soxr.resample(two, 16000, 44100).astype("<f4").tobytes()
    start = {"signal": "start", "sample_rate": 44100, "format": "float32", "hotwords": ["好棒"]}
    msgs = asyncio.run(stream_file(ws_url(server), audio, start, chunk=4410 * 4))
    finals = [m for m in msgs if m["type"] == "final_result"]
    assert len(finals) == 2  # cut in the 1 s pause, before the second copy starts
    assert finals[0]["end"] == finals[1]["start"] < (len(wave) + len(silence)) / 16000
    assert finals[1]["end"] == pytest.approx(len(two) / 16000, abs=0.02)
    assert finals[0]["chars"] and finals[1]["chars"]
    assert finals[0]["chars"][-1]["end"] <= finals[0]["end"]
    assert finals[1]["chars"][0]["start"] >= (len(wave) + len(silence)) / 16000  # times count from the stream start


@pytest.mark.parametrize(
    "first, words, code",
    [  # the close code of each kind of error is the protocol: 1003 not a start message, 1008 a bad setting
        (b"\0\0\0\0", 'expected a start message first: {"signal": "start"', 1003),
        (b"\0\0\0\0", "got binary audio", 1003),
        ("not json", "got text that is not JSON", 1003),
        ("[1, 2]", "got an array, not a JSON object", 1003),
        ('{"sample_rate": 16000}', "got an object without a signal", 1003),
        ('{"signal": "end"}', "got signal 'end'", 1003),
        ('{"signal": "start", "sample_rate": 1}', "sample_rate", 1008),
        ('{"signal": "start", "sample_rate": 16000, "format": "mp3"}', "format", 1008),
        ('{"signal": "start", "sample_rate": 16000, "path": "/etc/passwd"}', "unknown key", 1008),
        ('{"signal": "start", "beam": 0}', "beam", 1008),
        ('{"signal": "start", "continuous_decoding": "yes"}', "continuous_decoding", 1008),
        ('{"signal": "start", "nbest": 0}', "nbest", 1008),
        ('{"signal": "start", "alpha": 0.5}', "there is none", 1008),
        ('{"signal": "start", "beam": "4"}', "beam", 1008),
    ],
)
def test_stream_bad_start_is_an_error_message_then_close(server, client, first, words, code):
    async def scenario():
        async with websockets.connect(ws_url(server)) as ws:
            await ws.send(first)
            msg = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return msg, ws.close_code

    msg, closed = asyncio.run(scenario())
    assert msg["type"] == "error" and msg["status"] == "failed" and words in msg["message"], msg
    assert closed == code
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.parametrize(
    "header,passes",
    [(f"Bearer {TOKEN}", True), (f"bearer {TOKEN}", True), (f"Basic {TOKEN}", False), ("Bearer", False)],
)
def test_stream_takes_the_token_from_the_authorization_header_as_http_does(server, header, passes):
    async def scenario():
        message = ""
        async with websockets.connect(ws_url(server, None), additional_headers={"Authorization": header}) as ws:
            try:
                await ws.send("not json")  # past the token check, this is the start message's error
                async for m in ws:
                    message = json.loads(m)["message"]
            except websockets.ConnectionClosed:
                pass
        return message, ws.close_code

    message, code = asyncio.run(scenario())
    assert (code, "start message" in message) == ((1003, True) if passes else (1008, False)), message


def test_stream_errors_token_idle_and_bad_chunks(server):
    async def first_error(url: str, *sends) -> tuple[str, int | None]:
        """The server's error message and close code; it may close while we still send (then sending stops)."""
        message = ""
        async with websockets.connect(url) as ws:
            try:
                for s in sends:
                    await ws.send(s)
            except websockets.ConnectionClosed:
                pass
            try:
                async for m in ws:
                    if json.loads(m)["type"] == "error":
                        message = json.loads(m)["message"]
            except websockets.ConnectionClosed:
                pass
        return message, ws.close_code

    start = json.dumps({"signal": "start", "sample_rate": 16000, "format": "float32"})
    assert asyncio.run(first_error(ws_url(server, None)))[1] == 1008
    assert "token" in asyncio.run(first_error(ws_url(server, None)))[0]
    message, code = asyncio.run(first_error(ws_url(server), start))  # nothing sent for 1 s
    assert "idle" in message and code == 1008
    nan = np.full(100, np.nan, "<f4").tobytes()
    message, code = asyncio.run(first_error(ws_url(server), start, nan))
    assert "NaN" in message and code == 1003
    message, code = asyncio.run(first_error(ws_url(server), start, '{"signal": "pause"}'))
    assert "binary audio" in message and code == 1003
    second = np.zeros(16000, "<f4").tobytes()
    message, code = asyncio.run(first_error(ws_url(server), start, *[second] * 31))
    assert "longer than" in message and code == 1009
    big = np.zeros(2**18 + 1, "<f4").tobytes()  # one byte-quad over 1 MiB in one message
    message, code = asyncio.run(first_error(ws_url(server), start, big))
    assert "chunks of at most 1048576 bytes" in message and code == 1009
    message, code = asyncio.run(first_error(ws_url(server), " " * (2**20 + 1)))  # a start message too
    assert "chunks of at most 1048576 bytes" in message and code == 1009
    message, code = asyncio.run(first_error(ws_url(server), start, big * 4))  # past the transport's limit
    assert message == "" and code == 1009


def test_client_disconnect_mid_stream_leaves_the_server_serving(server, client, tiny_reads):
    async def drop():
        ws = await websockets.connect(ws_url(server))
        await ws.send(json.dumps({"signal": "start", "sample_rate": 16000}))
        await ws.recv()
        await ws.send(SAMPLE.read_bytes()[44:20000])
        ws.transport.abort()  # gone without a close frame

    asyncio.run(drop())
    wave, _ = sf.read(SAMPLE, dtype="int16")
    msgs = asyncio.run(stream_file(ws_url(server), wave.tobytes(), {"signal": "start", "sample_rate": 16000}))
    assert [m["text"] for m in msgs if m["type"] == "final_result"] == [tiny_reads[SAMPLE.stem]]
    assert client.get("/healthz").json()["in_flight"] == 0


# The streaming segmenter on its own (no server).


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return (0.3 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)


def test_stream_chunking_does_not_change_the_segments():
    rng = np.random.default_rng(0)
    wave = np.concatenate([speech_like(1.2, rng), np.zeros(12000, np.float32), speech_like(0.8, rng)])
    pcm = (wave * 32767).astype("<i2").tobytes()

    def run(chunk: int):
        s = Stream(StreamConfig(sample_rate=16000, partial_every=0))
        pieces = [p for k in range(0, len(pcm), chunk) for p in s.push(pcm[k : k + chunk])] + s.finish()
        return [(p.kind, p.segment, p.start, len(p.audio)) for p in pieces]

    whole = run(len(pcm))
    assert whole == run(333) == run(3200)
    assert [p[0] for p in whole] == ["final", "final"]
    assert whole[0][2] == 0 and 1.2 <= whole[1][2] <= 1.95  # the cut lies in the 0.75 s pause
    assert whole[0][3] + whole[1][3] == len(wave)  # no sample lost or repeated


def test_stream_partials_cadence_silence_and_long_segments():
    rng = np.random.default_rng(1)
    s = Stream(StreamConfig(sample_rate=16000, format="float32", partial_every=0.5, max_segment=4.0))
    pieces = []
    for _ in range(60):  # 6 s of unbroken "speech" in 100 ms chunks
        pieces += s.push(speech_like(0.1, rng).astype("<f4").tobytes())
    partials = [p for p in pieces if p.kind == "partial"]
    finals = [p for p in pieces if p.kind == "final"]
    assert len(finals) == 1 and 2.0 <= finals[0].end <= 4.0  # cut at max_segment, in its second half
    assert len(partials) >= 10 and all(p.start == 0 for p in partials if p.segment == 0)
    quiet = Stream(StreamConfig(sample_rate=8000))
    assert quiet.push(np.zeros(8000, "<i2").tobytes()) + quiet.finish() == []  # silence: nothing to decode
    assert quiet.received == 1.0


def test_stream_config_and_chunks_are_checked():
    for bad in (dict(sample_rate=1), dict(sample_rate=16000.5), dict(sample_rate=16000, format="mp3")):
        with pytest.raises(AudioError):
            StreamConfig(**bad)
    s = Stream(StreamConfig(sample_rate=16000, format="float32", max_seconds=1.0))
    with pytest.raises(AudioError, match="NaN"):
        s.push(np.array([np.inf], "<f4").tobytes())
    with pytest.raises(AudioError, match="longer than"):
        s.push(np.zeros(16001, "<f4").tobytes())
