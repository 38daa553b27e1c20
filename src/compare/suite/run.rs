//! Judging a suite: every pair becomes one check (a recording one per
//! moment), the checks run on all cores, the screens of every check that
//! is not the same are written under the report folder (expected, actual,
//! diff), `--update` copies accepted screens over the baseline, and the
//! three report files are written. All of it through staged files renamed
//! into place, never over an input.

use super::model::{
    Check, DamageReport, ErrorReport, Images, MaskReport, Report, SettingsReport, Status, Summary,
};
use super::{moment_text, read_times, Kind, Pair, SuiteError, TimesError};
use crate::compare::png::{self, LoadError, WriteError};
use crate::compare::recording::{screen_at_with, Pick, ScreenError};
use crate::compare::{
    compare, compare_and_draw, CompareError, Comparison, DiffMode, ImageView, Options, OwnedImage,
    Tolerance,
};
use crate::framebuffer::Framebuffer;
use crate::output::{OutputError, Staged};
use crate::player::PlayOptions;
use crate::progress::NoProgress;
use crate::salvage::Damage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to judge, and what else to do.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub options: Options,
    pub tolerance: Tolerance,
    /// Threads (0: one per core).
    pub threads: usize,
    /// Copy the actual file over the baseline for every pair that differs
    /// or is extra.
    pub update: bool,
    /// Read recordings on past damage (skipped stretches are listed in
    /// each check's `damaged`) instead of failing the check.
    pub salvage: bool,
}

/// Why one check could not be judged.
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Png(#[from] LoadError),
    #[error(transparent)]
    Screen(#[from] ScreenError),
    #[error(transparent)]
    Times(#[from] TimesError),
    #[error("{}: {} in the baseline, {} in the actual folder", .path.display(), .baseline, .actual)]
    KindMismatch {
        path: PathBuf,
        baseline: &'static str,
        actual: &'static str,
    },
    #[error(transparent)]
    Compare(#[from] CompareError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: cannot copy {}", .to.display(), .from.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot update the baseline")]
    Update(#[source] Box<CheckError>),
}

impl CheckError {
    fn code(&self) -> &'static str {
        match self {
            CheckError::Png(e) if e.is_missing() => "missing_file",
            CheckError::Png(_) => "unreadable_image",
            CheckError::Screen(e) => e.code(),
            CheckError::Times(_) => "bad_times_file",
            CheckError::KindMismatch { .. } => "kind_mismatch",
            CheckError::Compare(_) => "bad_option",
            CheckError::Write(_) | CheckError::Output(_) | CheckError::Copy { .. } => {
                "report_write_failed"
            }
            CheckError::Update(_) => "update_failed",
        }
    }

    fn report(&self) -> ErrorReport {
        ErrorReport {
            code: self.code(),
            message: crate::error_chain(self),
        }
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Png => "a PNG",
        Kind::Recording => "a recording",
    }
}

/// One unit of work: a pair at a moment.
struct Job<'a> {
    pair: &'a Pair,
    pick: Option<Pick>,
    /// Known before any pixel is read.
    error: Option<CheckError>,
}

fn jobs(pairs: &[Pair]) -> Vec<Job<'_>> {
    let mut out = Vec::new();
    for pair in pairs {
        let job = |pick, error| Job { pair, pick, error };
        match (&pair.baseline, &pair.actual) {
            (Some((_, kb)), Some((_, ka))) if kb != ka => out.push(job(
                None,
                Some(CheckError::KindMismatch {
                    path: pair.relative.clone(),
                    baseline: kind_name(*kb),
                    actual: kind_name(*ka),
                }),
            )),
            (Some(_), Some(_)) if pair.kind() == Kind::Recording => {
                match pair.times.as_deref().map(read_times) {
                    None => out.push(job(Some(Pick::End), None)),
                    Some(Ok(picks)) => out.extend(picks.into_iter().map(|p| job(Some(p), None))),
                    Some(Err(e)) => out.push(job(None, Some(e.into()))),
                }
            }
            _ => out.push(job(None, None)),
        }
    }
    out
}

fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A screen to show and compare.
enum Loaded {
    Png(OwnedImage),
    /// A recording's screen, its time, and the damage salvage skipped on
    /// the way to it.
    Screen(Framebuffer, crate::time::Time, Vec<Damage>),
}

impl Loaded {
    fn view(&self) -> ImageView<'_> {
        match self {
            Loaded::Png(i) => i.view(),
            Loaded::Screen(fb, ..) => ImageView::from(fb),
        }
    }
    fn time_s(&self) -> Option<f64> {
        match self {
            Loaded::Png(_) => None,
            Loaded::Screen(_, t, _) => Some(t.as_secs_f64()),
        }
    }
    fn damaged(&self) -> &[Damage] {
        match self {
            Loaded::Png(_) => &[],
            Loaded::Screen(.., d) => d,
        }
    }
}

