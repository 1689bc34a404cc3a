"""The web page at ``/``: type, press Speak, hear it while it streams, and see what is being
said. One static page, plain HTML, CSS and JavaScript in one string: nothing to build,
nothing fetched from elsewhere. Its controls come from the engine's own fields (their
limits included), the highlighting from the stream's sentence and word events."""

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ttscli</title>
<style>
 :root { --accent: #2563eb; --muted: #6b7280; --line: #e5e7eb; --mark: #fde68a; }
 * { box-sizing: border-box; }
 body { font: 16px/1.45 system-ui, sans-serif; max-width: 52em; margin: 0 auto;
        padding: 1em; color: #111827; }
 h1 { font-size: 1.4em; margin: 0 0 .2em; }
 #voice-line { color: var(--muted); font-size: .9em; margin-bottom: 1em; }
 textarea { width: 100%; min-height: 8em; font: inherit; padding: .6em;
            border: 1px solid var(--line); border-radius: .4em; }
 fieldset { border: 1px solid var(--line); border-radius: .4em; margin: .8em 0;
            display: flex; flex-wrap: wrap; gap: .6em 1.4em; }
 legend { color: var(--muted); font-size: .85em; }
 .field { display: flex; flex-direction: column; min-width: 11em; flex: 1; }
 .field output { font-variant-numeric: tabular-nums; color: var(--muted); }
 input[type=range] { width: 100%; }
 .row { display: flex; flex-wrap: wrap; gap: .6em; align-items: center; margin: .8em 0; }
 button { font: inherit; padding: .5em 1.1em; border-radius: .4em; border: 1px solid var(--line);
          background: #f9fafb; cursor: pointer; }
 button.primary { background: var(--accent); color: white; border-color: var(--accent); }
 button:disabled { opacity: .5; cursor: default; }
 button:focus-visible, input:focus-visible, textarea:focus-visible, select:focus-visible {
   outline: 3px solid #93c5fd; outline-offset: 1px; }
 #spoken { min-height: 3em; padding: .6em; border: 1px solid var(--line); border-radius: .4em;
           background: #fafafa; }
 #spoken span { border-radius: .2em; transition: background .1s; }
 #spoken span.now { background: var(--mark); }
 #meter { width: 100%; height: 48px; display: block; border-radius: .4em; background: #111827; }
 table { border-collapse: collapse; width: 100%; font-size: .9em; margin-top: .6em; }
 td, th { text-align: right; padding: .2em .5em; border-bottom: 1px solid var(--line); }
 td:first-child, th:first-child { text-align: left; }
 #status { color: var(--muted); font-size: .9em; white-space: pre-line; }
 .hidden { display: none; }
 @media (max-width: 32em) { body { padding: .6em; } .field { min-width: 100%; } }
</style>
</head>
<body>
<h1>ttscli</h1>
<div id="voice-line">loading the voice&hellip;</div>
<label for="text">Text to speak</label>
<textarea id="text">Hello from ttscli. This sentence plays while the next one is made.
Every word is highlighted as you hear it.</textarea>
<fieldset id="fields"><legend>Voice controls (the voice's own limits)</legend></fieldset>
<div class="row">
 <label><input id="ssml" type="checkbox"> SSML</label>
 <button id="example" type="button">SSML example</button>
 <label>voice <select id="voice"></select></label>
 <label>token <input id="token" type="password" size="12" autocomplete="off"></label>
</div>
<div class="row">
 <button id="speak" class="primary" title="Ctrl+Enter">Speak</button>
 <button id="stop" disabled>Stop</button>
 <button id="download-wav" disabled>Download WAV</button>
 <button id="download-mp3" disabled>Download MP3</button>
</div>
<canvas id="meter" width="800" height="48" aria-hidden="true"></canvas>
<h2 class="hidden" id="spoken-title">Now speaking</h2>
<div id="spoken" aria-live="polite"></div>
<table aria-label="requests">
 <thead><tr><th>request</th><th>first audio</th><th>audio</th><th>real-time factor</th></tr>
 </thead><tbody id="history"></tbody>
</table>
<ul id="warnings" aria-live="polite"></ul>
<div id="status" role="status">idle</div>
<a id="saver" class="hidden"></a>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { bytes: 0, scheduled: 0, firstAudioMs: null, done: false, error: null,
                highlighted: [], downloads: {}, sentences: [], words: [], warnings: [] };
const EXAMPLE = '<speak>Hello from ttscli. <break time="500ms"/> This phrase is ' +
  '<prosody pitch="+30%">higher</prosody>, this one <prosody rate="slow">slower</prosody>, ' +
  'and this word is <emphasis level="strong">stressed</emphasis>. ' +
  'Call <say-as interpret-as="telephone">555-0123</say-as>.</speak>';
window.ttscliState = state;
let audio = null, analyser = null, playHead = 0, startAt = null, socket = null, drawing = false;
let pcmChunks = [], rate = 24000, requestCount = 0, lastRequest = null;
const shown = { sentences: [], words: [] };  // the elements of what is spoken, kept apart

function show(text) { $("status").textContent = text; }
function headers() {
  return $("token").value ? { Authorization: "Bearer " + $("token").value } : {};
}

async function loadVoice() {
  try {
    const listing = await (await fetch("/v1/voices", { headers: headers() })).json();
    if (listing.error) { show(listing.error.message); return; }
    const voice = (listing.voices || [])[0] || {};
    $("voice").innerHTML = "";
    for (const v of listing.voices || []) {
      const option = document.createElement("option");
      option.value = v.name; option.textContent = v.name;
      $("voice").appendChild(option);
    }
    const credit = [voice.licence && "licence " + voice.licence, voice.attribution]
      .filter(Boolean).join(" \\u2014 ");
    $("voice-line").textContent = (voice.model || voice.engine || "") +
      (credit ? " \\u00b7 " + credit : "");
    buildControls(voice.fields || []);
  } catch (e) { show("could not list voices: " + e); }
}

function buildControls(fields) {
  for (const old of document.querySelectorAll("#fields .field")) old.remove();
  for (const f of fields) {
    if (f.type === "strings") { addNames(f); continue; }
    const whole = f.type === "integer";
    if ((f.type !== "number" && !whole) || f.minimum === undefined || f.minimum === f.maximum) {
      continue;
    }
    // Scales that span a wide range (0.1-10) move on a log scale, so 1 sits in the middle.
    const log = !whole && f.minimum > 0 && f.maximum / f.minimum > 4;
    const to = (x) => (log ? Math.log(x) : x), from = (x) => (log ? Math.exp(x) : x);
    const box = document.createElement("label");
    box.className = "field"; box.title = f.help;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: to(f.minimum), max: to(f.maximum),
                           step: whole ? 1 : "any", value: to(f.default) });
    input.dataset.field = f.name; input.dataset.minimum = f.minimum;
    input.dataset.maximum = f.maximum;
    input.valueOf = () => from(Number(input.value));
    const value = document.createElement("output");
    const shown = () => {
      value.textContent = f.name + " " + input.valueOf().toFixed(whole ? 0 : 2);
    };
    input.addEventListener("input", shown); shown();
    box.append(value, input);
    $("fields").appendChild(box);
  }
}

function addNames(f) {
  // A list of names (Kyutai's voices): typed, comma-separated; empty keeps the served voice.
  const box = document.createElement("label");
  box.className = "field"; box.title = f.help;
  const input = document.createElement("input");
  Object.assign(input, { type: "text", placeholder: "the served voice; two for a dialogue" });
  input.dataset.field = f.name; input.dataset.kind = "names";
  input.valueOf = () => input.value.split(",").map((x) => x.trim()).filter(Boolean);
  const label = document.createElement("output");
  label.textContent = f.name + " (comma-separated)";
  box.append(label, input);
  $("fields").appendChild(box);
}

function options() {
  const chosen = {};
  for (const input of document.querySelectorAll("#fields input")) {
    const value = input.valueOf();
    if (input.dataset.kind === "names") {
      if (value.length) chosen[input.dataset.field] = value;
    } else {
      chosen[input.dataset.field] = Number(value.toFixed(4));
    }
  }
  return chosen;
}

function ensureAudio() {
  if (!audio) {
    audio = new (window.AudioContext || window.webkitAudioContext)();
    analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    analyser.connect(audio.destination);
    if (!drawing) { drawing = true; drawMeter(); }
  }
  audio.resume();
}

function play(buffer) {
  const samples = new Int16Array(buffer);
  pcmChunks.push(samples);
  const floats = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) floats[i] = samples[i] / 32768;
  const clip = audio.createBuffer(1, floats.length, rate);
  clip.copyToChannel(floats, 0);
  const source = audio.createBufferSource();
  source.buffer = clip;
  source.connect(analyser);
  playHead = Math.max(playHead, audio.currentTime + 0.05);
  if (startAt === null) startAt = playHead;
  source.start(playHead);
  playHead += clip.duration;
  state.scheduled += 1;
}

function drawMeter() {
  const canvas = $("meter"), g = canvas.getContext("2d");
  const data = new Float32Array(1024);
  const frame = () => {
    if (analyser) analyser.getFloatTimeDomainData(data); else data.fill(0);
    g.fillStyle = "#111827"; g.fillRect(0, 0, canvas.width, canvas.height);
    g.strokeStyle = "#60a5fa"; g.beginPath();
    for (let i = 0; i < data.length; i++) {
      const x = i / data.length * canvas.width, y = (1 - data[i]) * canvas.height / 2;
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    }
    g.stroke();
    highlight();
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

function addSpoken(kind, event) {
  // Words, once they come (both engines time them), replace the sentence view.
  const item = { text: event.text, start: event.start, end: event.end };
  (kind === "word" ? state.words : state.sentences).push(item);
  if (kind === "word" && state.words.length === 1) {
    $("spoken").innerHTML = ""; shown.sentences = [];
  }
  if (kind === "sentence" && state.words.length) return;
  const span = document.createElement("span");
  span.textContent = event.text + " ";
  $("spoken").appendChild(span);
  (kind === "word" ? shown.words : shown.sentences).push(span);
  $("spoken-title").classList.remove("hidden");
}

function highlight() {
  if (!audio || startAt === null) return;
  const heard = audio.currentTime - startAt;
  const words = state.words.length > 0;
  const items = words ? state.words : state.sentences;
  const spans = words ? shown.words : shown.sentences;
  items.forEach((item, index) => {
    const now = heard >= item.start && heard < item.end;
    if (!spans[index]) return;
    if (now && !spans[index].classList.contains("now")) {
      state.highlighted.push((words ? "w" : "s") + index);
    }
    spans[index].classList.toggle("now", now);
  });
}

function speak() {
  const text = $("text").value;
  if (!text.trim()) { show("nothing to say"); return; }
  Object.assign(state, { bytes: 0, scheduled: 0, firstAudioMs: null, done: false,
                         error: null, highlighted: [], sentences: [], words: [], warnings: [] });
  $("warnings").innerHTML = "";
  ensureAudio();
  playHead = 0; startAt = null; pcmChunks = [];
  $("spoken").innerHTML = "";
  const ssml = $("ssml").checked;
  lastRequest = { text, options: options() };
  const number = ++requestCount;
  const started = performance.now();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const token = $("token").value ? "?token=" + encodeURIComponent($("token").value) : "";
  socket = new WebSocket(scheme + location.host + "/v1/stream" + token);
  socket.binaryType = "arraybuffer";
  $("speak").disabled = true; $("stop").disabled = false;
  socket.onmessage = (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        rate = message.sample_rate;
        const start = { type: "start", voice: $("voice").value || null, ...options() };
        if (ssml) start.ssml = true;
        state.lastStart = start;
        socket.send(JSON.stringify(start));
        socket.send(JSON.stringify({ type: "text", text }));
        socket.send(JSON.stringify({ type: "end" }));
      } else if (message.type === "warning") {
        state.warnings.push(message.message);
        const item = document.createElement("li");
        item.textContent = "warning: " + message.message;
        $("warnings").appendChild(item);
      } else if (message.type === "sentence" || message.type === "word") {
        addSpoken(message.type, message);
      } else if (message.type === "error") {
        state.error = message.message; show("error: " + message.message); finish();
      } else if (message.type === "done") {
        state.done = true;
        const wall = (performance.now() - started) / 1000;
        record(number, state.firstAudioMs, message.seconds, wall / message.seconds);
        show("done: " + message.seconds.toFixed(2) + " s of audio");
        finish();
      }
      return;
    }
    if (state.firstAudioMs === null) state.firstAudioMs = performance.now() - started;
    state.bytes += event.data.byteLength;
    play(event.data);
    show("playing");
  };
  socket.onerror = () => { show("connection failed"); finish(); };
  show("connecting");
}

function finish() {
  $("speak").disabled = false; $("stop").disabled = true;
  const any = pcmChunks.length > 0;
  $("download-wav").disabled = !any; $("download-mp3").disabled = !any;
}

function stop() {
  if (socket) socket.close();
  if (audio) { audio.close(); audio = null; analyser = null; }
  show("stopped"); finish();
}

function record(number, firstMs, seconds, rtf) {
  const row = document.createElement("tr");
  const cells = ["#" + number, firstMs === null ? "-" : firstMs.toFixed(0) + " ms",
                 seconds.toFixed(2) + " s", rtf.toFixed(3)];
  for (const text of cells) {
    const cell = document.createElement("td"); cell.textContent = text; row.appendChild(cell);
  }
  $("history").prepend(row);
}

function wavBlob() {
  const total = pcmChunks.reduce((n, c) => n + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + total * 2));
  const text = (offset, s) => { for (let i = 0; i < s.length; i++)
    view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + total * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
  view.setUint16(22, 1, true); view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, total * 2, true);
  let offset = 44;
  for (const chunk of pcmChunks) for (const s of chunk) { view.setInt16(offset, s, true);
    offset += 2; }
  return new Blob([view], { type: "audio/wav" });
}

async function mp3Blob() {
  // The server encodes: the same text and options, as an MP3 body.
  const response = await fetch("/v1/audio/speech", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers() },
    body: JSON.stringify({ input: lastRequest.text, response_format: "mp3",
                           voice: $("voice").value || null, ...lastRequest.options }),
  });
  if (!response.ok) throw new Error((await response.json()).error.message);
  return await response.blob();
}

async function download(kind) {
  try {
    const blob = kind === "wav" ? wavBlob() : await mp3Blob();
    const url = URL.createObjectURL(blob);
    state.downloads[kind] = url;
    const saver = $("saver");
    saver.href = url; saver.download = "ttscli." + kind; saver.click();
    show("saved ttscli." + kind);
  } catch (e) { show("download failed: " + e.message); }
}

$("speak").addEventListener("click", speak);
$("example").addEventListener("click", () => {
  $("text").value = EXAMPLE; $("ssml").checked = true;
});
$("stop").addEventListener("click", stop);
$("download-wav").addEventListener("click", () => download("wav"));
$("download-mp3").addEventListener("click", () => download("mp3"));
$("token").addEventListener("change", loadVoice);
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) speak();
});
loadVoice();
</script>
</body>
</html>
"""
