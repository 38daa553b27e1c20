//! One connection's recording loop: read what the server sends, write each
//! read as one timed chunk, follow the stream with the same parser the
//! player uses (to see updates complete and the screen resize), and send
//! requests when the [`Pacer`] says so.
//!
//! Times come from a monotonic clock read as soon as a read returns, and
//! the file's clock is never paused while the recorder writes, so file time
//! tracks wall time (minimega's recorder excludes its write time and runs
//! slow, docs/formats.md section 1).
//!
//! A recording lasts until its last complete update (docs/formats.md section 4),
//! and an idle screen sends none: so every file ends with an end mark, an
//! empty FramebufferUpdate (no rectangles, RFC 6143 section 7.6.1) stamped
//! with the moment recording stopped, and the file's length is the wall
//! time recorded whether or not the server was busy, idle or gone.

use super::output::FileWriter;
use super::pacer::{Pacer, Pacing};
use super::{Job, Note, Observer, RecordError, RecordOptions, Status};
use crate::client::{is_timeout, Client, ClientError};
use crate::framebuffer::Screen;
use crate::rfb::{Event, Parser, PixelFormat};
use crate::time::Time;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the loop wakes up at least, to notice a stop request.
const TICK: Duration = Duration::from_millis(100);

/// How long a stop waits for a message in progress to complete before the
/// end mark can follow it (see [`run`]).
const CLOSING_WAIT: Duration = Duration::from_millis(500);

/// The end mark: FramebufferUpdate (type 0), padding, zero rectangles.
pub const END_MARK: [u8; 4] = [0, 0, 0, 0];

/// Why a connection's recording ended.
#[derive(Debug)]
pub enum ConnEnd {
    /// Ctrl-C or SIGTERM.
    Stopped,
    /// `--duration` is over.
    Duration,
    /// The server closed the connection (None) or it failed (Some).
    ServerGone(Option<ClientError>),
}

/// Counts for one file.
#[derive(Clone, Debug, Default)]
pub struct FileCounts {
    pub updates: u64,
    pub chunks: u64,
    pub payload_bytes: u64,
    pub file_bytes: u64,
    /// Time of the last chunk.
    pub last_chunk: Time,
    /// Time of the last complete update: the file's length as every
    /// player reads it (docs/formats.md section 4). With the end mark, the wall
    /// time recorded.
    pub length: Time,
    /// Whether the file ends with the end mark (see the module docs); not
    /// when the stream could not be followed or stopped mid-message.
    pub end_mark: bool,
    /// Requests sent.
    pub requests: u64,
    /// Why the recorder could not follow the stream, if it lost it.
    pub lost_tracking: Option<String>,
}

pub(super) struct Conn<'a> {
    pub client: Client,
    pub writer: FileWriter,
    pub path: &'a Path,
    pub job: &'a Job,
    pub opts: &'a RecordOptions,
    pub stop: &'a AtomicBool,
    pub deadline: Option<Instant>,
    pub observer: &'a dyn Observer,
    /// When the whole recording began, for the status line.
    pub began: Instant,
    /// Updates recorded in earlier files, for the status line.
    pub updates_before: u64,
    pub bytes_before: u64,
}

/// What one read brought.
enum Read {
    Data,
    Quiet,
    Gone(Option<ClientError>),
}

/// Why the loop ended, and when (for the end mark).
struct Ending {
    end: ConnEnd,
    at: Instant,
}

/// The state of one connection's recording.
struct Rec<'a> {
    c: Conn<'a>,
    pacer: Pacer,
    parser: Parser,
    tracking: bool,
    counts: FileCounts,
    size: (u32, u32),
    buf: Vec<u8>,
    /// File time zero.
    start: Instant,
    last_flush: Instant,
    dirty: bool,
    last_status: Option<Instant>,
}

