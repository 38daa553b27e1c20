// Opens a `rfbplay compare --report` page (report/index.html, by file://)
// in the system Chromium for tests/compare_report_browser.rs: checks that
// every image it shows loads, reads the order of the checks, switches the
// four views (side by side, slider, blend, toggle) and records what each
// shows (which blocks are visible, the top image's clip and opacity, and a
// screenshot of the first check), and saves screenshots of the page.
//
// usage: node tools/report_check.js FILE_URL OUT_DIR
// Prints one JSON object (see `result` below).
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const [url, out] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

(async () => {
  fs.mkdirSync(out, { recursive: true });
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "rfbplay-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--allow-file-access-from-files", "--user-data-dir=" + profile,
    ],
  });
  const result = { notes: [], requests: [], views: {} };
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("pageerror", e => result.notes.push("page error: " + e.message));
    page.on("console", m => { if (m.type() === "error") result.notes.push("console: " + m.text()); });
    page.on("request", r => result.requests.push(r.url()));
    await page.goto(url, { waitUntil: "load" });

    // Every visible image, scrolled into view so lazy ones load.
    const loadVisible = async () => {
      const n = await page.$$eval("img", imgs => imgs.length);
      for (let i = 0; i < n; i++) {
        await page.evaluate(async i => {
          const img = document.querySelectorAll("img")[i];
          if (img.getClientRects().length === 0) return;
          img.scrollIntoView();
          if (!img.complete) await new Promise(r => { img.onload = r; img.onerror = r; });
        }, i);
      }
      await page.evaluate(() => window.scrollTo(0, 0));
      return page.$$eval("img", imgs => imgs.filter(i => i.getClientRects().length > 0)
        .map(i => ({ src: i.getAttribute("src"), w: i.naturalWidth, h: i.naturalHeight })));
    };

    result.title = await page.title();
    result.order = await page.$$eval("section.check", s => s.map(x => ({ id: x.dataset.id, status: x.dataset.status })));
    result.passed_rows = await page.$$eval("#passed tbody tr", r => r.length);
    result.summary = await page.$eval("#summary", e => e.textContent);
    result.images_sbs = await loadVisible();
    await page.screenshot({ path: path.join(out, "report.png"), fullPage: true });

    // The first check that has both screens.
    const first = "section.check:has(.viewer)";
    result.first = await page.$eval(first, s => s.dataset.id);
    const state = () => page.$eval(first, s => {
      const shown = e => e.getClientRects().length > 0;
      const over = s.querySelector(".stack img.over");
      const cs = getComputedStyle(over);
      return {
        sbs: shown(s.querySelector(".sbs")),
        viewer: shown(s.querySelector(".viewer")),
        range: shown(s.querySelector("input.amount")),
        clip: cs.clipPath, opacity: cs.opacity,
        which: s.querySelector(".which").textContent,
      };
    });
    // Only the images: the side-by-side block, or the stack of the others.
    const snap = async name => {
      const el = await page.$(first + (name === "sbs" ? " .sbs" : " .stack"));
      await el.scrollIntoView();
      const file = path.join(out, "view_" + name + ".png");
      await el.screenshot({ path: file });
      return file;
    };
    const view = async v => {
      await page.click(`#views input[value='${v}']`);
      await new Promise(r => setTimeout(r, 100));
    };
    result.views.sbs = Object.assign(await state(), { shot: await snap("sbs") });

    await view("slider");
    result.images_stack = await loadVisible();
    result.views.slider = Object.assign(await state(), { shot: await snap("slider") });
    await page.$eval(first + " input.amount", r => { r.value = "20"; r.dispatchEvent(new Event("input")); });
    result.views.slider20 = Object.assign(await state(), { shot: await snap("slider20") });

    await view("blend");
    result.views.blend = Object.assign(await state(), { shot: await snap("blend") });

    await view("toggle");
    result.views.toggle = Object.assign(await state(), { shot: await snap("toggle") });
    const stack = await page.$(first + " .stack");
    await stack.click();
    await new Promise(r => setTimeout(r, 100));
    result.views.toggled = Object.assign(await state(), { shot: await snap("toggled") });

    // The chosen view survives a reload.
    await page.reload({ waitUntil: "load" });
    result.view_after_reload = await page.evaluate(() => document.body.dataset.view);
    await page.screenshot({ path: path.join(out, "report_toggle.png"), fullPage: true });
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result));
})().catch(e => { console.error("report_check: " + (e.stack || e)); process.exit(1); });
