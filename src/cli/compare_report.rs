//! `rfbplay compare --baseline DIR --actual DIR --report DIR`: a folder of
//! expected screens against a folder of actual ones. Reads the arguments,
//! calls `rfbplay::compare::suite::run`, prints one line per check that
//! did not pass and a summary (or report.json with `--json`). Exit status
//! 0 when every check passed, 1 when any differs or is missing or extra,
//! 2 when any could not be judged, or on a usage error.

use super::compare::{options, tolerance, Args};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rfbplay::compare::suite::{self, Check, DamageReport, Settings, Status, Watch};
use std::io::IsTerminal;
use std::process::ExitCode;

/// One bar over all checks, on a terminal only.
struct Bar(Option<ProgressBar>);

impl Watch for Bar {
    fn start(&self, checks: usize) {
        if let Some(b) = &self.0 {
            b.set_length(checks as u64);
        }
    }
    fn done(&self, check: &Check) {
        if let Some(b) = &self.0 {
            if check.status != Status::Same {
                b.set_message(format!("{} {}", check.status.name(), check.id));
            }
            b.inc(1);
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (Some(baseline), Some(actual), Some(report)) =
        (&args.baseline, &args.actual_dir, &args.report)
    else {
        return Err(super::Usage("--baseline needs --actual DIR and --report DIR".into()).into());
    };
    let options = match options(args) {
        Ok(o) => o,
        Err(f) => {
            eprintln!("rfbplay: error: {:#}", f.error);
            return Ok(ExitCode::from(2));
        }
    };
    let settings = Settings {
        options,
        tolerance: tolerance(args),
        threads: args.jobs,
        update: args.update,
        salvage: args.salvage,
    };
    let bar = Bar(
        (std::io::stderr().is_terminal() && !super::is_quiet()).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{pos}/{len} checks [{bar:20}] {msg} ETA {eta}")
                    .expect("template is valid")
                    .progress_chars("=> "),
            );
            b
        }),
    );
    let result = suite::run(baseline, actual, report, &settings, &bar);
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rfbplay: error: {}", super::chain(&e));
            return Ok(ExitCode::from(2));
        }
    };
    damage_warnings(&r.checks);
    if args.json {
        super::outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        for c in r.checks.iter().filter(|c| c.status != Status::Same) {
            let what = c.status.name();
            let mut line = format!("{what:<9} {}", c.id);
            match (&c.error, c.size_mismatch, c.diff_pixels) {
                (Some(e), _, _) => line += &format!(": {}", e.message),
                (None, Some(m), _) => {
                    line += &format!(
                        ": sizes differ, expected {}x{}, actual {}x{}",
                        m.expected[0], m.expected[1], m.actual[0], m.actual[1]
                    )
                }
                (None, None, Some(p)) => line += &format!(": {p} pixels differ"),
                _ => {}
            }
            if c.updated {
                line += " (accepted into the baseline)";
            }
            super::outln!("{line}");
        }
    }
    let s = &r.summary;
    super::note(&format!(
        "{}: {} same, {} different, {} missing, {} extra, {} errors{}, in {:.1} s; report in {}",
        super::plural(s.checks as u64, "check"),
        s.same,
        s.different,
        s.missing,
        s.extra,
        s.errors,
        if args.update {
            format!(", {} accepted into the baseline", s.updated)
        } else {
            String::new()
        },
        s.seconds,
        report.join("index.html").display()
    ));
    Ok(ExitCode::from(r.exit_code()))
}

/// One warning per damaged stretch that salvage skipped, naming the file,
/// as the one-pair forms warn: a stretch that several moments of a
/// recording played through is told once, in the words of the playback
/// that saw the most of it.
fn damage_warnings(checks: &[Check]) {
    let mut told: Vec<&DamageReport> = Vec::new();
    let seen = |d: &DamageReport| {
        let s = &d.stretch;
        (
            s.resumed_stream_offset.is_some(),
            s.next_update_s.is_some(),
            s.uncertain_bytes,
            s.zlib_history_lost,
        )
    };
    for d in checks.iter().flat_map(|c| &c.damaged) {
        let same = |t: &DamageReport| {
            t.file == d.file && t.stretch.decompressed_offset == d.stretch.decompressed_offset
        };
        match told.iter().position(|t| same(t)) {
            Some(i) if seen(d) > seen(told[i]) => told[i] = d,
            Some(_) => {}
            None => told.push(d),
        }
    }
    for d in told {
        super::damage_warning(&d.file, &d.message);
    }
}