/// Records until a stop, the deadline or the server's end, writes the end
/// mark (see the module docs) and closes the gzip stream properly. A write
/// error to the file is the only error: everything else is a normal end.
pub(super) fn run(c: Conn<'_>) -> Result<(ConnEnd, FileCounts), RecordError> {
    let (w, h) = c.client.size();
    let pacing = if c.opts.minimega {
        Pacing::Minimega
    } else {
        Pacing::Tracked
    };
    let now = Instant::now();
    let mut r = Rec {
        pacer: Pacer::new(pacing, c.opts.fps, w, h),
        parser: Parser::new(PixelFormat::BGRX, c.opts.limits, false),
        tracking: true,
        counts: FileCounts::default(),
        size: (u32::from(w), u32::from(h)),
        buf: vec![0u8; c.opts.read_size.max(1)],
        start: now,
        last_flush: now,
        dirty: false,
        last_status: None,
        c,
    };
    if let Err(e) = r.parser.set_screen_size(u32::from(w), u32::from(h)) {
        r.lose_tracking(e.to_string());
    }

    let ending = loop {
        let now = Instant::now();
        if r.c.stop.load(Ordering::Relaxed) {
            break Ending {
                end: ConnEnd::Stopped,
                at: now,
            };
        }
        if let Some(d) = r.c.deadline.filter(|&d| now >= d) {
            break Ending {
                end: ConnEnd::Duration,
                at: d,
            };
        }
        if let Some(req) = r.pacer.poll(now) {
            if let Err(e) = r.c.client.request_update(req.incremental, req.rect) {
                break Ending {
                    end: ConnEnd::ServerGone(Some(e)),
                    at: now,
                };
            }
        }
        // Sleep in the read until the next request, flush, tick or deadline.
        let mut wake = now + TICK;
        if let Some(due) = r.pacer.next_due() {
            wake = wake.min(due);
        }
        if r.dirty {
            wake = wake.min(r.last_flush + r.c.opts.flush_interval);
        }
        if let Some(d) = r.c.deadline {
            wake = wake.min(d);
        }
        match r.read(wake.saturating_duration_since(now))? {
            Read::Data | Read::Quiet => {}
            Read::Gone(e) => {
                break Ending {
                    end: ConnEnd::ServerGone(e),
                    at: Instant::now(),
                }
            }
        }
        r.housekeeping()?;
    };
    let gone = matches!(ending.end, ConnEnd::ServerGone(_));
    r.end_mark(ending.at, gone)?;
    r.finish(ending.end)
}

