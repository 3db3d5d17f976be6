// The asr web page: upload a file (POST /v1/transcribe) or stream the microphone (/v1/stream).
"use strict";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token");
const status = $("status");
let chars = []; // {char, start, end}: what the SRT download holds (rendered by the server, as its API does)
let duration = null; // seconds of audio heard

function setStatus(text, state, error = false) {
  status.textContent = text;
  status.classList.toggle("error", error);
  if (state) status.dataset.state = state;
}

function hotwords() {
  return $("hotwords").value.split("\n").map((s) => s.trim()).filter(Boolean);
}

// The booking form: one row per slot the server's slot model fills (GET /v1/model's "slots").
function showForm(names) {
  const body = $("form").querySelector("tbody");
  body.replaceChildren();
  for (const name of names) {
    const row = document.createElement("tr");
    const label = document.createElement("th");
    label.textContent = name;
    const value = document.createElement("td");
    value.dataset.slot = name;
    row.append(label, value);
    body.append(row);
  }
  $("booking").hidden = names.length === 0;
  clearForm();
}

function clearForm() {
  for (const cell of $("form").querySelectorAll("td[data-slot]")) {
    cell.textContent = "-";
    cell.className = "empty";
  }
}

// A result's slots ({name: text}) into the form; a later segment's value replaces an earlier one.
function fillForm(slots) {
  for (const [name, text] of Object.entries(slots || {})) {
    const cell = $("form").querySelector(`td[data-slot="${CSS.escape(name)}"]`);
    if (!cell) continue;
    cell.textContent = text;
    cell.className = "";
  }
}

function clearResults() {
  clearForm();
  chars = [];
  duration = null;
  $("transcript").textContent = "";
  $("partial").textContent = "";
  $("segments").querySelector("tbody").replaceChildren();
  $("segments").hidden = true;
  $("srt").disabled = true;
  status.dataset.partials = "0";
  status.dataset.finals = "0";
}

function addSegment(seg, joiner) {
  const row = document.createElement("tr");
  for (const value of [seg.start.toFixed(2), seg.end.toFixed(2), seg.text]) {
    const cell = document.createElement("td");
    cell.textContent = value;
    if (value !== seg.text) cell.className = "t";
    row.append(cell);
  }
  $("segments").querySelector("tbody").append(row);
  $("segments").hidden = false;
  $("srt").disabled = false;
  const t = $("transcript");
  t.textContent = t.textContent ? t.textContent + joiner + seg.text : seg.text;
}

let joiner = "";
fetch("/v1/model" + (token ? "?token=" + encodeURIComponent(token) : ""))
  .then((r) => r.json())
  .then((m) => {
    if (m.error) return;
    joiner = m.word_boundaries ? " " : "";
    showForm(m.slots || []);
    $("model").textContent =
      `${m.model.layers}x${m.model.hidden} bidirectional ${m.model.cell}, ` +
      `${(m.parameters / 1e6).toFixed(2)} M parameters, ${m.units} units, decoder ${m.decode.decoder}`;
  });

$("upload").addEventListener("click", async () => {
  const file = $("file").files[0];
  if (!file) return setStatus("choose an audio file first", "idle", true);
  clearResults();
  setStatus(`transcribing ${file.name} ...`, "busy");
  const query = new URLSearchParams({ format: "json", timestamps: "true" });
  if (hotwords().length) query.set("hotwords", hotwords().join("\n"));
  const form = new FormData();
  form.append("file", file);
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const r = await fetch("/v1/transcribe?" + query, { method: "POST", body: form, headers });
    const body = await r.json();
    if (!r.ok) return setStatus(body.error || `error ${r.status}`, "done", true);
    const segs = body.segments && body.segments.length ? body.segments : [];
    for (const s of segs) if (s.text) addSegment(s, joiner);
    chars = body.chars || [];
    duration = body.duration;
    $("transcript").textContent = body.text;
    fillForm(body.slots);
    status.dataset.finals = String(segs.length);
    setStatus(`${file.name}: ${body.duration} s of audio` + (body.warning ? ` (warning: ${body.warning})` : ""), "done");
  } catch (e) {
    setStatus(`request failed: ${e}`, "done", true);
  }
});

let mic = null; // {ws, ctx, stream}

$("record").addEventListener("click", async () => {
  clearResults();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
  } catch (e) {
    return setStatus(`no microphone: ${e.message}`, "idle", true);
  }
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule("/static/capture.js");
  const source = ctx.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(ctx, "capture");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/stream` + (token ? "?token=" + encodeURIComponent(token) : ""));
  ws.binaryType = "arraybuffer";
  mic = { ws, ctx, stream };
  ws.onopen = () => {
    ws.send(JSON.stringify({ signal: "start", sample_rate: ctx.sampleRate, format: "float32", hotwords: hotwords() }));
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "server_ready") {
      node.port.onmessage = (e) => ws.readyState === WebSocket.OPEN && ws.send(e.data.buffer);
      source.connect(node);
      setStatus(`recording at ${ctx.sampleRate} Hz ...` + (msg.warning ? ` (warning: ${msg.warning})` : ""), "recording");
    } else if (msg.type === "partial_result") {
      $("partial").textContent = msg.text;
      status.dataset.partials = String(Number(status.dataset.partials) + 1);
    } else if (msg.type === "final_result") {
      $("partial").textContent = "";
      if (msg.text) addSegment(msg, joiner);
      fillForm(msg.slots);
      chars = chars.concat(msg.chars || []);
      duration = msg.end;
      status.dataset.finals = String(Number(status.dataset.finals) + 1);
    } else if (msg.type === "speech_end") {
      setStatus(`done: ${msg.seconds.toFixed(1)} s of audio`, "done");
    } else if (msg.type === "error") {
      setStatus(msg.message, "done", true);
    }
  };
  ws.onclose = () => finishMic();
  $("record").disabled = true;
  $("stop").disabled = false;
});

function finishMic() {
  if (!mic) return;
  mic.stream.getTracks().forEach((t) => t.stop());
  mic.ctx.close();
  mic = null;
  $("record").disabled = false;
  $("stop").disabled = true;
}

$("stop").addEventListener("click", () => {
  if (!mic) return;
  mic.stream.getTracks().forEach((t) => t.stop());
  if (mic.ws.readyState === WebSocket.OPEN) mic.ws.send(JSON.stringify({ signal: "end" }));
  setStatus("finishing ...", "finishing");
  $("stop").disabled = true;
});

$("srt").addEventListener("click", async () => {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch("/v1/subtitles?format=srt", { method: "POST", headers, body: JSON.stringify({ chars, duration }) });
  if (!r.ok) return setStatus((await r.json()).error || `error ${r.status}`, "done", true);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([await r.text()], { type: "application/x-subrip" }));
  link.download = "transcript.srt";
  link.click();
  URL.revokeObjectURL(link.href);
});
