//! The recorder: a VNC client that writes what a server sends into a `.fb`
//! file (docs/formats.md section 1) that minimega's player and rfbplay read.
//!
//! Unlike minimega's recorder it asks for compact lossless encodings and
//! incremental updates (small files), follows resizes (the whole grown
//! screen is recorded), stamps chunks with a monotonic clock as they arrive
//! (file time is wall time), flushes the gzip stream often (a killed
//! recorder loses at most [`RecordOptions::flush_interval`]) and closes it
//! on every normal end (the file is not truncated). `minimega` in
//! [`RecordOptions`] reproduces minimega's wire behaviour instead.
//!
//! With `reconnect`, a server that goes away is retried with backoff and
//! each new connection is recorded to the next numbered file (`lin1.fb`,
//! `lin1.1.fb`, ...): its zlib streams start afresh, so it cannot continue
//! the old file. See [`output::numbered`].
//!
//! Existing files are kept unless [`RecordOptions::output`] says to
//! replace them, and inputs never are written over ([`output::Policy`]).

#[cfg(unix)]
pub mod control;
#[cfg(unix)]
pub mod kb_sessions;
pub mod output;
pub mod pacer;
mod session;

pub use session::{ConnEnd, FileCounts};

use crate::client::{Chain, Client, ClientError, ConnectOptions, Target, Version};
use crate::container::ServerInit;
use crate::limits::Limits;
use crate::rfb::{Encoding, PixelFormat};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Asked by default, best first. CopyRect first is safe: servers use it
/// only for moved areas and pick the first pixel encoding they know as
/// their preferred one. Tight comes after ZRLE for servers without ZRLE;
/// JPEG quality levels are never asked for, so Tight stays lossless and
/// nothing is lossy.
pub const DEFAULT_ENCODINGS: &[Encoding] = &[
    Encoding::COPY_RECT,
    Encoding::ZRLE,
    Encoding::TIGHT,
    Encoding::HEXTILE,
    Encoding::ZLIB,
    Encoding::RAW,
    Encoding::DESKTOP_SIZE,
    Encoding::EXTENDED_DESKTOP_SIZE,
    Encoding::LAST_RECT,
    Encoding::CURSOR,
];

/// What minimega's recorder asks for (docs/formats.md section 1).
pub const MINIMEGA_ENCODINGS: &[Encoding] = &[Encoding::RAW, Encoding::DESKTOP_SIZE];

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub connect: ConnectOptions,
    /// Update requests per second (and so at most this many updates).
    pub fps: f64,
    /// Stop after this much wall time (over all reconnections).
    pub duration: Option<Duration>,
    /// minimega's behaviour: RFB 3.3, [`MINIMEGA_ENCODINGS`], a full
    /// non-incremental request at the ServerInit size every 1/fps.
    pub minimega: bool,
    /// Encodings to ask for, when not `minimega`.
    pub encodings: Vec<Encoding>,
    /// Keep trying when the server goes away; see the module docs.
    pub reconnect: bool,
    /// gzip level 0-9.
    pub gzip_level: u32,
    /// At most this long between gzip flushes while data comes in.
    pub flush_interval: Duration,
    /// How often [`Observer::status`] is called.
    pub status_interval: Duration,
    /// Socket read size, so the largest chunk (minimega reads 4096).
    pub read_size: usize,
    pub limits: Limits,
    /// Replacing existing files, and the inputs never to write over.
    pub output: output::Policy,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            connect: ConnectOptions::default(),
            fps: 10.0,
            duration: None,
            minimega: false,
            encodings: DEFAULT_ENCODINGS.to_vec(),
            reconnect: false,
            gzip_level: 6,
            flush_interval: Duration::from_millis(500),
            status_interval: Duration::from_millis(250),
            read_size: 64 * 1024,
            limits: Limits::default(),
            output: output::Policy::default(),
        }
    }
}

/// A recording to make: a name for messages, a server and an output file.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub target: Target,
    pub out: PathBuf,
}

