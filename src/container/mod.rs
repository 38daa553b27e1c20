//! Recording containers: the minimega `.fb` format and its detection.
//!
//! A container yields the server-to-client byte stream in timed pieces
//! ([`Piece`]). Files are recognised by their first bytes, never by name:
//! gzip magic means `.fb` (docs/formats.md section 1); `FBS 001.` means an FBS
//! file; ASCII digits mean an `.fb` whose gzip layer was already removed.

pub mod access;
pub mod fb;
pub mod fbs;
pub mod gzip;
pub mod gzip_thread;
pub mod salvage;
mod window_guess;
pub mod writer;

pub use fb::{FbReader, SeekPoint};
pub use fbs::FbsReader;
pub use writer::FbWriter;

use crate::time::Time;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the next call to a container yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Stream bytes that arrived at `time`. `offset` is where they start in
    /// the decompressed container.
    Data {
        time: Time,
        offset: u64,
        bytes: &'a [u8],
    },
    /// The container ended; no more pieces follow.
    End(End),
    /// Damage was skipped (only with salvage, see [`open_salvage`]): the
    /// next piece does not follow on from the last one.
    Gap(Gap),
}

/// A stretch of a container that salvage skipped: where the damage was
/// found, where reading went on, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// Decompressed byte where the damage was found; every byte before it
    /// was delivered.
    pub offset: u64,
    /// Decompressed byte where reading went on, counting the bytes read
    /// (bytes lost inside damaged compressed data cannot be counted); None
    /// when nothing readable followed.
    pub resumed_at: Option<u64>,
    /// For damaged compressed data: the file byte where inflate failed and
    /// the one where decoding went on.
    pub file_offset: Option<u64>,
    pub file_resumed_at: Option<u64>,
    /// Recording time of the last chunk read before the damage.
    pub time: Time,
    /// What was wrong, in words.
    pub cause: String,
    /// Bytes after the resume point that may differ from the original.
    /// Always 0: after gzip damage, reading resumes only where every byte
    /// decodes exactly (kept in `info --json` for scripts that read it).
    pub uncertain_bytes: u64,
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// At a record boundary, with a complete gzip stream.
    Complete,
    /// Cut short: minimega never finishes its gzip stream, and a crash or a
    /// full disk leaves the same. Everything before `offset` was delivered.
    Truncated(Truncation),
}

/// Where and why a container stops early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Decompressed bytes read.
    pub offset: u64,
    /// Recording time of the last chunk read.
    pub time: Time,
    pub cause: TruncationCause,
}

/// Where in the file's structure a recording stops short. The `code` of
/// each is part of `info --json`'s stable output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TruncationCause {
    /// Inside a chunk's payload.
    InsideChunk { chunk: u64, got: u64, declared: u64 },
    /// Between a chunk's payload and its CRLF.
    InChunkTrailer { chunk: u64 },
    /// Inside a chunk's header line.
    InChunkHeader { chunk: u64 },
    /// At a chunk boundary, but the gzip stream was never finished (every
    /// minimega recording ends so).
    UnfinishedGzip,
    /// Inside an FBS block's length.
    InFbsBlockHeader,
    /// Inside an FBS block.
    InsideFbsBlock { got: u64, len: u64 },
    /// The container is complete, but the RFB stream in it stops inside a
    /// message.
    UnfinishedMessage { stream_offset: u64 },
}

impl std::fmt::Display for TruncationCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TruncationCause::InsideChunk {
                chunk,
                got,
                declared,
            } => write!(
                f,
                "inside chunk {chunk} ({got} of its {declared} payload bytes)"
            ),
            TruncationCause::InChunkTrailer { chunk } => {
                write!(f, "in the trailer of chunk {chunk}")
            }
            TruncationCause::InChunkHeader { chunk } => {
                write!(f, "inside the header of chunk {chunk}")
            }
            TruncationCause::UnfinishedGzip => {
                f.write_str("at a chunk boundary, in an unfinished gzip stream")
            }
            TruncationCause::InFbsBlockHeader => f.write_str("inside an FBS block header"),
            TruncationCause::InsideFbsBlock { got, len } => {
                write!(f, "inside an FBS block ({got} of its {len} bytes)")
            }
            TruncationCause::UnfinishedMessage { stream_offset } => write!(
                f,
                "inside the message starting at RFB stream byte {stream_offset}"
            ),
        }
    }
}

