"""`asr serve` under load, on loopback: HTTP latency at 1, 4 and 8 concurrent clients, websocket
final-result latency and partial cadence, peak memory; and screenshots of the web page.

    make bench-serve                  # after make demo; about 2 minutes on 2 cores
    python -m bench.serve --model exp/demo/best.pt --requests 48   # a quicker, noisier run
    python -m bench.serve --against /path/to/other/checkout --pairs 2   # 8 clients, servers in turn

This shared machine's speed drifts between sittings by more than most changes gain; --against
serves the 8-client level with this code and the other in turn (`--amp auto`), three runs each
time, so that both see the same drift; it prints its rows and writes no results.

Each HTTP client posts 3 s files (demo test utterances joined and cut to 3 s) back to back until
the level's requests are done. The websocket client streams a 3 s file in 100 ms chunks at real
time and measures the time from sending the end message (the end of the audio) to the final
result; partial cadence is the wall time between partial results. The cost of partials is the
server time to take a whole file in with partials on versus off (chunks sent without waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import soundfile as sf
import websockets

from asr.audio import load_audio
from asr.datadir import read_data_dir
from bench.common import (
    ROOT,
    asr_command,
    checkout,
    commit_of,
    forked_peak_rss_mib,
    machine,
    peak_rss_mib,
    report,
    table,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHUNK = 0.1  # seconds per websocket chunk
SECONDS = 3  # each file's length


def clip_files(test_dir: Path, out: Path, n: int) -> list[Path]:
    """n files of exactly SECONDS s, each demo test utterances joined end to end."""
    out.mkdir(parents=True, exist_ok=True)
    waves = [load_audio(u.path).numpy() for u in read_data_dir(test_dir)[: 4 * n]]
    files, k = [], 0
    for i in range(n):
        parts = []
        while sum(map(len, parts)) < SECONDS * 16000:
            parts.append(waves[k % len(waves)])
            k += 1
        files.append(out / f"clip_{i:02d}.wav")
        sf.write(files[-1], np.concatenate(parts)[: SECONDS * 16000], 16000, subtype="PCM_16")
    return files


async def http_level(url: str, files: list[Path], clients: int, requests: int) -> list:
    """The table row of `clients` clients posting `requests` files between them. The clients are
    aiohttp's (its HTTP parser is C): they share the server's cores, and httpx's took 1.8 ms of
    CPU a request there against aiohttp's 0.4 ms (docs/results.md, serving)."""
    latencies, codes = [], []
    todo = iter(range(requests))
    blobs = [f.read_bytes() for f in files]

    async def client(session: aiohttp.ClientSession) -> None:
        for i in todo:
            t0 = time.perf_counter()
            async with session.post(
                url + "/v1/transcribe", data=blobs[i % len(blobs)], headers={"Content-Type": "audio/wav"}
            ) as r:
                await r.read()
            latencies.append(time.perf_counter() - t0)
            codes.append(r.status)

    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*[client(session) for _ in range(clients)])
        wall = time.perf_counter() - t0
    ms = [f"{v * 1000:.0f} ms" for v in (np.percentile(latencies, [50, 95, 99]) if latencies else [float("nan")] * 3)]
    return [clients, len(codes), sum(code == 200 for code in codes), *ms, f"{len(codes) / wall:.1f}"]


async def stream_once(url: str, path: Path, realtime: bool, partial: bool = True) -> dict:
    wave, _ = sf.read(path, dtype="int16")
    step = int(CHUNK * 16000)
    partials, final_at, t_end = [], None, None
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"signal": "start", "sample_rate": 16000, "format": "pcm16", "partial": partial}))
        await ws.recv()

        async def reader():
            nonlocal final_at
            async for m in ws:
                msg = json.loads(m)
                if msg["type"] == "partial_result":
                    partials.append(time.perf_counter())
                elif msg["type"] == "final_result":
                    final_at = time.perf_counter()

        task = asyncio.create_task(reader())
        t0 = time.perf_counter()
        for k in range(0, len(wave), step):
            await ws.send(wave[k : k + step].tobytes())
            if realtime:  # the next chunk leaves when its audio would have been spoken
                await asyncio.sleep(max(0.0, t0 + (k + step) / 16000 - time.perf_counter()))
        t_end = time.perf_counter()
        await ws.send(json.dumps({"signal": "end"}))
        await task
    gaps = np.diff(partials).tolist() if len(partials) > 1 else []
    return {"final_ms": (final_at - t_end) * 1000, "gaps": gaps, "partials": len(partials), "wall": final_at - t0}


