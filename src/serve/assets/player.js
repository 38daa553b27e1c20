// rfbplay serve, player page. The server decides the screen at a time (the
// sampler's rule) and sends it as PNG; this page only chooses times, draws
// the PNG's exact pixels on a canvas and reads them back for the pixel
// inspector and the PNG download. `window.rfbplay` exposes the state so the
// browser tests can check what is shown.
"use strict";
const $ = id => document.getElementById(id);
const canvas = $("screen"), ctx = canvas.getContext("2d", { willReadFrequently: true });
const rel = (() => {
  const q = new URLSearchParams(location.search).get("path");
  if (q) return q;
  return location.pathname.replace(/^\/play\//, "").split("/").map(decodeURIComponent).join("/");
})();
const st = {
  t: 0, shownT: null, duration: 0, playing: false, speed: 1, idle: 2,
  updates: [], changes: [], markers: [], loading: false, wanted: null, timeline: null, inputs: null,
  finding: false, found: null, selecting: false, live: false,
};
window.rfbplay = st;
$("name").textContent = rel;
document.title = "rfbplay: " + rel;

const ms = t => Math.round(t * 1000) / 1000;
// An update's or marker's time, rounded up to the millisecond, so that the
// screen shown there includes it.
const ceilMs = t => Math.ceil(t * 1000 - 1e-6) / 1000;
// Up to the end's next millisecond: the screen there is the last one.
const clamp = t => Math.min(Math.max(t, 0), ceilMs(st.duration));
// Times are shown as rfbplay prints them, rounded up to the millisecond
// (through whole microseconds, so that 1.2 stays 1.200), so a time copied
// into `rfbplay frame --at` shows the screen of the update it names.
function fmt(t) {
  const ms = Math.ceil(Math.round(t * 1e6) / 1000);
  const m = Math.floor(ms / 60000), s = (ms - m * 60000) / 1000;
  return (m ? m + ":" + (s < 10 ? "0" : "") : "") + s.toFixed(3);
}

// Fetches the frame for the newest wanted time; one request at a time.
function request(t) {
  st.wanted = ms(clamp(t));
  if (!st.loading) load();
}
async function load() {
  const t = st.wanted;
  st.wanted = null;
  st.loading = true;
  try {
    const r = await fetch("/api/frame?path=" + encodeURIComponent(rel) + "&t=" + t);
    if (r.ok) {
      const bmp = await createImageBitmap(await r.blob(),
        { colorSpaceConversion: "none", premultiplyAlpha: "none" });
      if (canvas.width !== bmp.width || canvas.height !== bmp.height) {
        canvas.width = bmp.width; canvas.height = bmp.height; applyZoom();
      }
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bmp, 0, 0);
      st.shownT = t;
      document.body.dataset.shown = String(t);
      $("status").textContent = "";
    } else {
      $("status").textContent = r.status === 503 ? "server busy, retrying" : (await r.text()).trim();
      if (r.status === 503 && st.wanted === null) st.wanted = t;
      if (r.status === 503) await new Promise(res => setTimeout(res, 250));
    }
  } catch (e) {
    $("status").textContent = String(e);
  }
  st.loading = false;
  if (st.wanted !== null) load();
}

function show() {
  $("time").textContent = fmt(st.t) + " / " + fmt(st.duration) + (st.live ? " live" : "");
  $("cursor").style.left = (st.duration ? (st.t / st.duration) * 100 : 0) + "%";
  $("play").innerHTML = st.playing ? "&#10074;&#10074;" : "&#9654;";
}
function seek(t) {
  st.t = ms(clamp(t));
  show();
  request(st.t);
  if (!st.playing) remember();
}
function remember() {
  history.replaceState(null, "", "#t=" + ms(st.t));
}

// Playback: media time advances by wall time times speed; a gap with no
// change longer than the idle limit is cut to that limit.
let lastTick = null;
function tick(now) {
  if (!st.playing) { lastTick = null; return; }
  if (lastTick !== null) {
    let t = st.t + ((now - lastTick) / 1000) * st.speed;
    if (st.idle > 0) {
      const i = upper(st.changes, st.t);
      const prev = i > 0 ? st.changes[i - 1] : 0, next = st.changes[i];
      if (next !== undefined && t - prev > st.idle && t < next) t = Math.max(t, next);
    }
    if (t >= st.duration) { t = st.duration; st.playing = false; remember(); }
    st.t = t;
    show();
    request(t);
  }
  lastTick = now;
  requestAnimationFrame(tick);
}
function setPlaying(p) {
  st.playing = p && st.duration > 0;
  if (st.playing && st.t >= st.duration) st.t = 0;
  show();
  if (st.playing) requestAnimationFrame(tick); else { request(st.t); remember(); }
}
// The first index whose value is > t.
function upper(a, t) {
  let lo = 0, hi = a.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] <= t) lo = m + 1; else hi = m; }
  return lo;
}
function stepUpdate(dir) {
  setPlaying(false);
  const u = st.updates;
  const i = upper(u, st.t);
  if (dir > 0) { if (i < u.length) seek(ceilMs(u[i])); }
  else {
    // st.t shows update i-1; the one before it is i-2.
    seek(i >= 2 ? ceilMs(u[i - 2]) : 0);
  }
}
function stepMarker(dir) {
  const m = st.markers.map(x => ceilMs(x.t));
  if (dir > 0) { const n = m.find(x => x > st.t); if (n !== undefined) seek(n); }
  else { const p = m.filter(x => x < st.t).pop(); seek(p ?? 0); }
}