fn load(path: &Path, kind: Kind, pick: Option<Pick>, salvage: bool) -> Result<Loaded, CheckError> {
    Ok(match kind {
        Kind::Png => Loaded::Png(png::load_png(path)?),
        Kind::Recording => {
            let options = PlayOptions {
                salvage,
                ..PlayOptions::default()
            };
            let (fb, t, summary) =
                screen_at_with(path, pick.unwrap_or(Pick::End), options, &NoProgress)?;
            Loaded::Screen(fb, t, summary.damaged)
        }
    })
}

/// The damage one side's recording skipped, as the check reports it.
fn damage_reports(side: &'static str, path: &Path, loaded: &Loaded) -> Vec<DamageReport> {
    loaded
        .damaged()
        .iter()
        .map(|d| DamageReport {
            side,
            file: path.display().to_string(),
            message: d.describe(),
            stretch: d.into(),
        })
        .collect()
}

/// Where one side's image goes in the report: `images/REL[@MOMENT].SIDE.png`.
fn image_name(path: &str, moment: Option<&str>, side: &str) -> String {
    let mut s = format!("images/{path}");
    if let Some(m) = moment {
        s.push('@');
        s.push_str(&m.replace(':', "-"));
    }
    s.push('.');
    s.push_str(side);
    s.push_str(".png");
    s
}

/// Writes one side's screen into the report: a PNG's own bytes, a
/// recording's screen encoded.
fn write_side(
    report: &Path,
    name: &str,
    source: &Path,
    loaded: &Loaded,
    inputs: &[&Path],
) -> Result<(), CheckError> {
    let out = report.join(name);
    make_parent(&out)?;
    match loaded {
        Loaded::Png(_) => copy_staged(source, &out),
        Loaded::Screen(fb, ..) => {
            png::write_png(&out, fb.width(), fb.height(), &fb.to_rgb(), inputs)?;
            Ok(())
        }
    }
}

fn make_parent(out: &Path) -> Result<(), CheckError> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|source| {
            CheckError::Output(OutputError::Create {
                path: out.to_path_buf(),
                source,
            })
        })?;
    }
    Ok(())
}

/// Copies a file through a temporary file renamed into place.
fn copy_staged(from: &Path, to: &Path) -> Result<(), CheckError> {
    let copy = |source| CheckError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    let (staged, mut file) = Staged::create(to)?;
    let mut src = std::fs::File::open(from).map_err(copy)?;
    std::io::copy(&mut src, &mut file).map_err(copy)?;
    file.sync_all().map_err(copy)?;
    drop(file);
    staged.commit()?;
    Ok(())
}

fn quad(r: crate::compare::Rect) -> [u32; 4] {
    [r.x, r.y, r.w, r.h]
}

fn fill_comparison(check: &mut Check, c: &Comparison) {
    let pixels = c.size_mismatch.is_none();
    check.width = Some(c.width);
    check.height = Some(c.height);
    check.size_mismatch = c.size_mismatch;
    if pixels {
        check.diff_pixels = Some(c.diff_pixels);
        check.diff_ratio = Some(c.diff_ratio());
        check.aa_pixels = Some(c.aa_pixels);
        check.bbox = c.bbox.map(quad);
        check.regions = c.regions.iter().copied().map(quad).collect();
    }
    check.masks = c
        .masks
        .iter()
        .map(|m| MaskReport {
            rect: quad(m.rect),
            diff_pixels: m.diff_pixels,
        })
        .collect();
}

/// Judges one job and writes its images.
fn judge(job: Job<'_>, report: &Path, settings: &Settings) -> Check {
    let started = Instant::now();
    let pair = job.pair;
    let path = slash(&pair.relative);
    let moment = job.pick.map(moment_text);
    let id = match &moment {
        Some(m) => format!("{path}@{m}"),
        None => path.clone(),
    };
    let mut check = Check {
        id,
        path,
        kind: pair.kind(),
        moment,
        status: Status::Error,
        width: None,
        height: None,
        size_mismatch: None,
        diff_pixels: None,
        diff_ratio: None,
        aa_pixels: None,
        bbox: None,
        regions: Vec::new(),
        masks: Vec::new(),
        expected_time_s: None,
        actual_time_s: None,
        images: Images::default(),
        updated: false,
        seconds: 0.0,
        error: None,
        damaged: Vec::new(),
    };
    let result = match job.error {
        Some(e) => Err(e),
        None => judge_sides(&mut check, pair, job.pick, report, settings),
    };
    if let Err(e) = result {
        check.status = Status::Error;
        check.error = Some(e.report());
    }
    check.seconds = started.elapsed().as_secs_f64();
    check
}

