//! `rfbplay find FILE NEEDLE`: every time span where a needle image is on
//! screen. Exit status 0 found, 1 not found, 2 error (a damaged recording
//! still reports the spans found before the damage). `--json` prints the
//! schema the README documents. The searching is `rfbplay::find`'s.

use rfbplay::compare::Rect;
use rfbplay::find::{self, Needle, Options, Outcome};
use rfbplay::player::{PlayOptions, Player};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The recording (.fb, .fbs).
    file: PathBuf,
    /// The needle: a PNG, or an openQA needle JSON with its PNG beside it.
    needle: PathBuf,
    /// Stop at the first match.
    #[arg(long)]
    first: bool,
    /// Print the result as JSON (schema 1) on stdout.
    #[arg(long)]
    json: bool,
    /// Only where the whole needle lies inside this rectangle.
    #[arg(long, value_name = "X,Y,W,H")]
    region: Option<Rect>,
    /// Highest score that counts as a match: mean difference per colour
    /// channel, 0 to 255 [default: 2, or the openQA needle's match level].
    #[arg(long, value_name = "T", value_parser = score)]
    threshold: Option<f64>,
    /// Read on past damage: skip what cannot be decoded, search on from
    /// the next update that decodes, and warn of each skipped stretch.
    #[arg(long)]
    salvage: bool,
}

fn score(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=255.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to 255, got {s:?}")),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut threshold = args.threshold.unwrap_or(find::DEFAULT_THRESHOLD);
    let mut error = None;
    let mut outcome: Option<Outcome> = None;
    match Needle::load(&args.needle) {
        Err(e) => error = Some(super::chain(&e)),
        Ok(mut needle) => {
            match args.threshold {
                Some(t) => needle.set_threshold(t),
                None => threshold = needle.threshold.unwrap_or(threshold),
            }
            // No frames are taken: the damage is measured without the
            // second, shown copy of the screen.
            let opts = PlayOptions {
                keep_shown: false,
                measure_damage: true,
                salvage: args.salvage,
                ..PlayOptions::default()
            };
            match Player::open(&args.file, opts) {
                Err(e) => error = Some(super::chain(&e)),
                Ok(mut player) => {
                    let o = find::find(
                        &mut player,
                        &needle,
                        Options {
                            threshold,
                            region: args.region,
                            first: args.first,
                        },
                        &rfbplay::progress::NoProgress,
                    );
                    super::warnings(&args.file, &o.summary);
                    if let Some(e) = &o.summary.error {
                        error = Some(super::chain(e));
                    }
                    outcome = Some(o);
                }
            }
        }
    }
    if let Some(e) = &error {
        eprintln!("rfbplay: error: {e}");
    }
    let report = find::Report::new(
        super::display(&args.file),
        super::display(&args.needle),
        threshold,
        outcome.as_ref(),
        error.clone(),
    );
    let found = report.found;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&report)?;
        // Through `?`, so a closed pipe (`| head`) ends quietly.
        writeln!(out, "{json}")?;
    } else if let Some(o) = &outcome {
        for s in &o.spans {
            let end = match (s.end, s.open) {
                (Some(t), true) => format!("{t} (still on screen at the end)"),
                (Some(t), false) => t.to_string(),
                (None, _) => "? (stopped at the first match)".to_string(),
            };
            writeln!(
                out,
                "{} to {end}  at {},{}  score {:.3}",
                s.start, s.x, s.y, s.score
            )?;
        }
        if !found {
            match &o.best {
                Some(b) => writeln!(
                    out,
                    "not found (threshold {threshold}); closest: score {:.3} at {},{} at {}",
                    b.score, b.x, b.y, b.time
                )?,
                None if o.fitted => writeln!(
                    out,
                    "not found (threshold {threshold}); nothing scored {} or less \
                     (closest matches are reported up to the threshold + {})",
                    o.closest_within,
                    find::CLOSEST_MARGIN
                )?,
                None => writeln!(
                    out,
                    "not found (threshold {threshold}); the needle never fit on screen"
                )?,
            }
        }
    }
    Ok(ExitCode::from(match (&error, found) {
        (Some(_), _) => 2,
        (None, true) => 0,
        (None, false) => 1,
    }))
}
