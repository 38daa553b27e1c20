//! Recording containers: the minimega `.fb` format and its detection.
//!
//! A container yields the server-to-client byte stream in timed pieces
//! ([`Piece`]). Files are recognised by their first bytes, never by name:
//! gzip magic means `.fb` (FORMATS.md section 1); `FBS 001.` means an FBS
//! file; ASCII digits mean an `.fb` whose gzip layer was already removed.

pub mod fb;
pub mod fbs;
pub mod writer;

pub use fb::FbReader;
pub use fbs::FbsReader;
pub use writer::FbWriter;

use crate::time::Time;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

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
    pub cause: String,
}

/// A container that cannot be read further: not a cut, but damage.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("not a recording: {0}")]
    NotARecording(String),
    #[error("bad chunk header at decompressed byte {offset}: {detail}")]
    BadRecord { offset: u64, detail: String },
    #[error("chunk of {len} bytes at decompressed byte {offset} is over the limit of {max}")]
    ChunkTooLong { offset: u64, len: u64, max: u64 },
    #[error("corrupt compressed data after decompressed byte {offset} (about file byte {file_offset}): {source}")]
    Corrupt {
        offset: u64,
        file_offset: u64,
        source: std::io::Error,
    },
    #[error("bad FBS data at byte {offset}: {detail}")]
    BadFbs { offset: u64, detail: String },
    #[error("{0}")]
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
        } else if head.first().is_some_and(|b| b.is_ascii_digit()) {
            Some(Format::PlainFb)
        } else {
            None
        }
    }
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
    let format = Format::detect(&head[..got]).ok_or_else(|| {
        ContainerError::NotARecording(if got == 0 {
            "the file is empty".into()
        } else {
            "neither gzip (.fb), FBS (.fbs/.rbs) nor an uncompressed .fb".into()
        })
    })?;
    let reader = BufReader::with_capacity(
        1 << 16,
        std::io::Cursor::new(head[..got].to_vec()).chain(file),
    );
    Ok(match format {
        Format::GzipFb => Box::new(FbReader::gzip(reader)),
        Format::PlainFb => Box::new(FbReader::plain(reader)),
        Format::Fbs => Box::new(FbsReader::open(reader)?),
    })
}
