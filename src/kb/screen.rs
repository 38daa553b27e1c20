//! `play --record OUT.fb`: the screen recorded over a second connection
//! while a .kb file plays, and the events actually sent written beside it,
//! so a recording of a run can be lined up with its input (and compared
//! against a golden run with `rfbplay compare`).
//!
//! The screen recording is an ordinary [`crate::record::record`] on its
//! own thread. Playback starts only once its first update is in the file,
//! and after the last event the recording goes on for [`AFTER_LAST`] and
//! then until the screen has been still for [`SETTLED`] (at most
//! [`MAX_SETTLE`]). The sent events go to `OUT.sent.kb` (see
//! [`sent_path`]) with the delays of their real send instants, and its
//! first delay is counted from the instant that is the recording's time 0
//! (the start of its connection's file), so time t in one is time t in
//! the other.

use super::write::format_item;
use super::{Event, Item};
use crate::record::{self, Job, Observer, RecordError, RecordOptions, Status, Summary};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The recording goes on at least this long after the last event.
pub const AFTER_LAST: Duration = Duration::from_millis(500);
/// ... and then until no update came for this long ...
pub const SETTLED: Duration = Duration::from_millis(300);
/// ... but no longer than this after the last event.
pub const MAX_SETTLE: Duration = Duration::from_secs(3);
/// How long the first update may take.
const FIRST_UPDATE: Duration = Duration::from_secs(15);

/// `login.fb` → `login.sent.kb`.
pub fn sent_path(out: &Path) -> PathBuf {
    out.with_extension("sent.kb")
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("recording the screen")]
    Record(#[from] RecordError),
    #[error("no screen update came within {}s", FIRST_UPDATE.as_secs())]
    NoUpdate,
    #[error("the screen recorder stopped unexpectedly")]
    Panicked,
    #[error("{}: cannot write", path.display())]
    Sent { path: PathBuf, source: io::Error },
}

#[derive(Default)]
struct Seen {
    /// (updates, when the count last changed, file time 0).
    updates: u64,
    changed: Option<Instant>,
    file_start: Option<Instant>,
    done: bool,
}

struct Watch {
    seen: Mutex<Seen>,
    cv: Condvar,
}

impl Observer for Watch {
    fn status(&self, _name: &str, status: &Status) {
        let mut s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if status.updates != s.updates {
            s.updates = status.updates;
            s.changed = Some(Instant::now());
        }
        s.file_start.get_or_insert(status.file_start);
        self.cv.notify_all();
    }
}

/// A screen recording running beside a playback.
pub struct Screen {
    stop: Arc<AtomicBool>,
    watch: Arc<Watch>,
    handle: Option<JoinHandle<Result<Summary, RecordError>>>,
}

impl Screen {
    /// Starts recording `job` (its output is checked first) and waits for
    /// its first update; the instant that is the file's time 0.
    pub fn start(job: Job, mut opts: RecordOptions) -> Result<(Screen, Instant), ScreenError> {
        record::check_output(&job, &opts)?;
        opts.reconnect = false;
        opts.status_interval = Duration::from_millis(20);
        let stop = Arc::new(AtomicBool::new(false));
        let watch = Arc::new(Watch {
            seen: Mutex::new(Seen::default()),
            cv: Condvar::new(),
        });
        let handle = {
            let (stop, watch) = (Arc::clone(&stop), Arc::clone(&watch));
            std::thread::spawn(move || {
                let r = record::record(&job, &opts, &stop, &*watch);
                watch.seen.lock().unwrap_or_else(|p| p.into_inner()).done = true;
                watch.cv.notify_all();
                r
            })
        };
        let mut screen = Screen {
            stop,
            watch,
            handle: Some(handle),
        };
        let deadline = Instant::now() + FIRST_UPDATE;
        let start = {
            let mut s = screen.watch.seen.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let (true, Some(t)) = (s.updates > 0, s.file_start) {
                    break Some(t);
                }
                let now = Instant::now();
                if s.done || now >= deadline {
                    break None;
                }
                s = screen
                    .watch
                    .cv
                    .wait_timeout(s, deadline - now)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        };
        match start {
            Some(t) => Ok((screen, t)),
            None => {
                let r = screen.finish_now();
                Err(r.err().unwrap_or(ScreenError::NoUpdate))
            }
        }
    }

    /// Waits for the screen to settle after `last` (the last event sent,
    /// see the module docs), then stops and closes the file.
    pub fn finish_after(mut self, last: Instant) -> Result<Summary, ScreenError> {
        let end = last + MAX_SETTLE;
        std::thread::sleep((last + AFTER_LAST).saturating_duration_since(Instant::now()));
        loop {
            let now = Instant::now();
            let s = self.watch.seen.lock().unwrap_or_else(|p| p.into_inner());
            let quiet_since = s.changed.unwrap_or(last);
            if s.done || now >= end || now.saturating_duration_since(quiet_since) >= SETTLED {
                break;
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.finish_now()
    }

    /// Stops the recording now.
    pub fn finish_now(&mut self) -> Result<Summary, ScreenError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => Ok(r?),
            _ => Err(ScreenError::Panicked),
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.finish_now();
        }
    }
}

/// Writes `sent` to `path` (which must be new) as a .kb file whose time 0
/// is `zero`; `header` becomes its first comment line.
pub fn write_sent(
    path: &Path,
    header: &str,
    zero: Instant,
    sent: &[(Instant, Event)],
) -> Result<(), ScreenError> {
    let err = |source| ScreenError::Sent {
        path: path.to_path_buf(),
        source,
    };
    let mut text = format_item(&Item::Comment(format!("#: {header}")));
    text.push('\n');
    let mut prev = zero;
    for (at, event) in sent {
        let delay_ns =
            u64::try_from(at.saturating_duration_since(prev).as_nanos()).unwrap_or(u64::MAX);
        prev = prev.max(*at);
        text += &format_item(&Item::Event {
            delay_ns,
            event: event.clone(),
        });
        text.push('\n');
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}
