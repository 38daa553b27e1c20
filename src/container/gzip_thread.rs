//! Inflate on a thread of its own: playing a gzip `.fb` recording spends
//! most of its time inflating, so a producer thread runs the
//! [`GzipReader`] while the reader's caller parses and decodes what came
//! before, on a second core.
//!
//! The producer hands over filled buffers through a bounded channel and
//! gets them back through a return channel, so memory stays bounded
//! (`DEPTH + 2` buffers) and nothing is allocated per buffer. Everything
//! the single-thread reader reports is passed along unchanged: the bytes
//! in the same order, then its end, cut or failure (with the file byte
//! where inflate failed, found by the producer), and the trailing data
//! after the stream. The members' CRC-32 is computed on the reader's side,
//! as the bytes are handed out (a tenth of the work left to the producer
//! otherwise), and checked where the single-thread reader checks it. The
//! compressed offset shown for progress is that of the buffer being read,
//! not how far the producer got. Dropping the reader stops the thread and
//! waits for it.
//!
//! An index build runs the tracking reader (miniz_oxide, stopping at
//! deflate block boundaries) on the producer thread the same way, so that
//! building an index costs about what playing the recording does: the
//! producer sends an access point with each buffer, and the reader's side
//! keeps the last few for the checkpoints it takes.

use super::access::AccessPoint;
use super::gzip::{GzipFailure, GzipReader, MemberCheck};
use flate2::Crc;
use std::collections::VecDeque;
use std::io::{self, BufRead, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Decompressed bytes in one buffer handed over.
const BUF: usize = 1 << 20;
/// Filled buffers waiting for the reader at most.
const DEPTH: usize = 3;
/// Access points a tracking reader keeps: one comes with each buffer at
/// most, so they reach back at least this many MiB, far more than the
/// `.fb` reader reads ahead of the piece it hands out.
const KEEP_ACCESS: usize = 64;

/// What the producer sends.
enum Msg {
    /// `buf[start..len]` follows; `consumed` compressed bytes were read
    /// once they were made.
    Data {
        buf: Vec<u8>,
        start: usize,
        len: usize,
        consumed: u64,
    },
    /// A member ends here: its trailer, to check against the CRC-32 of
    /// the bytes since the last one.
    Check(MemberCheck),
    /// A tracking producer's newest access point, sent before the bytes
    /// that follow it.
    Access(AccessPoint),
    /// The stream ended as [`GzipReader`] said.
    End {
        result: io::Result<()>,
        consumed: u64,
        trailing: Option<u64>,
    },
}

/// How the stream ended, kept to be told again on every later read.
enum Ended {
    Complete,
    Cut,
    Failed(GzipFailure),
    Other(ErrorKind, String),
}

impl Ended {
    fn of(result: io::Result<()>) -> Ended {
        match result {
            Ok(()) => Ended::Complete,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ended::Cut,
            Err(e) => {
                let kind = e.kind();
                match e.downcast::<GzipFailure>() {
                    Ok(f) => Ended::Failed(f),
                    Err(e) => Ended::Other(kind, e.to_string()),
                }
            }
        }
    }

    fn read(&self) -> io::Result<usize> {
        match self {
            Ended::Complete => Ok(0),
            Ended::Cut => Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "the gzip stream is cut short",
            )),
            Ended::Failed(f) => Err(io::Error::new(ErrorKind::InvalidData, f.clone())),
            Ended::Other(kind, msg) => Err(io::Error::new(*kind, msg.clone())),
        }
    }
}

/// A gzip stream inflated on its own thread, read like [`GzipReader`].
pub struct GzipThread {
    rx: Option<Receiver<Msg>>,
    back: Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    len: usize,
    consumed: u64,
    trailing: Option<u64>,
    ended: Option<Ended>,
    /// CRC-32 and length of the current member's bytes handed out, when
    /// the producer leaves the checks to this side.
    crc: Option<Crc>,
    /// A tracking producer's access points, oldest first.
    access: VecDeque<AccessPoint>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GzipThread {
    /// Starts inflating `src` on a new thread. `stop` is raised when the
    /// reader is dropped; a source that waits (a followed file) should
    /// give up when it is.
    pub fn spawn<R: BufRead + Send + 'static>(src: R, stop: Arc<AtomicBool>) -> GzipThread {
        GzipThread::start(GzipReader::new(src).defer_checks(), stop, false)
    }

