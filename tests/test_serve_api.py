"""The server's declared contract: /openapi.json lists what docs/serving.md documents, and
Schemathesis, generating requests from that schema against a live `asr serve` (an LM, a slot
model and a token), finds no 5xx and no response the schema does not describe. Per-request LM
weights reach the beam search over HTTP and the websocket."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import schemathesis
import websockets
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from conftest import ROOT, SAMPLES, run_asr, start_server

TOKEN = "api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = sorted(SAMPLES.glob("*.wav"))[0]


@pytest.fixture(scope="module")
def lm_server(tiny_model, slot_model, tmp_path_factory):
    arpa = tmp_path_factory.mktemp("lm") / "chars.arpa"
    assert run_asr("lm", "train", SAMPLES, "-o", arpa, "--order", "3").returncode == 0
    proc, url = start_server(tiny_model["model"], "--lm", arpa, "--slots", slot_model, "--token", TOKEN)
    yield url
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err


def test_every_generated_request_gets_an_answer_the_schema_describes(lm_server):
    """Schemathesis, from /openapi.json: valid and invalid requests to each operation (bounded:
    25 of each); no 5xx; status, content type, headers and JSON body as the schema declares them.
    Left out: "schema-valid data must be accepted": an audio body the schema allows is any bytes,
    and bytes that are not audio are a 400."""
    schema = schemathesis.openapi.from_url(f"{lm_server}/openapi.json")
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes if operation.path != "/healthz" else modes[:1]:  # healthz takes nothing to get wrong

            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            @given(case=operation.as_strategy(generation_mode=mode))
            def answers(case):
                case.call_and_validate(headers=AUTH, timeout=60, excluded_checks=[positive_data_acceptance])

            answers()


def test_openapi_lists_every_parameter_the_docs_document(lm_server):
    spec = httpx.get(f"{lm_server}/openapi.json").json()
    transcribe = spec["paths"]["/v1/transcribe"]["post"]
    declared = {p["name"] for p in transcribe["parameters"]}
    docs = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    section = docs.split("**HTTP.**")[1].split("**Websocket")[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M)) - {"token"}  # the parameter table's rows
    assert documented >= {"format", "decoder", "beam", "nbest", "alpha", "beta", "hotword_boost", "timestamps"}
    assert documented <= declared, documented - declared
    assert {"400", "401", "413", "415", "503"} <= set(transcribe["responses"])
    assert set(transcribe["requestBody"]["content"]) == {"multipart/form-data", "audio/*", "application/octet-stream"}
    beam = next(p for p in transcribe["parameters"] if p["name"] == "beam")
    assert beam["schema"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert set(spec["paths"]) == {"/healthz", "/v1/model", "/v1/transcribe", "/v1/subtitles"}
    assert "422" not in json.dumps(spec["paths"])  # a bad value is a 400 {"error"}, as documented
    assert spec["components"]["securitySchemes"]["APIKeyQuery"]["name"] == "token"
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Serving")[1].split("\n## ")[0]
    assert set(re.findall(r"[?&](\w+)=", readme)) - {"token"} <= declared


def test_text_format_carries_the_slots_as_the_cli_prints_them(lm_server, tiny_model, slot_model):
    r = httpx.post(
        f"{lm_server}/v1/transcribe",
        params={"format": "text", "decoder": "greedy"},
        headers=AUTH,
        files={"file": (SAMPLE.name, SAMPLE.read_bytes())},
    )
    cli = run_asr("transcribe", "--model", tiny_model["model"], "--slots", slot_model, SAMPLE)
    assert r.status_code == 200 and cli.returncode == 0, cli.stderr
    assert r.text == cli.stdout.split("\t", 1)[1]  # the CLI's line without its path column


def test_alpha_and_beta_per_request_change_the_beam_search(lm_server):
    def scores(**params) -> list[float]:
        r = httpx.post(
            f"{lm_server}/v1/transcribe",
            params=params,
            headers=AUTH,
            files={"file": (SAMPLE.name, SAMPLE.read_bytes())},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return [h["score"] for h in r.json()["nbest"]]

    base = scores(alpha=0.5, beta=1.0)
    assert scores(alpha=0.5, beta=1.0) == base  # the same request, the same answer
    assert scores(alpha=2.0, beta=1.0) != base
    assert scores(alpha=0.5, beta=3.0) != base

    async def final(alpha: float) -> str:
        async with websockets.connect(f"{lm_server.replace('http', 'ws', 1)}/v1/stream?token={TOKEN}") as ws:
            await ws.send(json.dumps({"signal": "start", "alpha": alpha, "nbest": 2, "partial": False}))
            assert json.loads(await ws.recv())["type"] == "server_ready"
            await ws.send(SAMPLE.read_bytes()[44:])
            await ws.send(json.dumps({"signal": "end"}))
            return next(json.loads(m)["nbest"] for m in [await ws.recv()] if "final" in json.loads(m)["type"])

    assert asyncio.run(final(0.0)) != asyncio.run(final(5.0))  # the hypotheses' order or text follow alpha
