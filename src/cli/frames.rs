//! `rfbplay frame` and `rfbplay frames`: images of moments.

use super::progress::Bar;
use super::{plural, Usage};
use anyhow::{bail, Context};
use rfbplay::export::png::{write_image, PngSequence};
use rfbplay::index::Index;
use rfbplay::output::{image_kind, Inputs};
use rfbplay::player::{PlayOptions, Player, Summary};
use rfbplay::sampler::{sample, Moment, Shot};
use rfbplay::time::{parse_duration, TimeSpec};
use rfbplay::timeline::Sampling;
use rfbplay::Time;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct FrameArgs {
    /// Recording (.fb, .fbs, .rbs), or a folder of them (searched
    /// recursively: OUT is then a folder, and gets one PNG per recording,
    /// mirroring the tree).
    file: PathBuf,
    /// Output image: .png, .jpg/.jpeg or .webp (lossless); - writes PNG to
    /// standard output.
    out: PathBuf,
    #[command(flatten)]
    batch: super::batch::BatchArgs,
    /// With a folder: print a JSON summary, one object per file.
    #[arg(long)]
    json: bool,
    /// When: seconds (12.5), a duration (1m3s) or 'end'. Any time `info`
    /// prints is accepted.
    #[arg(long, default_value = "end", conflicts_with = "update")]
    at: TimeSpec,
    /// The screen right after update N (numbered from 1, as `rfbplay
    /// updates` lists them).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    update: Option<u64>,
    /// Draw the cursor where the recording tells its shape and position.
    #[arg(long)]
    cursor: bool,
    /// Decode from the start instead of using (or building) the seek index.
    #[arg(long)]
    no_index: bool,
    /// Read on past damage: skip what cannot be decoded, go on at the
    /// next update that decodes, and report each skipped stretch.
    #[arg(long)]
    salvage: bool,
}

/// Which frames to take, shared by `frames` and `export`.
#[derive(clap::Args, Debug)]
pub struct Span {
    /// Frames per second, above 0 and at most 240: frame k shows the screen
    /// at k/fps.
    #[arg(long, default_value = "10", value_parser = super::args::fps)]
    pub fps: f64,
    /// First frame time (seconds or a duration such as 1m3s).
    #[arg(long, value_parser = parse_duration)]
    pub from: Option<Time>,
    /// Last frame time; past the recording's end, frames stop at the end.
    #[arg(long, value_parser = parse_duration)]
    pub to: Option<Time>,
}

impl Span {
    /// The sampling asked for; `--from` after `--to` is a usage error.
    pub fn sampling(&self) -> anyhow::Result<Sampling> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(Usage(format!("--from {from} is after --to {to}")).into());
            }
        }
        Ok(Sampling {
            fps: self.fps,
            from: self.from.unwrap_or(Time::ZERO),
            to: self.to,
        })
    }

    /// After playback: a range wholly past the recording's end is an error
    /// naming the duration; one that runs past it gets a note. The same rule
    /// for every command that takes `--from/--to`.
    pub fn check_against(&self, file: &Path, summary: &Summary) -> anyhow::Result<()> {
        let Some(end) = summary.last_update else {
            return Ok(());
        };
        if summary.error.is_some() || summary.stopped {
            return Ok(());
        }
        if let Some(from) = self.from {
            if from > end.ceil_ms() {
                bail!(
                    "{}: --from {from} is past the end of the recording ({end})",
                    file.display()
                );
            }
        }
        if let Some(to) = self.to {
            if to > end.ceil_ms() {
                super::note(&format!(
                    "{}: --to {to} is past the end of the recording ({end}); frames stop there",
                    file.display()
                ));
            }
        }
        Ok(())
    }
}

#[derive(clap::Args, Debug)]
pub struct FramesArgs {
    /// Recording (.fb, .fbs, .rbs).
    file: PathBuf,
    /// Output folder; files are frame_NNNNNN.png, numbered by frame k at time k/fps.
    out: PathBuf,
    #[command(flatten)]
    span: Span,
    /// Draw the cursor where the recording tells its shape and position.
    #[arg(long)]
    cursor: bool,
    /// One PNG per distinct screen instead of one per frame time, named by
    /// update number and time (update_000042_12.345s.png), with frames.json
    /// mapping names to times and update numbers. --fps is ignored.
    #[arg(long)]
    on_change: bool,
    /// Read on past damage: skip what cannot be decoded, go on at the
    /// next update that decodes, and report each skipped stretch.
    #[arg(long)]
    salvage: bool,
}

/// Says once when `--cursor` can draw nothing (only after a playback
/// that ran to its end: earlier, the position may still come).
pub(crate) fn cursor_note(file: &Path, player: &Player) {
    if let Some(gap) = player.parser().screen().cursor_gap() {
        super::warn(&format!("{}: --cursor drew nothing: {gap}", file.display()));
    }
}