    /// Starts inflating `src` with a tracking [`GzipReader`] on a new
    /// thread, for an index build: the producer checks the members' sums
    /// itself (a tracking reader computes them for its access points) and
    /// sends its newest access point with every buffer, its window cut
    /// while the producer still holds it, so that
    /// [`GzipThread::access_point_before`] answers as the single-thread
    /// tracking reader does, up to a buffer's worth of distance.
    pub fn spawn_tracking<R: BufRead + Send + 'static>(src: R) -> GzipThread {
        GzipThread::start(GzipReader::swapping(src), Default::default(), true)
    }

    fn start<R: BufRead + Send + 'static>(
        gz: GzipReader<R>,
        stop: Arc<AtomicBool>,
        tracking: bool,
    ) -> GzipThread {
        let (tx, rx) = mpsc::sync_channel(DEPTH);
        let (back, spare) = mpsc::channel();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rfbplay-inflate".into())
            .spawn(move || produce(gz, tracking, &tx, &spare, &flag));
        let mut g = GzipThread {
            rx: None,
            back,
            cur: Vec::new(),
            pos: 0,
            len: 0,
            consumed: 0,
            trailing: None,
            ended: None,
            crc: (!tracking).then(Crc::new),
            access: VecDeque::new(),
            stop,
            thread: None,
        };
        match thread {
            Ok(t) => {
                g.rx = Some(rx);
                g.thread = Some(t);
            }
            Err(e) => g.ended = Some(Ended::Other(e.kind(), e.to_string())),
        }
        g
    }

    /// Compressed bytes read by the time the bytes being handed out were
    /// inflated.
    pub fn compressed_offset(&self) -> u64 {
        self.consumed
    }

    /// See [`GzipReader::trailing_data_at`]; known once the stream ended.
    pub fn trailing_data_at(&self) -> Option<u64> {
        self.trailing
    }

    /// The newest access point at or before decompressed byte `out`
    /// that a tracking producer sent and this side still keeps.
    pub fn access_point_before(&self, out: u64) -> Option<AccessPoint> {
        self.access.iter().rev().find(|ap| ap.out <= out).cloned()
    }
}

fn produce<R: BufRead>(
    mut gz: GzipReader<R>,
    tracking: bool,
    tx: &SyncSender<Msg>,
    spare: &Receiver<Vec<u8>>,
    stop: &AtomicBool,
) {
    loop {
        let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0; BUF]);
        let result = loop {
            let got = if tracking {
                // The tracking reader hands out its own history buffer,
                // with the access point of its newest block boundary.
                gz.read_swap(&mut buf).map(|got| {
                    got.map(|(range, ap)| {
                        if let Some(ap) = ap {
                            // A closed channel shows at the next send.
                            let _ = tx.send(Msg::Access(ap));
                        }
                        range
                    })
                })
            } else {
                gz.read(&mut buf).map(|n| (n > 0).then_some((0, n)))
            };
            match got {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        for check in gz.take_checks() {
            if tx.send(Msg::Check(check)).is_err() {
                return;
            }
        }
        let consumed = gz.compressed_offset();
        let msg = match result {
            Ok(Some((start, len))) => Msg::Data {
                buf,
                start,
                len,
                consumed,
            },
            Ok(None) => Msg::End {
                result: Ok(()),
                consumed,
                trailing: gz.trailing_data_at(),
            },
            Err(e) => Msg::End {
                result: Err(e),
                consumed,
                trailing: gz.trailing_data_at(),
            },
        };
        let last = matches!(msg, Msg::End { .. });
        if tx.send(msg).is_err() || last || stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

impl Read for GzipThread {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.len {
                let n = (self.len - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
                if let Some(crc) = &mut self.crc {
                    crc.update(&out[..n]);
                }
                self.pos += n;
                return Ok(n);
            }
            if let Some(ended) = &self.ended {
                return ended.read();
            }
            if out.is_empty() {
                return Ok(0);
            }
            self.next();
        }
    }
}

impl GzipThread {
    /// Hands over the unread rest of the next inflated buffer without
    /// copying it: swaps it with `buf`, whose bytes must all have been
    /// read (it is reused), and says where in it the rest lies. None at
    /// the end of the stream, and `buf` is left as it was then.
    pub fn swap(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, usize)>> {
        loop {
            if self.pos < self.len {
                if let Some(crc) = &mut self.crc {
                    crc.update(&self.cur[self.pos..self.len]);
                }
                std::mem::swap(buf, &mut self.cur);
                let rest = (self.pos, self.len);
                (self.pos, self.len) = (0, 0);
                return Ok(Some(rest));
            }
            if let Some(ended) = &self.ended {
                return ended.read().map(|_| None);
            }
            self.next();
        }
    }

    /// Takes the producer's next message.
    fn next(&mut self) {
        let msg = match &self.rx {
            Some(rx) => rx.recv().ok(),
            None => None,
        };
        match msg {
            Some(Msg::Data {
                buf,
                start,
                len,
                consumed,
            }) => {
                let old = std::mem::replace(&mut self.cur, buf);
                if !old.is_empty() {
                    // The producer may be gone already: nothing to do.
                    let _ = self.back.send(old);
                }
                (self.pos, self.len, self.consumed) = (start, len, consumed);
            }
            Some(Msg::Check(check)) => {
                let crc = self.crc.get_or_insert_with(Crc::new);
                let checked = check.against(crc.sum(), crc.amount());
                crc.reset();
                if let Err(e) = checked {
                    self.ended = Some(Ended::of(Err(e)));
                    self.finish();
                }
            }
            Some(Msg::Access(ap)) => {
                if self.access.len() == KEEP_ACCESS {
                    self.access.pop_front();
                }
                self.access.push_back(ap);
            }
            Some(Msg::End {
                result,
                consumed,
                trailing,
            }) => {
                self.consumed = consumed;
                self.trailing = trailing;
                self.ended = Some(Ended::of(result));
                self.finish();
            }
            None => {
                self.ended = Some(Ended::Other(
                    ErrorKind::Other,
                    "the inflate thread stopped unexpectedly".into(),
                ));
                self.finish();
            }
        }
    }

    /// Stops the producer (if it still runs) and waits for it.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver wakes a producer blocked on a full channel.
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GzipThread {
    fn drop(&mut self) {
        self.finish();
    }
}
