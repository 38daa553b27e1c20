//! "The screen at t" for the web player, and the work it costs. Every frame
//! the server sends comes from [`Screens::screen_at`]: from an open
//! [`Session`] that has played the recording up to an earlier time and
//! goes on forward from there (a time before it starts a new one), or, for
//! times a session cannot answer, from the sampler directly. Both are the
//! sampler's rule. Encoded frames are kept in a bounded cache keyed by the
//! update in effect (known from the recording's timeline), so a screen that
//! does not change is encoded once. When a persisted seek index exists,
//! `screen_at` is the one place that will use it, in place of restarts.
//!
//! Decoding is bounded: at most `permits` decodes run at once, at most a
//! few times as many wait, and a request beyond that gets [`Busy`] (503).

use super::session::Session;
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

/// Where a frame came from (the `x-frame-source` header), for tests and
/// load measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Encoded before, for the same screen.
    Cache,
    /// An open session played forward to it.
    Session,
    /// Played from the start.
    Replay,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Session => "session",
            Source::Replay => "replay",
        }
    }
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
    /// Open sessions, least recently used first.
    sessions: Mutex<VecDeque<(PathBuf, Session)>>,
    max_sessions: usize,
}

impl Screens {
    pub fn new(max_bytes: usize, max_sessions: usize) -> Screens {
        Screens {
            cache: Mutex::new(Lru {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                max_bytes,
            }),
            sessions: Mutex::new(VecDeque::new()),
            max_sessions: max_sessions.max(1),
        }
    }

    /// The open session of `file` furthest along but not past `t`.
    fn take_session(&self, file: &Path, t: Time) -> Option<Session> {
        let mut sessions = self.sessions.lock().expect("not poisoned");
        let best = sessions
            .iter()
            .enumerate()
            .filter(|(_, (p, s))| p == file && s.at <= t)
            .max_by_key(|(_, (_, s))| s.at)
            .map(|(i, _)| i)?;
        sessions.remove(best).map(|(_, s)| s)
    }

    fn put_session(&self, file: &Path, session: Session) {
        let mut sessions = self.sessions.lock().expect("not poisoned");
        sessions.push_back((file.to_path_buf(), session));
        while sessions.len() > self.max_sessions {
            sessions.pop_front();
        }
    }

    /// The screen at `t` from a session, when one can give it.
    fn played_forward(&self, file: &Path, t: Time) -> Option<crate::framebuffer::Framebuffer> {
        if !Session::can_answer(t) {
            return None;
        }
        // A session behind `t` decodes all the way from where it is; with
        // a seek index whose checkpoint for `t` comes after that, a new
        // session starting there decodes less.
        let behind = match self.take_session(file, t) {
            Some(s)
                if crate::index::Index::load(file)
                    .ok()
                    .and_then(|i| i.start_time(Moment::At(t)))
                    .is_some_and(|c| c > s.at) =>
            {
                self.put_session(file, s);
                None
            }
            other => other,
        };
        let mut session = behind.or_else(|| Session::start(file, t))?;
        let fb = session.screen_at(t)?;
        self.put_session(file, session);
        Some(fb)
    }

    /// The screen of `file` at `t`, as PNG. Blocking: call it from a
    /// blocking thread, holding a decode permit. `timeline` lets frames of
    /// the same screen share one cache entry.
    pub fn screen_at(
        &self,
        file: &Path,
        timeline: Option<&Timeline>,
        t: Time,
    ) -> Result<(Arc<Frame>, Source), FrameError> {
        let key = timeline
            .and_then(|tl| tl.content_key(t))
            .map(|k| (file.to_path_buf(), k));
        if let Some(k) = &key {
            if let Some(f) = self.cache.lock().expect("not poisoned").get(k) {
                return Ok((f, Source::Cache));
            }
        }
        let (fb, source) = match self.played_forward(file, t) {
            Some(fb) => (fb, Source::Session),
            None => {
                let options = PlayOptions::default();
                let mut player = Player::open(file, options)
                    .map_err(|e| FrameError::Open(crate::error_chain(&e)))?;
                match sample(&mut player, Moment::At(t), &NoProgress).0 {
                    Shot::Screen(fb) => (fb, Source::Replay),
                    Shot::PastEnd { duration } => return Err(FrameError::PastEnd(duration)),
                    Shot::NoUpdate => return Err(FrameError::NoUpdate),
                    Shot::Damaged => return Err(FrameError::Damaged),
                }
            }
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
        Ok((frame, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_busy_at_once() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let budget = Arc::new(Budget::new(1));
            let held = budget.acquire().await.unwrap();
            // Four may wait for the one permit; the fifth is told at once.
            let mut waiting = Vec::new();
            for _ in 0..4 {
                let b = budget.clone();
                waiting.push(tokio::spawn(async move { b.acquire().await.is_ok() }));
            }
            while budget.waiting.load(Ordering::SeqCst) < 4 {
                tokio::task::yield_now().await;
            }
            assert!(budget.acquire().await.is_err());
            drop(held);
            for w in waiting {
                assert!(w.await.unwrap());
            }
            assert!(budget.acquire().await.is_ok());
        });
    }
}
