// Seek latency of `rfbplay serve` on one long recording: the time from a
// frame request for a random moment to the last byte of its PNG (the
// pixels the player then draws), first with no seek index (the request
// that makes the server build one in the background), then, once the
// index file is in the cache, for SEEKS random moments.
//
// usage: node tools/seek_serve.js BASE_URL RECORDING SEEKS CACHE_DIR
"use strict";
const fs = require("fs");
const [base, rec, seeksArg, cache] = process.argv.slice(2);
if (!cache) {
  console.error("usage: node tools/seek_serve.js BASE_URL RECORDING SEEKS CACHE_DIR");
  process.exit(2);
}
const seeks = Number(seeksArg);
const path = encodeURIComponent(rec);
// Reproducible moments: a small LCG.
let seed = 7919;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

async function frame(t) {
  const sent = performance.now();
  const r = await fetch(`${base}/api/frame?path=${path}&t=${t}`);
  const body = await r.arrayBuffer();
  if (!r.ok) throw new Error(`frame at ${t}: ${r.status} ${Buffer.from(body).toString().trim()}`);
  return { ms: performance.now() - sent, source: r.headers.get("x-frame-source") };
}
const indexed = () => fs.existsSync(cache) && fs.readdirSync(cache).some(f => f.endsWith(".idx"));
const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];

async function main() {
  let t0 = performance.now();
  const tl = await (await fetch(`${base}/api/timeline?path=${path}&brief=1`)).json();
  const timelineMs = performance.now() - t0;
  const d = tl.duration_s;
  const at = () => Math.round(random() * d * 1000) / 1000;
  console.log(`recording ${rec}: ${d.toFixed(1)} s, ${(tl.file_bytes / 1048576).toFixed(1)} MiB, ` +
    `${tl.updates} updates; timeline (one full read) ${(timelineMs / 1000).toFixed(2)} s`);
  if (indexed()) console.log("note: an index was already in the cache");
  const first = await frame(at());
  console.log(`seek without an index: ${first.ms.toFixed(0)} ms (${first.source})`);
  t0 = performance.now();
  while (!indexed()) {
    if (performance.now() - t0 > 3600e3) throw new Error("no index after an hour");
    await new Promise(r => setTimeout(r, 250));
  }
  console.log(`background index build: ready ${((performance.now() - t0) / 1000).toFixed(1)} s after that seek`);
  const times = [], sources = {};
  for (let i = 0; i < seeks; i++) {
    const f = await frame(at());
    times.push(f.ms);
    sources[f.source] = (sources[f.source] || 0) + 1;
  }
  times.sort((a, b) => a - b);
  console.log(`${seeks} seeks with the index: median ${q(times, 0.5).toFixed(0)} ms, p95 ${q(times, 0.95).toFixed(0)} ms, ` +
    `max ${times[times.length - 1].toFixed(0)} ms; sources ${JSON.stringify(sources)}`);
}
main().catch(e => { console.error("seek_serve: " + (e.stack || e)); process.exit(1); });