def screenshots(url: str, sample: Path, before: Path, after: Path) -> None:
    """The page as it opens (`before`) and with a travel sentence transcribed (`after`)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = b.new_page(viewport={"width": 1000, "height": 720})
        page.goto(url)
        expect(page.locator("#upload")).to_be_visible()
        before.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(before), full_page=True)
        page.set_input_files("#file", str(sample))
        page.click("#upload")
        expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=30_000)
        page.screenshot(path=str(after), full_page=True)
        b.close()


def start(model: Path, slots: Path, amp: str, log: Path, code: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """`asr serve` of checkout `code` on a free port (with make demo's slot tagger when there is
    one), its messages in `log`: (process, URL)."""
    args = ["serve", "--model", str(model.resolve()), "--port", "0", "--amp", amp]
    args += ["--slots", str(slots.resolve())] if slots.is_file() else []
    with log.open("w") as messages:
        proc = asr_command(code, *args, stderr=messages)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()[2].rstrip("/")


def paired(args: argparse.Namespace, files: list[Path], slots: Path) -> None:
    """The 8-client level (three runs) served by this checkout and by --against, in turn, --pairs
    times: every row printed, labelled with its commit."""
    for _ in range(args.pairs):
        for code in (ROOT, checkout(args.against)):
            proc, url = start(args.model, slots, "auto", args.work / "serve-paired.log", code)
            try:
                with httpx.Client(base_url=url) as c:  # imports and allocations on the way
                    c.post("/v1/transcribe", content=files[0].read_bytes(), headers={"Content-Type": "audio/wav"})
                for _ in range(3):
                    print(commit_of(code), asyncio.run(http_level(url, files, 8, args.requests)), flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=20)


def streams(url: str, files: list[Path], n: int) -> tuple[list, list, list]:
    """Websocket sessions: `n` at real time, then every file at full speed with partials on and off."""
    ws = url.replace("http", "ws", 1) + "/v1/stream"
    live = [asyncio.run(stream_once(ws, files[i % len(files)], realtime=True)) for i in range(n)]
    fast_on = [asyncio.run(stream_once(ws, f, realtime=False, partial=True)) for f in files]
    fast_off = [asyncio.run(stream_once(ws, f, realtime=False, partial=False)) for f in files]
    return live, fast_on, fast_off


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("exp/demo/best.pt"))
    ap.add_argument("--test", type=Path, default=Path("data/demo/test"))
    ap.add_argument("--work", type=Path, default=Path("exp/bench_serve"))
    ap.add_argument("--requests", type=int, default=240, help="HTTP requests per concurrency level")
    ap.add_argument("--streams", type=int, default=8, help="websocket sessions at real time")
    ap.add_argument("--against", type=Path, help="another checkout: the 8-client level served by each in turn")
    ap.add_argument("--pairs", type=int, default=2, help="with --against: turns of each")
    args = ap.parse_args()
    if not args.model.is_file():
        raise SystemExit(f"{args.model}: no model; run make demo first")
    files = clip_files(args.test, args.work / "audio", 16)

    slots = args.model.parent / "slots.pt"  # make demo's slot tagger: the page fills its booking form
    if args.against:
        return paired(args, files, slots)
    levels = []
    for amp in ("off", "auto"):  # float32, then bf16 where the CPU has a faster bf16 path
        log = args.work / f"serve-{amp}.log"
        proc, url = start(args.model, slots, amp, log)
        try:
            with httpx.Client(base_url=url) as c:  # one request first: imports and allocations on the way
                c.post("/v1/transcribe", content=files[0].read_bytes(), headers={"Content-Type": "audio/wav"})
            levels += [[amp, *asyncio.run(http_level(url, files, n, args.requests))] for n in (1, 4, 8)]
            if amp == "off":
                live, fast_on, fast_off = streams(url, files, args.streams)
                rss, forked = peak_rss_mib(proc), forked_peak_rss_mib(proc)
                travel = Path("data/demo/samples/test-belinda-00054.wav")  # 五月十一日四点从广州到台北
                screenshots(url + "/", travel, DOCS / "serve-before.png", DOCS / "serve.png")
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    said = [line for line in log.read_text().splitlines() if line.startswith("amp auto: ")]
    chosen = said[0].removeprefix("amp auto: ") if said else "?"
    finals = [r["final_ms"] for r in live]
    gaps = [g for r in live for g in r["gaps"]]
    partials = max(1, sum(r["partials"] for r in fast_on))
    per_partial = (sum(r["wall"] for r in fast_on) - sum(r["wall"] for r in fast_off)) / partials
    lines = [
        f"Machine: {machine()}. `make bench-serve` (bench/serve.py), code at {commit_of(ROOT)}: `asr serve` with the",
        f"demo model (its default here: {len(forked)} decoding process(es); `--amp auto` chose {chosen}),",
        f"aiohttp clients on the same machine over loopback, {SECONDS} s files; the websocket figures with `--amp off`.",
        "",
        *table("--amp | HTTP clients | requests | 200 OK | p50 | p95 | p99 | requests/s", levels),
        "",
        f"Websocket, {len(live)} sessions streaming {SECONDS} s in {CHUNK * 1000:.0f} ms chunks at real time: final result "
        f"{statistics.median(finals):.0f} ms (median), {max(finals):.0f} ms (worst) after the end of the audio; "
        f"partial results every {statistics.median(gaps) * 1000:.0f} ms (median wall time between them; "
        f"one per 0.5 s of audio). Each partial re-decodes the open segment from its start: "
        f"{per_partial * 1000:.1f} ms of server time per partial (16 files sent at full speed with "
        f"partials on vs off). Server peak RSS {rss:.0f} MiB; its decoding process(es) "
        f"{', '.join(f'{m:.0f}' for m in forked)} MiB (pages shared with the server counted in both). Screenshots: docs/serve-before.png, docs/serve.png.",
    ]
    report("serve", ["## Serving", "", *lines])


if __name__ == "__main__":
    main()
