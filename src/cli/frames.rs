//! `rfbplay frame` and `rfbplay frames`: PNG output.

use super::progress::Bar;
use anyhow::{bail, Context};
use rfbplay::export::png::{write_png, PngSequence};
use rfbplay::player::{PlayOptions, Player};
use rfbplay::time::{parse_duration, TimeSpec};
use rfbplay::timeline::Sampling;
use rfbplay::Time;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct FrameArgs {
    /// Recording (.fb, .fbs, .rbs).
    file: PathBuf,
    /// Output PNG.
    out: PathBuf,
    /// When: seconds (12.5), a duration (1m3s) or 'end'.
    #[arg(long, default_value = "end")]
    at: TimeSpec,
    /// Draw the cursor where the recording tells its shape and position.
    #[arg(long)]
    cursor: bool,
}

/// Which frames to take, shared by `frames` and `export`.
#[derive(clap::Args, Debug)]
pub struct Span {
    /// Frames per second: frame k shows the screen at k/fps.
    #[arg(long, default_value_t = 10.0, value_parser = super::args::fps)]
    pub fps: f64,
    /// First frame time (seconds or a duration such as 1m3s).
    #[arg(long, value_parser = parse_duration)]
    pub from: Option<Time>,
    /// Last frame time.
    #[arg(long, value_parser = parse_duration)]
    pub to: Option<Time>,
}

impl Span {
    pub fn sampling(&self) -> anyhow::Result<Sampling> {
        if !(self.fps > 0.0 && self.fps <= 1000.0) {
            bail!("--fps must be above 0 and at most 1000");
        }
        Ok(Sampling {
            fps: self.fps,
            from: self.from.unwrap_or(Time::ZERO),
            to: self.to,
        })
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

pub fn run_frame(args: FrameArgs) -> anyhow::Result<ExitCode> {
    let options = PlayOptions {
        draw_cursor: args.cursor,
        ..Default::default()
    };
    let mut player = Player::open(&args.file, options)?;
    let at = match args.at {
        TimeSpec::At(t) => Some(t),
        TimeSpec::End => None,
    };
    let (shot, summary) = rfbplay::export::screen_at(&mut player, at, &Bar::new("decoding"));
    let code = super::report(&args.file, &summary);
    let Some(fb) = shot else {
        bail!(
            "{}: no complete update before the end, so there is no screen to show",
            super::display(&args.file)
        );
    };
    if let (Some(at), Some(last)) = (at, summary.last_update) {
        if at > last && summary.error.is_none() {
            bail!(
                "{}: --at {at} is past the end of the recording ({last}); use --at end",
                super::display(&args.file)
            );
        }
    }
    write_png(&fb, &args.out, false).with_context(|| "writing the frame")?;
    Ok(code)
}

pub fn run_frames(args: FramesArgs) -> anyhow::Result<ExitCode> {
    let sampling = args.span.sampling()?;
    let options = PlayOptions {
        draw_cursor: args.cursor,
        ..Default::default()
    };
    let mut player = Player::open(&args.file, options)?;
    let last_index = sampling.to.map(|t| (t.as_secs_f64() * sampling.fps) as u64);
    let mut seq = PngSequence::create(&args.out, last_index)?;
    let report = rfbplay::export::run(&mut player, sampling, &mut seq, &Bar::new("writing PNGs"));
    let code = super::report(&args.file, &report.summary);
    if let Some(e) = report.output_error {
        return Err(e).context("writing PNG frames");
    }
    eprintln!(
        "rfbplay: wrote {} frames to {}",
        report.frames,
        super::display(&args.out)
    );
    Ok(code)
}
