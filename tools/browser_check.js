// Drives the system Chromium through rfbplay serve's pages for
// tests/serve_browser.rs: opens the list, opens one recording, moves through
// it by #t=, keys, the seek bar, playback and stepping, and saves what the
// canvas shows (its exact pixels, read back with getImageData) next to the
// time shown, for the Rust test to compare with `rfbplay frame --at`.
//
// usage: node tools/browser_check.js BASE_URL RECORDING OUT_DIR
// Prints one JSON object: {checks: [{name, t, w, h, file}], ...}.
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [base, rec, out] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

function fail(msg) {
  console.error("browser_check: " + msg);
  process.exit(1);
}

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
  const result = { checks: [], list_rows: 0, notes: [] };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("pageerror", e => result.notes.push("page error: " + e.message));

    // The list: every recording, metadata filling in.
    await page.goto(base + "/", { waitUntil: "load" });
    await page.waitForSelector("body[data-listed]", { timeout: 20000 });
    result.list_rows = await page.$$eval("#list tbody tr", r => r.length);
    await page.waitForFunction(
      () => [...document.querySelectorAll("#list tbody tr")].some(tr => tr.children[2].textContent),
      { timeout: 30000 });
    await page.type("#filter", rec.split("/").pop());
    result.filtered_rows = await page.$$eval("#list tbody tr", r => r.length);
    await page.click("#list thead th[data-key=bytes]");
    await new Promise(r => setTimeout(r, 1500));
    await page.screenshot({ path: path.join(out, "list.png") });

    // The player.
    const url = base + "/play/" + rec.split("/").map(encodeURIComponent).join("/");
    const settled = () => page.waitForFunction(() => {
      const s = window.rfbplay;
      return s && s.shownT !== null && s.shownT === Math.round(s.t * 1000) / 1000 && !s.loading && s.wanted === null && !s.playing;
    }, { timeout: 30000 });
    let n = 0;
    const capture = async name => {
      await settled();
      const c = await page.evaluate(() => {
        const cv = document.getElementById("screen");
        const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
        const rgb = new Uint8Array((d.length / 4) * 3);
        for (let i = 0, j = 0; i < d.length; i += 4, j += 3) { rgb[j] = d[i]; rgb[j + 1] = d[i + 1]; rgb[j + 2] = d[i + 2]; }
        let s = "";
        for (let i = 0; i < rgb.length; i += 0x8000) s += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
        return { t: window.rfbplay.shownT, w: cv.width, h: cv.height, b64: btoa(s), hash: location.hash };
      });
      const file = path.join(out, `check_${n++}_${name}.rgb`);
      fs.writeFileSync(file, Buffer.from(c.b64, "base64"));
      result.checks.push({ name, t: c.t, w: c.w, h: c.h, file, hash: c.hash });
      return c;
    };
    const state = () => page.evaluate(() => ({ t: window.rfbplay.t, d: window.rfbplay.duration, u: window.rfbplay.updates, m: window.rfbplay.markers }));

    await page.goto(url + "#t=3", { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']", { timeout: 30000 });
    const hashed = await capture("hash_t3");
    if (hashed.t !== 3) fail("#t=3 showed " + hashed.t);
    const { d: duration, u: updates, m: markers } = await state();
    result.duration = duration;

    await page.keyboard.press("5");
    const half = await capture("key_5");
    if (Math.abs(half.t - Math.round(duration * 500) / 1000) > 0.0011) fail("key 5 went to " + half.t);
    if (half.hash !== "#t=" + half.t) fail("the link is " + half.hash + " at " + half.t);

    await page.keyboard.press("ArrowLeft");
    const left = await capture("key_left");
    if (Math.abs(left.t - Math.max(0, half.t - 5)) > 0.0011) fail("left went to " + left.t);

    const bar = await page.$("#seek");
    const box = await bar.boundingBox();
    await page.mouse.click(box.x + box.width * 0.25, box.y + box.height / 2);
    const clicked = await capture("seek_bar_25");
    if (Math.abs(clicked.t - duration * 0.25) > duration / 100) fail("seek bar 25% went to " + clicked.t);

    // Playback at 4x for 2 s of wall time, then pause.
    await page.keyboard.press("0");
    await capture("key_0");
    await page.select("#speed", "4");
    await page.focus("body");
    await page.keyboard.press("Space");
    await new Promise(r => setTimeout(r, 2000));
    await page.keyboard.press("Space");
    const played = await capture("played_4x");
    result.played_to = played.t;
    if (!(played.t >= Math.min(duration, 4))) fail("4x for 2 s reached only " + played.t);

    await page.keyboard.press(".");
    const fwd = await capture("step_frame_forward");
    if (Math.abs(fwd.t - Math.min(duration, played.t + 0.1)) > 0.0011) fail(". went to " + fwd.t);
    await page.keyboard.press(",");
    const back = await capture("step_frame_back");
    if (Math.abs(back.t - played.t) > 0.0011) fail(", went to " + back.t);

    await page.keyboard.press(">");
    const nu = await capture("next_update");
    if (!updates.some(u => Math.abs(Math.ceil(u * 1000 - 1e-6) / 1000 - nu.t) < 0.0006)) fail("> went to " + nu.t + ", not an update");
    if (!(nu.t > back.t)) fail("> went back");
    await page.keyboard.press("<");
    const pu = await capture("previous_update");
    if (!(pu.t < nu.t)) fail("< did not go back from " + nu.t);

    if (markers.length) {
      await page.keyboard.press("0");
      await settled();
      await page.keyboard.press("]");
      const mk = await capture("next_marker");
      if (Math.abs(mk.t - Math.ceil(markers[0].t * 1000 - 1e-6) / 1000) > 0.0011) fail("] went to " + mk.t);
      result.markers = markers.map(m => m.kind);
    }

    await page.keyboard.press("?");
    if (!(await page.$eval("#help", e => e.classList.contains("open")))) fail("? did not open the help");
    await page.keyboard.press("?");
    if (await page.$eval("#help", e => e.classList.contains("open"))) fail("? did not close the help");

    // Zoom 1:1 and the pixel inspector.
    await page.keyboard.press("3");
    await capture("key_3");
    await page.select("#zoom", "1");
    const cbox = await (await page.$("#screen")).boundingBox();
    await page.mouse.move(cbox.x + 10.5, cbox.y + 7.5);
    const pixel = await page.$eval("#pixel", e => e.textContent);
    if (!pixel.startsWith("10,7 ")) fail("pixel inspector says " + pixel);
    result.pixel = pixel;
    await page.select("#zoom", "fit");
    await page.focus("body");

    // The PNG download: the link's data URL.
    await page.click("#download");
    const dl = await page.$eval("#download-link", a => ({ href: a.href, name: a.download }));
    if (!dl.href.startsWith("data:image/png;base64,")) fail("download is " + dl.href.slice(0, 40));
    const dlFile = path.join(out, dl.name);
    fs.writeFileSync(dlFile, Buffer.from(dl.href.split(",")[1], "base64"));
    const shown = await page.evaluate(() => window.rfbplay.shownT);
    result.download = { file: dlFile, t: shown };

    await page.screenshot({ path: path.join(out, "player.png") });
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
})().catch(e => fail(e.stack || String(e)));
