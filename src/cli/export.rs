//! `rfbplay export` (and the shorthand `rfbplay FILE OUT`): video files.

use super::progress::Bar;
use anyhow::bail;
use clap::builder::PossibleValuesParser;
use rfbplay::export::video::{
    export_file, VideoOptions, MAX_CRF, PRESETS, SCREEN_PRESET, SUPPORTED_EXTENSIONS,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recording (.fb, .fbs, .rbs), recognised by content.
    file: PathBuf,
    /// Output video; the extension picks the format: mp4, mkv, mov (H.264),
    /// webm (VP9), gif, avi (MJPEG).
    out: PathBuf,
    #[command(flatten)]
    span: super::frames::Span,
    /// H.264 quality: 0 (lossless) to 51; lower is better and bigger.
    #[arg(long, default_value_t = 23, value_parser = clap::value_parser!(u8).range(0..=i64::from(MAX_CRF)))]
    crf: u8,
    /// x264 preset: screen is rfbplay's tuning for screen recordings (fast,
    /// about 1.3 times veryfast's size); the others are x264's own.
    #[arg(long, default_value = SCREEN_PRESET, value_parser = PossibleValuesParser::new(PRESETS))]
    preset: String,
    /// Time-lapse: play X times faster than the recording; above 0 and at
    /// most 10000.
    #[arg(long, default_value_t = 1.0, value_parser = super::args::speed)]
    speed: f64,
    /// Scale the picture by F (0.5 halves width and height); above 0 and
    /// at most 4.
    #[arg(long, default_value_t = 1.0, value_parser = super::args::scale)]
    scale: f64,
    /// Picture size in recording pixels (default: the smallest size that
    /// holds every screen); screens are placed top-left, on black or cropped.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Draw the cursor where the recording tells its shape and position
    /// (see the README: most recordings tell only the shape, and rfbplay
    /// then says so).
    #[arg(long)]
    cursor: bool,
    /// Encode every frame, even unchanged ones (constant frame rate), for
    /// editors that want it; files get bigger and slower to make.
    #[arg(long)]
    cfr: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    Ok((num(w)?, num(h)?))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.out.extension().is_none() {
        bail!(
            "{}: give the output an extension to choose the format ({SUPPORTED_EXTENSIONS})",
            super::display(&args.out)
        );
    }
    let sampling = args.span.sampling()?;
    rfbplay::output::Inputs::new(&[&args.file]).check(&args.out)?;
    let options = VideoOptions {
        fps: sampling.fps,
        from: sampling.from,
        to: sampling.to,
        speed: args.speed,
        crf: args.crf,
        preset: args.preset,
        scale: args.scale,
        size: args.size,
        constant_rate: args.cfr,
        cursor: args.cursor,
    };
    let quiet = super::is_quiet();
    let started = std::time::Instant::now();
    let bar = Bar::new("encoding");
    let report = export_file(&args.file, &args.out, &options, &bar)?;
    let code = super::report_unless(&args.file, &report.export.summary, quiet);
    if let Some(e) = report.export.output_error {
        // Video errors name the output file themselves.
        return Err(e.into());
    }
    if let (Some(gap), false) = (report.cursor_gap, quiet) {
        eprintln!(
            "rfbplay: warning: {}: --cursor drew nothing: {gap}",
            super::display(&args.file)
        );
    }
    if quiet {
        return Ok(code);
    }
    let secs = started.elapsed().as_secs_f64();
    let size = report
        .geometry
        .map(|g| format!("{}x{}", g.out_width, g.out_height))
        .unwrap_or_default();
    eprintln!(
        "rfbplay: wrote {} ({size}, {} frames, {} encoded, {:.1} s of video in {secs:.2} s; \
         encoder thread busy {:.2} s, colour conversion {:.2} s{})",
        super::display(&args.out),
        report.export.frames,
        report.stats.encoded,
        report.stats.duration,
        report.stats.busy.as_secs_f64(),
        report.stats.convert.as_secs_f64(),
        if report.passes > 1 {
            ", two passes: the screen grew"
        } else {
            ""
        }
    );
    Ok(code)
}