fn judge_sides(
    check: &mut Check,
    pair: &Pair,
    pick: Option<Pick>,
    report: &Path,
    settings: &Settings,
) -> Result<(), CheckError> {
    let (options, tolerance) = (&settings.options, &settings.tolerance);
    let inputs: Vec<&Path> = [&pair.baseline, &pair.actual]
        .into_iter()
        .filter_map(|s| s.as_ref().map(|(p, _)| p.as_path()))
        .collect();
    let load_side =
        |s: &Option<(PathBuf, Kind)>| s.as_ref().map(|(p, k)| load(p, *k, pick, settings.salvage));
    // Two PNGs with the same bytes are the same without decoding; others
    // decode together; two recordings play at once, each on its own core.
    let (b, a) = match (&pair.baseline, &pair.actual) {
        (Some((b, Kind::Png)), Some((a, Kind::Png))) => match png::load_pair_unless_identical(b, a)
        {
            png::Pair::Identical { width, height } => {
                fill_comparison(check, &crate::compare::identical(width, height, options)?);
                check.status = Status::Same;
                return Ok(());
            }
            png::Pair::Decoded(x, y) => (
                Some(x.map(Loaded::Png).map_err(CheckError::from)),
                Some(y.map(Loaded::Png).map_err(CheckError::from)),
            ),
        },
        (b, a) => rayon::join(|| load_side(b), || load_side(a)),
    };
    check.expected_time_s = b.as_ref().and_then(|r| r.as_ref().ok()?.time_s());
    check.actual_time_s = a.as_ref().and_then(|r| r.as_ref().ok()?.time_s());
    for (side, file, loaded) in [
        ("expected", &pair.baseline, &b),
        ("actual", &pair.actual, &a),
    ] {
        if let (Some((path, _)), Some(Ok(l))) = (file, loaded) {
            check.damaged.extend(damage_reports(side, path, l));
        }
    }
    let moment = check.moment.clone();
    let name = |side| image_name(&check.path, moment.as_deref(), side);
    let (en, an, dn) = (name("expected"), name("actual"), name("diff"));
    // Only in one tree: that side's screen is the report.
    let (b, a) = match (b, a) {
        (Some(b), Some(a)) => (b, a),
        (Some(b), None) => {
            check.status = Status::Missing;
            let b = b?;
            write_side(report, &en, inputs[0], &b, &inputs)?;
            check.images.expected = Some(en);
            return Ok(());
        }
        (None, Some(a)) => {
            check.status = Status::Extra;
            let a = a?;
            write_side(report, &an, inputs[0], &a, &inputs)?;
            check.images.actual = Some(an);
            return Ok(());
        }
        (None, None) => return Ok(()),
    };
    // One side unreadable: the error, and the other side's screen.
    let (b, a) = match (b, a) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), Ok(a)) => {
            if write_side(report, &an, inputs[1], &a, &inputs).is_ok() {
                check.images.actual = Some(an);
            }
            return Err(e);
        }
        (Ok(b), Err(e)) => {
            if write_side(report, &en, inputs[0], &b, &inputs).is_ok() {
                check.images.expected = Some(en);
            }
            return Err(e);
        }
        (Err(e), Err(_)) => return Err(e),
    };
    let c = compare(&b.view(), &a.view(), options)?;
    fill_comparison(check, &c);
    if c.is_same(tolerance) {
        check.status = Status::Same;
        return Ok(());
    }
    check.status = Status::Different;
    write_side(report, &en, inputs[0], &b, &inputs)?;
    check.images.expected = Some(en);
    write_side(report, &an, inputs[1], &a, &inputs)?;
    check.images.actual = Some(an);
    if c.size_mismatch.is_none() {
        let (_, image) = compare_and_draw(&b.view(), &a.view(), options, None, DiffMode::Overlay)?;
        if let Some(img) = image {
            let out = report.join(&dn);
            png::write_png(&out, img.width, img.height, &img.rgb, &inputs)?;
            check.images.diff = Some(dn);
        }
    }
    Ok(())
}

