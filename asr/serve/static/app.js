// The asr web page: upload a file (POST /v1/transcribe) or stream the microphone (/v1/stream),
// then read the transcript, its alternatives and segments, fill a booking form and download
// subtitles. api.js holds the token, view.js draws; this file wires the page together.

import { AuthError, adoptUrlToken, api, errorText, getToken, setToken, streamUrl } from "./api.js";
import * as view from "./view.js";

const $ = view.$;
const status = $("status");
let joiner = ""; // between segments: " " for a model that writes words, "" for Chinese
let hasSlots = false;
// The result on the page, for the downloads: `name` (file names), `chars` and `duration` (the
// subtitles, rendered by the server as its API does), `json` (the JSON download's text) and, of
// a recording, its `segments`.
let result = null;

// --- status, login and the model -------------------------------------------------------------

// `state` (idle, working, recording, done or error) is also data-state, for scripts and tests.
function setStatus(text, state) {
  status.textContent = text;
  status.dataset.state = state;
  status.classList.toggle("error", state === "error");
}

// Any request may meet a 401 (a wrong token, or one the server no longer takes).
const REFUSED = "The server did not accept that token. Please enter it again.";

function failed(error) {
  if (error instanceof AuthError) return showLogin(REFUSED);
  setStatus(`Cannot reach the server: ${error.message}`, "error");
}

function showLogin(message) {
  setToken("");
  for (const id of ["app", "about", "result", "booking"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-message").textContent = message;
  $("login-message").classList.toggle("error", message === REFUSED);
  setStatus("", "idle");
  $("token").focus();
  $("token").select(); // a refused token is replaced by typing, not appended to
}

async function loadModel() {
  let response;
  try {
    response = await api("/v1/model");
  } catch (e) {
    if (!(e instanceof AuthError)) return failed(e);
    return showLogin(getToken() ? REFUSED : "This server asks for an access token.");
  }
  if (!response.ok) return setStatus(errorText(await response.text(), response.status), "error");
  const m = await response.json();
  joiner = m.word_boundaries ? " " : "";
  hasSlots = Boolean(m.slots && m.slots.length);
  view.buildForm(m.slots || []);
  $("model").textContent = view.describeModel(m);
  $("beam").placeholder = String(m.decode.beam);
  $("decoder").options[0].textContent = `default (${m.decode.decoder})`;
  $("lm-options").hidden = !m.decode.lm; // LM weights mean nothing without an LM
  $("alpha").placeholder = String(m.decode.alpha);
  $("beta").placeholder = String(m.decode.beta);
  if (m.decode.hotword_boost != null) $("hotword-boost").placeholder = String(m.decode.hotword_boost);
  $("token").value = "";
  $("login").hidden = true;
  $("app").hidden = false;
  $("about").hidden = false;
  setStatus("", "idle");
}

$("form").addEventListener("submit", (e) => e.preventDefault()); // the booking form is for reading and correcting

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("token").value.trim());
  loadModel();
});

// --- decoding options ------------------------------------------------------------------------

// What only the beam search does; the server refuses it with decoder=greedy, so it is disabled.
const BEAM_FIELDS = ["beam", "nbest", "hotwords", "hotword-boost", "alpha", "beta"];

function updateOptions() {
  const greedy = $("decoder").value === "greedy";
  for (const id of BEAM_FIELDS) $(id).disabled = greedy;
  // a boost applies to the hotwords given here (the server's own keep theirs)
  $("hotword-boost").disabled = greedy || !$("hotwords").value.trim();
}
$("decoder").addEventListener("change", updateOptions);
$("hotwords").addEventListener("input", updateOptions);

// The options the user set, by their API names; an empty or disabled field is left out, so the
// server's default holds. null when a field is invalid (the browser says which).
function decodeOptions() {
  const out = {};
  if ($("decoder").value) out.decoder = $("decoder").value;
  const numbers = { beam: "beam", nbest: "nbest", hotword_boost: "hotword-boost" };
  if (!$("lm-options").hidden) Object.assign(numbers, { alpha: "alpha", beta: "beta" });
  for (const [key, id] of Object.entries(numbers)) {
    const field = $(id);
    // a number field reads "" for text it cannot parse too (badInput): that is not "empty"
    if (field.disabled || (field.value === "" && !field.validity.badInput)) continue;
    if (!field.checkValidity()) {
      field.reportValidity();
      return null;
    }
    out[key] = Number(field.value);
  }
  const phrases = $("hotwords").value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  if (phrases.length && !$("hotwords").disabled) out.hotwords = phrases;
  return out;
}

