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
    /// Read on past damage: skip what cannot be decoded, go on at the
    /// next update that decodes, and report each skipped stretch.
    #[arg(long)]
    salvage: bool,
    /// With a folder: the format of every output (mp4, mkv, mov, webm, gif,
    /// avi), as its extension.
    #[arg(long, default_value = "mp4")]
    format: String,
    #[command(flatten)]
    batch: super::batch::BatchArgs,
    /// With a folder: print a JSON summary, one object per file.
    #[arg(long)]
    json: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    let (w, h) = (num(w)?, num(h)?);
    // Checked here, so that a size out of range is a usage error (exit 2)
    // like every other bad value.
    if w == 0
        || h == 0
        || rfbplay::limits::Limits::default()
            .check_screen(w, h)
            .is_err()
    {
        return Err("must be WxH within 16384x16384 and 8192*8192 pixels".to_string());
    }
    Ok((w, h))
}

/// The video options the arguments ask for.
fn video_options(args: &Args) -> anyhow::Result<VideoOptions> {
    let sampling = args.span.sampling()?;
    Ok(VideoOptions {
        fps: sampling.fps,
        from: sampling.from,
        to: sampling.to,
        speed: args.speed,
        crf: args.crf,
        preset: args.preset.clone(),
        scale: args.scale,
        size: args.size,
        constant_rate: args.cfr,
        cursor: args.cursor,
        salvage: args.salvage,
        encoder_threads: 0,
    })
}

/// `export FOLDER OUTFOLDER`: every recording, mirrored into OUTFOLDER.
fn run_folder(args: Args) -> anyhow::Result<ExitCode> {
    let ext = args.format.trim_start_matches('.').to_ascii_lowercase();
    if !SUPPORTED_EXTENSIONS.split(", ").any(|e| e == ext) {
        return Err(super::Usage(format!(
            "--format {ext}: choose one of {SUPPORTED_EXTENSIONS}"
        ))
        .into());
    }
    if args.out.is_file() {
        bail!("{}: is a file, not a folder for videos", args.out.display());
    }
    // Said once, before any work, rather than once per recording.
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        bail!(
            "cannot create the output folder {}: {e}",
            args.out.display()
        );
    }
    let mut options = video_options(&args)?;
    // Files side by side keep every core busy already: one encoder thread
    // per file spares the switching between x264's frame threads (a
    // 20-file folder on 2 cores: 3.74 s against 4.16 s, medians of 5).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let running = if args.batch.jobs == 0 {
        cores
    } else {
        args.batch.jobs
    };
    if running > 1 {
        options.encoder_threads = 1;
    }
    let plan = super::batch::plan(&args.file, &args.batch, Some((&args.out, &ext)))?;
    super::batch::execute(&plan, &args.batch, args.json, |job, out| {
        let out = out.expect("export folders have outputs");
        let fail = |e: String| rfbplay::batch::Done {
            duration_s: None,
            warning: None,
            error: Some(e),
            skipped: false,
        };
        if let Err(e) = rfbplay::output::Inputs::new(&[&job.input]).check(out) {
            return fail(rfbplay::error_chain(&e));
        }
        if let Some(dir) = out.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return fail(format!(
                    "cannot create the output folder {}: {e}",
                    dir.display()
                ));
            }
        }
        match export_staged(&job.input, out, &options, &rfbplay::progress::NoProgress) {
            // Damage explains an empty video better than the empty video.
            Ok((report, output_error)) => {
                let summary = &report.export.summary;
                let error = match summary.error {
                    Some(_) => None,
                    None => output_error,
                };
                super::batch::done_from(&job.input, summary, error)
            }
            Err(e) => fail(format!("{e:#}")),
        }
    })
}

/// Exports into a temporary file beside `out`, renamed into place when the
/// video is complete (also when damage ended the recording early: the
/// video up to it is valid); a failed export leaves nothing behind.
fn export_staged(
    input: &std::path::Path,
    out: &std::path::Path,
    options: &VideoOptions,
    progress: &dyn rfbplay::progress::Progress,
) -> anyhow::Result<(rfbplay::export::video::VideoReport, Option<String>)> {
    let (staged, file) = rfbplay::output::Staged::create(out)?;
    drop(file);
    // Messages name the file the user asked for, not its temporary name.
    let temp = staged.temp_path().display().to_string();
    let rename = |e: &(dyn std::error::Error + 'static)| {
        rfbplay::error_chain(e).replace(&temp, &out.display().to_string())
    };
    let mut report = export_file(input, staged.temp_path(), options, progress)
        .map_err(|e| anyhow::anyhow!(rename(&e)))?;
    let output_error = report.export.output_error.take().map(|e| rename(&e));
    if output_error.is_none() {
        staged.commit()?;
    }
    Ok((report, output_error))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.file.is_dir() {
        return run_folder(args);
    }
    // The output's name chooses the format: a name without a known
    // extension is a usage error (exit 2), like --format's.
    if args.out.extension().is_none() {
        return Err(super::Usage(format!(
            "{}: give the output an extension to choose the format ({SUPPORTED_EXTENSIONS})",
            super::display(&args.out)
        ))
        .into());
    }
    if let Err(e) = rfbplay::export::video::VideoFormat::from_path(&args.out) {
        return Err(super::Usage(e.to_string()).into());
    }
    let options = video_options(&args)?;
    rfbplay::output::Inputs::new(&[&args.file]).check(&args.out)?;
    let quiet = super::is_quiet();
    let started = std::time::Instant::now();
    let bar = Bar::new("encoding");
    let (report, output_error) = export_staged(&args.file, &args.out, &options, &bar)?;
    let code = super::report_unless(&args.file, &report.export.summary, quiet);
    // The range rule every command shares comes first: it says why a video
    // came out empty.
    args.span
        .check_against(&args.file, &report.export.summary)?;
    if let Some(e) = output_error {
        if report.export.summary.error.is_some() {
            return Ok(code);
        }
        anyhow::bail!(e);
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
