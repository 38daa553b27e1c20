//! Folder against folder: `rfbplay compare --baseline golden/ --actual run/
//! --report report/`. A screenshot suite keeps its expected screens in one
//! tree and a test run writes its screens into another; this module pairs
//! the two trees file by file (same relative path), turns each pair into
//! checks, judges them on all cores with [`super::compare`], optionally
//! accepts the new screens into the baseline, and writes a report that a
//! person (index.html), a program (report.json) and a CI server
//! (junit.xml) can read.
//!
//! PNGs pair with PNGs and recordings (known by their content, as every
//! folder command knows them) with recordings. A recording is checked at
//! the moments its sidecar lists, `NAME.times` beside it in the baseline
//! (one moment a line: `12.5`, `1m3s`, `end`, `update:42`; `#` starts a
//! comment), or at its end without one. Other files are not part of the
//! suite.

mod html;
mod junit;
mod model;
mod run;

pub use model::{
    Check, DamageReport, ErrorReport, Images, MaskReport, Report, SettingsReport, Status, Summary,
};
pub use run::{run, Quiet, Settings, Watch};

use super::recording::{is_png, Pick};
use std::path::{Path, PathBuf};

/// The sidecar's extension, added to the recording's whole name.
pub const TIMES_EXT: &str = "times";

/// A sidecar is small: one moment a line.
const MAX_TIMES_BYTES: u64 = 64 * 1024;

/// What a pair of files is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Png,
    Recording,
}

/// One relative path and what each tree has there.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// The path below both roots.
    pub relative: PathBuf,
    pub baseline: Option<(PathBuf, Kind)>,
    pub actual: Option<(PathBuf, Kind)>,
    /// The baseline's sidecar, for a recording that has one.
    pub times: Option<PathBuf>,
}

impl Pair {
    /// The kind the pair is judged as: the baseline's, else the actual's.
    pub fn kind(&self) -> Kind {
        self.baseline
            .as_ref()
            .or(self.actual.as_ref())
            .map_or(Kind::Png, |(_, k)| *k)
    }
}

/// Why two trees cannot be compared at all.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{}: not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("{}: cannot list the folder", .path.display())]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the report folder must not be {what} {}, nor inside it", .report.display(), .input.display())]
    ReportInInput {
        report: PathBuf,
        what: &'static str,
        input: PathBuf,
    },
    #[error("{}: the {what} folder is inside the report folder {}", .input.display(), .report.display())]
    InputInReport {
        report: PathBuf,
        what: &'static str,
        input: PathBuf,
    },
    #[error("{}: cannot create the report folder", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("{}: cannot write", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A file of the suite: its relative path, its path, its kind.
type Found = (PathBuf, PathBuf, Kind);

/// The PNGs and recordings below `root`, by relative path, and the
/// sidecars among the other files.
fn listing(root: &Path) -> Result<(Vec<Found>, Vec<PathBuf>), SuiteError> {
    if !root.is_dir() {
        return Err(SuiteError::NotAFolder(root.to_path_buf()));
    }
    let files = crate::batch::files_below(root).map_err(|source| SuiteError::List {
        path: root.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    let mut sidecars = Vec::new();
    for f in files {
        let kind = if is_times(&f.relative) {
            sidecars.push(f.relative);
            continue;
        } else if is_png(&f.input) {
            Kind::Png
        } else if crate::batch::is_recording(&f.input) {
            Kind::Recording
        } else {
            continue;
        };
        found.push((f.relative, f.input, kind));
    }
    Ok((found, sidecars))
}

fn is_times(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == TIMES_EXT)
}

/// The sidecar's path for a recording: its whole name plus `.times`.
pub fn times_path(recording: &Path) -> PathBuf {
    let mut name = recording.as_os_str().to_owned();
    name.push(".");
    name.push(TIMES_EXT);
    PathBuf::from(name)
}

/// Pairs the two trees by relative path, in path order.
pub fn pair(baseline: &Path, actual: &Path) -> Result<Vec<Pair>, SuiteError> {
    let (b, sidecars) = listing(baseline)?;
    let (a, _) = listing(actual)?;
    let mut pairs: std::collections::BTreeMap<PathBuf, Pair> = std::collections::BTreeMap::new();
    for (rel, path, kind) in b {
        let times = (kind == Kind::Recording)
            .then(|| times_path(&rel))
            .filter(|t| sidecars.contains(t))
            .map(|t| baseline.join(t));
        pairs.insert(
            rel.clone(),
            Pair {
                relative: rel,
                baseline: Some((path, kind)),
                actual: None,
                times,
            },
        );
    }
    for (rel, path, kind) in a {
        pairs
            .entry(rel.clone())
            .or_insert_with(|| Pair {
                relative: rel,
                baseline: None,
                actual: None,
                times: None,
            })
            .actual = Some((path, kind));
    }
    Ok(pairs.into_values().collect())
}

/// Why a sidecar cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TimesError {
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than {max} bytes", .path.display())]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{}, line {line}: {reason}", .path.display())]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{} lists no moment", .path.display())]
    Empty { path: PathBuf },
}

