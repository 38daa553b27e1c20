//! Finding a needle from the web player: the page sends a rectangle of the
//! frame it shows (or a PNG the user picked) and the server runs
//! [`crate::find`], the same search as `rfbplay find`, over the whole
//! recording; the spans come back as markers for the seek bar.
//!
//! The region's pixels are taken on the server from the screen at the
//! time the page names (the sampler's rule), not read back from the
//! browser, so the needle is exactly what `rfbplay frame --at` shows. A
//! find replays the whole recording, so only one runs at a time in the
//! whole server ([`Finds`]); another request meanwhile is told it is busy.

use crate::compare::view::{Layout, OwnedImage};
use crate::find::{self, Needle, NeedleError, Options};
use crate::player::{PlayError, PlayOptions, Player};
use crate::progress::NoProgress;
use crate::sampler::{sample, Moment, Shot};
use crate::time::Time;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest uploaded needle, in bytes (the PNG).
pub const MAX_UPLOAD: usize = 8 << 20;

/// What the needle is.
pub enum Source {
    /// A rectangle of the screen at a time.
    Region {
        t: Time,
        x: u32,
        y: u32,
        w: u32,
        h: u32,
    },
    /// A PNG's bytes.
    Png(Vec<u8>),
}

/// Why a find could not run.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("there is no screen at {0}")]
    NoScreen(Time),
    #[error("the region {x},{y} {w}x{h} is empty or not inside the {width}x{height} screen")]
    Region {
        x: u32,
        y: u32,
        w: u32,
        h: u32,
        width: u32,
        height: u32,
    },
    #[error("bad needle")]
    Needle(#[source] NeedleError),
    #[error(transparent)]
    Open(#[from] PlayError),
}

/// One span, as `rfbplay find --json` prints it.
#[derive(Serialize)]
pub struct Hit {
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub open: bool,
    pub x: u32,
    pub y: u32,
    pub score: f64,
}

/// The answer to a find.
#[derive(Serialize)]
pub struct Report {
    pub width: u32,
    pub height: u32,
    pub threshold: f64,
    pub spans: Vec<Hit>,
    /// The lowest score seen, and where (while nothing matched, only up
    /// to `closest_within`).
    pub best: Option<(f64, u32, u32, f64)>,
    pub closest_within: f64,
    /// Damage that stopped the search early (spans before it stand).
    pub error: Option<String>,
}

/// At most one find at a time.
#[derive(Default)]
pub struct Finds {
    running: AtomicBool,
}

/// Held while a find runs.
pub struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Finds {
    /// The right to run a find, or None while another runs.
    pub fn begin(&self) -> Option<Running<'_>> {
        self.running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| Running(&self.running))
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The needle a request describes.
fn needle(file: &Path, source: Source) -> Result<Needle, FindError> {
    let image = match source {
        Source::Png(bytes) => {
            crate::compare::png::decode_bytes(Path::new("the uploaded PNG"), &bytes)
                .map_err(|e| FindError::Needle(NeedleError::Png(e)))?
        }
        Source::Region { t, x, y, w, h } => {
            let mut player = Player::open(file, PlayOptions::default())?;
            let (shot, _) = sample(&mut player, Moment::At(t), &NoProgress);
            let Shot::Screen(fb) = shot else {
                return Err(FindError::NoScreen(t));
            };
            let (width, height) = (fb.width(), fb.height());
            let inside = w > 0
                && h > 0
                && x.checked_add(w).is_some_and(|r| r <= width)
                && y.checked_add(h).is_some_and(|b| b <= height);
            if !inside {
                return Err(FindError::Region {
                    x,
                    y,
                    w,
                    h,
                    width,
                    height,
                });
            }
            let mut data = Vec::with_capacity(w as usize * h as usize * 4);
            for row in y..y + h {
                data.extend_from_slice(fb.row(x, row, w));
            }
            OwnedImage {
                width: w,
                height: h,
                layout: Layout::Bgrx,
                data,
            }
        }
    };
    Needle::from_image(Path::new("the needle"), &image).map_err(FindError::Needle)
}

/// Runs the find. Blocking; the caller holds [`Running`].
pub fn run(file: &Path, source: Source, threshold: Option<f64>) -> Result<Report, FindError> {
    let needle = needle(file, source)?;
    let threshold = threshold.unwrap_or(find::DEFAULT_THRESHOLD);
    let options = PlayOptions {
        keep_shown: false,
        measure_damage: true,
        ..PlayOptions::default()
    };
    let mut player = Player::open(file, options)?;
    let outcome = find::find(
        &mut player,
        &needle,
        Options {
            threshold,
            region: None,
            first: false,
        },
        &NoProgress,
    );
    Ok(Report {
        width: needle.width,
        height: needle.height,
        threshold,
        spans: outcome
            .spans
            .iter()
            .map(|s| Hit {
                start_s: s.start.as_secs_f64(),
                end_s: s.end.map(|t| t.as_secs_f64()),
                open: s.open,
                x: s.x,
                y: s.y,
                score: round(s.score),
            })
            .collect(),
        best: outcome
            .best
            .map(|b| (round(b.score), b.x, b.y, b.time.as_secs_f64())),
        closest_within: outcome.closest_within,
        error: outcome
            .summary
            .error
            .as_ref()
            .map(|e| crate::error_chain(e)),
    })
}