/// `frame FOLDER OUT --at T`: one image per recording.
fn run_frame_folder(args: FrameArgs) -> anyhow::Result<ExitCode> {
    if args.update.is_some() {
        return Err(Usage("--update takes one recording, not a folder".into()).into());
    }
    let plan = super::batch::plan(&args.file, &args.batch, Some((&args.out, "png")))?;
    let moment = match args.at {
        TimeSpec::At(t) => Moment::At(t),
        TimeSpec::End => Moment::End,
    };
    let options = PlayOptions {
        draw_cursor: args.cursor,
        salvage: args.salvage,
        ..Default::default()
    };
    super::batch::execute(&plan, &args.batch, args.json, |job, out| {
        let out = out.expect("frame folders have outputs");
        let fail = |e: String| rfbplay::batch::Done {
            duration_s: None,
            warning: None,
            error: Some(e),
            skipped: false,
        };
        let mut player = match Player::open(&job.input, options) {
            Ok(p) => p,
            Err(e) => return fail(rfbplay::error_chain(&e)),
        };
        if let Err(e) = Inputs::new(&[&job.input]).check(out) {
            return fail(rfbplay::error_chain(&e));
        }
        let (shot, summary) = sample(&mut player, moment, &rfbplay::progress::NoProgress);
        let error = match shot {
            Shot::Screen(fb) => out
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .map_err(|e| format!("{}: {e}", out.display()))
                .and_then(|_| write_image(&fb, out).map_err(|e| rfbplay::error_chain(&e)))
                .err(),
            Shot::PastEnd { duration } => Some(format!(
                "{}: the time is past the end of the recording ({duration})",
                job.input.display()
            )),
            Shot::NoUpdate => Some(format!(
                "{}: no update completes in the recording",
                job.input.display()
            )),
            Shot::Damaged => None,
        };
        super::batch::done_from(&job.input, &summary, error)
    })
}

pub fn run_frame(args: FrameArgs) -> anyhow::Result<ExitCode> {
    if args.file.is_dir() {
        return run_frame_folder(args);
    }
    image_kind(&args.out)?;
    if args.out.as_os_str() != "-" {
        Inputs::new(&[&args.file]).check(&args.out)?;
    }
    let options = PlayOptions {
        draw_cursor: args.cursor,
        salvage: args.salvage,
        ..Default::default()
    };
    if let Some(n) = args.update {
        let mut player = Player::open(&args.file, options)?;
        let (shot, summary) =
            rfbplay::inspect::screen_after_update(&mut player, n, &Bar::new("decoding"));
        let code = super::report(&args.file, &summary);
        let Some((fb, time)) = shot else {
            bail!(
                "{}: there is no update {n}: the recording has {}",
                args.file.display(),
                plural(player.parser().updates(), "update")
            );
        };
        write_image(&fb, &args.out)?;
        if args.out.as_os_str() != "-" {
            super::note(&format!(
                "wrote {} ({}x{}, the screen after update {n}, at {time})",
                args.out.display(),
                fb.width(),
                fb.height()
            ));
        }
        return Ok(code);
    }
    let moment = match args.at {
        TimeSpec::At(t) => Moment::At(t),
        TimeSpec::End => Moment::End,
    };
    // The seek index holds no damaged recording's later part: salvage
    // decodes from the start.
    let (shot, summary, player) = if args.no_index || args.salvage {
        let mut player = Player::open(&args.file, options)?;
        let (shot, summary) = sample(&mut player, moment, &Bar::new("decoding"));
        (shot, summary, player)
    } else {
        let mut notes = Vec::new();
        // The index is built on first need and saved, so later seeks in
        // any process are instant (`--no-index` decodes from the start).
        let index = Index::load_or_build(&args.file, &Bar::new("indexing"), &mut notes)?;
        let r = index.screen_at(moment, options, &Bar::new("decoding"), &mut notes)?;
        for n in notes {
            super::note(&format!("{}: {n}", args.file.display()));
        }
        r
    };
    let code = super::report(&args.file, &summary);
    if args.cursor && !summary.stopped && summary.error.is_none() {
        cursor_note(&args.file, &player);
    }
    let file = args.file.display();
    let fb = match shot {
        Shot::Screen(fb) => fb,
        Shot::PastEnd { duration } => bail!(
            "{file}: --at {} is past the end of the recording ({duration}); use --at end",
            match args.at {
                TimeSpec::At(t) => t,
                TimeSpec::End => duration,
            }
        ),
        Shot::NoUpdate => {
            bail!("{file}: no update completes in the recording, so it shows no screen")
        }
        // What can be read ends at the last update before the damage, as
        // an undamaged recording ends at its last update.
        Shot::Damaged => match (args.at, summary.last_update) {
            (TimeSpec::At(t), Some(last)) => bail!(
                "{file}: --at {t} is after {last}, the last update read before the damage, \
                 so no image was written (--salvage reads on past it)"
            ),
            (TimeSpec::End, Some(last)) => bail!(
                "{file}: the end lies past the damage, so no image was written; the last \
                 update read before it is at {last} (--at {last}), or --salvage reads on"
            ),
            _ => bail!("{file}: the damage comes before the first update, so no image was written"),
        },
    };
    write_image(&fb, &args.out)?;
    if args.out.as_os_str() != "-" {
        let when = match args.at {
            TimeSpec::At(t) => format!("at {t}"),
            TimeSpec::End => format!("at the end, {}", summary.last_update.unwrap_or_default()),
        };
        super::note(&format!(
            "wrote {} ({}x{}, the screen {when})",
            args.out.display(),
            fb.width(),
            fb.height()
        ));
    }
    Ok(code)
}

