//! `rfbplay compare GOLDEN.fb NEW.fb`: two recordings judged by their
//! stable screens, lined up as `diff` lines up text. Exit status 0 when
//! every screen matched, 1 otherwise, 2 on error; `--json` prints the
//! schema the README documents. The stable screens and the alignment are
//! `rfbplay::compare::recording`'s; this file prints.

use super::compare::{fail, open_recording, options, shown, tolerance, Args, Failure};
use rfbplay::compare::recording::{self as rec, Stable, Step};
use rfbplay::compare::Comparison;
use rfbplay::progress::NoProgress;
use rfbplay::time::Time;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// The `--json` document of a recording comparison.
#[derive(Serialize)]
struct Report {
    schema: u32,
    mode: &'static str,
    result: &'static str,
    expected: String,
    actual: String,
    settle_s: f64,
    threshold: f64,
    expected_screens: usize,
    actual_screens: usize,
    matched: usize,
    changed: usize,
    missing: usize,
    extra: usize,
    steps: Vec<StepReport>,
    error: Option<super::compare::ErrorReport>,
}

/// One aligned screen (or pair of screens).
#[derive(Serialize)]
struct StepReport {
    kind: &'static str,
    /// `[start, end]` of the screen in the expected recording, seconds.
    expected_s: Option<[f64; 2]>,
    actual_s: Option<[f64; 2]>,
    diff_pixels: Option<u64>,
    diff_ratio: Option<f64>,
    bbox: Option<[u32; 4]>,
    size_mismatch: Option<rfbplay::compare::SizeMismatch>,
}

fn span(s: &Stable) -> [f64; 2] {
    [s.start.as_secs_f64(), s.end.as_secs_f64()]
}

fn stable(path: &Path, settle: Time, salvage: bool) -> Result<Vec<Stable>, Failure> {
    let mut player = open_recording(path, salvage)?;
    let (screens, summary) = rec::stable_screens(&mut player, settle, &NoProgress);
    super::damage_warnings(path, &summary);
    if let Some(e) = summary.error {
        return Err(fail("unreadable_recording", e));
    }
    if screens.is_empty() {
        return Err(fail(
            "no_screen",
            anyhow::anyhow!(
                "{}: no update completed, so there is no screen",
                shown(path)
            ),
        ));
    }
    Ok(screens)
}

pub fn run(args: &Args, expected: &Path, actual: &Path) -> anyhow::Result<ExitCode> {
    let outcome = judge(args, expected, actual);
    let (screens, steps, failure) = match outcome {
        Ok((s, t)) => (Some(s), t, None),
        Err(f) => (None, Vec::new(), Some(f)),
    };
    let count = |k: fn(&Step) -> bool| steps.iter().filter(|s| k(s)).count();
    let matched = count(|s| matches!(s, Step::Matched { .. }));
    let result = match (&failure, matched == steps.len()) {
        (Some(_), _) => "error",
        (None, true) => "same",
        (None, false) => "different",
    };
    if let Some(f) = &failure {
        eprintln!("rfbplay: error: {:#}", f.error);
    }
    let (e, a) = screens.unwrap_or_default();
    let reports: Vec<StepReport> = steps.iter().map(|s| step_report(s, &e, &a)).collect();
    if args.json {
        let report = Report {
            schema: 1,
            mode: "recordings",
            result,
            expected: shown(expected),
            actual: shown(actual),
            settle_s: args.settle.as_secs_f64(),
            threshold: args.threshold,
            expected_screens: e.len(),
            actual_screens: a.len(),
            matched,
            changed: count(|s| matches!(s, Step::Changed { .. })),
            missing: count(|s| matches!(s, Step::Missing { .. })),
            extra: count(|s| matches!(s, Step::Extra { .. })),
            steps: reports,
            error: failure.as_ref().map(|f| super::compare::ErrorReport {
                code: f.code,
                message: format!("{:#}", f.error),
            }),
        };
        match serde_json::to_string_pretty(&report) {
            Ok(json) => super::outln!("{json}"),
            Err(e) => {
                eprintln!("rfbplay: error: cannot print the report: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else if failure.is_none() {
        super::outln!(
            "{result}: {} stable screens expected, {} actual, {matched} matched",
            e.len(),
            a.len()
        );
        for r in &reports {
            super::outln!("{}", line(r));
        }
    }
    Ok(ExitCode::from(match result {
        "same" => 0,
        "different" => 1,
        _ => 2,
    }))
}

type Screens = (Vec<Stable>, Vec<Stable>);

fn judge(args: &Args, expected: &Path, actual: &Path) -> Result<(Screens, Vec<Step>), Failure> {
    if args.diff.is_some() {
        return Err(fail(
            "bad_option",
            anyhow::anyhow!(
                "--diff draws one pair of screens: name a moment of each recording (FILE@12.5)"
            ),
        ));
    }
    let options = options(args)?;
    let (e, a) = rayon::join(
        || stable(expected, args.settle, args.salvage),
        || stable(actual, args.settle, args.salvage),
    );
    let (e, a) = (e?, a?);
    let fe: Vec<_> = e.iter().map(|s| &s.screen).collect();
    let fa: Vec<_> = a.iter().map(|s| &s.screen).collect();
    let steps =
        rec::align(&fe, &fa, &options, &tolerance(args)).map_err(|e| fail("bad_option", e))?;
    Ok(((e, a), steps))
}

fn step_report(step: &Step, e: &[Stable], a: &[Stable]) -> StepReport {
    let (kind, ie, ia, c): (_, _, _, Option<&Comparison>) = match step {
        Step::Matched {
            expected,
            actual,
            comparison,
        } => ("matched", Some(*expected), Some(*actual), Some(comparison)),
        Step::Changed {
            expected,
            actual,
            comparison,
        } => ("changed", Some(*expected), Some(*actual), Some(comparison)),
        Step::Missing { expected } => ("missing", Some(*expected), None, None),
        Step::Extra { actual } => ("extra", None, Some(*actual), None),
    };
    let pixels = c.filter(|c| c.size_mismatch.is_none());
    StepReport {
        kind,
        expected_s: ie.map(|i| span(&e[i])),
        actual_s: ia.map(|i| span(&a[i])),
        diff_pixels: pixels.map(|c| c.diff_pixels),
        diff_ratio: pixels.map(Comparison::diff_ratio),
        bbox: pixels.and_then(|c| c.bbox).map(|b| [b.x, b.y, b.w, b.h]),
        size_mismatch: c.and_then(|c| c.size_mismatch),
    }
}

/// One line of the text output.
fn line(r: &StepReport) -> String {
    let at = |s: Option<[f64; 2]>| {
        s.map_or("-".to_string(), |[a, b]| {
            format!("{}..{}", Time::from_secs_f64(a), Time::from_secs_f64(b))
        })
    };
    let mut l = format!(
        "{:<8} expected {:<17} actual {:<17}",
        r.kind,
        at(r.expected_s),
        at(r.actual_s)
    );
    if r.kind == "changed" {
        if let Some(m) = r.size_mismatch {
            l += &format!(
                " sizes differ: {}x{} vs {}x{}",
                m.expected[0], m.expected[1], m.actual[0], m.actual[1]
            );
        } else if let Some(p) = r.diff_pixels {
            l += &format!(" {p} pixels differ");
            if let Some([x, y, w, h]) = r.bbox {
                l += &format!(" in {x},{y},{w},{h}");
            }
        }
    }
    l.trim_end().to_string()
}