/// Copies the actual file over the baseline for each pair that differs or
/// is extra and had no error; marks its checks updated.
fn update(pairs: &[Pair], baseline: &Path, checks: &mut [Check]) {
    for pair in pairs {
        let path = slash(&pair.relative);
        let mine = |c: &&mut Check| c.path == path;
        let statuses: Vec<Status> = checks.iter_mut().filter(mine).map(|c| c.status).collect();
        let wanted = statuses
            .iter()
            .any(|s| matches!(s, Status::Different | Status::Extra))
            && !statuses.contains(&Status::Error);
        let Some((from, _)) = pair.actual.as_ref().filter(|_| wanted) else {
            continue;
        };
        let to = baseline.join(&pair.relative);
        let done = make_parent(&to)
            .and_then(|()| copy_staged(from, &to))
            .map_err(|e| CheckError::Update(Box::new(e)).report());
        for c in checks.iter_mut().filter(|c| c.path == path) {
            match &done {
                Ok(()) => c.updated = true,
                Err(e) => {
                    c.status = Status::Error;
                    c.error = Some(e.clone());
                }
            }
        }
    }
}

/// Hears how a suite goes, for a progress bar. Every method has a no-op
/// default; calls come from the worker threads.
pub trait Watch: Sync {
    /// The pairs are known: this many checks will run.
    fn start(&self, _checks: usize) {}
    /// One check is judged.
    fn done(&self, _check: &Check) {}
}

/// Hears nothing.
pub struct Quiet;
impl Watch for Quiet {}

/// Compares the two trees, writes the report folder, and returns the
/// report.
pub fn run(
    baseline: &Path,
    actual: &Path,
    report: &Path,
    settings: &Settings,
    watch: &dyn Watch,
) -> Result<Report, SuiteError> {
    let started = Instant::now();
    super::check_report_dir(report, &[("baseline", baseline), ("actual", actual)])?;
    let pairs = super::pair(baseline, actual)?;
    std::fs::create_dir_all(report).map_err(|source| SuiteError::CreateDir {
        path: report.to_path_buf(),
        source,
    })?;
    let jobs = jobs(&pairs);
    watch.start(jobs.len());
    let mut checks: Vec<Check> = {
        use rayon::prelude::*;
        crate::batch::pool(settings.threads).install(|| {
            jobs.into_par_iter()
                .map(|j| {
                    let c = judge(j, report, settings);
                    watch.done(&c);
                    c
                })
                .collect()
        })
    };
    if settings.update {
        update(&pairs, baseline, &mut checks);
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let summary = Summary {
        checks: checks.len(),
        same: count(Status::Same),
        different: count(Status::Different),
        missing: count(Status::Missing),
        extra: count(Status::Extra),
        errors: count(Status::Error),
        updated: checks.iter().filter(|c| c.updated).count(),
        seconds: started.elapsed().as_secs_f64(),
    };
    let result = if summary.errors > 0 {
        "error"
    } else if checks.iter().all(Check::passed) {
        "passed"
    } else {
        "failed"
    };
    let o = &settings.options;
    let report_doc = Report {
        schema: 1,
        mode: "folders",
        result,
        baseline: baseline.display().to_string(),
        actual: actual.display().to_string(),
        settings: SettingsReport {
            threshold: o.threshold,
            exact: o.exact,
            aa: o.detect_aa && !o.exact,
            max_diff_pixels: settings.tolerance.max_diff_pixels,
            max_diff_ratio: settings.tolerance.max_diff_ratio,
            masks: o.masks.iter().copied().map(quad).collect(),
            update: settings.update,
            salvage: settings.salvage,
        },
        summary,
        checks,
    };
    let json = serde_json::to_vec_pretty(&report_doc).expect("the report serialises");
    write_file(&report.join("report.json"), &json)?;
    write_file(
        &report.join("junit.xml"),
        super::junit::render(&report_doc).as_bytes(),
    )?;
    write_file(
        &report.join("index.html"),
        super::html::render(&report_doc).as_bytes(),
    )?;
    Ok(report_doc)
}

/// Writes a whole file through a staged temporary file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SuiteError> {
    use std::io::Write;
    let (staged, mut file) = Staged::create(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| SuiteError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    drop(file);
    staged.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_json_ones() {
        for s in [
            Status::Error,
            Status::Different,
            Status::Missing,
            Status::Extra,
            Status::Same,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        assert_eq!(
            image_name("menu/open.png", Some("update:3"), "diff"),
            "images/menu/open.png@update-3.diff.png"
        );
    }
}