/// Why a file is not a recording at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Foreign {
    #[error("the file is empty")]
    Empty,
    #[error("neither gzip (.fb), FBS (.fbs/.rbs) nor an uncompressed .fb")]
    UnknownHeader,
    #[error("no FBS 001.00x header")]
    NoFbsHeader,
}

/// What is wrong with an `.fb` chunk header or trailer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordProblem {
    #[error("chunk header {0:?} is not ASCII")]
    NotAscii(String),
    #[error("chunk header {0:?} is not '<delta_ns> <len>'")]
    Shape(String),
    #[error("no end of line in {0:?}")]
    NoEndOfLine(String),
    #[error("chunk header does not end in CRLF")]
    NoCr,
    #[error("chunk {chunk} is not followed by CRLF")]
    NoTrailer { chunk: u64 },
    #[error("chunk {chunk} comes {delta_ns} ns after the previous one, over the limit of {max_hours} hours")]
    Gap {
        chunk: u64,
        delta_ns: u64,
        max_hours: u64,
    },
}

/// What is wrong with an FBS file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FbsProblem {
    #[error("the file ends inside the RFB handshake")]
    EndsInHandshake,
    #[error("no ServerInit in the first 64 KiB")]
    NoServerInit,
    #[error("RFB handshake: {0}")]
    Handshake(String),
    #[error("block of {len} bytes is over the limit of {max}")]
    BlockTooLong { len: u32, max: u32 },
    #[error("timestamp {to} jumps more than 24 hours past {from}")]
    TimeJump { from: Time, to: Time },
}

/// A container that cannot be read further: not a cut, but damage. Each
/// variant says where: the decompressed byte, and the recording time
/// reached.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("not a recording: {0}")]
    NotARecording(Foreign),
    #[error("bad chunk at decompressed byte {offset} (recording time {time})")]
    BadRecord {
        offset: u64,
        time: Time,
        #[source]
        problem: RecordProblem,
    },
    #[error("chunk of {len} bytes at decompressed byte {offset} (recording time {time}) is over the limit of {max}")]
    ChunkTooLong {
        offset: u64,
        time: Time,
        len: u64,
        max: u64,
    },
    #[error("corrupt compressed data at file byte {file_offset} (after decompressed byte {offset}, recording time {time})")]
    Corrupt {
        offset: u64,
        time: Time,
        /// The compressed file byte where inflate found the damage.
        file_offset: u64,
        #[source]
        source: gzip::GzipError,
    },
    #[error("bad FBS data at byte {offset} (recording time {time})")]
    BadFbs {
        offset: u64,
        time: Time,
        #[source]
        problem: FbsProblem,
    },
    #[error("the ServerInit's screen cannot be used")]
    ServerInit(#[source] crate::decode::RectError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a container knows of the connection beyond the stream itself.
pub use crate::rfb::handshake::ServerInit;

/// A source of timed stream pieces.
pub trait Container: Send {
    fn next_piece(&mut self) -> Result<Piece<'_>, ContainerError>;
    /// Size and pixel format from the handshake, where the container has it.
    fn server_init(&self) -> Option<&ServerInit> {
        None
    }
    /// A short name for the format, for `info`.
    fn format_name(&self) -> &'static str;
    /// Bytes of the file read so far, for progress.
    fn bytes_read(&self) -> u64;
    /// The file byte where data that is not part of the recording starts,
    /// after a complete stream (a warning, not damage).
    fn trailing_data_at(&self) -> Option<u64> {
        None
    }
    /// Where the last piece ends, as a place the seek index can resume
    /// reading from; None where this container cannot say.
    fn seek_point(&self) -> Option<SeekPoint> {
        None
    }
    /// Reads past damage from now on, reopening `path` to skip damaged
    /// compressed data (see [`open_salvage`]); formats that cannot are
    /// left as they are.
    fn set_salvage(&mut self, _path: &Path) {}
}

/// The kind of container a file holds, judged from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    GzipFb,
    PlainFb,
    Fbs,
}

