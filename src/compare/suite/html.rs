//! report/index.html: the page a person opens after a failed screenshot
//! run. One self-contained file (its style and script inline, nothing
//! fetched) that links the images under report/images/ by relative paths,
//! so the folder can be copied, zipped or served as it is. A summary at
//! the top, then every check that did not pass, failures first, each with
//! its screens in four views (side by side, a slider between expected and
//! actual, a blend, a toggle), then the list of checks that passed.

use super::junit::reason;
use super::model::DamageReport;
use super::model::{Check, Report, Status};
use std::fmt::Write;

/// Text for HTML element content and quoted attributes: the JUnit
/// file's XML escaping, which HTML reads alike.
use super::junit::xml_escape as esc;

/// A relative path as a URL path: every byte outside the unreserved set
/// (and `/`) percent-encoded, so a name with `#`, `?`, `%` or `:` still
/// links to its file.
fn url(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = r##"
:root { --bg: #fafafa; --fg: #1d1d1f; --muted: #666; --line: #ddd;
  --different: #c62828; --missing: #ad5700; --extra: #6a1b9a; --error: #37474f; --same: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line); padding: 12px 20px; }
h1 { font-size: 20px; margin: 0 0 6px; }
code { font: 12px ui-monospace, monospace; background: #f0f0f0; padding: 1px 4px; border-radius: 3px; }
.result.passed, .badge.same { background: var(--same); }
.result.failed, .badge.different { background: var(--different); }
.result.error, .badge.error { background: var(--error); }
.badge.missing { background: var(--missing); }
.badge.extra { background: var(--extra); }
.result, .badge { color: #fff; border-radius: 4px; padding: 1px 8px; font-weight: 600; }
#summary { list-style: none; margin: 6px 0; padding: 0; display: flex; gap: 14px; flex-wrap: wrap; }
#summary b { font-size: 16px; }
.settings, .paths { color: var(--muted); margin: 2px 0; }
#views label { margin-right: 12px; cursor: pointer; }
main { padding: 8px 20px; }
.check { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; padding: 10px 14px; }
.check h2 { font-size: 15px; margin: 0 0 8px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.check h2 a { color: inherit; }
.why { color: var(--muted); font-weight: normal; }
.updated { color: var(--same); font-weight: normal; }
.sbs { display: flex; gap: 10px; align-items: flex-start; }
.sbs figure { margin: 0; flex: 1 1 0; min-width: 0; }
figcaption { color: var(--muted); font-size: 12px; }
img { display: block; image-rendering: pixelated; border: 1px solid var(--line); }
.sbs img { width: 100%; max-width: 1024px; }
.sbs:not(.paired) figure { max-width: 33%; }
.stack { position: relative; width: min(100%, 1024px); cursor: pointer; }
.stack img { width: 100%; }
.stack img.over { position: absolute; left: 0; top: 0; }
.controls { display: flex; gap: 10px; align-items: center; color: var(--muted); font-size: 12px; margin-top: 4px; }
.controls input { width: 240px; }
body[data-view="sbs"] .viewer { display: none; }
body:not([data-view="sbs"]) .sbs.paired { display: none; }
body[data-view="toggle"] .controls input { display: none; }
.damage { color: var(--missing); font-size: 12px; margin: 4px 0; }
.damage li { font: 12px ui-monospace, monospace; }
.error-text { white-space: pre-wrap; font: 12px ui-monospace, monospace; color: var(--error); }
#passed { padding: 0 20px 30px; }
#passed table { border-collapse: collapse; background: #fff; }
#passed td, #passed th { border: 1px solid var(--line); padding: 3px 8px; text-align: left; }
"##;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  // One viewer: the stack of the two screens and its controls.
  function apply(v) {
    var view = document.body.dataset.view;
    var st = v.querySelector(".stack");
    var over = st.querySelector("img.over");
    var range = v.querySelector("input.amount");
    var which = v.querySelector(".which");
    var x = Number(range.value);
    if (view === "slider") {
      over.style.clipPath = "inset(0 0 0 " + x + "%)";
      over.style.opacity = "1";
      which.textContent = "expected | actual at " + x + "%";
    } else if (view === "blend") {
      over.style.clipPath = "none";
      over.style.opacity = String(x / 100);
      which.textContent = "actual at " + x + "% over expected";
    } else {
      over.style.clipPath = "none";
      var actual = st.dataset.shown === "actual";
      over.style.opacity = actual ? "1" : "0";
      which.textContent = (actual ? "actual" : "expected") + " (click or press t to toggle)";
    }
  }
  function setView(v) {
    document.body.dataset.view = v;
    document.querySelectorAll(".viewer").forEach(apply);
    try { localStorage.setItem("rfbplay-report-view", v); } catch (e) {}
  }
  window.rfbplayReport = { setView: setView };
  document.querySelectorAll("#views input").forEach(function (r) {
    r.addEventListener("change", function () { setView(r.value); });
  });
  function flip(v) {
    var st = v.querySelector(".stack");
    st.dataset.shown = st.dataset.shown === "actual" ? "expected" : "actual";
    apply(v);
  }
  document.querySelectorAll(".viewer").forEach(function (v) {
    v.querySelector("input.amount").addEventListener("input", function () { apply(v); });
    v.querySelector(".stack").addEventListener("click", function () {
      if (document.body.dataset.view === "toggle") flip(v);
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "t" || document.body.dataset.view !== "toggle") return;
    document.querySelectorAll(".viewer").forEach(flip);
  });
  var saved = null;
  try { saved = localStorage.getItem("rfbplay-report-view"); } catch (e) {}
  var start = document.querySelector("#views input[value='" + (saved || "sbs") + "']");
  if (start) { start.checked = true; setView(start.value); } else { setView("sbs"); }
})();
"##;

fn figure(x: &mut String, caption: &str, img: &Option<String>) {
    if let Some(src) = img {
        let _ = write!(
            x,
            "<figure><figcaption>{caption}</figcaption><img class=\"{caption}\" src=\"{}\" alt=\"{caption}\" loading=\"lazy\"></figure>",
            esc(&url(src))
        );
    }
}

/// The stretches `--salvage` skipped to reach a check's screens: a count
/// and each one's file and words.
fn damage_note(x: &mut String, damaged: &[DamageReport]) {
    if damaged.is_empty() {
        return;
    }
    let _ = write!(
        x,
        "<div class=\"damage\">Read past damage (--salvage): {} skipped<ul>",
        if damaged.len() == 1 {
            "1 damaged stretch".to_string()
        } else {
            format!("{} damaged stretches", damaged.len())
        }
    );
    for d in damaged {
        let _ = write!(
            x,
            "<li>{} ({}): {}</li>",
            esc(&d.file),
            d.side,
            esc(&d.message)
        );
    }
    x.push_str("</ul></div>\n");
}

fn check_section(x: &mut String, n: usize, c: &Check) {
    let st = c.status.name();
    let _ = write!(
        x,
        "<section class=\"check\" id=\"c{n}\" data-status=\"{st}\" data-id=\"{}\">\n<h2><span class=\"badge {st}\">{st}</span><a href=\"#c{n}\">{}</a><span class=\"why\">{}</span>",
        esc(&c.id),
        esc(&c.id),
        if c.status == Status::Error { String::new() } else { esc(&reason(c)) }
    );
    if c.updated {
        x.push_str("<span class=\"updated\">accepted into the baseline</span>");
    }
    x.push_str("</h2>\n");
    if let Some(e) = &c.error {
        let _ = writeln!(
            x,
            "<p class=\"error-text\">{}: {}</p>",
            esc(e.code),
            esc(&e.message)
        );
    }
    damage_note(x, &c.damaged);
    let i = &c.images;
    let paired = i.expected.is_some() && i.actual.is_some();
    let _ = write!(
        x,
        "<div class=\"sbs{}\">",
        if paired { " paired" } else { "" }
    );
    figure(x, "expected", &i.expected);
    figure(x, "actual", &i.actual);
    figure(x, "diff", &i.diff);
    x.push_str("</div>\n");
    if let (Some(e), Some(a)) = (&i.expected, &i.actual) {
        let _ = write!(
            x,
            "<div class=\"viewer\"><div class=\"stack\" data-shown=\"expected\"><img class=\"under\" src=\"{}\" alt=\"expected\" loading=\"lazy\"><img class=\"over\" src=\"{}\" alt=\"actual\" loading=\"lazy\"></div>\
<div class=\"controls\"><input class=\"amount\" type=\"range\" min=\"0\" max=\"100\" value=\"50\" aria-label=\"position\"><span class=\"which\"></span></div></div>",
            esc(&url(e)),
            esc(&url(a))
        );
        x.push('\n');
    }
    x.push_str("</section>\n");
}

pub(super) fn render(r: &Report) -> String {
    let s = &r.summary;
    let failed = s.checks - s.same;
    let mut x = String::new();
    let _ = write!(
        x,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>rfbplay compare: {}</title>\n<style>{STYLE}</style>\n</head>\n<body data-view=\"sbs\" data-result=\"{}\">\n<header>\n",
        if failed == 0 {
            format!("all {} same", s.checks)
        } else {
            format!("{failed} of {} not the same", s.checks)
        },
        r.result
    );
    let _ = writeln!(
        x,
        "<h1>Screenshot comparison <span class=\"result {}\">{}</span></h1>",
        r.result, r.result
    );
    let _ = writeln!(
        x,
        "<p class=\"paths\">baseline <code>{}</code> · actual <code>{}</code></p>",
        esc(&r.baseline),
        esc(&r.actual)
    );
    let _ = writeln!(
        x,
        "<ul id=\"summary\"><li><b>{}</b> checks</li><li><b>{}</b> same</li><li><b>{}</b> different</li><li><b>{}</b> missing</li><li><b>{}</b> extra</li><li><b>{}</b> errors</li>{}<li>{:.2} s</li></ul>",
        s.checks,
        s.same,
        s.different,
        s.missing,
        s.extra,
        s.errors,
        if s.updated > 0 {
            format!("<li><b>{}</b> accepted into the baseline</li>", s.updated)
        } else {
            String::new()
        },
        s.seconds
    );
    let o = &r.settings;
    let mut settings = if o.exact {
        "exact: any changed pixel counts".to_string()
    } else {
        format!(
            "threshold {}, anti-aliasing {}",
            o.threshold,
            if o.aa { "ignored" } else { "counted" }
        )
    };
    if let Some(p) = o.max_diff_pixels {
        let _ = write!(settings, ", at most {p} pixels may differ");
    }
    if let Some(q) = o.max_diff_ratio {
        let _ = write!(settings, ", at most {q} of the pixels may differ");
    }
    if !o.masks.is_empty() {
        let _ = write!(settings, ", {} masks", o.masks.len());
    }
    if o.salvage {
        settings.push_str(", recordings read past damage (--salvage)");
    }
    let _ = writeln!(x, "<p class=\"settings\">{}</p>", esc(&settings));
    x.push_str("<nav id=\"views\">View: ");
    for (v, label) in [
        ("sbs", "side by side"),
        ("slider", "slider"),
        ("blend", "blend"),
        ("toggle", "toggle"),
    ] {
        let _ = write!(
            x,
            "<label><input type=\"radio\" name=\"view\" value=\"{v}\"{}> {label}</label>",
            if v == "sbs" { " checked" } else { "" }
        );
    }
    x.push_str("</nav>\n</header>\n<main id=\"checks\">\n");
    let mut order: Vec<(usize, &Check)> = r.checks.iter().enumerate().collect();
    order.sort_by_key(|(i, c)| (c.status, *i));
    for (i, c) in order.iter().filter(|(_, c)| c.status != Status::Same) {
        check_section(&mut x, *i, c);
    }
    if failed == 0 {
        x.push_str("<p>Every check is the same.</p>\n");
    }
    x.push_str("</main>\n");
    let same: Vec<&Check> = r
        .checks
        .iter()
        .filter(|c| c.status == Status::Same)
        .collect();
    let _ = writeln!(x, "<section id=\"passed\"><h2>Same ({})</h2>", same.len());
    if !same.is_empty() {
        x.push_str("<table><thead><tr><th>check</th><th>size</th><th>pixels over the threshold</th><th>seconds</th></tr></thead><tbody>\n");
        for c in same {
            let mut id = esc(&c.id);
            if !c.damaged.is_empty() {
                let mut note = String::new();
                damage_note(&mut note, &c.damaged);
                id.push_str(&note);
            }
            let _ = writeln!(
                x,
                "<tr data-status=\"same\"><td>{}</td><td>{}x{}</td><td>{} (+{} anti-aliasing)</td><td>{:.3}</td></tr>",
                id,
                c.width.unwrap_or(0),
                c.height.unwrap_or(0),
                c.diff_pixels.unwrap_or(0),
                c.aa_pixels.unwrap_or(0),
                c.seconds
            );
        }
        x.push_str("</tbody></table>\n");
    }
    let _ = write!(
        x,
        "</section>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_survive_odd_names() {
        assert_eq!(url("images/a b#1?.png"), "images/a%20b%231%3F.png");
        assert_eq!(
            url("images/vm.fb@update-3.diff.png"),
            "images/vm.fb@update-3.diff.png"
        );
        assert_eq!(url("images/é.png"), "images/%C3%A9.png");
        assert_eq!(esc("<a href=\"x\">"), "&lt;a href=&quot;x&quot;&gt;");
    }
}
