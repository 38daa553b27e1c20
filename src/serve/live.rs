//! Recordings still being written, followed live. A recording is live when
//! its file ends cut (a gzip member or chunk not finished; a complete file
//! whose RFB stream stops mid-message is finished) and was modified within
//! the last [`WINDOW`]. For each live recording one follower thread
//! reads it once, from the start and then on past its end as the file
//! grows (the container waits at the end instead of calling it cut), and
//! keeps two things current for every viewer: the timeline (the same
//! [`Timeline::take`] as a finished file's) and, once it has reached the
//! end, the screen after the last complete update. So the player's
//! duration grows with each poll for the cost of the new bytes only, and
//! the screen at the live end is the one `rfbplay frame --at end` gives
//! for the bytes written so far.
//!
//! A follower stops when the file has not grown for [`WINDOW`], when its
//! recording is finished (a complete gzip stream), or when no viewer has
//! asked for it for [`UNWATCHED`]; the recording is then served as any
//! other. At most [`MAX_FOLLOWERS`] run at once.

use super::timeline::Timeline;
use crate::framebuffer::Framebuffer;
use crate::inspect::{entries, Entry};
use crate::player::{PlayOptions, Player};
use crate::progress::NoProgress;
use crate::time::Time;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A cut file modified this recently is taken as still being written.
pub const WINDOW: Duration = Duration::from_secs(10);
/// A follower nobody asks anything for this long stops.
pub const UNWATCHED: Duration = Duration::from_secs(60);
/// Live recordings followed at once.
pub const MAX_FOLLOWERS: usize = 8;
/// How often a follower at the end looks for new bytes.
const POLL: Duration = Duration::from_millis(100);

/// Whether `file`, whose timeline is `tl`, is still being written.
pub fn is_live(file: &Path, tl: &Timeline) -> bool {
    tl.file_cut() && tl.damage.is_none() && modified_within(file, WINDOW)
}

fn modified_within(file: &Path, window: Duration) -> bool {
    std::fs::metadata(file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age <= window)
}

struct State {
    timeline: Timeline,
    /// The screen after the last update read, once the end was reached.
    screen: Option<(Time, Framebuffer)>,
    ended: bool,
}

struct Follower {
    state: Mutex<State>,
    asked: Mutex<Instant>,
    /// The reader has reached the end of the file at least once.
    at_end: AtomicBool,
}

impl Follower {
    fn touch(&self) {
        *self.asked.lock().expect("not poisoned") = Instant::now();
    }
}

/// The live recordings being followed.
#[derive(Default)]
pub struct Live {
    map: Mutex<HashMap<PathBuf, Arc<Follower>>>,
}

impl Live {
    /// The follower of `file` while it runs; an ended one is forgotten.
    fn running(&self, file: &Path) -> Option<Arc<Follower>> {
        let mut map = self.map.lock().expect("not poisoned");
        let f = map.get(file)?.clone();
        if f.state.lock().expect("not poisoned").ended {
            map.remove(file);
            return None;
        }
        f.touch();
        Some(f)
    }

    /// The timeline so far of a live recording that is being followed.
    pub fn timeline(&self, file: &Path) -> Option<Timeline> {
        let f = self.running(file)?;
        let state = f.state.lock().expect("not poisoned");
        let mut tl = state.timeline.clone();
        tl.file_bytes = std::fs::metadata(file).map_or(tl.file_bytes, |m| m.len());
        Some(tl)
    }

    /// Starts following `file` unless it is followed already or too many are.
    pub fn follow(self: &Arc<Self>, file: &Path) {
        let mut map = self.map.lock().expect("not poisoned");
        if map.contains_key(file) || map.len() >= MAX_FOLLOWERS {
            return;
        }
        let follower = Arc::new(Follower {
            state: Mutex::new(State {
                timeline: Timeline::empty(0),
                screen: None,
                ended: false,
            }),
            asked: Mutex::new(Instant::now()),
            at_end: AtomicBool::new(false),
        });
        map.insert(file.to_path_buf(), follower.clone());
        drop(map);
        let (live, path) = (self.clone(), file.to_path_buf());
        let started = std::thread::Builder::new()
            .name("rfbplay-live".into())
            .spawn(move || {
                follow(&path, &follower);
                follower.state.lock().expect("not poisoned").ended = true;
                // Forget it only if it is still this follower.
                let mut map = live.map.lock().expect("not poisoned");
                if map.get(&path).is_some_and(|f| Arc::ptr_eq(f, &follower)) {
                    map.remove(&path);
                }
            });
        if started.is_err() {
            self.map.lock().expect("not poisoned").remove(file);
        }
    }

    /// The last update read so far of a followed recording.
    pub fn end(&self, file: &Path) -> Option<Time> {
        let f = self.running(file)?;
        let state = f.state.lock().expect("not poisoned");
        state.timeline.end()
    }

    /// The screen at `t` when a followed recording's last update read is
    /// at or before `t` (and within the millisecond of the frame rule):
    /// the live end. None otherwise; the caller asks the sampler.
    pub fn screen_at(&self, file: &Path, t: Time) -> Option<Framebuffer> {
        let f = self.running(file)?;
        let state = f.state.lock().expect("not poisoned");
        let (at, fb) = state.screen.as_ref()?;
        let last = state.timeline.end()?;
        (*at == last && last <= t && t <= last.ceil_ms()).then(|| fb.clone())
    }
}

/// Reads `file` from its start and on while it grows.
fn follow(file: &Path, f: &Arc<Follower>) {
    let options = PlayOptions {
        measure_damage: true,
        ..PlayOptions::default()
    };
    let (path, watcher) = (file.to_path_buf(), f.clone());
    let keep = Box::new(move || {
        watcher.at_end.store(true, Ordering::SeqCst);
        std::thread::sleep(POLL);
        let asked = *watcher.asked.lock().expect("not poisoned");
        asked.elapsed() <= UNWATCHED && modified_within(&path, WINDOW)
    });
    let Ok(mut player) = Player::open_following(file, options, keep) else {
        return;
    };
    let summary = entries(
        &mut player,
        Time::ZERO,
        None,
        &mut |e, screen| {
            let mut state = f.state.lock().expect("not poisoned");
            state.timeline.take(e);
            if let Entry::Update { .. } = e {
                // Copies are made only at the end: catching up on a long
                // recording costs no more than reading it.
                if f.at_end.load(Ordering::SeqCst) {
                    state.screen = Some((e.time(), screen.shown().clone()));
                } else {
                    state.screen = None;
                }
            }
            ControlFlow::Continue(())
        },
        &NoProgress,
    );
    f.state
        .lock()
        .expect("not poisoned")
        .timeline
        .finish(&summary);
}