impl Format {
    pub fn detect(head: &[u8]) -> Option<Format> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Format::GzipFb)
        } else if head.starts_with(b"FBS 001.") {
            Some(Format::Fbs)
        } else if plain_fb_head(head) {
            Some(Format::PlainFb)
        } else {
            None
        }
    }
}

/// Whether `head` starts an uncompressed `.fb` file: its first chunk
/// record's header `<delta> <len>\r\n`, or as much of it as `head` holds.
/// A `.kb` file also starts with a number, but a colon follows it.
fn plain_fb_head(head: &[u8]) -> bool {
    let digits = |from: usize| {
        from + head[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let delta_end = digits(0);
    if delta_end == 0 {
        return false;
    }
    let Some(rest) = head.get(delta_end..).filter(|r| !r.is_empty()) else {
        return true;
    };
    if rest[0] != b' ' {
        return false;
    }
    let len_end = digits(delta_end + 1);
    if len_end == delta_end + 1 {
        return len_end == head.len();
    }
    head[len_end..].iter().zip(b"\r\n").all(|(a, b)| a == b)
}

/// Counts bytes read from the file under a decompressor, so damage can be
/// placed in the file a user has.
pub struct Counting<R> {
    pub inner: R,
    pub count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a recording of any supported format.
pub fn open(path: &Path) -> Result<Box<dyn Container>, ContainerError> {
    open_source(path, Reading::Play, None)
}

/// Opens a recording to read past damage: an `.fb` file's reader skips
/// what it cannot read and reports each skipped stretch as a
/// [`Piece::Gap`] (other formats read as with [`open`]).
pub fn open_salvage(path: &Path) -> Result<Box<dyn Container>, ContainerError> {
    let mut c = open_source(path, Reading::Salvage, None)?;
    c.set_salvage(path);
    Ok(c)
}

/// Opens a recording for an index build: gzip `.fb` files keep access
/// points, so that [`Container::seek_point`] can answer.
pub fn open_tracking(path: &Path) -> Result<Box<dyn Container>, ContainerError> {
    open_source(path, Reading::Tracking, None)
}

/// Opens an `.fb` recording to read on from `point`, taken by
/// [`Container::seek_point`] from this same file.
pub fn resume(path: &Path, point: &SeekPoint) -> Result<Box<dyn Container>, ContainerError> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    let at = point.gzip.as_ref().map_or(point.offset, |ap| ap.compressed);
    file.seek(SeekFrom::Start(at))?;
    let reader = BufReader::with_capacity(1 << 16, file);
    Ok(Box::new(FbReader::resume(reader, point)?))
}

/// Asked at the end of a file that may still grow: true to wait for more
/// bytes (it should sleep a little first), false to end there.
pub type KeepFollowing = Box<dyn FnMut() -> bool + Send>;

/// A file read while it may still be written (a live recording): at its
/// end, `keep` decides whether to wait for more bytes or end. The layers
/// above see only a slow reader, so a gzip member or chunk cut by the end
/// of what is written so far simply goes on when more arrives. `stop`,
/// raised when the reader is dropped, ends the wait without asking `keep`.
struct Following {
    file: File,
    keep: KeepFollowing,
    stop: Arc<AtomicBool>,
}

impl Read for Following {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 || buf.is_empty() || self.stop.load(Ordering::Relaxed) || !(self.keep)() {
                return Ok(n);
            }
        }
    }
}

