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

/// The answer to a find: `rfbplay find --json`'s document, and the
/// needle's size.
#[derive(Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub find: find::Report,
    pub width: u32,
    pub height: u32,
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

/// Runs the find over `file`, which the request named `name`. Blocking;
/// the caller holds [`Running`].
pub fn run(
    file: &Path,
    name: &str,
    source: Source,
    threshold: Option<f64>,
) -> Result<Report, FindError> {
    let what = match &source {
        Source::Region { t, x, y, w, h } => format!("the region {x},{y} {w}x{h} at {t}"),
        Source::Png(_) => "the uploaded PNG".to_string(),
    };
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
    let error = outcome
        .summary
        .error
        .as_ref()
        .map(|e| crate::error_chain(e));
    Ok(Report {
        find: find::Report::new(name.to_string(), what, threshold, Some(&outcome), error),
        width: needle.width,
        height: needle.height,
    })
}
