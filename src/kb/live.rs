//! A playback connection: one RFB session that sends key and pointer events
//! and, when a WaitForIt or ClickItEvent needs it, keeps a live copy of the
//! server's screen.
//!
//! A reader thread owns the socket's reading half and feeds every server
//! byte to the project's [`rfb::Parser`](crate::rfb::Parser), so the stream
//! stays in step even while no screen is wanted. Once one is, it asks for a
//! full update, then an incremental one after each update (RFC 6143 7.5.3),
//! and publishes a copy of the screen with a version number. A waiter
//! searches only when the version moves, and only where the screen changed.

use super::load::Template;
use crate::client::{is_timeout, Client, ClientError, ConnectOptions, Target, Writer};
use crate::decode::{self, DecodeContext, RectCx, RectError};
use crate::framebuffer::{Framebuffer, Screen};
use crate::limits::Limits;
use crate::rfb::{Encoding, Event, Parser, PixelFormat, Rect};
use crate::search::{changed_area, Budget, Match, Scan, Searcher};
use crate::time::Time;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Why a wait ended without a match.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("not found within {timeout:?} ({closest})")]
    Timeout {
        timeout: Duration,
        /// The closest the screen came, as far as the search got.
        closest: Closest,
    },
    #[error("stopped while waiting")]
    Stopped,
    #[error("the server connection ended")]
    Closed(#[source] ConnectionEnd),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Why the connection a playback watches ended.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConnectionEnd {
    #[error("the server closed the connection")]
    ServerClosed,
    #[error("playback ended")]
    PlaybackEnded,
    #[error("the server's screen size cannot be used")]
    ScreenSize(#[source] std::sync::Arc<crate::decode::RectError>),
    #[error("cannot decode the server's stream")]
    Decode(#[source] std::sync::Arc<crate::rfb::ParseError>),
    #[error(transparent)]
    Client(std::sync::Arc<ClientError>),
}

/// The closest match a failed wait saw, for its error message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Closest {
    /// No screen arrived before the deadline.
    NoScreen,
    /// The template is larger than the screen.
    DoesNotFit,
    /// The best position on the last screen; `complete` when the search
    /// for it went over every position.
    Seen { at: Match, complete: bool },
    /// The deadline came before any position was compared in full.
    NotReached,
}

impl std::fmt::Display for Closest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Closest::NoScreen => write!(f, "no screen arrived from the server"),
            Closest::DoesNotFit => write!(f, "the template does not fit on the screen"),
            Closest::NotReached => write!(f, "no position was compared in full in time"),
            Closest::Seen { at, complete } => {
                write!(
                    f,
                    "closest match: mean difference {:.1} per channel at {},{}",
                    at.score, at.x, at.y
                )?;
                if !complete {
                    write!(f, "; not every position was compared by then")?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Default)]
struct State {
    fb: Framebuffer,
    /// Bumped on each complete update; 0 until the first one.
    version: u64,
    want_updates: bool,
    /// Set when the reader thread ends: why.
    closed: Option<ConnectionEnd>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means the reader panicked; the state is
        // still a valid screen copy.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connected playback session.
pub struct Session {
    writer: Writer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    /// Sends the first full request when the screen is first wanted.
    requested: bool,
    size: (u16, u16),
}

/// The encodings asked for: pixel encodings the project can decode, best
/// for a live screen first, with the pseudo-encodings that keep the
/// pointer out of the pixels (Cursor) and follow resizes.
pub fn encodings() -> Vec<Encoding> {
    let pixel = [
        Encoding::COPY_RECT,
        Encoding::ZRLE,
        Encoding::HEXTILE,
        Encoding::ZLIB,
        Encoding::RRE,
        Encoding::RAW,
    ];
    let mut list: Vec<Encoding> = pixel.into_iter().filter(|&e| decodable(e)).collect();
    list.extend([
        Encoding::CURSOR,
        Encoding::DESKTOP_SIZE,
        Encoding::EXTENDED_DESKTOP_SIZE,
        Encoding::LAST_RECT,
    ]);
    list
}

/// Whether the decoder module knows `encoding`, asked with an empty
/// rectangle so nothing is drawn.
fn decodable(encoding: Encoding) -> bool {
    let mut ctx = DecodeContext::new(PixelFormat::BGRX, Limits::default());
    let mut screen = Screen::new(false);
    screen.resize(1, 1);
    let mut cx = RectCx {
        rect: Rect::new(0, 0, 0, 0),
        encoding,
        ctx: &mut ctx,
        screen: &mut screen,
    };
    !matches!(
        decode::begin(encoding, &mut cx),
        Err(RectError::Unsupported)
    )
}

impl Session {
    pub fn connect(target: &Target, opts: &ConnectOptions) -> Result<Session, ClientError> {
        let mut client = Client::connect(target, opts)?;
        client.set_pixel_format(&PixelFormat::BGRX)?;
        client.set_encodings(&encodings())?;
        let size = client.size();
        let writer = client
            .try_clone_writer()
            .map_err(|e| client.session_error(e))?;
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| client.session_error(e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("rfb-reader".into())
                .spawn(move || read_loop(client, &shared, &stop))
                .map_err(|e| ClientError::Io {
                    target: target.clone(),
                    stage: crate::client::Stage::Session,
                    source: e,
                })?
        };
        Ok(Session {
            writer,
            shared,
            stop,
            reader: Some(reader),
            requested: false,
            size,
        })
    }

    pub fn key(&mut self, down: bool, keysym: u32) -> Result<(), ClientError> {
        self.writer.key(down, keysym)
    }

    pub fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), ClientError> {
        self.writer.pointer(mask, x, y)
    }

    /// Starts keeping the live screen (idempotent).
    pub fn want_screen(&mut self) -> Result<(), ClientError> {
        if self.requested {
            return Ok(());
        }
        self.shared.lock().want_updates = true;
        let (w, h) = self.size;
        self.writer.request_update(false, Rect::new(0, 0, w, h))?;
        self.requested = true;
        Ok(())
    }

    /// Why the connection ended, if it has.
    pub fn closed(&self) -> Option<ConnectionEnd> {
        self.shared.lock().closed.clone()
    }

    /// Waits until `template` is on screen with a score of at most
    /// `tolerance`, giving up at `timeout`. `poll` runs at least every 50
    /// ms, and between rows of every search; returning true stops.
    ///
    /// Each new screen is searched where it changed (all of it the first
    /// time). Time left over goes to finding the closest match on the
    /// last screen for the error message, a search that makes way for each
    /// new screen, goes back over what changed, and ends at the deadline
    /// with the best it found.
    pub fn wait_for(
        &mut self,
        template: &Arc<Template>,
        timeout: Duration,
        tolerance: f64,
        poll: &mut dyn FnMut() -> bool,
    ) -> Result<Match, WaitError> {
        self.want_screen()?;
        let deadline = Instant::now() + timeout;
        let mut searcher = Searcher::new(Arc::clone(template));
        let mut last: Option<Framebuffer> = None;
        let mut seen = 0u64;
        let mut stopped = false;
        // The closest-match search on `last`, and its best so far.
        let mut closest_scan: Option<Scan> = None;
        let mut closest: Option<Match> = None;
        loop {
            let busy = closest_scan.is_some_and(|s| !s.done());
            let now = Instant::now();
            let fresh = {
                let mut st = self.shared.lock();
                // Idle: wait for a screen; with a search to go on, only look.
                let until = if busy {
                    now
                } else {
                    deadline.min(now + Duration::from_millis(50))
                };
                while st.version == seen && st.closed.is_none() {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    st = self
                        .shared
                        .changed
                        .wait_timeout(st, left)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                if let Some(why) = &st.closed {
                    return Err(WaitError::Closed(why.clone()));
                }
                (st.version != seen).then(|| {
                    seen = st.version;
                    st.fb.clone()
                })
            };
            if let Some(fb) = fresh {
                let same_size = last
                    .as_ref()
                    .is_some_and(|p| p.width() == fb.width() && p.height() == fb.height());
                let area = match &last {
                    Some(prev) if same_size => {
                        changed_area(prev, &fb).and_then(|c| searcher.touching(&fb, c))
                    }
                    _ => searcher.whole(&fb),
                };
                if let Some(area) = area {
                    let mut stop = || {
                        stopped = stopped || poll();
                        stopped
                    };
                    let mut budget = Budget {
                        deadline: Some(deadline),
                        stop: &mut stop,
                    };
                    let found = searcher.search(&fb, area, tolerance, &mut budget);
                    if let Some(m) = found.best {
                        return Ok(m);
                    }
                }
                if stopped {
                    return Err(WaitError::Stopped);
                }
                // The closest match is the last screen's: a change under
                // it drops it and the search starts over; a change
                // elsewhere is searched again, by sending a search under
                // way back over the rows it touched.
                let whole = searcher.whole(&fb);
                let under = |m: &Match| {
                    area.is_some_and(|a| (a.x0..a.x1).contains(&m.x) && (a.y0..a.y1).contains(&m.y))
                };
                if !same_size || closest.as_ref().is_some_and(under) {
                    closest = None;
                    closest_scan = whole.map(Scan::new);
                } else if let Some(a) = area {
                    closest_scan = match closest_scan {
                        Some(mut s) if !s.done() && Some(s.area) == whole => {
                            s.rewind_to(a.y0);
                            Some(s)
                        }
                        Some(s) if !s.done() => Some(Scan::new(s.area.union(a))),
                        _ => Some(Scan::new(a)),
                    };
                }
                last = Some(fb);
            }
            if let (Some(fb), Some(scan)) = (&last, &mut closest_scan) {
                if !scan.done() && Instant::now() < deadline {
                    let shared = &self.shared;
                    let mut stop = || {
                        stopped = stopped || poll();
                        stopped || shared.lock().version != seen
                    };
                    let mut budget = Budget {
                        deadline: Some(deadline),
                        stop: &mut stop,
                    };
                    let better = closest.map_or(f64::INFINITY, |m| m.score);
                    if let Some(m) = searcher.scan(fb, scan, better, &mut budget) {
                        if m.score <= tolerance {
                            return Ok(m);
                        }
                        closest = Some(m);
                    }
                }
            }
            if stopped {
                return Err(WaitError::Stopped);
            }
            if Instant::now() >= deadline {
                let closest = match (&last, closest) {
                    (None, _) => Closest::NoScreen,
                    (Some(fb), _) if searcher.whole(fb).is_none() => Closest::DoesNotFit,
                    (Some(_), None) => Closest::NotReached,
                    (Some(_), Some(at)) => Closest::Seen {
                        at,
                        complete: closest_scan.is_none_or(|s| s.done()),
                    },
                };
                return Err(WaitError::Timeout { timeout, closest });
            }
            if poll() {
                return Err(WaitError::Stopped);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

fn read_loop(mut client: Client, shared: &Shared, stop: &AtomicBool) {
    let (w, h) = client.size();
    let mut parser = Parser::new(PixelFormat::BGRX, Limits::default(), false);
    let why = 'run: {
        if let Err(e) = parser.set_screen_size(u32::from(w), u32::from(h)) {
            break 'run ConnectionEnd::ScreenSize(e.into());
        }
        let start = Instant::now();
        let mut buf = vec![0u8; 256 << 10];
        while !stop.load(Ordering::Relaxed) {
            let n = match client.read_some(&mut buf) {
                Ok(0) => break 'run ConnectionEnd::ServerClosed,
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => break 'run ConnectionEnd::Client(client.session_error(e).into()),
            };
            let time = Time(start.elapsed().as_nanos() as u64);
            let mut updated = false;
            let fed = parser.feed(&buf[..n], time, &mut |event, screen| {
                if matches!(event, Event::Update { .. } | Event::Resize { .. }) {
                    let mut st = shared.lock();
                    if st.want_updates {
                        st.fb.clone_from(screen.shown());
                        if matches!(event, Event::Update { .. }) {
                            st.version += 1;
                            updated = true;
                        }
                        shared.changed.notify_all();
                    }
                }
            });
            if let Err(e) = fed {
                break 'run ConnectionEnd::Decode(e.into());
            }
            if updated {
                let fb = parser.screen().shown();
                let (w, h) = (fb.width().min(65535) as u16, fb.height().min(65535) as u16);
                if let Err(e) = client.request_update(true, Rect::new(0, 0, w, h)) {
                    break 'run ConnectionEnd::Client(e.into());
                }
            }
        }
        ConnectionEnd::PlaybackEnded
    };
    shared.lock().closed = Some(why);
    shared.changed.notify_all();
    client.shutdown();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_what_the_decoders_know() {
        let list = encodings();
        for e in [
            Encoding::COPY_RECT,
            Encoding::RAW,
            Encoding::ZLIB,
            Encoding::CURSOR,
        ] {
            assert!(list.contains(&e), "{e}");
        }
        assert!(decodable(Encoding::RAW));
        assert!(!decodable(Encoding(12345)));
    }
}
