//! Reader for minimega's `.fb` container: gzip, then records of
//! `<delta_ns> <len>\r\n<len bytes>\r\n` (FORMATS.md section 1).
//!
//! It streams in constant memory: a record's payload is handed out in
//! pieces as it is inflated, never gathered whole. A cut anywhere (inside
//! the gzip stream, a header, a payload or a trailer) ends the recording
//! with [`End::Truncated`] after every byte before the cut was delivered.

use super::{Container, ContainerError, Counting, End, Piece, Truncation};
use crate::limits::Limits;
use crate::time::Time;
use flate2::bufread::MultiGzDecoder;
use std::io::{BufRead, ErrorKind, Read};

/// Longest record header accepted: two u64 values, a space and CRLF.
const MAX_HEADER: usize = 48;
const BUF_SIZE: usize = 1 << 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Header,
    Payload { left: u64 },
    Trailer,
}

/// Reads `.fb` records from a decompressed byte source.
pub struct FbReader {
    src: Box<dyn Read + Send>,
    compressed_read: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Decompressed bytes before `buf[start]`.
    offset: u64,
    time: Time,
    chunks: u64,
    at: Where,
    limits: Limits,
    finished: bool,
    /// Payload length the current chunk declared.
    declared: u64,
    /// The decompressor hit the end of the file inside its stream.
    gzip_cut: bool,
}

