//! Inflate on a thread of its own: playing a gzip `.fb` recording spends
//! most of its time inflating, so a producer thread runs the
//! [`GzipReader`] while the reader's caller parses and decodes what came
//! before, on a second core.
//!
//! The producer hands over filled buffers through a bounded channel and
//! gets them back through a return channel, so memory stays bounded
//! (`DEPTH + 2` buffers, `TRACKING_DEPTH + 2` for an index build) and
//! nothing is allocated per buffer. Everything the single-thread reader
//! reports is passed along unchanged: the bytes
//! in the same order, then its end, cut or failure (with the file byte
//! where inflate failed, found by the producer), and the trailing data
//! after the stream. The members' CRC-32 is computed on the reader's side,
//! piece by piece as the bytes are handed out, so each piece is read from
//! the nearest cache just before it is used. When the reader falls behind
//! (half the channel's buffers wait), the producer sums the buffers it
//! sends until the reader catches up, and the reader adds those sums in
//! instead. Either way it is checked where the single-thread reader
//! checks it. The
//! compressed offset shown for progress is that of the buffer being read,
//! not how far the producer got. Dropping the reader stops the thread and
//! waits for it.
//!
//! An index build inflates the same way, so that it costs about what
//! playing the recording does: the producer also finds access points
//! (`BlockFinder`) and sends each before the bytes after it, and the
//! reader's side completes their CRC-32 and keeps the last few for the
//! checkpoints it takes.