function drawHeat() {
  const heat = $("heat"), w = heat.clientWidth || 800, h = heat.clientHeight || 36;
  heat.width = w; heat.height = h;
  const g = heat.getContext("2d");
  const bins = new Float64Array(w);
  const d = st.duration || 1;
  for (const [t, px] of st.timeline.updates) bins[Math.min(w - 1, Math.floor((t / d) * w))] += px;
  const perSec = d / w;
  let max = 0;
  for (let i = 0; i < w; i++) { bins[i] = Math.log1p(bins[i] / perSec); max = Math.max(max, bins[i]); }
  for (let i = 0; i < w; i++) {
    const v = max ? bins[i] / max : 0;
    g.fillStyle = "rgba(78,161,255," + v.toFixed(3) + ")";
    g.fillRect(i, 0, 1, h);
  }
}
function addMarkers() {
  const seekEl = $("seek");
  for (const m of st.markers) {
    const el = document.createElement("div");
    el.className = "marker " + m.kind;
    el.title = m.kind + " at " + fmt(m.t) + (m.text ? ": " + m.text : "");
    el.dataset.t = String(m.t);
    el.style.left = (st.duration ? (m.t / st.duration) * 100 : 0) + "%";
    seekEl.appendChild(el);
  }
}

// Needle search: a rectangle dragged on the screen (server side, it is cut
// from the screen at the time shown) or an uploaded PNG; the spans come back
// as pink markers.
async function findNeedle(query, body) {
  if (st.finding) return;
  st.finding = true;
  $("find-status").textContent = "finding\u2026";
  try {
    for (;;) {
      const r = await fetch("/api/find?path=" + encodeURIComponent(rel) + query,
        { method: "POST", body: body || undefined });
      if (r.status === 503) {
        $("find-status").textContent = "another find is running, waiting\u2026";
        await new Promise(res => setTimeout(res, 2000));
        continue;
      }
      if (!r.ok) { $("find-status").textContent = (await r.text()).trim(); break; }
      showHits(await r.json());
      break;
    }
  } catch (e) {
    $("find-status").textContent = String(e);
  }
  st.finding = false;
}
function showHits(report) {
  st.found = report;
  renderMarkers();
  const n = report.spans.length;
  $("find-status").textContent = n ? n + " span" + (n > 1 ? "s" : "") + " found: ] visits them"
    : "not found" + (report.best ? "; closest score " + report.best.score + " at " + fmt(report.best.time_s)
      : "; nothing scored " + report.closest_within + " or less");
  if (report.error) $("find-status").textContent += " (" + report.error + ")";
}
function setSelecting(on) {
  st.selecting = on;
  $("stage").classList.toggle("selecting", on);
  $("find-region").classList.toggle("active", on);
  if (!on) $("selection").hidden = true;
  else $("find-status").textContent = "drag a rectangle on the screen";
}
// Canvas pixel under a mouse event, clamped to the screen.
function canvasAt(e) {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor(((e.clientX - r.left) / r.width) * canvas.width);
  const y = Math.floor(((e.clientY - r.top) / r.height) * canvas.height);
  return [Math.min(Math.max(x, 0), canvas.width - 1), Math.min(Math.max(y, 0), canvas.height - 1)];
}
let dragFrom = null;
function selectionBox(a, b) {
  const x = Math.min(a[0], b[0]), y = Math.min(a[1], b[1]);
  return { x, y, w: Math.abs(a[0] - b[0]) + 1, h: Math.abs(a[1] - b[1]) + 1 };
}
function drawSelection(box) {
  const r = canvas.getBoundingClientRect(), sr = $("stage").getBoundingClientRect();
  const kx = r.width / canvas.width, ky = r.height / canvas.height, el = $("selection");
  el.hidden = false;
  el.style.left = (r.left - sr.left + $("stage").scrollLeft + box.x * kx) + "px";
  el.style.top = (r.top - sr.top + $("stage").scrollTop + box.y * ky) + "px";
  el.style.width = box.w * kx + "px";
  el.style.height = box.h * ky + "px";
}
canvas.addEventListener("mousedown", e => {
  if (!st.selecting) return;
  setPlaying(false);
  dragFrom = canvasAt(e);
  drawSelection(selectionBox(dragFrom, dragFrom));
  e.preventDefault();
});
window.addEventListener("mousemove", e => { if (dragFrom) drawSelection(selectionBox(dragFrom, canvasAt(e))); });
window.addEventListener("mouseup", e => {
  if (!dragFrom) return;
  const box = selectionBox(dragFrom, canvasAt(e));
  dragFrom = null;
  setSelecting(false);
  if (box.w < 2 || box.h < 2 || st.shownT === null) { $("find-status").textContent = "the region is too small"; return; }
  findNeedle("&t=" + st.shownT + "&x=" + box.x + "&y=" + box.y + "&w=" + box.w + "&h=" + box.h);
});

