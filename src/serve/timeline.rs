//! What the web player draws under its seek bar, and what the list shows
//! for a recording: one pass of [`crate::inspect::entries`] gives every
//! update's time and the pixels it really changed (the activity heatmap),
//! the bells and resizes (markers), the screen size, the duration, and where
//! a cut or damaged file stops. Computed once per file version and cached
//! by (path, size, modification time).

use crate::container::{End, TruncationCause};
use crate::inspect::{entries, Entry};
use crate::player::{PlayOptions, Player, Summary};
use crate::progress::NoProgress;
use crate::time::Time;
use serde::Serialize;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Where and why a recording stops early.
#[derive(Clone, Debug, Serialize)]
pub struct Stop {
    pub time_s: f64,
    pub message: String,
}

/// A recording, as the list and the seek bar see it.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub file_bytes: u64,
    /// `[time_s, changed_pixels]` per update, in order.
    pub updates: Vec<(f64, u64)>,
    pub bells: Vec<f64>,
    /// `[time_s, width, height]`.
    pub resizes: Vec<(f64, u32, u32)>,
    /// The file is cut: complete updates before this time are shown.
    pub cut: Option<Stop>,
    /// Damage stopped decoding here.
    pub damage: Option<Stop>,
    #[serde(skip)]
    update_times: Vec<(Time, bool)>,
    #[serde(skip)]
    duration: Option<Time>,
    /// The file itself is cut (a gzip stream, chunk or block unfinished),
    /// not only the RFB stream inside a complete file: what a recording
    /// still being written looks like.
    #[serde(skip)]
    file_cut: bool,
}

impl Timeline {
    /// Reads the whole recording once.
    pub fn build(file: &Path) -> Result<Timeline, String> {
        let options = PlayOptions {
            measure_damage: true,
            ..PlayOptions::default()
        };
        let file_bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let mut player = Player::open(file, options).map_err(|e| crate::error_chain(&e))?;
        let mut tl = Timeline::empty(file_bytes);
        let summary = entries(
            &mut player,
            Time::ZERO,
            None,
            &mut |e, _| {
                tl.take(e);
                ControlFlow::Continue(())
            },
            &NoProgress,
        );
        tl.finish(&summary);
        Ok(tl)
    }

    /// A timeline before any entry.
    pub fn empty(file_bytes: u64) -> Timeline {
        Timeline {
            duration_s: 0.0,
            width: 0,
            height: 0,
            file_bytes,
            updates: Vec::new(),
            bells: Vec::new(),
            resizes: Vec::new(),
            cut: None,
            damage: None,
            update_times: Vec::new(),
            duration: None,
            file_cut: false,
        }
    }

    /// Adds one entry of [`entries`], in stream order: a timeline grows as
    /// a recording is read (a live one, too).
    pub fn take(&mut self, e: &Entry) {
        match e {
            Entry::Update {
                time_s,
                width,
                height,
                changed_pixels,
                resized,
                ..
            } => {
                self.updates.push((*time_s, *changed_pixels));
                self.update_times
                    .push((e.time(), *changed_pixels > 0 || *resized));
                (self.width, self.height) = (*width, *height);
                self.duration = Some(e.time());
                self.duration_s = *time_s;
            }
            Entry::Bell { time_s } => self.bells.push(*time_s),
            Entry::Resize {
                time_s,
                width,
                height,
            } => self.resizes.push((*time_s, *width, *height)),
            _ => {}
        }
    }

    /// Where and why the reading ended.
    pub fn finish(&mut self, summary: &Summary) {
        self.duration = summary.last_update;
        self.duration_s = summary.last_update.unwrap_or_default().as_secs_f64();
        if let End::Truncated(t) = &summary.end {
            self.file_cut = !matches!(t.cause, TruncationCause::UnfinishedMessage { .. });
            self.cut = Some(Stop {
                time_s: t.time.as_secs_f64(),
                message: format!("recording is truncated {}", t.cause),
            });
        }
        if let Some(e) = &summary.error {
            self.damage = Some(Stop {
                time_s: summary.last_time.as_secs_f64(),
                message: crate::error_chain(e),
            });
        }
    }

    /// Whether the file itself ends cut (see `file_cut`).
    pub fn file_cut(&self) -> bool {
        self.file_cut
    }

    /// The time of the last complete update, exactly.
    pub fn end(&self) -> Option<Time> {
        self.duration
    }

    /// A name for the screen shown at `t` that frames of the same screen
    /// share: the number of the last update at or before `t` that changed
    /// a pixel (0 before any). None where the answer is not plain (within a
    /// millisecond of an update, past the end, after damage): the caller
    /// then asks the sampler without a cache.
    pub fn content_key(&self, t: Time) -> Option<u64> {
        const MS: u64 = 1_000_000;
        if self.damage.is_some() || self.duration.is_none_or(|d| t > d) {
            return None;
        }
        let n = self.update_times.partition_point(|(u, _)| *u <= t);
        let near = |i: usize| {
            self.update_times
                .get(i)
                .is_some_and(|(u, _)| u.0.abs_diff(t.0) <= MS)
        };
        if near(n) || (n > 0 && near(n - 1)) {
            return None;
        }
        let last_change = self.update_times[..n].iter().rposition(|(_, c)| *c);
        Some(last_change.map_or(0, |i| i as u64 + 1))
    }
}

/// A timeline with the file version (size, modification time) it read.
type Versioned = (u64, Option<SystemTime>, Arc<Timeline>);

/// Timelines by file version: a changed file is read again.
#[derive(Default)]
pub struct Timelines {
    map: Mutex<HashMap<PathBuf, Versioned>>,
}

fn version(file: &Path) -> (u64, Option<SystemTime>) {
    match std::fs::metadata(file) {
        Ok(m) => (m.len(), m.modified().ok()),
        Err(_) => (0, None),
    }
}

impl Timelines {
    /// The cached timeline, when it is there and current.
    pub fn cached(&self, file: &Path) -> Option<Arc<Timeline>> {
        let (len, mtime) = version(file);
        let map = self.map.lock().expect("not poisoned");
        map.get(file)
            .filter(|(l, m, _)| *l == len && *m == mtime)
            .map(|(_, _, t)| t.clone())
    }

    /// The timeline, read now if needed. Blocking.
    pub fn get(&self, file: &Path) -> Result<Arc<Timeline>, String> {
        if let Some(t) = self.cached(file) {
            return Ok(t);
        }
        let (len, mtime) = version(file);
        let tl = Arc::new(Timeline::build(file)?);
        self.map
            .lock()
            .expect("not poisoned")
            .insert(file.to_path_buf(), (len, mtime, tl.clone()));
        Ok(tl)
    }
}
