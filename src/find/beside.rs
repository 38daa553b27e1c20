//! The search on a thread of its own beside the decoding one: the
//! decoding thread forwards each update's changed boxes and their pixels,
//! and the search thread keeps its own copy of the screen up to date from
//! them, so it sees exactly the screens and changes it would see in turn.

use super::{changed_boxes, Finder};
use crate::compare::areas::Rect;
use crate::framebuffer::{Framebuffer, Screen};
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::time::Time;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Changed pixels sent to the search thread and not yet searched, at most
/// (more when one update alone changes more): decoding runs far ahead
/// while the search is busy with a repaint, and the search catches up on
/// the small changes after it.
/// Debug builds (the tests) keep a small budget, so that its waits run.
const IN_FLIGHT_BYTES: usize = if cfg!(debug_assertions) {
    64 << 10
} else {
    32 << 20
};
/// Updates go over in batches of this many, or fewer holding this many
/// pixel bytes: a hand-over per update (one every 100 ms of a minimega
/// recording) would cost more in thread wake-ups than most searches.
const BATCH: usize = 256;
const BATCH_BYTES: usize = 1 << 20;
/// Batches waiting for the search thread at most.
const BATCHES_IN_FLIGHT: usize = 32;

/// An update as the search thread needs it: what changed, and the changed
/// pixels (the boxes' rows, box after box).
struct Change {
    time: Time,
    width: u32,
    height: u32,
    boxes: Vec<Rect>,
    pixels: Vec<u8>,
}

impl Change {
    /// Brings `mirror`, the screen as of the update before, up to this one.
    fn apply(&self, mirror: &mut Framebuffer) {
        if (mirror.width(), mirror.height()) != (self.width, self.height) {
            *mirror = Framebuffer::new(self.width, self.height);
        }
        let mut at = 0;
        for b in &self.boxes {
            let len = b.w as usize * 4;
            for y in b.y..b.y + b.h {
                mirror
                    .row_mut(b.x, y, b.w)
                    .copy_from_slice(&self.pixels[at..at + len]);
                at += len;
            }
        }
    }
}

/// The decoding thread's watcher when the search runs beside it: sends
/// the updates' changes on in batches, in buffers the search thread hands
/// back.
struct Forwarder {
    changes: SyncSender<Vec<Change>>,
    batch: Vec<Change>,
    batch_bytes: usize,
    /// Buffers the search thread is done with, one per update it searched.
    spare: Receiver<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    /// Pixel bytes sent and not yet searched.
    in_flight: Arc<AtomicUsize>,
}

impl Forwarder {
    /// Sends the batch on; false when the search thread is gone.
    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        self.batch_bytes = 0;
        self.changes.send(std::mem::take(&mut self.batch)).is_ok()
    }

    /// Waits until `len` more bytes fit the budget (or nothing is in
    /// flight); false when the search thread is gone.
    fn wait_for_room(&mut self, len: usize) -> bool {
        loop {
            let used = self.in_flight.load(Ordering::Acquire);
            if used == 0 || used + len <= IN_FLIGHT_BYTES {
                return true;
            }
            // What is waited for must be on its way.
            if !self.flush() {
                return false;
            }
            match self.spare.recv() {
                Ok(buf) => self.pool.push(buf),
                Err(_) => return false,
            }
        }
    }

    /// Sends the update at `time` on (in the next batch).
    fn forward(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
        let fb = screen.shown();
        let boxes = changed_boxes(screen);
        let len: usize = boxes.iter().map(|b| b.area() as usize * 4).sum();
        if !self.wait_for_room(len) {
            // The search thread is gone (it panicked): stop decoding.
            return ControlFlow::Break(());
        }
        self.pool.extend(self.spare.try_iter());
        let mut pixels = self.pool.pop().unwrap_or_default();
        pixels.clear();
        for b in &boxes {
            for y in b.y..b.y + b.h {
                pixels.extend_from_slice(fb.row(b.x, y, b.w));
            }
        }
        self.in_flight.fetch_add(pixels.len(), Ordering::AcqRel);
        self.batch_bytes += pixels.len();
        self.batch.push(Change {
            time,
            width: fb.width(),
            height: fb.height(),
            boxes,
            pixels,
        });
        if (self.batch.len() >= BATCH || self.batch_bytes >= BATCH_BYTES) && !self.flush() {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// Where `find` searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Searching {
    /// On the decoding thread, after each update.
    InTurn,
    /// On a thread of its own from the first update on.
    Beside,
    /// In turn at first; on a thread of its own if the search took at
    /// least [`MOVE_AT_SHARE`] of the decoding thread's time over
    /// [`JUDGE_OVER`] from [`JUDGE_FROM`] on. A search that costs little
    /// next to decoding (an exact needle, a raw recording whose updates
    /// change little) stays in turn: a third busy thread on two cores
    /// would only take time from inflate.
    Judged,
}

/// See [`Searching::Judged`].
const JUDGE_FROM: Duration = Duration::from_millis(100);
const JUDGE_OVER: Duration = Duration::from_millis(200);
const MOVE_AT_SHARE: f64 = 0.4;

/// The decoding thread's watcher: searches in turn until the search moves
/// to a thread of its own, then forwards each update's changes to it.
struct Mover<'s, 'e, 'n> {
    scope: &'s std::thread::Scope<'s, 'e>,
    how: Searching,
    finder: Option<&'e mut Finder<'n>>,
    forwarder: Option<Forwarder>,
    search: Option<std::thread::ScopedJoinHandle<'s, ()>>,
    started: Instant,
    searching: Duration,
}

