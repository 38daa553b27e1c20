//! `rfbplay index FILE`: builds a recording's seek index now, into the
//! cache directory, and says what it holds.

use super::progress::Bar;
use rfbplay::index::Index;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb; other formats get an index with no checkpoints).
    file: PathBuf,
    /// Recording time between checkpoints at most (seconds or a duration
    /// such as 500ms; default 60 s, and every 32 MiB of stream in any
    /// case); shorter makes seeks faster and the index bigger.
    #[arg(long, value_parser = rfbplay::time::parse_duration)]
    every: Option<rfbplay::Time>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let built = Index::build_every(
        &args.file,
        args.every.unwrap_or(rfbplay::index::SPAN_TIME),
        &Bar::new("indexing"),
    )?;
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
