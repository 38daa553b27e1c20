//! Folder arguments: every command that takes a recording also takes a
//! folder of them (`info`, `frame`, `export`, `index`). One overall bar,
//! one line per failure, a `--json` summary, exit status 1 when any failed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rfbplay::batch::{self, Done, Job, Outcome, Shard, Status};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Options every folder command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct BatchArgs {
    /// With a folder: how many recordings at once (default: all cores).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// With a folder: only this machine's share K of N (1 <= K <= N), a
    /// stable split by path, so N machines together cover every file once.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// With a folder: redo outputs that are already newer than their input.
    #[arg(long)]
    pub force: bool,
}

/// The recordings of `dir` this run takes, each with its output path.
pub fn plan(
    dir: &Path,
    args: &BatchArgs,
    out: Option<(&Path, &str)>,
) -> anyhow::Result<Vec<(Job, Option<PathBuf>)>> {
    let jobs = batch::discover(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot list the folder: {e}", dir.display()))?;
    if jobs.is_empty() {
        anyhow::bail!("{}: no recordings in this folder", dir.display());
    }
    // Two recordings that differ only by extension (vm1.fb, vm1.rbs) keep
    // their whole names (vm1.fb.mp4, vm1.rbs.mp4) rather than share one.
    let mut seen = std::collections::HashMap::new();
    for j in &jobs {
        if let Some((root, ext)) = out {
            *seen.entry(batch::output_for(j, root, ext)).or_insert(0) += 1;
        }
    }
    Ok(jobs
        .into_iter()
        .filter(|j| args.shard.is_none_or(|s| s.has(j)))
        .map(|j| {
            let o = out.map(|(root, ext)| {
                let plain = batch::output_for(&j, root, ext);
                if seen.get(&plain).copied().unwrap_or(0) > 1 {
                    let mut name = j.relative.clone().into_os_string();
                    name.push(format!(".{ext}"));
                    root.join(name)
                } else {
                    plain
                }
            });
            (j, o)
        })
        .collect())
}

/// Runs `work` over the plan with one overall bar; prints a line for each
/// failure and, with `json`, one summary object per file on stdout.
pub fn execute<W>(
    plan: &[(Job, Option<PathBuf>)],
    args: &BatchArgs,
    json: bool,
    work: W,
) -> anyhow::Result<ExitCode>
where
    W: Fn(&Job, Option<&Path>) -> Done + Sync,
{
    let bar = std::io::stderr().is_terminal().then(|| {
        let b =
            ProgressBar::with_draw_target(Some(plan.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{pos}/{len} files [{bar:20}] {msg} ETA {eta}")
                .expect("template is valid")
                .progress_chars("=> "),
        );
        b
    });
    let started = Instant::now();
    let recorded_ms = AtomicU64::new(0);
    let outcomes = batch::run(plan, args.jobs, !args.force, work, |o: &Outcome| {
        if let Some(ms) = o.duration_s {
            recorded_ms.fetch_add((ms * 1000.0) as u64, Ordering::Relaxed);
        }
        if o.status == Status::Failed {
            let line = format!("rfbplay: error: {}", o.error.as_deref().unwrap_or("failed"));
            match &bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(b) = &bar {
            let hours = recorded_ms.load(Ordering::Relaxed) as f64 / 3.6e6;
            let speed = hours * 3600.0 / started.elapsed().as_secs_f64().max(1e-3);
            b.set_message(format!("{hours:.2} h of recording, {speed:.0}x real time"));
            b.inc(1);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for o in &outcomes {
            serde_json::to_writer(&mut out, o)?;
            writeln!(out)?;
        }
    }
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count() as u64;
    let (ok, skipped, failed) = (
        count(Status::Ok),
        count(Status::Skipped),
        count(Status::Failed),
    );
    // Warnings (a cut, damage read past) are not printed one by one:
    // every minimega recording is cut. Their count says where to look.
    let warned = outcomes
        .iter()
        .filter(|o| o.status == Status::Ok && o.warning.is_some())
        .count() as u64;
    let warned = match (warned, json) {
        (0, _) => String::new(),
        (n, true) => format!(" ({n} with a warning in its record)"),
        (n, false) => format!(" ({n} with a warning: --json lists them)"),
    };
    super::note(&format!(
        "{} done{warned}, {} already up to date, {} failed, in {:.1} s",
        super::plural(ok, "file"),
        skipped,
        failed,
        started.elapsed().as_secs_f64()
    ));
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The outcome of one file's playback for the summary: a warning for a cut
/// recording, an error for damage.
pub fn done_from(
    file: &Path,
    summary: &rfbplay::player::Summary,
    extra_error: Option<String>,
) -> Done {
    Done {
        duration_s: summary.last_update.map(|t| t.as_secs_f64()),
        // Skipped damage says more than the cut every minimega file has.
        warning: summary
            .damaged
            .first()
            .map(|d| {
                let more = summary.damaged.len() - 1;
                let more = if more > 0 {
                    format!(" (and {more} more damaged stretches)")
                } else {
                    String::new()
                };
                format!("{}: {}{more}", file.display(), d.describe())
            })
            .or_else(|| summary.truncation_warning(file)),
        error: extra_error.or_else(|| summary.error.as_ref().map(|e| rfbplay::error_chain(e))),
        skipped: false,
    }
}