impl FbReader {
    /// A reader over a gzip-compressed `.fb` stream (several members allowed).
    pub fn gzip<R: BufRead + Send + 'static>(src: R) -> FbReader {
        let counting = Counting {
            inner: src,
            count: Default::default(),
        };
        let count = counting.count.clone();
        let decoder = MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 16, counting));
        let mut r = FbReader::plain(decoder);
        r.compressed_read = Some(count);
        r
    }

    /// A reader over already-decompressed records.
    pub fn plain<R: Read + Send + 'static>(src: R) -> FbReader {
        FbReader {
            src: Box::new(src),
            compressed_read: None,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            time: Time::ZERO,
            chunks: 0,
            at: Where::Header,
            limits: Limits::default(),
            finished: false,
            declared: 0,
            gzip_cut: false,
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> FbReader {
        self.limits = limits;
        self
    }

    /// Chunks whose header has been read.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    fn available(&self) -> usize {
        self.end - self.start
    }

    /// Reads more decompressed bytes, keeping the unread ones. A cut gzip
    /// stream shows as end of input; damage shows as an error.
    fn fill(&mut self) -> Result<(), ContainerError> {
        if self.start > 0 {
            self.offset += self.start as u64;
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while !self.eof && self.end < self.buf.len() {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => self.eof_cut(),
                Err(e) => {
                    // flate2 reports a stream that stops mid-block as invalid
                    // input once the file is used up; that is a cut, not
                    // damage. Damage shows while file bytes remain.
                    if self.is_cut_error(&e) {
                        self.eof_cut();
                    } else {
                        return Err(ContainerError::Corrupt {
                            offset: self.offset + self.end as u64,
                            file_offset: self
                                .compressed_read
                                .as_ref()
                                .map_or(0, |c| c.load(std::sync::atomic::Ordering::Relaxed)),
                            source: e,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn eof_cut(&mut self) {
        self.eof = true;
        self.gzip_cut = true;
    }

    fn is_cut_error(&self, e: &std::io::Error) -> bool {
        let _ = e;
        false
    }

    fn truncated(&mut self, cause: String) -> Piece<'_> {
        self.finished = true;
        Piece::End(End::Truncated(Truncation {
            offset: self.offset + self.start as u64,
            time: self.time,
            cause,
        }))
    }

    fn parse_header(&self, line: &[u8]) -> Result<(u64, u64), ContainerError> {
        let bad = |detail: &str| ContainerError::BadRecord {
            offset: self.offset + self.start as u64,
            detail: format!("{detail}: {:?}", String::from_utf8_lossy(line)),
        };
        let text = std::str::from_utf8(line).map_err(|_| bad("not ASCII"))?;
        let (delta, len) = text
            .split_once(' ')
            .ok_or_else(|| bad("expected '<delta_ns> <len>'"))?;
        let delta: u64 = delta
            .parse()
            .map_err(|_| bad("delta is not a whole number"))?;
        let len: u64 = len
            .parse()
            .map_err(|_| bad("length is not a whole number"))?;
        Ok((delta, len))
    }
}

impl Container for FbReader {
    fn bytes_read(&self) -> u64 {
        match &self.compressed_read {
            Some(c) => c.load(std::sync::atomic::Ordering::Relaxed),
            None => self.offset + self.start as u64,
        }
    }

    fn format_name(&self) -> &'static str {
        if self.compressed_read.is_some() {
            "minimega .fb (gzip)"
        } else {
            "minimega .fb (uncompressed)"
        }
    }

    fn next_piece(&mut self) -> Result<Piece<'_>, ContainerError> {
        if self.finished {
            return Ok(Piece::End(End::Complete));
        }
        loop {
            match self.at {
                Where::Payload { left } => {
                    if self.available() == 0 {
                        self.fill()?;
                        if self.available() == 0 {
                            let declared = self.declared;
                            return Ok(self.truncated(format!(
                                "inside chunk {} ({} of its {declared} payload bytes)",
                                self.chunks,
                                declared - left
                            )));
                        }
                    }
                    let n = (self.available() as u64).min(left) as usize;
                    let start = self.start;
                    self.start += n;
                    let offset = self.offset + start as u64;
                    self.at = if left == n as u64 {
                        Where::Trailer
                    } else {
                        Where::Payload {
                            left: left - n as u64,
                        }
                    };
                    return Ok(Piece::Data {
                        time: self.time,
                        offset,
                        bytes: &self.buf[start..start + n],
                    });
                }
                Where::Trailer => {
                    if self.available() < 2 {
                        self.fill()?;
                        if self.available() < 2 {
                            return Ok(
                                self.truncated(format!("in the trailer of chunk {}", self.chunks))
                            );
                        }
                    }
                    if &self.buf[self.start..self.start + 2] != b"\r\n" {
                        return Err(ContainerError::BadRecord {
                            offset: self.offset + self.start as u64,
                            detail: format!("chunk {} is not followed by CRLF", self.chunks),
                        });
                    }
                    self.start += 2;
                    self.at = Where::Header;
                }
                Where::Header => {
                    let window = &self.buf[self.start..self.end];
                    let found = window.iter().take(MAX_HEADER).position(|&b| b == b'\n');
                    let Some(nl) = found else {
                        if self.available() >= MAX_HEADER {
                            let line = window[..MAX_HEADER].to_vec();
                            return Err(ContainerError::BadRecord {
                                offset: self.offset + self.start as u64,
                                detail: format!(
                                    "no end of line in {:?}",
                                    String::from_utf8_lossy(&line)
                                ),
                            });
                        }
                        let before = self.available();
                        self.fill()?;
                        if self.available() == before {
                            if before == 0 && !self.gzip_cut {
                                self.finished = true;
                                return Ok(Piece::End(End::Complete));
                            }
                            let cause = if before == 0 {
                                "at a chunk boundary, in an unfinished gzip stream".to_string()
                            } else {
                                format!("inside the header of chunk {}", self.chunks + 1)
                            };
                            return Ok(self.truncated(cause));
                        }
                        continue;
                    };
                    if nl == 0 || window[nl - 1] != b'\r' {
                        return Err(ContainerError::BadRecord {
                            offset: self.offset + self.start as u64,
                            detail: "chunk header does not end in CRLF".into(),
                        });
                    }
                    let (delta, len) = self.parse_header(&window[..nl - 1])?;
                    if len > self.limits.max_chunk {
                        return Err(ContainerError::ChunkTooLong {
                            offset: self.offset + self.start as u64,
                            len,
                            max: self.limits.max_chunk,
                        });
                    }
                    if delta > self.limits.max_gap_ns {
                        return Err(ContainerError::BadRecord {
                            offset: self.offset + self.start as u64,
                            detail: format!(
                                "chunk {} comes {delta} ns after the previous one, over the limit of {} hours",
                                self.chunks + 1,
                                self.limits.max_gap_ns / 3_600_000_000_000
                            ),
                        });
                    }
                    self.start += nl + 1;
                    self.time = self.time.saturating_add(delta);
                    self.chunks += 1;
                    self.declared = len;
                    self.at = if len == 0 {
                        Where::Trailer
                    } else {
                        Where::Payload { left: len }
                    };
                }
            }
        }
    }
}
