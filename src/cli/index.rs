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
    /// Recording time between checkpoints (seconds or a duration such as
    /// 500ms); shorter makes seeks faster and the index bigger.
    #[arg(long, default_value = "5", value_parser = rfbplay::time::parse_duration)]
    every: rfbplay::Time,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let built = Index::build_every(&args.file, args.every, &Bar::new("indexing"))?;
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
