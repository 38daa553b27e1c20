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

/// The highest frame rate accepted, for `frames` and `export` alike.
pub const MAX_FPS: f64 = 240.0;

#[derive(clap::Args, Debug)]
pub struct FrameArgs {
    /// Recording (.fb, .fbs, .rbs).
    file: PathBuf,
    /// Output image: .png, .jpg/.jpeg or .webp (lossless); - writes PNG to
    /// standard output.
    out: PathBuf,
    /// When: seconds (12.5), a duration (1m3s) or 'end'. Any time `info`
    /// prints is accepted.
    #[arg(long, default_value = "end")]
    at: TimeSpec,
    /// Draw the cursor where the recording tells its shape and position.
    #[arg(long)]
    cursor: bool,
    /// Decode from the start instead of using (or building) the seek index.
    #[arg(long)]
    no_index: bool,
}

/// Parses `--fps`: above 0, at most [`MAX_FPS`].
pub fn parse_fps(s: &str) -> Result<f64, String> {
    let fps: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of frames per second"))?;
    if fps.is_finite() && fps > 0.0 && fps <= MAX_FPS {
        Ok(fps)
    } else {
        Err(format!("must be above 0 and at most {MAX_FPS}"))
    }
}

/// Which frames to take, shared by `frames` and `export`.
#[derive(clap::Args, Debug)]
pub struct Span {
    /// Frames per second, above 0 and at most 240: frame k shows the screen
    /// at k/fps.
    #[arg(long, default_value = "10", value_parser = parse_fps)]
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
}

/// Says once when `--cursor` can draw nothing.
pub(crate) fn cursor_note(file: &Path, player: &Player) {
    let screen = player.parser().screen();
    if screen.pointer.is_some() {
        return;
    }
    let what = if screen.cursor.is_some() {
        "has a cursor shape but never tells the pointer's position"
    } else {
        "tells neither a cursor shape nor the pointer's position"
    };
    super::note(&format!(
        "{}: this recording {what}, so --cursor draws nothing",
        file.display()
    ));
}

pub fn run_frame(args: FrameArgs) -> anyhow::Result<ExitCode> {
    image_kind(&args.out)?;
    if args.out.as_os_str() != "-" {
        Inputs::new(&[&args.file]).check(&args.out)?;
    }
    let options = PlayOptions {
        draw_cursor: args.cursor,
        ..Default::default()
    };
    let moment = match args.at {
        TimeSpec::At(t) => Moment::At(t),
        TimeSpec::End => Moment::End,
    };
    let (shot, summary, player) = if args.no_index {
        let mut player = Player::open(&args.file, options)?;
        let (shot, summary) = sample(&mut player, moment, &Bar::new("decoding"));
        (shot, summary, player)
    } else {
        let mut notes = Vec::new();
        let index = Index::load_or_build(&args.file, &Bar::new("indexing"), &mut notes)?;
        let r = index.screen_at(moment, options, &Bar::new("decoding"), &mut notes)?;
        for n in notes {
            super::note(&format!("{}: {n}", args.file.display()));
        }
        r
    };
    let code = super::report(&args.file, &summary);
    if args.cursor {
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
        Shot::Damaged => {
            bail!("{file}: the damage comes before that moment, so no image was written")
        }
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
        ..Default::default()
    };
    let mut player = Player::open(&args.file, options)?;
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