/// Reads a sidecar: one moment a line, blank lines and `#` comments
/// skipped, a moment listed twice kept once.
pub fn read_times(path: &Path) -> Result<Vec<Pick>, TimesError> {
    let read = |source| TimesError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_TIMES_BYTES {
        return Err(TimesError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_TIMES_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    parse_times(&text).map_err(|(line, reason)| match line {
        0 => TimesError::Empty {
            path: path.to_path_buf(),
        },
        line => TimesError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        },
    })
}

/// The moments of a sidecar's text; on error the line number (0: no
/// moment at all) and why.
pub fn parse_times(text: &str) -> Result<Vec<Pick>, (usize, String)> {
    let mut picks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let pick: Pick = line.parse().map_err(|e| (i + 1, e))?;
        if !picks.contains(&pick) {
            picks.push(pick);
        }
    }
    if picks.is_empty() {
        return Err((0, String::new()));
    }
    Ok(picks)
}

/// How a moment is written in the report: as the sidecar would write it.
pub fn moment_text(p: Pick) -> String {
    match p {
        Pick::End => "end".into(),
        Pick::Update(n) => format!("update:{n}"),
        Pick::At(t) => format!("{}", t.as_secs_f64()),
    }
}

/// Refuses a report folder that is, or is inside, either input folder,
/// and an input folder inside the report folder (its files would be
/// written among the inputs).
pub fn check_report_dir(report: &Path, inputs: &[(&'static str, &Path)]) -> Result<(), SuiteError> {
    let r = resolve_dir(report);
    for &(what, input) in inputs {
        let i = input.canonicalize().unwrap_or_else(|_| input.to_path_buf());
        if r.starts_with(&i) {
            return Err(SuiteError::ReportInInput {
                report: report.to_path_buf(),
                what,
                input: input.to_path_buf(),
            });
        }
        if i.starts_with(&r) {
            return Err(SuiteError::InputInReport {
                report: report.to_path_buf(),
                what,
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// A folder's real place even when it does not exist yet: its nearest
/// existing ancestor resolved (links followed), the rest appended.
fn resolve_dir(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Time;

    #[test]
    fn sidecars_list_moments() {
        let picks =
            parse_times("# login screen\n12.5\n\n1m  # menu\nend\nupdate:3\n12.5\n").unwrap();
        assert_eq!(
            picks,
            vec![
                Pick::At(Time::from_secs_f64(12.5)),
                Pick::At(Time::from_secs_f64(60.0)),
                Pick::End,
                Pick::Update(3)
            ]
        );
        assert_eq!(parse_times("1\nsoon\n").unwrap_err().0, 2);
        assert_eq!(parse_times("# nothing\n\n").unwrap_err().0, 0);
        assert_eq!(moment_text(Pick::At(Time::from_secs_f64(12.5))), "12.5");
        assert_eq!(moment_text(Pick::Update(3)), "update:3");
    }

    #[test]
    fn report_folder_is_kept_off_the_inputs() {
        let d = std::env::temp_dir().join(format!("rfbplay-suite-dirs-{}", std::process::id()));
        let (g, a) = (d.join("golden"), d.join("run"));
        std::fs::create_dir_all(&g).unwrap();
        std::fs::create_dir_all(&a).unwrap();
        let inputs = [("baseline", g.as_path()), ("actual", a.as_path())];
        assert!(check_report_dir(&d.join("report"), &inputs).is_ok());
        assert!(check_report_dir(&g, &inputs).is_err());
        assert!(check_report_dir(&g.join("sub/report"), &inputs).is_err());
        assert!(check_report_dir(&a.join("./x/../r"), &inputs).is_err());
        assert!(check_report_dir(&d, &inputs).is_err(), "inputs inside");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