/// Opens a recording that may still be growing; see [`KeepFollowing`].
pub fn open_following(
    path: &Path,
    keep: KeepFollowing,
) -> Result<Box<dyn Container>, ContainerError> {
    open_source(path, Reading::Play, Some(keep))
}

/// What a recording is opened for, which decides how its gzip layer is
/// read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// From start to end: inflated on a thread of its own
    /// ([`FbReader::gzip_threaded`]) when the file is at least
    /// [`THREAD_FROM`] bytes or may grow.
    Play,
    /// Past damage, on a thread of its own as [`Reading::Play`]. When
    /// the bytes after gzip damage decode into no records, salvage reads
    /// on at a deflate block after the compressed offset of the buffer it
    /// reads, which the thread gives a buffer (1 MiB inflated) later than
    /// an in-step reader would: the corruption set of testdata/ and the
    /// minimega corpus recovers the same updates either way.
    Salvage,
    /// With access points for the seek index: inflated on a thread of its
    /// own too from [`THREAD_FROM`] bytes on.
    Tracking,
}

/// Compressed size from which plain playback inflates on its own thread.
/// A smaller file is read from disk in one 64 KiB buffer, inflated in a
/// few calls and played in a few milliseconds at most: starting a thread
/// (and copying its output once more) has nothing to overlap there.
pub const THREAD_FROM: u64 = 1 << 16;

fn open_source(
    path: &Path,
    reading: Reading,
    keep: Option<KeepFollowing>,
) -> Result<Box<dyn Container>, ContainerError> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        let n = file.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let format =
        Format::detect(&head[..got]).ok_or(ContainerError::NotARecording(if got == 0 {
            Foreign::Empty
        } else {
            Foreign::UnknownHeader
        }))?;
    let big = file.metadata().is_ok_and(|m| m.len() >= THREAD_FROM);
    let threaded = reading != Reading::Tracking && (keep.is_some() || big);
    let stop = Arc::new(AtomicBool::new(false));
    let file: Box<dyn Read + Send> = match keep {
        Some(keep) => Box::new(Following {
            file,
            keep,
            stop: stop.clone(),
        }),
        None => Box::new(file),
    };
    let reader = BufReader::with_capacity(
        1 << 16,
        std::io::Cursor::new(head[..got].to_vec()).chain(file),
    );
    Ok(match format {
        Format::GzipFb if reading == Reading::Tracking && big => {
            Box::new(FbReader::gzip_tracking_threaded(reader))
        }
        Format::GzipFb if reading == Reading::Tracking => Box::new(FbReader::gzip_tracking(reader)),
        Format::GzipFb if threaded => Box::new(FbReader::gzip_stoppable(reader, stop)),
        Format::GzipFb => Box::new(FbReader::gzip(reader)),
        Format::PlainFb => Box::new(FbReader::plain(reader)),
        Format::Fbs => Box::new(FbsReader::open(reader)?),
    })
}

#[cfg(test)]
mod tests {
    use super::{plain_fb_head, Format};

    #[test]
    fn a_plain_fb_is_told_from_a_kb_file() {
        for fb in [
            &b"17516 4096\r\n\0\0"[..],
            b"0 4096\r\n",
            b"1234567890 4",
            b"12 ",
            b"7",
        ] {
            assert!(plain_fb_head(fb), "{:?}", String::from_utf8_lossy(fb));
        }
        for kb in [
            &b"812345678:PointerEvent,0,612,540"[..],
            b"500ms:KeyEvent",
            b"12 4096\n",
            b"12 40x",
            b"12  4096",
            b"# comment",
            b"",
        ] {
            assert!(!plain_fb_head(kb), "{:?}", String::from_utf8_lossy(kb));
            assert_ne!(Format::detect(kb), Some(Format::PlainFb));
        }
    }
}
