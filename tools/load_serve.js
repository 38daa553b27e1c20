// Load test for `rfbplay serve`: N viewers (default 20) each play a
// different recording at real time (10 frames a second, one request in
// flight per viewer, as the web player does) for a bounded time, and the
// script prints how late frames were delivered: latency median and p95, how
// many frames missed their 100 ms slot, 503 answers, and where frames came
// from (session, replay, cache).
//
// usage: node tools/load_serve.js BASE_URL [VIEWERS] [SECONDS]
"use strict";
const [base, viewersArg, secondsArg] = process.argv.slice(2);
if (!base) {
  console.error("usage: node tools/load_serve.js BASE_URL [VIEWERS] [SECONDS]");
  process.exit(2);
}
const viewers = Number(viewersArg || 20);
const seconds = Number(secondsArg || 20);
const FRAME_MS = 100;

async function main() {
  const list = await (await fetch(base + "/api/list")).json();
  if (!list.length) throw new Error("no recordings served");
  const tls = [];
  for (const item of list) {
    const r = await fetch(base + "/api/timeline?brief=1&path=" + encodeURIComponent(item.path));
    if (r.ok) {
      const tl = await r.json();
      if (tl.duration_s > 1) tls.push({ path: item.path, duration: tl.duration_s });
    }
  }
  const lat = [], sources = {};
  let late = 0, busy = 0, errors = 0, frames = 0;
  const until = Date.now() + seconds * 1000;
  async function viewer(i) {
    const rec = tls[i % tls.length];
    // Viewers of the same file start at different places.
    const offset = ((i / tls.length) | 0) * 1.7;
    const start = Date.now();
    let slot = 0;
    while (Date.now() < until) {
      const due = start + slot * FRAME_MS;
      const wait = due - Date.now();
      if (wait > 0) await new Promise(r => setTimeout(r, wait));
      const media = ((offset + (Date.now() - start) / 1000) % rec.duration);
      const t = Math.round(media * 1000) / 1000;
      const sent = Date.now();
      const r = await fetch(base + "/api/frame?path=" + encodeURIComponent(rec.path) + "&t=" + t);
      await r.arrayBuffer();
      const ms = Date.now() - sent;
      if (r.status === 503) busy++;
      else if (!r.ok) errors++;
      else {
        frames++;
        lat.push(ms);
        const s = r.headers.get("x-frame-source") || "?";
        sources[s] = (sources[s] || 0) + 1;
        if (Date.now() > due + FRAME_MS) late++;
      }
      // The next slot after now: a slow frame skips slots, as the player does.
      slot = Math.max(slot + 1, Math.ceil((Date.now() - start) / FRAME_MS));
    }
  }
  await Promise.all(Array.from({ length: viewers }, (_, i) => viewer(i)));
  lat.sort((a, b) => a - b);
  const q = p => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  console.log(`viewers ${viewers}, recordings ${tls.length}, ${seconds} s`);
  console.log(`frames delivered ${frames} (${(frames / seconds).toFixed(1)}/s), late (past their 100 ms slot) ${late}` +
    ` (${frames ? ((100 * late) / frames).toFixed(1) : 0}%), busy (503) ${busy}, errors ${errors}`);
  console.log(`latency ms: median ${q(0.5)}, p95 ${q(0.95)}, max ${lat[lat.length - 1]}`);
  console.log("sources " + JSON.stringify(sources));
}
main().catch(e => { console.error("load_serve: " + (e.stack || e)); process.exit(1); });