/// What the recorder is doing, for a status line.
#[derive(Clone, Debug)]
pub struct Status {
    /// Since the recording began (over all reconnections).
    pub elapsed: Duration,
    /// Complete updates received.
    pub updates: u64,
    /// Compressed bytes written to files.
    pub file_bytes: u64,
    pub width: u32,
    pub height: u32,
    /// The file being written.
    pub file: PathBuf,
    pub connected: bool,
    /// The instant that is time 0 of `file` (its connection's start).
    pub file_start: Instant,
}

/// Something the user should know about one recording. Each prints as a
/// line that starts with the target, and names it only there.
#[derive(Debug)]
pub enum Note<'a> {
    /// Connected; recording to `file`.
    Recording {
        target: &'a Target,
        init: &'a ServerInit,
        version: Version,
        file: &'a Path,
    },
    /// The connection could not be made; trying again after `wait`.
    Retrying {
        error: &'a ClientError,
        wait: Duration,
    },
    /// The server went away (closed the connection when `error` is None);
    /// reconnecting.
    Lost {
        target: &'a Target,
        error: Option<&'a ClientError>,
    },
    /// The stream cannot be followed any more, for `why`.
    LostTracking { target: &'a Target, why: &'a str },
}

impl std::fmt::Display for Note<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Recording {
                target,
                init,
                version,
                file,
            } => write!(
                f,
                "{target}: recording {:?} ({}x{}, RFB {version}) to {}",
                init.name,
                init.width,
                init.height,
                file.display()
            ),
            Note::Retrying { error, wait } => {
                let error: &(dyn std::error::Error + 'static) = *error;
                write!(
                    f,
                    "{}; trying again in {:.1} s",
                    Chain(error),
                    wait.as_secs_f64()
                )
            }
            Note::Lost {
                error: Some(error), ..
            } => {
                let error: &(dyn std::error::Error + 'static) = *error;
                write!(f, "{}; reconnecting", Chain(error))
            }
            Note::Lost {
                target,
                error: None,
            } => write!(
                f,
                "{target}: the server closed the connection; reconnecting"
            ),
            Note::LostTracking { target, why } => write!(
                f,
                "{target}: cannot follow the stream any more ({why}); still recording, \
                 requesting updates every 1/fps"
            ),
        }
    }
}

/// Receives the recorder's status and notes. Every method has a no-op
/// default; only the command line draws anything.
pub trait Observer: Sync {
    fn status(&self, _name: &str, _status: &Status) {}
    /// Something the user should know about `job`'s recording.
    fn note(&self, _job: &Job, _note: &Note<'_>) {}
}

/// Reports nothing.
pub struct Silent;

impl Observer for Silent {}

/// A recording that could not be made or written. Each names the file or
/// the server (through [`ClientError`]) once.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{} already exists; use --force to replace it, or choose another name", path.display())]
    Exists { path: PathBuf },
    #[error("{} is {what}; rfbplay never writes over its inputs", path.display())]
    IsInput { path: PathBuf, what: &'static str },
    #[error("{} is a folder; give the recording a file name", path.display())]
    IsFolder { path: PathBuf },
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One file written.
#[derive(Clone, Debug)]
pub struct FileSummary {
    pub path: PathBuf,
    pub counts: FileCounts,
}

/// How a recording went.
#[derive(Debug)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    /// Why it ended.
    pub end: ConnEnd,
}

/// Names for `--encodings`: rfbproto's names, case and `-`/`_` ignored,
/// or numbers.
pub fn parse_encodings(s: &str) -> Result<Vec<Encoding>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            if let Ok(n) = w.parse::<i32>() {
                return Ok(Encoding(n));
            }
            let key: String = w
                .chars()
                .filter(|c| *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_lowercase();
            (-400..=20)
                .map(Encoding)
                .find(|e| {
                    e.name().is_some_and(|n| n.to_ascii_lowercase() == key)
                        && !matches!(e.0, -32..=-23 | -256..=-247)
                })
                .ok_or_else(|| format!("unknown encoding {w:?}"))
        })
        .collect()
}