function applyZoom() {
  const z = $("zoom").value;
  $("stage").classList.toggle("fit", z === "fit");
  canvas.style.width = z === "fit" ? "" : canvas.width * Number(z) + "px";
  canvas.style.height = z === "fit" ? "" : canvas.height * Number(z) + "px";
}

function downloadFrame() {
  const a = $("download-link");
  a.href = canvas.toDataURL("image/png");
  a.download = rel.split("/").pop().replace(/\.[^.]*$/, "") + "_t" + st.shownT + ".png";
  a.click();
}

function toggleHelp() { $("help").classList.toggle("open"); }

document.addEventListener("keydown", e => {
  if (e.target.tagName === "SELECT" || e.target.tagName === "INPUT") return;
  const k = e.key;
  if (k === " ") setPlaying(!st.playing);
  else if (k === "ArrowLeft") seek(st.t - (e.shiftKey ? st.duration / 10 : 5));
  else if (k === "ArrowRight") seek(st.t + (e.shiftKey ? st.duration / 10 : 5));
  else if (k === ",") { setPlaying(false); seek(st.t - 0.1); }
  else if (k === ".") { setPlaying(false); seek(st.t + 0.1); }
  else if (k === "<") stepUpdate(-1);
  else if (k === ">") stepUpdate(1);
  else if (k === "[") stepMarker(-1);
  else if (k === "]") stepMarker(1);
  else if (k >= "0" && k <= "9") seek((st.duration * Number(k)) / 10);
  else if (k === "End") seek(ceilMs(st.duration));
  else if (k === "Home") seek(0);
  else if (k === "n") setSelecting(!st.selecting);
  else if (k === "f") { if (document.fullscreenElement) document.exitFullscreen(); else $("stage").requestFullscreen().catch(() => {}); }
  else if (k === "?") toggleHelp();
  else if (k === "Escape") { $("help").classList.remove("open"); setSelecting(false); }
  else return;
  e.preventDefault();
});
$("play").onclick = () => setPlaying(!st.playing);
$("back-frame").onclick = () => { setPlaying(false); seek(st.t - 0.1); };
$("fwd-frame").onclick = () => { setPlaying(false); seek(st.t + 0.1); };
$("back-update").onclick = () => stepUpdate(-1);
$("fwd-update").onclick = () => stepUpdate(1);
$("speed").onchange = e => { st.speed = Number(e.target.value); };
$("idle").onchange = e => { st.idle = Number(e.target.value); };
$("zoom").onchange = applyZoom;
$("download").onclick = downloadFrame;
$("help-button").onclick = toggleHelp;
$("find-region").onclick = () => setSelecting(!st.selecting);
$("needle-file").onchange = e => {
  const f = e.target.files[0];
  if (f) findNeedle("", f);
  e.target.value = "";
};
let dragging = false;
const seekAt = e => {
  const r = $("seek").getBoundingClientRect();
  seek(((e.clientX - r.left) / r.width) * st.duration);
};
$("seek").addEventListener("mousedown", e => { dragging = true; seekAt(e); });
window.addEventListener("mousemove", e => { if (dragging) seekAt(e); });
window.addEventListener("mouseup", () => { dragging = false; });
canvas.addEventListener("mousemove", e => {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor(((e.clientX - r.left) / r.width) * canvas.width);
  const y = Math.floor(((e.clientY - r.top) / r.height) * canvas.height);
  if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) return;
  const p = ctx.getImageData(x, y, 1, 1).data;
  const hex = "#" + [p[0], p[1], p[2]].map(v => v.toString(16).padStart(2, "0")).join("");
  $("pixel").textContent = x + "," + y + "  " + hex + "  rgb(" + p[0] + "," + p[1] + "," + p[2] + ")";
});
window.addEventListener("hashchange", () => {
  const m = /t=([0-9.]+)/.exec(location.hash);
  if (m) seek(Number(m[1]));
});

