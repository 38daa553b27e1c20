//! What a folder comparison found, as report.json spells it: the checks,
//! their status, the summary and the settings. The HTML page and the JUnit
//! file are drawn from the same values, so the three never disagree.

use super::Kind;
use crate::compare::SizeMismatch;
use serde::Serialize;

/// How one check went. The order is the report's: failures first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It could not be judged (unreadable file, bad sidecar, ...).
    Error,
    Different,
    /// Only in the baseline.
    Missing,
    /// Only in the actual tree.
    Extra,
    Same,
}

impl Status {
    /// The name report.json gives it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Error => "error",
            Status::Different => "different",
            Status::Missing => "missing",
            Status::Extra => "extra",
            Status::Same => "same",
        }
    }
}

/// The report's images of one check, relative to the report folder,
/// `/`-separated.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Images {
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub diff: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MaskReport {
    pub rect: [u32; 4],
    pub diff_pixels: u64,
}

/// A damaged stretch of a recording that `--salvage` skipped on the way
/// to a check's screen: `info --json`'s fields, with the side, the file
/// and the warning's words.
#[derive(Clone, Debug, Serialize)]
pub struct DamageReport {
    /// `expected` (the baseline's recording) or `actual`.
    pub side: &'static str,
    /// The recording, as the warning on stderr names it.
    pub file: String,
    /// The stretch in one line, as the warning says it.
    pub message: String,
    #[serde(flatten)]
    pub stretch: crate::info::DamageInfo,
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorReport {
    pub code: &'static str,
    pub message: String,
}

/// One check: a pair of PNGs, or a pair of recordings at one moment, or a
/// file that only one tree has. Field order and names are report.json's
/// schema.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// `path`, or `path@moment` for a recording.
    pub id: String,
    /// The relative path, `/`-separated.
    pub path: String,
    pub kind: Kind,
    pub moment: Option<String>,
    pub status: Status,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub size_mismatch: Option<SizeMismatch>,
    pub diff_pixels: Option<u64>,
    pub diff_ratio: Option<f64>,
    pub aa_pixels: Option<u64>,
    pub bbox: Option<[u32; 4]>,
    pub regions: Vec<[u32; 4]>,
    pub masks: Vec<MaskReport>,
    pub expected_time_s: Option<f64>,
    pub actual_time_s: Option<f64>,
    pub images: Images,
    pub updated: bool,
    pub seconds: f64,
    pub error: Option<ErrorReport>,
    /// With `--salvage`: the damage skipped to reach this check's screens
    /// (always empty without it: damage is the check's error).
    pub damaged: Vec<DamageReport>,
}

impl Check {
    /// Passes: the same, or accepted into the baseline by `--update`.
    pub fn passed(&self) -> bool {
        self.status == Status::Same || (self.updated && self.status != Status::Error)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub checks: usize,
    pub same: usize,
    pub different: usize,
    pub missing: usize,
    pub extra: usize,
    pub errors: usize,
    pub updated: usize,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingsReport {
    pub threshold: f64,
    pub exact: bool,
    pub aa: bool,
    pub max_diff_pixels: Option<u64>,
    pub max_diff_ratio: Option<f64>,
    pub masks: Vec<[u32; 4]>,
    pub update: bool,
    pub salvage: bool,
}

/// report.json.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: u32,
    pub mode: &'static str,
    /// `passed`, `failed` or `error` (exit status 0, 1, 2).
    pub result: &'static str,
    pub baseline: String,
    pub actual: String,
    pub settings: SettingsReport,
    pub summary: Summary,
    /// In path order (then moment order).
    pub checks: Vec<Check>,
}

impl Report {
    /// 0 when every check passed, 2 when any could not be judged, else 1.
    pub fn exit_code(&self) -> u8 {
        match self.result {
            "passed" => 0,
            "failed" => 1,
            _ => 2,
        }
    }
}
