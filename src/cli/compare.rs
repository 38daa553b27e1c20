//! `rfbplay compare EXPECTED ACTUAL`: screenshot regression checks. Exit
//! status 0 same (within tolerance), 1 different, 2 error, whatever the
//! output form; `--json` prints the schema the README documents. All the
//! judging is `rfbplay::compare`'s; this file reads arguments and files
//! and prints.

use rfbplay::compare::recording::{self as rec, Pick, Side};
use rfbplay::compare::{
    self, png, Comparison, DiffMode, ImageView, MaskCount, Options, OwnedImage, Rect, SizeMismatch,
    Tolerance,
};
use rfbplay::framebuffer::Framebuffer;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::time::Time;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The reference: a PNG, or a recording at a moment (FILE@12.5,
    /// FILE@1m3s, FILE@end, FILE@update:42). Two recordings without a
    /// moment are compared by their stable screens.
    #[arg(required_unless_present = "baseline")]
    pub(super) expected: Option<String>,
    /// The screen under test, in the same forms.
    #[arg(required_unless_present = "baseline")]
    pub(super) actual: Option<String>,
    /// Folder of expected screens (PNGs, recordings, NAME.times sidecars):
    /// compare it with --actual file by file and write --report.
    #[arg(long, value_name = "DIR", requires_all = ["actual_dir", "report"], conflicts_with_all = ["expected", "actual", "diff"])]
    pub(super) baseline: Option<PathBuf>,
    /// With --baseline: the folder of screens under test.
    #[arg(
        long = "actual",
        id = "actual_dir",
        value_name = "DIR",
        requires = "baseline"
    )]
    pub(super) actual_dir: Option<PathBuf>,
    /// With --baseline: where index.html, report.json, junit.xml and the
    /// images go (not inside either input folder).
    #[arg(long, value_name = "DIR", requires = "baseline")]
    pub(super) report: Option<PathBuf>,
    /// With --baseline: copy the actual file over the baseline for every
    /// pair that differs or is only in --actual.
    #[arg(long, requires = "baseline")]
    pub(super) update: bool,
    /// With --baseline: how many pairs at once (default: all cores).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(super) jobs: usize,
    /// Recordings: a screen counts as stable when it stays unchanged this
    /// long (500ms, 1.5s, 2).
    #[arg(long, default_value = "500ms", value_name = "DURATION", value_parser = rfbplay::time::parse_duration)]
    pub(super) settle: Time,
    /// Write a diff image here (PNG): changes red, anti-aliasing yellow,
    /// ignored areas hatched blue, over a faded grey copy of EXPECTED.
    #[arg(long, value_name = "PNG")]
    pub(super) diff: Option<PathBuf>,
    /// overlay (the diff alone) or side-by-side (expected | diff | actual).
    #[arg(long, value_enum, default_value = "overlay", value_name = "MODE")]
    diff_mode: Mode,
    /// Print the result as JSON (schema 1) on stdout.
    #[arg(long)]
    pub(super) json: bool,
    /// Colour distance threshold, 0 to 1, on pixelmatch's and odiff's YIQ scale.
    #[arg(long, default_value_t = 0.1, value_parser = unit_interval)]
    pub(super) threshold: f64,
    /// Leave out pixels that look like anti-aliasing (the default).
    #[arg(long, overrides_with = "no_aa")]
    aa: bool,
    /// Count anti-aliased pixels as differences too.
    #[arg(long = "no-aa", overrides_with = "aa")]
    no_aa: bool,
    /// Same when at most N pixels differ.
    #[arg(long, value_name = "N")]
    max_diff_pixels: Option<u64>,
    /// Same when at most this fraction (0 to 1) of all pixels differs.
    #[arg(long, value_name = "R", value_parser = unit_interval)]
    max_diff_ratio: Option<f64>,
    /// Bit-exact: any pixel whose R, G, B or A differs counts.
    #[arg(long)]
    exact: bool,
    /// Ignore a rectangle (repeatable).
    #[arg(long = "mask", value_name = "X,Y,W,H")]
    masks: Vec<Rect>,
    /// Rectangles to ignore, from JSON: [{"x","y","width","height"}, ...] or
    /// an openQA needle (exclude areas ignored, only match areas compared).
    #[arg(long, value_name = "JSON")]
    mask_file: Option<PathBuf>,
    /// Report at most this many regions of change.
    #[arg(long, default_value_t = 32, value_name = "N")]
    max_regions: usize,
    /// Read recordings on past damage: skip what cannot be decoded, go on
    /// from the next update that decodes, and warn of each skipped stretch
    /// (with --baseline: on both sides, each check listing what it skipped).
    #[arg(long)]
    pub(super) salvage: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Mode {
    Overlay,
    SideBySide,
}

fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to 1, got {s:?}")),
    }
}

/// The `--json` document. Field order and names are the schema.
#[derive(Serialize)]
struct Report {
    schema: u32,
    result: &'static str,
    expected: String,
    actual: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_time_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual_time_s: Option<f64>,
    width: Option<u32>,
    height: Option<u32>,
    size_mismatch: Option<SizeMismatch>,
    diff_pixels: Option<u64>,
    diff_ratio: Option<f64>,
    aa_pixels: Option<u64>,
    bbox: Option<[u32; 4]>,
    regions: Vec<[u32; 4]>,
    masks: Vec<MaskReport>,
    threshold: f64,
    exact: bool,
    aa: bool,
    max_diff_pixels: Option<u64>,
    max_diff_ratio: Option<f64>,
    diff_image: Option<String>,
    error: Option<ErrorReport>,
}

#[derive(Serialize)]
struct MaskReport {
    rect: [u32; 4],
    diff_pixels: u64,
}

#[derive(Serialize)]
pub(super) struct ErrorReport {
    pub(super) code: &'static str,
    pub(super) message: String,
}

/// A failure, with the stable code `--json` reports.
pub(super) struct Failure {
    pub(super) code: &'static str,
    pub(super) error: anyhow::Error,
}

pub(super) fn fail(code: &'static str, e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code,
        error: e.into(),
    }
}