/// Records `job` until `stop` is set, the duration is over or the server
/// goes away (for good, with `reconnect`). Every file it starts is closed
/// properly before it returns, whatever the reason. The only errors are a
/// first connection that fails (or any failure that retrying cannot fix)
/// and a file that cannot be written.
pub fn record(
    job: &Job,
    opts: &RecordOptions,
    stop: &AtomicBool,
    observer: &dyn Observer,
) -> Result<Summary, RecordError> {
    let began = Instant::now();
    let deadline = opts.duration.map(|d| began + d);
    let mut files: Vec<FileSummary> = vec![];
    let mut backoff = FIRST_BACKOFF;
    let mut n = 0;
    let mut last_error = None;
    let end = loop {
        let client = match connect(job, opts) {
            Ok(c) => c,
            Err(e) if opts.reconnect && e.is_transient() => {
                observer.note(
                    job,
                    &Note::Retrying {
                        error: &e,
                        wait: backoff,
                    },
                );
                last_error = Some(e);
                if let Some(end) = sleep_unless_stopped(backoff, stop, deadline) {
                    break end;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) if files.is_empty() => return Err(e.into()),
            Err(e) => break ConnEnd::ServerGone(Some(e)),
        };
        backoff = FIRST_BACKOFF;
        let path = output::numbered(&job.out, n);
        n += 1;
        let writer = output::create(&path, opts.gzip_level, &opts.output)?;
        observer.note(
            job,
            &Note::Recording {
                target: &job.target,
                init: client.server_init(),
                version: client.version(),
                file: &path,
            },
        );
        let (updates_before, bytes_before) = files.iter().fold((0, 0), |(u, b), f| {
            (u + f.counts.updates, b + f.counts.file_bytes)
        });
        let (end, counts) = session::run(session::Conn {
            client,
            writer,
            path: &path,
            job,
            opts,
            stop,
            deadline,
            observer,
            began,
            updates_before,
            bytes_before,
        })?;
        files.push(FileSummary { path, counts });
        match end {
            ConnEnd::ServerGone(e) if opts.reconnect => {
                observer.note(
                    job,
                    &Note::Lost {
                        target: &job.target,
                        error: e.as_ref(),
                    },
                );
            }
            end => break end,
        }
    };
    // Nothing recorded at all is a failure, whatever ended the wait.
    if let (true, Some(e)) = (files.is_empty(), last_error) {
        return Err(e.into());
    }
    Ok(Summary { files, end })
}

/// Checks, before connecting, that `job` may write its file (and with
/// `reconnect` its numbered files): see [`output::Policy`].
pub fn check_output(job: &Job, opts: &RecordOptions) -> Result<(), RecordError> {
    output::check_all(&job.out, opts.reconnect, &opts.output)
}

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Connects and asks for the pixel format and encodings.
fn connect(job: &Job, opts: &RecordOptions) -> Result<Client, ClientError> {
    let max = if opts.minimega {
        Version::V3_3
    } else {
        Version::V3_8
    };
    let mut c = Client::connect_with_version(&job.target, &opts.connect, max)?;
    c.set_pixel_format(&PixelFormat::BGRX)?;
    if opts.minimega {
        c.set_encodings(MINIMEGA_ENCODINGS)?;
    } else {
        c.set_encodings(&opts.encodings)?;
    }
    Ok(c)
}

/// Sleeps `d` in short steps; the reason to end if a stop or the deadline
/// came first.
fn sleep_unless_stopped(
    d: Duration,
    stop: &AtomicBool,
    deadline: Option<Instant>,
) -> Option<ConnEnd> {
    let until = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Some(ConnEnd::Stopped);
        }
        let now = Instant::now();
        if deadline.is_some_and(|dl| now >= dl) {
            return Some(ConnEnd::Duration);
        }
        if now >= until {
            return None;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// Where a job named `name` writes inside `dir` (`--dir`).
pub fn path_in_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.fb"))
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn encoding_names() {
        assert_eq!(
            parse_encodings("raw, CopyRect,zrle,desktop-size,extended_desktop_size,-239").unwrap(),
            vec![
                Encoding::RAW,
                Encoding::COPY_RECT,
                Encoding::ZRLE,
                Encoding::DESKTOP_SIZE,
                Encoding::EXTENDED_DESKTOP_SIZE,
                Encoding::CURSOR
            ]
        );
        assert!(parse_encodings("raw,bogus").unwrap_err().contains("bogus"));
    }
}

#[cfg(test)]
mod tests;
