// rfbplay serve, list page: every recording under the served folder. Names
// and file sizes come at once; duration, screen size, notes and thumbnails
// are fetched as rows come into view, a few at a time, and sorting and
// filtering happen here in the browser.
"use strict";
const rows = [];
let sortKey = "path", sortDesc = false;
const tbody = document.querySelector("#list tbody");
const queue = [];
let running = 0;

// Rounded up to the millisecond, as rfbplay prints times (through whole
// microseconds, so that 1.2 stays 1.200).
function upMs(s) {
  return Math.ceil(Math.round(s * 1e6) / 1000) / 1000;
}
function fmtDuration(s) {
  if (s == null) return "";
  const ms = Math.round(upMs(s) * 1000);
  const m = Math.floor(ms / 60000), r = (ms - m * 60000) / 1000;
  return (m ? m + "m" : "") + r.toFixed(3) + "s";
}
function fmtBytes(b) {
  if (b < 1024) return b + " B";
  if (b < 1 << 20) return (b / 1024).toFixed(1) + " KiB";
  return (b / (1 << 20)).toFixed(1) + " MiB";
}
function playUrl(path) {
  return "/play/" + path.split("/").map(encodeURIComponent).join("/");
}
function pump() {
  while (running < 4 && queue.length) {
    const row = queue.shift();
    running++;
    fetch("/api/timeline?brief=1&path=" + encodeURIComponent(row.path))
      .then(r => r.ok ? r.json() : r.text().then(t => ({ error: t.trim() })))
      .then(m => { row.meta = m; fill(row); })
      .catch(e => { row.meta = { error: String(e) }; fill(row); })
      .finally(() => { running--; pump(); });
  }
}
function fill(row) {
  const m = row.meta, c = row.tr.children;
  if (m.error && m.duration_s == null) { c[5].textContent = m.error; c[5].className = "bad"; return; }
  c[2].textContent = fmtDuration(m.duration_s);
  c[3].textContent = m.width ? m.width + "\u00d7" + m.height : "";
  const notes = [];
  if (m.live) notes.push("live: still being written");
  else if (m.cut) notes.push("cut at " + upMs(m.cut.time_s).toFixed(3) + "s");
  if (m.damage) notes.push("damaged at " + upMs(m.damage.time_s).toFixed(3) + "s: " + m.damage.message);
  c[5].textContent = notes.join("; ");
  c[5].className = m.damage ? "bad" : "note";
  row.note = notes.join("; ");
  const img = document.createElement("img");
  img.alt = "last screen of " + row.path;
  img.loading = "lazy";
  img.src = "/api/thumb?path=" + encodeURIComponent(row.path);
  c[0].appendChild(img);
}
const seen = new IntersectionObserver(entries => {
  for (const e of entries) {
    if (e.isIntersecting) {
      const row = e.target.row;
      seen.unobserve(e.target);
      if (!row.meta) { queue.push(row); pump(); }
    }
  }
});
function value(row, key) {
  const m = row.meta || {};
  switch (key) {
    case "duration": return m.duration_s ?? -1;
    case "size": return (m.width || 0) * (m.height || 0);
    case "bytes": return row.bytes;
    case "note": return row.note || "";
    default: return row.path;
  }
}
function render() {
  const f = document.getElementById("filter").value.toLowerCase();
  const shown = rows.filter(r => r.path.toLowerCase().includes(f));
  shown.sort((a, b) => {
    const x = value(a, sortKey), y = value(b, sortKey);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return sortDesc ? -c : c;
  });
  tbody.replaceChildren(...shown.map(r => r.tr));
  document.getElementById("count").textContent = shown.length + " of " + rows.length + " recordings";
  document.querySelectorAll("th").forEach(th => {
    th.classList.toggle("sorted", th.dataset.key === sortKey);
    th.classList.toggle("desc", th.dataset.key === sortKey && sortDesc);
  });
}
document.querySelectorAll("th").forEach(th => th.addEventListener("click", () => {
  if (sortKey === th.dataset.key) sortDesc = !sortDesc; else { sortKey = th.dataset.key; sortDesc = false; }
  render();
}));
document.getElementById("filter").addEventListener("input", render);
fetch("/api/list").then(r => r.json()).then(list => {
  for (const item of list) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td><a></a></td><td class=num></td><td class=num></td><td class=num></td><td></td>";
    const a = tr.children[1].firstChild;
    a.href = playUrl(item.path);
    a.textContent = item.path;
    tr.children[4].textContent = fmtBytes(item.bytes);
    const row = { path: item.path, bytes: item.bytes, tr, meta: null, note: "" };
    tr.row = row;
    rows.push(row);
    seen.observe(tr);
  }
  render();
  document.body.dataset.listed = rows.length;
});