impl Rec<'_> {
    fn io_err(&self, source: std::io::Error) -> RecordError {
        RecordError::Write {
            path: self.c.path.to_path_buf(),
            source,
        }
    }

    /// One read of at most `wait`; what arrives becomes one chunk.
    fn read(&mut self, wait: Duration) -> Result<Read, RecordError> {
        if let Err(e) = self.c.client.set_read_timeout(Some(wait)) {
            return Ok(Read::Gone(Some(self.c.client.session_error(e))));
        }
        let n = match self.c.client.read_some(&mut self.buf) {
            Ok(0) => return Ok(Read::Gone(None)),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Ok(Read::Quiet),
            Err(e) => return Ok(Read::Gone(Some(self.c.client.session_error(e)))),
        };
        let time = self.file_time(Instant::now());
        let bytes = std::mem::take(&mut self.buf);
        let written = self.write_chunk(time, &bytes[..n]);
        self.buf = bytes;
        written?;
        Ok(Read::Data)
    }

    /// File time of an instant: since this connection's file began.
    fn file_time(&self, at: Instant) -> Time {
        let d = at.saturating_duration_since(self.start);
        Time(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Writes one chunk and follows it with the parser.
    fn write_chunk(&mut self, time: Time, bytes: &[u8]) -> Result<(), RecordError> {
        if let Err(e) = self.c.writer.chunk(time.0, bytes) {
            return Err(self.io_err(e));
        }
        self.dirty = true;
        self.counts.last_chunk = time;
        if self.tracking {
            let (pacer, counts, size) = (&mut self.pacer, &mut self.counts, &mut self.size);
            let mut on_event = |ev: Event, _: &Screen| match ev {
                Event::Update { time, .. } => {
                    pacer.update_done();
                    counts.updates += 1;
                    counts.length = time;
                }
                Event::Resize { width, height, .. } => {
                    pacer.resize(width, height);
                    *size = (width, height);
                }
                _ => {}
            };
            if let Err(e) = self.parser.feed(bytes, time, &mut on_event) {
                self.lose_tracking(e.to_string());
            }
        }
        Ok(())
    }

    /// Flushes the gzip stream when due, and reports status.
    fn housekeeping(&mut self) -> Result<(), RecordError> {
        let now = Instant::now();
        if self.dirty
            && now.saturating_duration_since(self.last_flush) >= self.c.opts.flush_interval
        {
            if let Err(e) = self.c.writer.flush() {
                return Err(self.io_err(e));
            }
            self.last_flush = now;
            self.dirty = false;
        }
        if self
            .last_status
            .is_none_or(|t| now.saturating_duration_since(t) >= self.c.opts.status_interval)
        {
            self.last_status = Some(now);
            let file_bytes = self.c.bytes_before + self.c.writer.get_ref().written();
            self.report(file_bytes, true);
        }
        Ok(())
    }

    /// Writes the end mark stamped `stopped` (see the module docs). A
    /// message in progress must complete first, since the mark may only
    /// follow a whole message: while the server is there, that gets
    /// [`CLOSING_WAIT`]; a file whose stream stops mid-message ends
    /// without a mark, at its last complete update.
    fn end_mark(&mut self, stopped: Instant, gone: bool) -> Result<(), RecordError> {
        let until = Instant::now() + CLOSING_WAIT;
        while !gone && self.tracking && !self.parser.at_message_boundary() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            match self.read(until - now)? {
                Read::Data | Read::Quiet => {}
                Read::Gone(_) => break,
            }
        }
        if !self.tracking || !self.parser.at_message_boundary() {
            return Ok(());
        }
        let at = self.file_time(stopped).max(self.counts.last_chunk);
        self.write_chunk(at, &END_MARK)?;
        self.counts.end_mark = true;
        Ok(())
    }

    fn finish(self, end: ConnEnd) -> Result<(ConnEnd, FileCounts), RecordError> {
        let Rec {
            c,
            pacer,
            mut counts,
            size,
            start,
            ..
        } = self;
        counts.requests = pacer.requests();
        counts.chunks = c.writer.chunks();
        counts.payload_bytes = c.writer.payload_bytes();
        c.client.shutdown();
        let io_err = |source| RecordError::Write {
            path: c.path.to_path_buf(),
            source,
        };
        let file = c.writer.finish().map_err(io_err)?;
        counts.file_bytes = file.written();
        // The recording is done: make it durable before saying so.
        file.into_inner().sync_all().map_err(io_err)?;
        c.observer.status(
            &c.job.name,
            &Status {
                elapsed: c.began.elapsed(),
                updates: c.updates_before + counts.updates,
                file_bytes: c.bytes_before + counts.file_bytes,
                width: size.0,
                height: size.1,
                file: c.path.to_path_buf(),
                connected: false,
                file_start: start,
            },
        );
        Ok((end, counts))
    }

    fn report(&self, file_bytes: u64, connected: bool) {
        self.c.observer.status(
            &self.c.job.name,
            &Status {
                elapsed: self.c.began.elapsed(),
                updates: self.c.updates_before + self.counts.updates,
                file_bytes,
                width: self.size.0,
                height: self.size.1,
                file: self.c.path.to_path_buf(),
                connected,
                file_start: self.start,
            },
        );
    }

    fn lose_tracking(&mut self, why: String) {
        self.tracking = false;
        self.pacer.go_blind();
        self.c.observer.note(
            self.c.job,
            &Note::LostTracking {
                target: &self.c.job.target,
                why: &why,
            },
        );
        self.counts.lost_tracking = Some(why);
    }
}