use super::access::AccessPoint;
use super::gzip::{Crc, GzipFailure, GzipReader, MemberCheck};
use std::collections::VecDeque;
use std::io::{self, BufRead, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Decompressed bytes in one buffer handed over.
const BUF: usize = 1 << 20;
/// Bytes left free at the start of each buffer handed over: a reader
/// holding the unread end of the last buffer (a record header cut in two)
/// puts it there instead of copying the new buffer after it.
pub const HEADROOM: usize = 64;
/// Filled buffers waiting for the reader at most.
const DEPTH: usize = 8;
/// Buffers waiting from which on the producer sums the next one's CRC-32
/// for the reader.
const HELP_FROM: usize = 4;
/// The same for an index build, whose reader stops now and then to
/// compress a checkpoint (a few milliseconds): the producer goes on
/// inflating meanwhile instead of waiting.
const TRACKING_DEPTH: usize = 32;
/// Decompressed bytes between the access points an index build finds (each
/// costs about 25 us: a 32 KiB window copied and a 16 KiB trial decode):
/// a seek inflates at most about this much before the checkpoint it wants.
const ACCESS_SPACING: u64 = 1 << 20;
/// Access points a tracking reader keeps: they reach back at least
/// 64 x 1 MiB, far more than the `.fb` reader reads ahead of the piece it
/// hands out.
const KEEP_ACCESS: usize = 64;

/// What the producer sends.
enum Msg {
    /// `buf[HEADROOM..len]` follows; `consumed` compressed bytes were read
    /// once they were made.
    Data {
        buf: Vec<u8>,
        len: usize,
        consumed: u64,
        /// The CRC-32 of `buf[HEADROOM..len]`, when the producer summed it while
        /// the reader was behind.
        summed: Option<Crc>,
    },
    /// A member ends here: its trailer, to check against the CRC-32 of
    /// the bytes since the last one.
    Check(MemberCheck),
    /// An access point an index build's producer found, sent before the
    /// bytes after it; its CRC-32 is filled in here (but for a member's
    /// start, which needs none).
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
    /// CRC-32 and length of the current member's bytes handed out.
    crc: Crc,
    /// The producer summed the current buffer: its CRC-32 is in `crc`.
    presummed: bool,
    /// Buffers sent and not yet taken.
    queued: Arc<AtomicUsize>,
    /// Decompressed bytes handed out.
    handed: u64,
    /// A tracking producer's access points, oldest first, and those still
    /// waiting for their CRC-32 (known once the bytes before them are
    /// handed out).
    access: VecDeque<AccessPoint>,
    unsummed: VecDeque<AccessPoint>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GzipThread {
    /// Starts inflating `src` on a new thread. `stop` is raised when the
    /// reader is dropped; a source that waits (a followed file) should
    /// give up when it is.
    pub fn spawn<R: BufRead + Send + 'static>(src: R, stop: Arc<AtomicBool>) -> GzipThread {
        GzipThread::start(GzipReader::new(src).defer_checks(), stop, DEPTH, false)
    }

    /// Starts inflating `src` on a new thread for an index build: the
    /// producer finds an access point every [`ACCESS_SPACING`] bytes or so
    /// ([`GzipReader::finding`]) and sends each before the bytes after it;
    /// this side fills in its CRC-32 and keeps the last few for
    /// [`GzipThread::access_point_before`].
    pub fn spawn_tracking<R: BufRead + Send + 'static>(src: R) -> GzipThread {
        let gz = GzipReader::finding(src, ACCESS_SPACING);
        GzipThread::start(gz, Default::default(), TRACKING_DEPTH, true)
    }

    fn start<R: BufRead + Send + 'static>(
        gz: GzipReader<R>,
        stop: Arc<AtomicBool>,
        depth: usize,
        tracking: bool,
    ) -> GzipThread {
        let (tx, rx) = mpsc::sync_channel(depth);
        let (back, spare) = mpsc::channel();
        let flag = stop.clone();
        let queued = Arc::new(AtomicUsize::new(0));
        let in_queue = queued.clone();
        let thread = std::thread::Builder::new()
            .name("rfbplay-inflate".into())
            .spawn(move || produce(gz, &tx, &spare, &flag, tracking, &in_queue));
        let mut g = GzipThread {
            rx: None,
            back,
            cur: Vec::new(),
            pos: 0,
            len: 0,
            consumed: 0,
            trailing: None,
            ended: None,
            crc: Crc::new(),
            presummed: false,
            queued,
            handed: 0,
            access: VecDeque::new(),
            unsummed: VecDeque::new(),
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
    tx: &SyncSender<Msg>,
    spare: &Receiver<Vec<u8>>,
    stop: &AtomicBool,
    tracking: bool,
    queued: &AtomicUsize,
) {
    loop {
        let mut buf = spare
            .try_recv()
            .ok()
            .filter(|b| b.len() > HEADROOM)
            .unwrap_or_else(|| vec![0; HEADROOM + BUF]);
        let result = loop {
            match gz.read(&mut buf[HEADROOM..]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        for check in gz.take_checks() {
            if tx.send(Msg::Check(check)).is_err() {
                return;
            }
        }
        // A member's start comes after the trailer before it, and every
        // access point before the bytes after it.
        for ap in gz.take_access_points() {
            if tx.send(Msg::Access(ap)).is_err() {
                return;
            }
        }
        let consumed = gz.compressed_offset();
        let msg = match result {
            Ok(0) => Msg::End {
                result: Ok(()),
                consumed,
                trailing: gz.trailing_data_at(),
            },
            Ok(n) => Msg::Data {
                buf,
                len: HEADROOM + n,
                consumed,
                summed: None,
            },
            Err(e) => Msg::End {
                result: Err(e),
                consumed,
                trailing: gz.trailing_data_at(),
            },
        };
        let last = matches!(msg, Msg::End { .. });
        let mut msg = msg;
        if let Msg::Data {
            buf, len, summed, ..
        } = &mut msg
        {
            // With HELP_FROM buffers waiting, the reader is behind: the
            // producer sums this one's CRC-32 for it, and falls back once
            // the reader catches up. Not when the reader places access
            // points among the bytes it sums.
            let waiting = queued.fetch_add(1, Ordering::Relaxed);
            if waiting >= HELP_FROM && !tracking {
                let mut crc = Crc::new();
                crc.update(&buf[HEADROOM..*len]);
                *summed = Some(crc);
            }
        }
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
                self.sum(&out[..n]);
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
    /// read (it is reused), and says where in it the rest lies: never
    /// before [`HEADROOM`], so a caller may put up to that many bytes in
    /// front. None at the end of the stream, and `buf` is left as it was
    /// then.
    pub fn swap(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, usize)>> {
        let rest = self.swap_unsummed(buf)?;
        if let Some((start, end)) = rest {
            self.sum(&buf[start..end]);
        }
        Ok(rest)
    }

    /// [`GzipThread::swap`] without adding the rest to the CRC-32: the
    /// caller hands every byte of it to [`GzipThread::sum`], in order,
    /// before it swaps or reads again. Summing each piece just before it
    /// is used reads it from the core's nearest cache once, where summing
    /// the whole buffer first reads it from memory twice.
    pub fn swap_unsummed(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<(usize, usize)>> {
        loop {
            if self.pos < self.len {
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

    /// Adds `bytes`, the next ones of what [`GzipThread::swap_unsummed`]
    /// handed out, to the member's CRC-32.
    pub fn sum(&mut self, bytes: &[u8]) {
        if self.presummed {
            self.handed += bytes.len() as u64;
            return;
        }
        checksum(
            &mut self.crc,
            &mut self.handed,
            &mut self.unsummed,
            &mut self.access,
            bytes,
        );
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
                len,
                consumed,
                summed,
            }) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                // Every byte before this buffer has been summed.
                self.presummed = summed.is_some();
                if let Some(summed) = summed {
                    self.crc.combine(&summed);
                }
                let old = std::mem::replace(&mut self.cur, buf);
                if !old.is_empty() {
                    // The producer may be gone already: nothing to do.
                    let _ = self.back.send(old);
                }
                (self.pos, self.len, self.consumed) = (HEADROOM, len, consumed);
            }
            Some(Msg::Check(check)) => {
                let checked = check.against(self.crc.sum(), self.crc.amount());
                self.crc.reset();
                if let Err(e) = checked {
                    self.ended = Some(Ended::of(Err(e)));
                    self.finish();
                }
            }
            Some(Msg::Access(ap)) if ap.member_start => keep(&mut self.access, ap),
            Some(Msg::Access(ap)) => self.unsummed.push_back(ap),
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

/// Adds `bytes`, the next ones handed out, to the member's CRC-32, and
/// completes the access points among them with the sums before them.
fn checksum(
    crc: &mut Crc,
    handed: &mut u64,
    unsummed: &mut VecDeque<AccessPoint>,
    access: &mut VecDeque<AccessPoint>,
    bytes: &[u8],
) {
    let mut rest = bytes;
    while let Some(ap) = unsummed.front() {
        let Some(into) = ap.out.checked_sub(*handed) else {
            // Its bytes went out before it came: its sums are unknown.
            unsummed.pop_front();
            continue;
        };
        if into > rest.len() as u64 {
            break;
        }
        let (before, after) = rest.split_at(into as usize);
        crc.update(before);
        *handed += before.len() as u64;
        rest = after;
        if let Some(mut ap) = unsummed.pop_front() {
            (ap.crc, ap.member_len) = (crc.sum(), crc.amount());
            keep(access, ap);
        }
    }
    crc.update(rest);
    *handed += rest.len() as u64;
}

/// Keeps `ap` as the newest access point, forgetting the oldest beyond
/// [`KEEP_ACCESS`].
fn keep(access: &mut VecDeque<AccessPoint>, ap: AccessPoint) {
    if access.len() == KEEP_ACCESS {
        access.pop_front();
    }
    access.push_back(ap);
}

impl Drop for GzipThread {
    fn drop(&mut self) {
        self.finish();
    }
}
