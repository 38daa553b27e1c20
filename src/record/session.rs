//! One connection's recording loop: read what the server sends, write each
//! read as one timed chunk, follow the stream with the same parser the
//! player uses (to see updates complete and the screen resize), and send
//! requests when the [`Pacer`] says so.
//!
//! Times come from a monotonic clock read as soon as a read returns, and
//! the file's clock is never paused while the recorder writes, so file time
//! tracks wall time (minimega's recorder excludes its write time and runs
//! slow, FORMATS.md section 1).

use super::output::FileWriter;
use super::pacer::{Pacer, Pacing};
use super::{Observer, RecordError, RecordOptions, Status};
use crate::client::{is_timeout, Client, ClientError};
use crate::rfb::{Event, Parser, PixelFormat};
use crate::time::Time;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the loop wakes up at least, to notice a stop request.
const TICK: Duration = Duration::from_millis(100);

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
    /// Time of the last chunk, i.e. the file's length in recording time.
    pub last_chunk: Time,
    /// Requests sent.
    pub requests: u64,
    /// Why the recorder could not follow the stream, if it lost it.
    pub lost_tracking: Option<String>,
}

pub(super) struct Conn<'a> {
    pub client: Client,
    pub writer: FileWriter,
    pub path: &'a Path,
    pub name: &'a str,
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

/// Records until a stop, the deadline or the server's end, then closes
/// the gzip stream properly. A write error to the file is the only error:
/// everything else is a normal end.
pub(super) fn run(mut c: Conn<'_>) -> Result<(ConnEnd, FileCounts), RecordError> {
    let (w, h) = c.client.size();
    let pacing = if c.opts.minimega {
        Pacing::Minimega
    } else {
        Pacing::Tracked
    };
    let mut pacer = Pacer::new(pacing, c.opts.fps, w, h);
    let mut parser = Parser::new(PixelFormat::BGRX, c.opts.limits, false);
    let mut tracking = true;
    let mut counts = FileCounts::default();
    if let Err(e) = parser.set_screen_size(u32::from(w), u32::from(h)) {
        lose_tracking(
            &mut c,
            &mut pacer,
            &mut tracking,
            &mut counts,
            e.to_string(),
        );
    }
    let mut size = (u32::from(w), u32::from(h));
    let mut buf = vec![0u8; c.opts.read_size.max(1)];
    let io_err = |path: &Path, source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };

    let start = Instant::now();
    let mut last_flush = start;
    let mut dirty = false;
    let mut last_status: Option<Instant> = None;

    let end = loop {
        if c.stop.load(Ordering::Relaxed) {
            break ConnEnd::Stopped;
        }
        let now = Instant::now();
        if c.deadline.is_some_and(|d| now >= d) {
            break ConnEnd::Duration;
        }
        if let Some(req) = pacer.poll(now) {
            if let Err(e) = c.client.request_update(req.incremental, req.rect) {
                break ConnEnd::ServerGone(Some(e));
            }
        }

        // Sleep in the read until the next request, flush or tick.
        let mut wake = now + TICK;
        if let Some(due) = pacer.next_due() {
            wake = wake.min(due);
        }
        if dirty {
            wake = wake.min(last_flush + c.opts.flush_interval);
        }
        if let Some(d) = c.deadline {
            wake = wake.min(d);
        }
        let wait = wake.saturating_duration_since(now);
        if let Err(e) = c.client.set_read_timeout(Some(wait)) {
            break ConnEnd::ServerGone(Some(c.client.session_error(e)));
        }
        match c.client.read_some(&mut buf) {
            Ok(0) => break ConnEnd::ServerGone(None),
            Ok(n) => {
                let at = Instant::now().saturating_duration_since(start);
                let time = Time(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX));
                let bytes = &buf[..n];
                c.writer
                    .chunk(time.0, bytes)
                    .map_err(|e| io_err(c.path, e))?;
                dirty = true;
                counts.last_chunk = time;
                if tracking {
                    let mut on_event = |ev: Event, _: &crate::framebuffer::Screen| match ev {
                        Event::Update { .. } => {
                            pacer.update_done();
                            counts.updates += 1;
                        }
                        Event::Resize { width, height, .. } => {
                            pacer.resize(width, height);
                            size = (width, height);
                        }
                        _ => {}
                    };
                    if let Err(e) = parser.feed(bytes, time, &mut on_event) {
                        lose_tracking(
                            &mut c,
                            &mut pacer,
                            &mut tracking,
                            &mut counts,
                            e.to_string(),
                        );
                    }
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => break ConnEnd::ServerGone(Some(c.client.session_error(e))),
        }

        let now = Instant::now();
        if dirty && now.saturating_duration_since(last_flush) >= c.opts.flush_interval {
            c.writer.flush().map_err(|e| io_err(c.path, e))?;
            last_flush = now;
            dirty = false;
        }
        if last_status.is_none_or(|t| now.saturating_duration_since(t) >= c.opts.status_interval) {
            last_status = Some(now);
            c.observer.status(c.name, &status(&c, &counts, size, true));
        }
    };

    counts.requests = pacer.requests();
    counts.chunks = c.writer.chunks();
    counts.payload_bytes = c.writer.payload_bytes();
    c.client.shutdown();
    let Conn {
        writer,
        path,
        name,
        observer,
        began,
        updates_before,
        bytes_before,
        ..
    } = c;
    let file = writer.finish().map_err(|e| io_err(path, e))?;
    counts.file_bytes = file.written();
    // The recording is done: make it durable before saying so.
    file.into_inner().sync_all().map_err(|e| io_err(path, e))?;
    observer.status(
        name,
        &Status {
            elapsed: began.elapsed(),
            updates: updates_before + counts.updates,
            file_bytes: bytes_before + counts.file_bytes,
            width: size.0,
            height: size.1,
            file: path.to_path_buf(),
            connected: false,
        },
    );
    Ok((end, counts))
}

fn status(c: &Conn<'_>, counts: &FileCounts, size: (u32, u32), connected: bool) -> Status {
    Status {
        elapsed: c.began.elapsed(),
        updates: c.updates_before + counts.updates,
        file_bytes: c.bytes_before + c.writer.get_ref().written(),
        width: size.0,
        height: size.1,
        file: c.path.to_path_buf(),
        connected,
    }
}

fn lose_tracking(
    c: &mut Conn<'_>,
    pacer: &mut Pacer,
    tracking: &mut bool,
    counts: &mut FileCounts,
    why: String,
) {
    *tracking = false;
    pacer.go_blind();
    c.observer.note(
        c.name,
        &format!(
            "cannot follow the stream any more ({why}); still recording, \
             requesting updates every 1/fps"
        ),
    );
    counts.lost_tracking = Some(why);
}