fn quad(r: Rect) -> [u32; 4] {
    [r.x, r.y, r.w, r.h]
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.baseline.is_some() {
        return super::compare_report::run(&args);
    }
    let (Some(expected), Some(actual)) = (&args.expected, &args.actual) else {
        return Err(
            super::Usage("compare needs EXPECTED and ACTUAL, or --baseline DIR".into()).into(),
        );
    };
    let (e, a) = (Side::parse(expected), Side::parse(actual));
    let recording = |s: &Side| s.pick.is_none() && s.path.is_file() && !rec::is_png(&s.path);
    if recording(&e) && recording(&a) {
        return super::compare_rec::run(&args, &e.path, &a.path);
    }
    let tolerance = tolerance(&args);
    let mut comparison = None;
    let mut diff_written = None;
    let mut times = [None, None];
    let failure = judge(
        &args,
        [&e, &a],
        &mut comparison,
        &mut diff_written,
        &mut times,
    )
    .err();
    let same = failure.is_none() && comparison.as_ref().is_some_and(|c| c.is_same(&tolerance));
    let result = match (&failure, same) {
        (Some(_), _) => "error",
        (None, true) => "same",
        (None, false) => "different",
    };
    if let Some(f) = &failure {
        eprintln!("rfbplay: error: {:#}", f.error);
    }
    if args.json {
        let mut report = report(&args, result, comparison.as_ref(), diff_written, &failure);
        report.expected = shown(&e.path);
        report.actual = shown(&a.path);
        [report.expected_time_s, report.actual_time_s] = times.map(|t| t.map(Time::as_secs_f64));
        match serde_json::to_string_pretty(&report) {
            Ok(json) => super::outln!("{json}"),
            // Errors exit 2 here, never the 1 that means "different".
            Err(e) => {
                eprintln!("rfbplay: error: cannot print the report: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else if let Some(c) = &comparison {
        print_text(result, c)?;
        if let Some(d) = &diff_written {
            super::outln!("diff image: {}", d.display());
        }
    }
    Ok(ExitCode::from(match result {
        "same" => 0,
        "different" => 1,
        _ => 2,
    }))
}

/// Reads, compares and writes the diff image. The comparison is kept even
/// when writing the diff image fails afterwards.
fn judge(
    args: &Args,
    sides: [&Side; 2],
    comparison: &mut Option<Comparison>,
    written: &mut Option<PathBuf>,
    times: &mut [Option<Time>; 2],
) -> Result<(), Failure> {
    let options = options(args)?;
    let inputs = [sides[0].path.as_path(), sides[1].path.as_path()];
    if let Some(out) = &args.diff {
        png::refuse_inputs(out, &inputs).map_err(|e| fail("diff_is_input", e))?;
    }
    let (a, b) = load_sides(sides, times, args.salvage)?;
    let (a, b) = (a.view(), b.view());
    let mode = match args.diff_mode {
        Mode::Overlay => DiffMode::Overlay,
        Mode::SideBySide => DiffMode::SideBySide,
    };
    let (c, image) = if args.diff.is_some() {
        compare::compare_and_draw(&a, &b, &options, None, mode)
    } else {
        compare::compare(&a, &b, &options).map(|c| (c, None))
    }
    .map_err(|e| fail("bad_option", e))?;
    *comparison = Some(c);
    if let (Some(out), Some(img)) = (&args.diff, image) {
        png::write_png(out, img.width, img.height, &img.rgb, &inputs).map_err(|e| {
            let code = match e {
                png::WriteError::IsInput { .. } => "diff_is_input",
                _ => "diff_write_failed",
            };
            fail(code, e)
        })?;
        *written = Some(out.clone());
    }
    Ok(())
}

/// A screen to compare: decoded from a PNG, or taken from a recording in
/// memory (no PNG round trip).
enum Loaded {
    Png(OwnedImage),
    Screen(Framebuffer),
}

impl Loaded {
    fn view(&self) -> ImageView<'_> {
        match self {
            Loaded::Png(i) => i.view(),
            Loaded::Screen(fb) => ImageView::from(fb),
        }
    }
}

fn load_sides(
    sides: [&Side; 2],
    times: &mut [Option<Time>; 2],
    salvage: bool,
) -> Result<(Loaded, Loaded), Failure> {
    let is_png = |s: &Side| s.pick.is_none() && (rec::is_png(&s.path) || !s.path.is_file());
    if is_png(sides[0]) && is_png(sides[1]) {
        // Two PNGs: decoded together (once when they are the same bytes).
        let (a, b) = png::load_pair(&sides[0].path, &sides[1].path);
        return Ok((Loaded::Png(load_png(a)?), Loaded::Png(load_png(b)?)));
    }
    let mut one = |i: usize| -> Result<Loaded, Failure> {
        let s = sides[i];
        if is_png(s) {
            return Ok(Loaded::Png(load_png(png::load_png(&s.path))?));
        }
        let (fb, t) = screen_of(&s.path, s.pick.unwrap_or(Pick::End), salvage)?;
        times[i] = Some(t);
        Ok(Loaded::Screen(fb))
    };
    Ok((one(0)?, one(1)?))
}

fn load_png(r: Result<OwnedImage, png::LoadError>) -> Result<OwnedImage, Failure> {
    r.map_err(|e| {
        let code = if e.is_missing() {
            "missing_file"
        } else {
            "unreadable_image"
        };
        fail(code, e)
    })
}

/// Opens a recording for `compare`, with the error codes `--json` reports.
pub(super) fn open_recording(path: &Path, salvage: bool) -> Result<Player, Failure> {
    let options = PlayOptions {
        salvage,
        ..PlayOptions::default()
    };
    Player::open(path, options).map_err(|e| {
        let code = if path.exists() {
            "unreadable_recording"
        } else {
            "missing_file"
        };
        fail(code, e)
    })
}

/// The screen of a recording at a moment, and that moment's time.
/// With `salvage`, the damage skipped on the way is told as warnings
/// (without it, damage ends the playback and there is none to tell).
fn screen_of(path: &Path, pick: Pick, salvage: bool) -> Result<(Framebuffer, Time), Failure> {
    let options = PlayOptions {
        salvage,
        ..PlayOptions::default()
    };
    let (fb, t, summary) = rec::screen_at_with(path, pick, options, &NoProgress).map_err(|e| {
        let code = match &e {
            rec::ScreenError::Unreadable(_) if !path.exists() => "missing_file",
            e => e.code(),
        };
        fail(code, e)
    })?;
    super::damage_warnings(path, &summary);
    Ok((fb, t))
}

pub(super) fn tolerance(args: &Args) -> Tolerance {
    Tolerance {
        max_diff_pixels: args.max_diff_pixels,
        max_diff_ratio: args.max_diff_ratio,
    }
}

/// The comparison options and masks the arguments ask for.
pub(super) fn options(args: &Args) -> Result<Options, Failure> {
    let mut options = Options {
        threshold: args.threshold,
        detect_aa: !args.no_aa,
        exact: args.exact,
        masks: args.masks.clone(),
        max_regions: args.max_regions,
        ..Options::default()
    };
    if let Some(path) = &args.mask_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                "missing_file"
            } else {
                "bad_mask_file"
            };
            fail(
                code,
                anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            )
        })?;
        let file = compare::parse_mask_file(&text).map_err(|e| {
            fail(
                "bad_mask_file",
                anyhow::Error::new(e).context(format!("mask file {}", path.display())),
            )
        })?;
        options.masks.extend(file.masks);
        options.select.extend(file.select);
    }
    Ok(options)
}