// The markers: the timeline's (bells, resizes, where a cut or damage is),
// the .kb file's (key presses blue, pointer button presses violet; events
// after the end have no screen) and the needle's hits (pink); all take
// part in [ and ]. Drawn again whenever one of them changes.
function renderMarkers() {
  const tl = st.timeline, d = st.duration;
  const own = [
    ...tl.bells.map(t => ({ t, kind: "bell" })),
    ...tl.resizes.map(([t, w, h]) => ({ t, kind: "resize", text: w + "\u00d7" + h })),
    // A live recording is cut only because it is not finished yet.
    ...(tl.cut && !st.live ? [{ t: Math.min(tl.cut.time_s, d), kind: "cut", text: tl.cut.message }] : []),
    ...(tl.damage ? [{ t: Math.min(tl.damage.time_s, d), kind: "damage", text: tl.damage.message }] : []),
  ];
  const kb = st.inputs ? st.inputs.markers.filter(m => m.time_s <= d + 0.001)
    .map(m => ({ t: m.time_s, kind: m.kind, text: m.text })) : [];
  const hits = [];
  for (const el of document.querySelectorAll("#seek .marker, #seek .span")) el.remove();
  if (st.found) {
    for (const s of st.found.spans) {
      const end = s.end_s ?? d;
      hits.push({ t: s.start_s, kind: "hit", text: st.found.width + "\u00d7" + st.found.height +
        " at " + s.x + "," + s.y + " until " + fmt(end) + (s.open ? " (end)" : "") + ", score " + s.score });
      const band = document.createElement("div");
      band.className = "span hit";
      band.style.left = (s.start_s / (d || 1)) * 100 + "%";
      band.style.width = Math.max(0.2, ((end - s.start_s) / (d || 1)) * 100) + "%";
      $("seek").appendChild(band);
    }
  }
  st.markers = [...own, ...kb, ...hits].sort((a, b) => a.t - b.t);
  addMarkers();
  let note = "";
  if (tl.damage) note = tl.damage.message;
  else if (st.live) note = "live: still being written";
  else if (tl.cut) note = tl.cut.message;
  if (st.inputs && st.inputs.error) note = st.inputs.error;
  else if (st.inputs && kb.length < st.inputs.markers.length) {
    note = (note ? note + "; " : "") + (st.inputs.markers.length - kb.length) + " events of " +
      st.inputs.kb + " come after the recording's end";
  }
  $("status").textContent = note;
}
function applyTimeline(tl) {
  st.timeline = tl;
  st.live = !!tl.live;
  st.duration = tl.duration_s;
  st.updates = tl.updates.map(u => u[0]);
  st.changes = tl.updates.filter(u => u[1] > 0).map(u => u[0]);
  document.body.classList.toggle("live", st.live);
  drawHeat();
  renderMarkers();
  show();
}
const timelineUrl = "/api/timeline?path=" + encodeURIComponent(rel);
// A live recording: the timeline is asked again every second; a viewer at
// the end (paused there, or playing into it) follows the new end.
function poll() {
  fetch(timelineUrl)
    .then(r => r.ok ? r.json() : Promise.reject(new Error("timeline " + r.status)))
    .then(tl => {
      const atEnd = st.t >= st.duration - 0.0005 && !st.playing;
      applyTimeline(tl);
      if (atEnd) seek(ceilMs(st.duration));
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    })
    .catch(() => {})
    .finally(() => { if (st.live) setTimeout(poll, 1000); });
}

fetch(timelineUrl)
  .then(r => r.ok ? r.json() : r.text().then(t => Promise.reject(new Error(t.trim()))))
  .then(tl => fetch("/api/inputs?path=" + encodeURIComponent(rel))
    .then(r => r.ok ? r.json() : null)
    .catch(() => null)
    .then(inputs => {
      st.inputs = inputs;
      applyTimeline(tl);
      const m = /t=([0-9.]+)/.exec(location.hash);
      seek(m ? Number(m[1]) : 0);
      document.body.dataset.ready = "1";
      if (st.live) setTimeout(poll, 1000);
    }))
  .catch(e => { $("status").textContent = String(e.message || e); document.body.dataset.ready = "error"; });
window.addEventListener("resize", () => { if (st.timeline) drawHeat(); });
