// Drawing results: the transcript shaded by confidence, the other readings, the segments
// table, the booking form and the model in plain words. Nothing here talks to the server.

export const $ = (id) => document.getElementById(id);

const seconds = (s) => s.toFixed(2);

// --- the model, for people rather than for its trainer ---------------------------------------

const CELLS = {
  lstm: "LSTM",
  lstm_peephole: "LSTM with peepholes",
  gru: "GRU",
  elman: "simple (Elman) RNN",
  jordan: "Jordan RNN",
  irnn: "IRNN",
  clockwork: "clockwork RNN",
  scrn: "SCRN",
};

function count(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : `${Math.round(n / 1e3)} thousand`;
}

// GET /v1/model -> a few sentences. Units hold the CTC blank and the unknown mark, which are
// not characters a transcript can contain.
export function describeModel(m) {
  const cell = CELLS[m.model.cell] || m.model.cell;
  const search = m.decode.decoder === "beam" ? `beam search (${m.decode.beam} hypotheses kept)` : "greedy decoding";
  const extras = [m.decode.lm && "a language model", m.decode.hotwords && "hotwords"].filter(Boolean);
  const lines = [
    `A ${m.model.layers}-layer bidirectional ${cell} (${count(m.parameters)} parameters) ` +
      `that writes ${m.units - 2} different characters; ${search}` +
      (extras.length ? ` with ${extras.join(" and ")}.` : "."),
    `It listens at ${m.sample_rate / 1000} kHz and takes files up to ${m.limits.max_upload_mb} MB ` +
      `and ${Math.round(m.limits.max_seconds / 60)} minutes long.`,
  ];
  if (m.slots && m.slots.length) lines.push(`A slot model fills in: ${m.slots.join(", ")}.`);
  return lines.join(" ");
}

// --- the transcript ----------------------------------------------------------------------------

// Appends `text` to the transcript, each character that has a time (`chars`, in order) as a
// focusable span shaded by how unsure the model was. Text is walked rather than chars, so
// spaces and joiners the chars lack still show.
export function appendTranscript(text, chars, joiner) {
  const box = $("transcript");
  if (box.childNodes.length && joiner) box.append(joiner);
  let next = 0;
  for (const ch of text) {
    const c = chars[next];
    if (c && c.char === ch) {
      box.append(charSpan(c));
      next += 1;
    } else {
      box.append(ch);
    }
  }
  const first = box.querySelector(".c");
  if (first && !box.querySelector('.c[tabindex="0"]')) first.tabIndex = 0;
}

function charSpan(c) {
  const span = document.createElement("span");
  span.className = "c";
  span.textContent = c.char;
  span.tabIndex = -1; // one tab stop for the whole transcript; arrow keys move within it
  let tip = `${seconds(c.start)}–${seconds(c.end)} s`;
  if (typeof c.score === "number") {
    span.style.setProperty("--doubt", (1 - c.score).toFixed(3));
    if (c.score < 0.5) span.classList.add("low"); // not by colour alone
    tip += `, ${Math.round(c.score * 100)}% sure`;
  }
  span.title = tip;
  return span;
}

// Arrow keys walk the characters (a roving tab stop: Tab leaves the transcript at once); the
// focused character's times show under it, as a tooltip does for the mouse.
export function wireTranscriptKeys() {
  const box = $("transcript");
  box.addEventListener("keydown", (e) => {
    const spans = [...box.querySelectorAll(".c")];
    const at = spans.indexOf(document.activeElement);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: spans.length - 1 }[e.key];
    if (at < 0 || to === undefined || !spans[to]) return;
    e.preventDefault();
    spans[at].tabIndex = -1;
    spans[to].tabIndex = 0;
    spans[to].focus();
  });
  box.addEventListener("focusin", (e) => {
    $("char-info").textContent = `“${e.target.textContent}” ${e.target.title}`;
  });
  box.addEventListener("focusout", () => ($("char-info").textContent = ""));
}

// The n-best list of the beam search, when it holds more than the transcript itself.
export function showAlternatives(nbest) {
  const list = $("readings");
  list.replaceChildren();
  for (const alt of nbest || []) {
    const item = document.createElement("li");
    item.textContent = alt.text;
    list.append(item);
  }
  $("alternatives").hidden = list.children.length < 2;
}

export function addSegmentRow(seg) {
  const row = document.createElement("tr");
  for (const [value, cls] of [
    [seconds(seg.start), "t"],
    [seconds(seg.end), "t"],
    [seg.text, ""],
  ]) {
    const cell = document.createElement("td");
    cell.textContent = value;
    cell.className = cls;
    row.append(cell);
  }
  $("segments").querySelector("tbody").append(row);
}

// --- the booking form -------------------------------------------------------------------------

const SLOT_LABELS = {
  origin: ["出发地", "Origin"],
  destination: ["目的地", "Destination"],
  date: ["日期", "Date"],
  time: ["时间", "Time"],
};

// One labelled input per slot the server's slot model fills (GET /v1/model's "slots"); a slot
// this page does not know is labelled with its own name.
export function buildForm(names) {
  const form = $("form");
  form.replaceChildren();
  names.forEach((name, i) => {
    const id = `slot-${i}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    const [zh, en] = SLOT_LABELS[name] || [name, ""];
    const first = document.createElement("span");
    first.textContent = zh;
    if (en) first.lang = "zh";
    label.append(first);
    if (en) label.append(" ", Object.assign(document.createElement("span"), { className: "en", textContent: en }));
    const input = Object.assign(document.createElement("input"), { id, name, autocomplete: "off" });
    input.dataset.slot = name;
    input.placeholder = "not heard";
    const norm = document.createElement("output");
    norm.htmlFor = id;
    norm.dataset.norm = name;
    const row = document.createElement("div");
    row.className = "field";
    row.append(label, input, norm);
    form.append(row);
  });
}

export function clearForm() {
  for (const input of $("form").querySelectorAll("input")) input.value = "";
  for (const out of $("form").querySelectorAll("output")) out.textContent = "";
}

// A result's slots into the form. A value is the heard text, or an object {text, value} whose
// value is the normalized reading (a date as --11-02), shown beside the text. A later
// segment's slot replaces an earlier one.
export function fillForm(slots) {
  for (const [name, given] of Object.entries(slots || {})) {
    const input = $("form").querySelector(`input[data-slot="${CSS.escape(name)}"]`);
    if (!input) continue;
    const { text, value } = given && typeof given === "object" ? given : { text: String(given) };
    input.value = text ?? "";
    const norm = $("form").querySelector(`output[data-norm="${CSS.escape(name)}"]`);
    norm.textContent = value != null && value !== text ? `= ${value}` : "";
  }
}
