"""The web page at ``/``: type, press Speak, hear it while it streams (Web Audio over the
WebSocket). Plain HTML and JavaScript in one string: nothing to build, nothing fetched."""

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ttscli</title>
<style>
 body { font: 16px system-ui, sans-serif; max-width: 44em; margin: 2em auto; padding: 0 1em; }
 textarea { width: 100%; height: 8em; font: inherit; }
 label { margin-right: 1em; }
 input[type=number] { width: 5em; }
 #status { font-family: monospace; margin-top: 1em; white-space: pre-line; }
</style>
</head>
<body>
<h1>ttscli</h1>
<textarea id="text">Hello from ttscli. This sentence is played while the next is made.</textarea>
<p>
 <label>voice <select id="voice"></select></label>
 <span id="fields"></span>
 <label>token <input id="token" type="password" size="10"></label>
</p>
<button id="speak">Speak</button>
<div id="status">idle</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { bytes: 0, scheduled: 0, firstAudioMs: null, done: false, error: null };
window.ttscliState = state;
let audio = null, playHead = 0;

function show(extra) {
  const first = state.firstAudioMs === null ? "-" : state.firstAudioMs.toFixed(0) + " ms";
  $("status").textContent = (extra ? extra + "\\n" : "") + "bytes received: " + state.bytes +
    "\\nchunks scheduled: " + state.scheduled + "\\nfirst audio: " + first;
}

async function loadVoices() {
  const headers = $("token").value ? { Authorization: "Bearer " + $("token").value } : {};
  try {
    const listing = await (await fetch("/v1/voices", { headers })).json();
    $("voice").innerHTML = "";
    $("fields").innerHTML = "";
    for (const v of listing.voices || []) {
      const option = document.createElement("option");
      option.value = v.name;
      option.textContent = v.name + (v.licence ? " (" + v.licence + ")" : "");
      $("voice").appendChild(option);
    }
    // A control for every number the engine lets a request set, within its limits.
    const first = (listing.voices || [])[0] || {};
    for (const f of first.fields || []) {
      if (f.type !== "number" || f.minimum === undefined || f.minimum === f.maximum) continue;
      const label = document.createElement("label");
      label.title = f.help;
      const input = document.createElement("input");
      Object.assign(input, { type: "number", min: f.minimum, max: f.maximum, step: 0.05,
                             value: f.default });
      input.dataset.field = f.name;
      label.append(f.name + " ", input);
      $("fields").appendChild(label);
    }
  } catch (e) { show("could not list voices: " + e); }
}

function play(buffer, rate) {
  const samples = new Int16Array(buffer);
  const floats = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) floats[i] = samples[i] / 32768;
  const clip = audio.createBuffer(1, floats.length, rate);
  clip.copyToChannel(floats, 0);
  const source = audio.createBufferSource();
  source.buffer = clip;
  source.connect(audio.destination);
  playHead = Math.max(playHead, audio.currentTime + 0.05);
  source.start(playHead);
  playHead += clip.duration;
  state.scheduled += 1;
}

function speak() {
  Object.assign(state, { bytes: 0, scheduled: 0, firstAudioMs: null, done: false, error: null });
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  audio.resume();
  playHead = 0;
  const started = performance.now();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const token = $("token").value ? "?token=" + encodeURIComponent($("token").value) : "";
  const ws = new WebSocket(scheme + location.host + "/v1/stream" + token);
  ws.binaryType = "arraybuffer";
  let rate = 24000;
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        rate = message.sample_rate;
        const start = { type: "start", voice: $("voice").value || null };
        for (const input of document.querySelectorAll("#fields input")) {
          start[input.dataset.field] = Number(input.value);
        }
        ws.send(JSON.stringify(start));
        ws.send(JSON.stringify({ type: "text", text: $("text").value }));
        ws.send(JSON.stringify({ type: "end" }));
      } else if (message.type === "error") {
        state.error = message.message; show("error: " + message.message);
      } else if (message.type === "done") {
        state.done = true; show("done");
      }
      return;
    }
    if (state.firstAudioMs === null) state.firstAudioMs = performance.now() - started;
    state.bytes += event.data.byteLength;
    play(event.data, rate);
    show("playing");
  };
  ws.onerror = () => show("connection failed");
  show("connecting");
}

$("speak").addEventListener("click", speak);
$("token").addEventListener("change", loadVoices);
loadVoices();
</script>
</body>
</html>
"""
