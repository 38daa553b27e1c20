//! report/junit.xml: one `<testsuite>` with one `<testcase>` per check, so
//! a CI server (Jenkins, GitLab, GitHub's test reporters) lists the
//! screenshots beside the other tests. A check that differs, is missing
//! or is extra is a `<failure>`; one that could not be judged is an
//! `<error>`. The dialect is the Jenkins xUnit plugin's junit-10 schema,
//! the one most consumers accept.

use super::model::{Check, Report, Status};
use std::fmt::Write;

/// Escapes text for an XML attribute or element; drops the control
/// characters XML 1.0 cannot carry at all.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One line saying why a check failed.
pub(super) fn reason(c: &Check) -> String {
    match c.status {
        Status::Same => "same".into(),
        Status::Missing => "only in the baseline".into(),
        Status::Extra => "only in the actual folder".into(),
        Status::Error => c
            .error
            .as_ref()
            .map_or_else(|| "error".into(), |e| e.message.clone()),
        Status::Different => match (c.size_mismatch, c.diff_pixels) {
            (Some(m), _) => format!(
                "sizes differ: expected {}x{}, actual {}x{}",
                m.expected[0], m.expected[1], m.actual[0], m.actual[1]
            ),
            (None, Some(p)) => {
                let all = u64::from(c.width.unwrap_or(0)) * u64::from(c.height.unwrap_or(0));
                format!(
                    "{p} of {all} pixels differ ({:.4}%)",
                    c.diff_ratio.unwrap_or(0.0) * 100.0
                )
            }
            (None, None) => "different".into(),
        },
    }
}

/// The damage `--salvage` skipped to reach a check's screens, one line
/// each as the warnings on stderr say it; None when there was none.
pub(super) fn damage_lines(c: &Check) -> Option<String> {
    if c.damaged.is_empty() {
        return None;
    }
    let lines: Vec<String> = c
        .damaged
        .iter()
        .map(|d| format!("warning: {}: {}", d.file, d.message))
        .collect();
    Some(lines.join("\n"))
}

/// The test case's class: the folder part of the path (`.` at the top).
fn classname(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) => dir.replace('/', "."),
        None => ".".into(),
    }
}

pub(super) fn render(report: &Report) -> String {
    let s = &report.summary;
    let failures = s.different + s.missing + s.extra;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"rfbplay compare\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"0\" time=\"{:.3}\">",
        s.checks, s.errors, s.seconds
    );
    let _ = writeln!(
        x,
        "  <properties>\n    <property name=\"baseline\" value=\"{}\"/>\n    <property name=\"actual\" value=\"{}\"/>\n  </properties>",
        xml_escape(&report.baseline),
        xml_escape(&report.actual)
    );
    for c in &report.checks {
        let _ = write!(
            x,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&classname(&c.path)),
            xml_escape(&c.id),
            c.seconds
        );
        let why = xml_escape(&reason(c));
        let body = match c.status {
            Status::Same => None,
            Status::Error => Some(format!(
                "<error type=\"{}\" message=\"{why}\">{why}</error>",
                c.error.as_ref().map_or("error", |e| e.code)
            )),
            st => {
                let kind = match st {
                    Status::Missing => "missing",
                    Status::Extra => "extra",
                    _ => "different",
                };
                let mut detail = why.clone();
                if let Some(b) = c.bbox {
                    let _ = write!(
                        detail,
                        "&#10;bounding box: {},{},{},{}",
                        b[0], b[1], b[2], b[3]
                    );
                }
                for (side, img) in [
                    ("expected", &c.images.expected),
                    ("actual", &c.images.actual),
                    ("diff", &c.images.diff),
                ] {
                    if let Some(i) = img {
                        let _ = write!(detail, "&#10;{side}: {}", xml_escape(i));
                    }
                }
                if c.updated {
                    detail.push_str("&#10;accepted into the baseline (--update)");
                }
                Some(format!(
                    "<failure type=\"{kind}\" message=\"{why}\">{detail}</failure>"
                ))
            }
        };
        let damage =
            damage_lines(c).map(|d| format!("<system-err>{}</system-err>", xml_escape(&d)));
        match (body, damage) {
            (None, None) => x.push_str("/>\n"),
            (b, d) => {
                x.push_str(">\n");
                for part in [b, d].into_iter().flatten() {
                    let _ = writeln!(x, "    {part}");
                }
                x.push_str("  </testcase>\n");
            }
        }
    }
    x.push_str("</testsuite>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;"
        );
        assert_eq!(classname("lab/vm1/login.png"), "lab.vm1");
        assert_eq!(classname("login.png"), ".");
    }
}
