// Drives the system Chromium through the web player's markers, needle search
// and live follow for tests/serve_player.rs, and saves what the canvas shows
// (its exact pixels, read back with getImageData) next to the time shown,
// for the Rust test to compare with `rfbplay frame --at`.
//
// usage: node tools/browser_player.js MODE BASE_URL RECORDING OUT_DIR [ARGS]
//   markers: steps with ] through every marker; checks the .kb ones
//   find X Y W H [PNG]: selects that rectangle of the frame shown at #t=T
//     (the URL's hash, in RECORDING as NAME#t=T) and waits for the hit
//     markers; then uploads PNG as a needle through the file input
//   live SECONDS: stays at the end of a growing recording for SECONDS and
//     records the duration and the frames shown
// Prints one JSON object: {checks: [{name, t, w, h, file}], ...}.
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [mode, base, rec, out, ...rest] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

function fail(msg) {
  console.error("browser_player: " + msg);
  process.exit(1);
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

(async () => {
  fs.mkdirSync(out, { recursive: true });
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "rfbplay-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--user-data-dir=" + profile,
    ],
  });
  const result = { checks: [], notes: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("pageerror", e => result.notes.push("page error: " + e.message));
    const [name, hash] = rec.split("#");
    const url = base + "/play/" + name.split("/").map(encodeURIComponent).join("/") + (hash ? "#" + hash : "");
    const settled = () => page.waitForFunction(() => {
      const s = window.rfbplay;
      return s && s.shownT !== null && s.shownT === Math.round(s.t * 1000) / 1000 && !s.loading && s.wanted === null && !s.playing;
    }, { timeout: 30000 });
    let n = 0;
    const grab = async name => {
      const c = await page.evaluate(() => {
        const cv = document.getElementById("screen");
        const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
        const rgb = new Uint8Array((d.length / 4) * 3);
        for (let i = 0, j = 0; i < d.length; i += 4, j += 3) { rgb[j] = d[i]; rgb[j + 1] = d[i + 1]; rgb[j + 2] = d[i + 2]; }
        let s = "";
        for (let i = 0; i < rgb.length; i += 0x8000) s += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
        return { t: window.rfbplay.shownT, w: cv.width, h: cv.height, b64: btoa(s), duration: window.rfbplay.duration };
      });
      const file = path.join(out, `check_${n++}_${name}.rgb`);
      fs.writeFileSync(file, Buffer.from(c.b64, "base64"));
      result.checks.push({ name, t: c.t, w: c.w, h: c.h, file, duration: c.duration });
      return c;
    };
    const capture = async name => { await settled(); return grab(name); };

    await page.goto(url, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });

    if (mode === "markers") {
      const markers = await page.evaluate(() => window.rfbplay.markers);
      result.markers = markers;
      result.marker_titles = await page.$$eval("#seek .marker.key, #seek .marker.pointer", els => els.map(e => e.title));
      // Each marker's title gives its time as rfbplay prints times: rounded
      // up to the millisecond (a .kb event at 1.2344 s shows 1.235).
      const up = t => {
        const ms = Math.ceil(Math.round(t * 1e6) / 1000);
        const m = Math.floor(ms / 60000), sec = (ms - m * 60000) / 1000;
        return (m ? m + ":" + (sec < 10 ? "0" : "") : "") + sec.toFixed(3);
      };
      const shown = new Set(markers.map(m => up(m.t)));
      for (const title of result.marker_titles) {
        const at = title.slice(title.indexOf(" at ") + 4).split(": ")[0];
        if (!shown.has(at)) fail("marker title " + JSON.stringify(title) + " shows no marker's time rounded up");
      }
      await capture("start");
      // ] visits every marker in order (at most 40 here), [ comes back.
      const ceil = t => Math.ceil(t * 1000 - 1e-6) / 1000;
      const stops = [...new Set(markers.map(m => ceil(m.t)))].filter(t => t > 0).slice(0, 40);
      for (const want of stops) {
        await page.keyboard.press("]");
        const got = await capture("next_marker");
        if (Math.abs(got.t - want) > 0.0006) fail("] went to " + got.t + ", the next marker is at " + want);
      }
      if (stops.length > 1) {
        await page.keyboard.press("[");
        const got = await capture("previous_marker");
        if (Math.abs(got.t - stops[stops.length - 2]) > 0.0006) fail("[ went to " + got.t);
      }
    } else if (mode === "find") {
      const [x, y, w, h] = rest.map(Number);
      await capture("needle_frame");
      await page.select("#zoom", "1");
      await page.focus("body");
      await page.click("#find-region");
      const box = await (await page.$("#screen")).boundingBox();
      await page.mouse.move(box.x + x + 0.5, box.y + y + 0.5);
      await page.mouse.down();
      await page.mouse.move(box.x + x + w / 2, box.y + y + h / 2, { steps: 3 });
      await page.mouse.move(box.x + x + w - 0.5, box.y + y + h - 0.5, { steps: 3 });
      await page.mouse.up();
      await page.waitForFunction(() => window.rfbplay.found && !window.rfbplay.finding, { timeout: 60000 });
      result.found = await page.evaluate(() => window.rfbplay.found);
      result.find_status = await page.$eval("#find-status", e => e.textContent);
      result.hit_markers = await page.$$eval("#seek .marker.hit", els => els.map(e => ({ title: e.title, t: Number(e.dataset.t) })));
      // ] from the start reaches the first hit, through any markers before it.
      const firstHit = Math.ceil(result.found.spans[0].start_s * 1000 - 1e-6) / 1000;
      await page.keyboard.press("0");
      await settled();
      for (let i = 0; i < 50; i++) {
        await page.keyboard.press("]");
        const c = await capture("next_marker");
        if (Math.abs(c.t - firstHit) < 0.0006) { result.reached_first_hit = c.t; break; }
        if (c.t > firstHit) fail("] went past the first hit, to " + c.t);
      }
      await page.screenshot({ path: path.join(out, "find.png") });
      // The same needle as a PNG file, through the file input.
      if (rest[4]) {
        await page.evaluate(() => { window.rfbplay.found = null; });
        await (await page.$("#needle-file")).uploadFile(rest[4]);
        await page.waitForFunction(() => window.rfbplay.found && !window.rfbplay.finding, { timeout: 60000 });
        result.found_by_upload = await page.evaluate(() => window.rfbplay.found);
      }
    } else if (mode === "live") {
      const seconds = Number(rest[0] || 6);
      result.live_flag = await page.evaluate(() => window.rfbplay.live);
      await page.keyboard.press("End");
      await settled();
      const first = await grab("live_start");
      const durations = [first.duration];
      const t0 = Date.now();
      while (Date.now() - t0 < seconds * 1000) {
        await sleep(700);
        await settled().catch(() => {});
        const c = await grab("live");
        durations.push(c.duration);
      }
      result.durations = durations;
      // Once the file stops growing the page says so and shows its end.
      await page.waitForFunction(() => !window.rfbplay.live, { timeout: 60000 });
      await settled();
      await sleep(300);
      await capture("live_final");
      result.final_duration = await page.evaluate(() => window.rfbplay.duration);
      await page.screenshot({ path: path.join(out, "live.png") });
    } else {
      fail("unknown mode " + mode);
    }
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
})().catch(e => fail(e.stack || String(e)));