impl<'s, 'e, 'n> Mover<'s, 'e, 'n> {
    /// Starts the search thread on a copy of `fb`, the screen as of the
    /// update just searched, and hands it the finder. Without a thread to
    /// be had, the search stays in turn.
    fn move_beside(&mut self, fb: &Framebuffer) {
        let (hand, take) = channel::<&'e mut Finder<'n>>();
        let (changes, incoming) = sync_channel::<Vec<Change>>(BATCHES_IN_FLIGHT);
        let (give_back, spare) = channel::<Vec<u8>>();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let searched = Arc::clone(&in_flight);
        let mut mirror = fb.clone();
        let spawned = std::thread::Builder::new()
            .name("rfbplay-search".into())
            .spawn_scoped(self.scope, move || {
                let Ok(finder) = take.recv() else {
                    return;
                };
                for change in incoming.iter().flatten() {
                    change.apply(&mut mirror);
                    let _ = finder.update(&mirror, &change.boxes, change.time);
                    searched.fetch_sub(change.pixels.len(), Ordering::AcqRel);
                    let _ = give_back.send(change.pixels);
                }
            });
        let Ok(search) = spawned else {
            return;
        };
        let Some(finder) = self.finder.take() else {
            return;
        };
        if let Err(back) = hand.send(finder) {
            self.finder = Some(back.0);
            return;
        }
        self.search = Some(search);
        self.forwarder = Some(Forwarder {
            changes,
            batch: Vec::new(),
            batch_bytes: 0,
            spare,
            pool: Vec::new(),
            in_flight,
        });
    }

    /// Sends the last batch and waits for the search thread to finish.
    fn finish(&mut self) {
        if let Some(mut f) = self.forwarder.take() {
            f.flush();
        }
        if let Some(search) = self.search.take() {
            if let Err(panic) = search.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Watcher for Mover<'_, '_, '_> {
    fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
        let Event::Update { time, .. } = event else {
            return ControlFlow::Continue(());
        };
        if self.how == Searching::Beside && self.finder.is_some() {
            self.how = Searching::InTurn;
            self.move_beside(screen.shown());
        }
        if let Some(f) = self.forwarder.as_mut() {
            return f.forward(*time, screen);
        }
        let Some(finder) = self.finder.as_mut() else {
            return ControlFlow::Continue(());
        };
        let t = Instant::now();
        let flow = finder.update(screen.shown(), &changed_boxes(screen), *time);
        if self.how != Searching::Judged {
            return flow;
        }
        // The first searches, before the needle is first seen, look for
        // the closest match too and cost more than later ones: the share
        // is taken after them.
        let now = Instant::now();
        let since = now - self.started;
        if since >= JUDGE_FROM {
            self.searching += now - t;
        } else {
            self.searching = Duration::ZERO;
        }
        if since >= JUDGE_FROM + JUDGE_OVER {
            self.how = Searching::InTurn;
            let share = self.searching.as_secs_f64() / (since - JUDGE_FROM).as_secs_f64();
            if share >= MOVE_AT_SHARE {
                self.move_beside(screen.shown());
            }
        }
        flow
    }
}

/// Plays `player` while `finder` searches, in turn or on a thread of its
/// own as `how` says. The search thread keeps its own copy of the screen,
/// brought up to date from each update's changed boxes, and sees exactly
/// the screens and changes it would have seen in turn.
pub(super) fn run_searching(
    finder: &mut Finder<'_>,
    player: &mut Player,
    progress: &dyn Progress,
    how: Searching,
) -> Summary {
    if how == Searching::InTurn {
        return player.run(finder, progress);
    }
    std::thread::scope(|scope| {
        let mut mover = Mover {
            scope,
            how,
            finder: Some(finder),
            forwarder: None,
            search: None,
            started: Instant::now(),
            searching: Duration::ZERO,
        };
        let summary = player.run(&mut mover, progress);
        mover.finish();
        summary
    })
}