fn report(
    args: &Args,
    result: &'static str,
    c: Option<&Comparison>,
    diff_written: Option<PathBuf>,
    failure: &Option<Failure>,
) -> Report {
    let pixels = c.filter(|c| c.size_mismatch.is_none());
    Report {
        schema: 1,
        result,
        expected: args.expected.clone().unwrap_or_default(),
        actual: args.actual.clone().unwrap_or_default(),
        expected_time_s: None,
        actual_time_s: None,
        width: c.map(|c| c.width),
        height: c.map(|c| c.height),
        size_mismatch: c.and_then(|c| c.size_mismatch),
        diff_pixels: pixels.map(|c| c.diff_pixels),
        diff_ratio: pixels.map(Comparison::diff_ratio),
        aa_pixels: pixels.map(|c| c.aa_pixels),
        bbox: pixels.and_then(|c| c.bbox).map(quad),
        regions: pixels.map_or(Vec::new(), |c| {
            c.regions.iter().copied().map(quad).collect()
        }),
        masks: c.map_or(Vec::new(), |c| {
            c.masks
                .iter()
                .map(|&MaskCount { rect, diff_pixels }| MaskReport {
                    rect: quad(rect),
                    diff_pixels,
                })
                .collect()
        }),
        threshold: args.threshold,
        exact: args.exact,
        aa: !args.no_aa && !args.exact,
        max_diff_pixels: args.max_diff_pixels,
        max_diff_ratio: args.max_diff_ratio,
        diff_image: diff_written.as_deref().map(shown),
        error: failure.as_ref().map(|f| ErrorReport {
            code: f.code,
            message: format!("{:#}", f.error),
        }),
    }
}

pub(super) fn shown(p: &Path) -> String {
    super::display(p)
}

fn print_text(result: &str, c: &Comparison) -> std::io::Result<()> {
    if let Some(SizeMismatch { expected, actual }) = c.size_mismatch {
        super::outln!(
            "{result}: sizes differ, expected {}x{}, actual {}x{}",
            expected[0],
            expected[1],
            actual[0],
            actual[1]
        );
        return Ok(());
    }
    let all = u64::from(c.width) * u64::from(c.height);
    let mut line = format!(
        "{result}: {} of {all} pixels differ ({:.4}%)",
        c.diff_pixels,
        c.diff_ratio() * 100.0
    );
    if c.aa_pixels > 0 {
        line += &format!(", {} more look like anti-aliasing", c.aa_pixels);
    }
    super::outln!("{line}");
    if let Some(b) = c.bbox {
        super::outln!("bounding box: {},{},{},{}", b.x, b.y, b.w, b.h);
    }
    for r in &c.regions {
        super::outln!("region: {},{},{},{}", r.x, r.y, r.w, r.h);
    }
    for m in &c.masks {
        let r = m.rect;
        super::outln!(
            "mask {},{},{},{}: {} changed pixels ignored",
            r.x,
            r.y,
            r.w,
            r.h,
            m.diff_pixels
        );
    }
    Ok(())
}