pub fn run_frames(args: FramesArgs) -> anyhow::Result<ExitCode> {
    let sampling = args.span.sampling()?;
    if args.out.is_file() {
        bail!("{}: is a file, not a folder for frames", args.out.display());
    }
    Inputs::new(&[&args.file]).check(&args.out)?;
    let options = PlayOptions {
        draw_cursor: args.cursor,
        salvage: args.salvage,
        ..Default::default()
    };
    let mut player = Player::open(&args.file, options)?;
    if args.on_change {
        return run_on_change(args, player);
    }
    let last_index = sampling.to.map(|t| (t.as_secs_f64() * sampling.fps) as u64);
    let mut seq = PngSequence::create(&args.out, last_index, Inputs::new(&[&args.file]))?;
    let report = rfbplay::export::run(&mut player, sampling, &mut seq, &Bar::new("writing PNGs"));
    let code = super::report(&args.file, &report.summary);
    if let Some(e) = report.output_error {
        return Err(e).context("writing PNG frames");
    }
    if args.cursor {
        cursor_note(&args.file, &player);
    }
    args.span.check_against(&args.file, &report.summary)?;
    super::note(&format!(
        "wrote {} to {}",
        plural(report.frames, "frame"),
        args.out.display()
    ));
    Ok(code)
}

/// `frames --on-change`: one PNG per distinct screen.
fn run_on_change(args: FramesArgs, mut player: Player) -> anyhow::Result<ExitCode> {
    #[derive(serde::Serialize)]
    struct Written {
        file: String,
        time_s: f64,
        update: u64,
    }
    let inputs = Inputs::new(&[&args.file]);
    let mut seq = PngSequence::create(&args.out, None, Inputs::new(&[&args.file]))?;
    let mut written: Vec<Written> = Vec::new();
    let mut last_generation = None;
    let mut failed = None;
    let mut emit = |e: &rfbplay::inspect::Entry, screen: &rfbplay::framebuffer::Screen| {
        let rfbplay::inspect::Entry::Update { update, time_s, .. } = e else {
            return std::ops::ControlFlow::Continue(());
        };
        if last_generation == Some(screen.generation()) {
            return std::ops::ControlFlow::Continue(());
        }
        last_generation = Some(screen.generation());
        let name = format!("update_{update:06}_{}.png", Time::from_secs_f64(*time_s));
        match seq.frame_named(&name, screen.shown()) {
            Ok(()) => {
                written.push(Written {
                    file: name,
                    time_s: *time_s,
                    update: *update,
                });
                std::ops::ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                std::ops::ControlFlow::Break(())
            }
        }
    };
    let summary = rfbplay::inspect::entries(
        &mut player,
        args.span.from.unwrap_or(Time::ZERO),
        args.span.to,
        &mut emit,
        &Bar::new("writing PNGs"),
    );
    let finished = rfbplay::export::Exporter::finish(&mut seq);
    let code = super::report(&args.file, &summary);
    if let Some(e) = failed.or(finished.err()) {
        return Err(e).context("writing PNG frames");
    }
    let index = args.out.join("frames.json");
    inputs.check(&index)?;
    let (staged, file) = rfbplay::output::Staged::create(&index)?;
    serde_json::to_writer_pretty(std::io::BufWriter::new(file), &written)?;
    staged.commit()?;
    args.span.check_against(&args.file, &summary)?;
    super::note(&format!(
        "wrote {} (one per distinct screen) and frames.json to {}",
        plural(written.len() as u64, "frame"),
        args.out.display()
    ));
    Ok(code)
}
