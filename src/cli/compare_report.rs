//! `rfbplay compare --baseline DIR --actual DIR --report DIR`: a folder of
//! expected screens against a folder of actual ones. Reads the arguments,
//! calls `rfbplay::compare::suite::run`, prints one line per check that
//! did not pass and a summary (or report.json with `--json`). Exit status
//! 0 when every check passed, 1 when any differs or is missing or extra,
//! 2 when any could not be judged, or on a usage error.

use super::compare::{options, tolerance, Args};
use rfbplay::compare::suite::{self, Settings, Status};
use std::process::ExitCode;

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
    };
    let r = match suite::run(baseline, actual, report, &settings) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rfbplay: error: {}", super::chain(&e));
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        for c in r.checks.iter().filter(|c| c.status != Status::Same) {
            let what = match c.status {
                Status::Error => "error",
                Status::Different => "different",
                Status::Missing => "missing",
                Status::Extra => "extra",
                Status::Same => "same",
            };
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
            println!("{line}");
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
