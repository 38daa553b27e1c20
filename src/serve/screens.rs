//! "The screen at t" for the web player, and the work it costs. Every frame
//! the server sends comes from [`Screens::screen_at`], which asks the
//! sampler (the one author of that rule) and keeps the encoded answers in a
//! bounded cache: frames are keyed by the update in effect, known from the
//! recording's timeline, so real-time playback of a screen that changes a
//! few times a second decodes only when it changes. When a persisted seek
//! index exists, `screen_at` is the one place that will use it.
//!
//! Decoding is bounded: at most `permits` decodes run at once, at most a
//! few times as many wait, and a request beyond that gets [`Busy`] (503).

use super::timeline::Timeline;
use crate::player::{PlayOptions, Player};
use crate::progress::NoProgress;
use crate::sampler::{sample, Moment, Shot};
use crate::time::Time;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One frame, ready to send.
pub struct Frame {
    pub png: Arc<Vec<u8>>,
    pub width: u32,
    pub height: u32,
}

/// What a frame request can come to, besides a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the time is after the recording's end ({0})")]
    PastEnd(Time),
    #[error("no update completed before the recording ended")]
    NoUpdate,
    #[error("the recording is damaged before this time")]
    Damaged,
    #[error("cannot open the recording: {0}")]
    Open(String),
    #[error("cannot encode the frame: {0}")]
    Encode(String),
}

/// Too many decodes are running or waiting.
#[derive(Debug)]
pub struct Busy;

/// The decoding budget shared by every request.
pub struct Budget {
    semaphore: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Budget {
    pub fn new(permits: usize) -> Budget {
        Budget {
            semaphore: Arc::new(Semaphore::new(permits.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting: permits.max(1) * 4,
        }
    }

    /// A permit to decode, or Busy when the queue is full.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(p) = self.semaphore.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let p = self.semaphore.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        p.map_err(|_| Busy)
    }
}

/// Encoded frames, least recently used first out, bounded in bytes.
struct Lru {
    map: HashMap<(PathBuf, u64), Arc<Frame>>,
    order: VecDeque<(PathBuf, u64)>,
    bytes: usize,
    max_bytes: usize,
}

impl Lru {
    fn get(&mut self, key: &(PathBuf, u64)) -> Option<Arc<Frame>> {
        let f = self.map.get(key)?.clone();
        if let Some(i) = self.order.iter().position(|k| k == key) {
            let k = self.order.remove(i).expect("present");
            self.order.push_back(k);
        }
        Some(f)
    }

    fn put(&mut self, key: (PathBuf, u64), frame: Arc<Frame>) {
        if self.map.contains_key(&key) {
            return;
        }
        self.bytes += frame.png.len();
        self.map.insert(key.clone(), frame);
        self.order.push_back(key);
        while self.bytes > self.max_bytes && self.order.len() > 1 {
            let old = self.order.pop_front().expect("not empty");
            if let Some(f) = self.map.remove(&old) {
                self.bytes -= f.png.len();
            }
        }
    }
}

/// The frames of every recording the server shows.
pub struct Screens {
    cache: Mutex<Lru>,
}

impl Screens {
    pub fn new(max_bytes: usize) -> Screens {
        Screens {
            cache: Mutex::new(Lru {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                max_bytes,
            }),
        }
    }

    /// The screen of `file` at `t`, as PNG. Blocking: call it from a
    /// blocking thread, holding a decode permit. `timeline` lets frames of
    /// the same screen share one cache entry.
    pub fn screen_at(
        &self,
        file: &Path,
        timeline: Option<&Timeline>,
        t: Time,
    ) -> Result<Arc<Frame>, FrameError> {
        let key = timeline
            .and_then(|tl| tl.content_key(t))
            .map(|k| (file.to_path_buf(), k));
        if let Some(k) = &key {
            if let Some(f) = self.cache.lock().expect("not poisoned").get(k) {
                return Ok(f);
            }
        }
        let options = PlayOptions::default();
        let mut player =
            Player::open(file, options).map_err(|e| FrameError::Open(crate::error_chain(&e)))?;
        let (shot, _) = sample(&mut player, Moment::At(t), &NoProgress);
        let fb = match shot {
            Shot::Screen(fb) => fb,
            Shot::PastEnd { duration } => return Err(FrameError::PastEnd(duration)),
            Shot::NoUpdate => return Err(FrameError::NoUpdate),
            Shot::Damaged => return Err(FrameError::Damaged),
        };
        let png = crate::export::png::png_bytes(&fb.to_rgb(), fb.width(), fb.height())
            .map_err(|e| FrameError::Encode(crate::error_chain(&e)))?;
        let frame = Arc::new(Frame {
            png: Arc::new(png),
            width: fb.width(),
            height: fb.height(),
        });
        if let Some(k) = key {
            self.cache
                .lock()
                .expect("not poisoned")
                .put(k, frame.clone());
        }
        Ok(frame)
    }
}