// --- results ---------------------------------------------------------------------------------

function startJob(name) {
  result = { name, chars: [], duration: null, json: null, segments: [] };
  $("result").hidden = true;
  $("booking").hidden = true;
  $("transcript").replaceChildren();
  $("char-info").textContent = "";
  $("partial").textContent = "";
  $("segments").querySelector("tbody").replaceChildren();
  view.showAlternatives([]);
  view.clearForm();
  status.dataset.partials = "0";
  status.dataset.finals = "0";
}

// Result areas appear with the first result, never as empty boxes before it.
function revealResult() {
  $("result").hidden = false;
  $("booking").hidden = !hasSlots;
}

// A transcribe response (and its text as received, for the JSON download).
function showUpload(body, raw) {
  const segments = (body.segments || []).filter((s) => s.text);
  segments.forEach(view.addSegmentRow);
  view.appendTranscript(body.text || "", body.chars || [], joiner);
  view.showAlternatives(body.nbest);
  view.fillForm(body.slots);
  Object.assign(result, { chars: body.chars || [], duration: body.duration, json: raw, segments: body.segments || [] });
  status.dataset.finals = String(segments.length);
  revealResult();
  // on a phone the options fill the screen: bring a result out of sight into view (not while
  // recording, when the Stop button must stay where it is)
  if ($("result").getBoundingClientRect().top > innerHeight) $("result").scrollIntoView({ block: "start" });
}

// The stem of an uploaded file's name: its downloads are stem.srt, stem.vtt, stem.json.
const stem = (name) => name.replace(/\.[^.]*$/, "") || "transcript";

async function transcribeFile() {
  const file = $("file").files[0];
  if (!file) return setStatus("Choose an audio file first.", "error");
  const options = decodeOptions();
  if (!options) return;
  const query = new URLSearchParams({ format: "json", timestamps: "true" });
  for (const [key, value] of Object.entries(options)) query.set(key, key === "hotwords" ? value.join("\n") : value);
  const form = new FormData();
  form.append("file", file);
  startJob(stem(file.name));
  setStatus(`Transcribing ${file.name} …`, "working");
  try {
    const response = await api("/v1/transcribe?" + query, { method: "POST", body: form });
    const raw = await response.text();
    if (!response.ok) return setStatus(errorText(raw, response.status), "error");
    const body = JSON.parse(raw);
    showUpload(body, raw);
    const warning = body.warning ? ` Warning: ${body.warning}` : "";
    setStatus(`${file.name}: ${body.duration} s of audio.${warning}`, "done");
  } catch (e) {
    failed(e);
  }
}
$("upload").addEventListener("click", transcribeFile);

// --- the microphone --------------------------------------------------------------------------

let mic = null; // {ws, ctx, stream} while recording

// recording-20260102-153045: local time, sortable, safe in a file name.
function recordingName(d = new Date()) {
  const two = (n) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}`;
  return `recording-${day}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}

async function record() {
  const options = decodeOptions();
  if (!options) return;
  if (!navigator.mediaDevices) return setStatus("The microphone needs the page on https or localhost.", "error");
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
  } catch (e) {
    return setStatus(`No microphone: ${e.message}`, "error");
  }
  startJob(recordingName());
  const ctx = new AudioContext();
  await ctx.audioWorklet.addModule("/static/capture.js");
  const node = new AudioWorkletNode(ctx, "capture");
  const ws = new WebSocket(streamUrl());
  ws.binaryType = "arraybuffer";
  mic = { ws, ctx, stream };
  ws.onopen = () => {
    ws.send(JSON.stringify({ signal: "start", sample_rate: ctx.sampleRate, format: "float32", ...options }));
  };
  ws.onmessage = (event) => onStreamMessage(JSON.parse(event.data), ctx, node, stream);
  ws.onclose = () => finishMic();
  $("record").disabled = true;
  $("stop").disabled = false;
  setStatus("Connecting …", "working");
}

