//! `rfbplay compare EXPECTED ACTUAL`: screenshot regression checks. Exit
//! status 0 same (within tolerance), 1 different, 2 error, whatever the
//! output form; `--json` prints the schema the README documents. All the
//! judging is `rfbplay::compare`'s; this file reads arguments and files
//! and prints.

use rfbplay::compare::{
    self, png, Comparison, DiffMode, MaskCount, Options, Rect, SizeMismatch, Tolerance,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The reference screenshot (PNG).
    expected: PathBuf,
    /// The screenshot under test (PNG).
    actual: PathBuf,
    /// Write a diff image here (PNG): changes red, anti-aliasing yellow,
    /// ignored areas hatched blue, over a faded grey copy of EXPECTED.
    #[arg(long, value_name = "PNG")]
    diff: Option<PathBuf>,
    /// overlay (the diff alone) or side-by-side (expected | diff | actual).
    #[arg(long, value_enum, default_value = "overlay", value_name = "MODE")]
    diff_mode: Mode,
    /// Print the result as JSON (schema 1) on stdout.
    #[arg(long)]
    json: bool,
    /// Colour distance threshold, 0 to 1, on pixelmatch's and odiff's YIQ scale.
    #[arg(long, default_value_t = 0.1, value_parser = unit_interval)]
    threshold: f64,
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
struct ErrorReport {
    code: &'static str,
    message: String,
}

/// A failure, with the stable code `--json` reports.
struct Failure {
    code: &'static str,
    error: anyhow::Error,
}

fn fail(code: &'static str, e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code,
        error: e.into(),
    }
}

fn quad(r: Rect) -> [u32; 4] {
    [r.x, r.y, r.w, r.h]
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tolerance = Tolerance {
        max_diff_pixels: args.max_diff_pixels,
        max_diff_ratio: args.max_diff_ratio,
    };
    let mut comparison = None;
    let mut diff_written = None;
    let failure = judge(&args, &mut comparison, &mut diff_written).err();
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
        let report = report(&args, result, comparison.as_ref(), diff_written, &failure);
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            // Errors exit 2 here, never the 1 that means "different".
            Err(e) => {
                eprintln!("rfbplay: error: cannot print the report: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else if let Some(c) = &comparison {
        print_text(result, c);
        if let Some(d) = &diff_written {
            println!("diff image: {}", d.display());
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
    comparison: &mut Option<Comparison>,
    written: &mut Option<PathBuf>,
) -> Result<(), Failure> {
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
    let inputs = [args.expected.as_path(), args.actual.as_path()];
    if let Some(out) = &args.diff {
        png::refuse_inputs(out, &inputs).map_err(|e| fail("diff_is_input", e))?;
    }
    let (a, b) = png::load_pair(&args.expected, &args.actual);
    let load = |r: Result<compare::OwnedImage, png::LoadError>| {
        r.map_err(|e| {
            let code = if e.is_missing() {
                "missing_file"
            } else {
                "unreadable_image"
            };
            fail(code, e)
        })
    };
    let (a, b) = (load(a)?, load(b)?);
    let mode = match args.diff_mode {
        Mode::Overlay => DiffMode::Overlay,
        Mode::SideBySide => DiffMode::SideBySide,
    };
    let (c, image) = if args.diff.is_some() {
        compare::compare_and_draw(&a.view(), &b.view(), &options, None, mode)
    } else {
        compare::compare(&a.view(), &b.view(), &options).map(|c| (c, None))
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
        expected: shown(&args.expected),
        actual: shown(&args.actual),
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

fn shown(p: &Path) -> String {
    super::display(p)
}

fn print_text(result: &str, c: &Comparison) {
    if let Some(SizeMismatch { expected, actual }) = c.size_mismatch {
        println!(
            "{result}: sizes differ, expected {}x{}, actual {}x{}",
            expected[0], expected[1], actual[0], actual[1]
        );
        return;
    }
    let all = u64::from(c.width) * u64::from(c.height);
    print!(
        "{result}: {} of {all} pixels differ ({:.4}%)",
        c.diff_pixels,
        c.diff_ratio() * 100.0
    );
    if c.aa_pixels > 0 {
        print!(", {} more look like anti-aliasing", c.aa_pixels);
    }
    println!();
    if let Some(b) = c.bbox {
        println!("bounding box: {},{},{},{}", b.x, b.y, b.w, b.h);
    }
    for r in &c.regions {
        println!("region: {},{},{},{}", r.x, r.y, r.w, r.h);
    }
    for m in &c.masks {
        let r = m.rect;
        println!(
            "mask {},{},{},{}: {} changed pixels ignored",
            r.x, r.y, r.w, r.h, m.diff_pixels
        );
    }
}
