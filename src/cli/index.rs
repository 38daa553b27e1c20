//! `rfbplay index FILE`: builds a recording's seek index now, into the
//! cache directory, and says what it holds. The index of a recording that
//! grew since (one still being written) is extended from its last
//! checkpoint instead.

use super::progress::Bar;
use rfbplay::index::Index;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb; other formats get an index with no checkpoints), or
    /// a folder of them (searched recursively; recordings whose index is
    /// valid are left as they are unless --force).
    file: PathBuf,
    /// Recording time between checkpoints at most (seconds or a duration
    /// such as 500ms; default 60 s, and every 32 MiB of stream in any
    /// case); shorter makes seeks faster and the index bigger.
    #[arg(long, value_parser = rfbplay::time::parse_duration)]
    every: Option<rfbplay::Time>,
    #[command(flatten)]
    batch: super::batch::BatchArgs,
    /// With a folder: print a JSON summary, one object per file.
    #[arg(long)]
    json: bool,
}

/// `index FOLDER`: every recording's index, on all cores.
fn run_folder(args: Args) -> anyhow::Result<ExitCode> {
    let plan = super::batch::plan(&args.file, &args.batch, None)?;
    let every = args.every.unwrap_or(rfbplay::index::SPAN_TIME);
    super::batch::execute(&plan, &args.batch, args.json, |job, _| {
        let old = Index::load(&job.input).ok().filter(|_| !args.batch.force);
        if old.as_ref().is_some_and(|i| !i.grew()) {
            return rfbplay::batch::Done {
                duration_s: None,
                warning: None,
                error: None,
                skipped: true,
            };
        }
        let built = match old {
            // Still being written: only what was added is read.
            Some(i) => i.extend(&rfbplay::progress::NoProgress),
            None => Index::build_every(&job.input, every, &rfbplay::progress::NoProgress),
        };
        match built {
            Ok(built) => {
                let saved = built.index.save().err().map(|e| rfbplay::error_chain(&e));
                super::batch::done_from(&job.input, &built.summary, saved)
            }
            Err(e) => rfbplay::batch::Done {
                duration_s: None,
                warning: None,
                error: Some(rfbplay::error_chain(&e)),
                skipped: false,
            },
        }
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.file.is_dir() {
        return run_folder(args);
    }
    // An index of a recording still being written is extended (unless
    // --every asks for other spacing); anything else is built anew.
    let grown = Index::load(&args.file)
        .ok()
        .filter(|i| i.grew() && args.every.is_none());
    let built = match grown {
        Some(i) => i.extend(&Bar::new("indexing"))?,
        None => Index::build_every(
            &args.file,
            args.every.unwrap_or(rfbplay::index::SPAN_TIME),
            &Bar::new("indexing"),
        )?,
    };
    let code = super::report(&args.file, &built.summary);
    let path = built.index.save()?;
    let size = built.index.file_size();
    let rec = std::fs::metadata(&args.file).map_or(0, |m| m.len());
    super::note(&format!(
        "wrote {} ({}, {} bytes, {:.1}% of the recording's {} bytes)",
        path.display(),
        super::plural(built.index.len() as u64, "checkpoint"),
        size,
        size as f64 * 100.0 / rec.max(1) as f64,
        rec
    ));
    Ok(code)
}