function onStreamMessage(msg, ctx, node, stream) {
  if (msg.type === "server_ready") {
    // audio flows only once the server has taken the start message
    node.port.onmessage = (e) => mic && mic.ws.readyState === WebSocket.OPEN && mic.ws.send(e.data.buffer);
    ctx.createMediaStreamSource(stream).connect(node);
    const warning = msg.warning ? ` Warning: ${msg.warning}` : "";
    setStatus(`Recording at ${ctx.sampleRate / 1000} kHz … press Stop when done.${warning}`, "recording");
  } else if (msg.type === "partial_result") {
    $("partial").textContent = msg.text;
    status.dataset.partials = String(Number(status.dataset.partials) + 1);
  } else if (msg.type === "final_result") {
    onFinal(msg);
  } else if (msg.type === "speech_end") {
    result.json = recordingJson(msg.seconds);
    setStatus(`Done: ${msg.seconds.toFixed(1)} s of audio.`, "done");
  } else if (msg.type === "error") {
    setStatus(msg.message, "error");
  }
}

function onFinal(msg) {
  $("partial").textContent = "";
  if (msg.text) {
    view.addSegmentRow(msg);
    view.appendTranscript(msg.text, msg.chars || [], joiner);
    result.segments.push({ start: msg.start, end: msg.end, text: msg.text });
  }
  view.fillForm(msg.slots);
  result.chars = result.chars.concat(msg.chars || []);
  result.duration = msg.end;
  status.dataset.finals = String(Number(status.dataset.finals) + 1);
  revealResult();
}

// A recording's JSON download: the finals joined in the shape of a transcribe response.
function recordingJson(duration) {
  const slots = {};
  for (const input of $("form").querySelectorAll("input")) if (input.value) slots[input.dataset.slot] = input.value;
  const out = { path: result.name, text: $("transcript").textContent, duration, segments: result.segments };
  Object.assign(out, { chars: result.chars }, hasSlots ? { slots } : {});
  return JSON.stringify(out, null, 2);
}

function finishMic() {
  if (!mic) return;
  mic.stream.getTracks().forEach((t) => t.stop());
  mic.ctx.close();
  mic = null;
  $("record").disabled = false;
  $("stop").disabled = true;
  if (["recording", "working"].includes(status.dataset.state)) setStatus("The connection closed early.", "error");
}

function stop() {
  if (!mic) return;
  mic.stream.getTracks().forEach((t) => t.stop());
  if (mic.ws.readyState === WebSocket.OPEN) mic.ws.send(JSON.stringify({ signal: "end" }));
  setStatus("Finishing …", "working");
  $("stop").disabled = true;
}
$("record").addEventListener("click", record);
$("stop").addEventListener("click", stop);

// --- downloads -------------------------------------------------------------------------------

function save(blob, name) {
  const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// SRT and WebVTT come from the server's renderer, so they equal what the API gives for the file.
async function downloadSubtitles(format) {
  try {
    // the segments too: a cue never spans two of them, as in the API's own subtitles
    const body = JSON.stringify({ chars: result.chars, duration: result.duration, segments: result.segments });
    const headers = { "Content-Type": "application/json" };
    const response = await api(`/v1/subtitles?format=${format}`, { method: "POST", headers, body });
    if (!response.ok) return setStatus(errorText(await response.text(), response.status), "error");
    save(await response.blob(), `${result.name}.${format}`);
  } catch (e) {
    failed(e);
  }
}

$("srt").addEventListener("click", () => downloadSubtitles("srt"));
$("vtt").addEventListener("click", () => downloadSubtitles("vtt"));
$("json").addEventListener("click", () => {
  const json = result.json ?? recordingJson(result.duration); // a recording still under way
  save(new Blob([json], { type: "application/json" }), `${result.name}.json`);
});

// --- start -----------------------------------------------------------------------------------

view.wireTranscriptKeys();
updateOptions();
adoptUrlToken();
loadModel();
