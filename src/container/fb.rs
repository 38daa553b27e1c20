//! Reader for minimega's `.fb` container: gzip, then records of
//! `<delta_ns> <len>\r\n<len bytes>\r\n` (docs/formats.md section 1).
//!
//! It streams in constant memory: a record's payload is handed out in
//! pieces as it is inflated, never gathered whole. A cut anywhere (inside
//! the gzip stream, a header, a payload or a trailer) ends the recording
//! with [`End::Truncated`] after every byte before the cut was delivered.

use super::access::AccessPoint;
use super::gzip::{GzipFailure, GzipReader};
use super::gzip_thread::{GzipThread, HEADROOM};
use super::{
    Container, ContainerError, End, Gap, Piece, RecordProblem, Truncation, TruncationCause,
};
use crate::limits::Limits;
use crate::time::Time;
use std::io::{BufRead, ErrorKind, Read};

/// Longest record header accepted: two u64 values, a space and CRLF.
const MAX_HEADER: usize = 48;
const BUF_SIZE: usize = 1 << 18;
/// Decompressed bytes a salvage scan looks through for chunk records
/// before it takes the gzip stream itself for damaged.
const SCAN_BEFORE_BLOCKS: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Header,
    Payload {
        left: u64,
    },
    Trailer,
    /// Salvage: looking for the next run of well-formed records after
    /// damage.
    Scan,
}

/// What one step of [`FbReader::next_piece`] yields, before it is lent out.
enum Out {
    Data { start: usize, n: usize },
    End(End),
    Gap(Gap),
}

/// Where the decompressed bytes come from.
enum Source {
    Plain(Box<dyn Read + Send>),
    Gzip(Box<GzipReader<Box<dyn BufRead + Send>>>),
    /// Inflated on a thread of its own (plain playback of larger files).
    Threaded(Box<GzipThread>),
}

impl Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Source::Plain(r) => r.read(buf),
            Source::Gzip(r) => r.read(buf),
            Source::Threaded(r) => r.read(buf),
        }
    }

    /// Compressed bytes read, for a gzip source.
    fn compressed_offset(&self) -> Option<u64> {
        match self {
            Source::Plain(_) => None,
            Source::Gzip(g) => Some(g.compressed_offset()),
            Source::Threaded(g) => Some(g.compressed_offset()),
        }
    }
}

/// Reads `.fb` records from a decompressed byte source.
pub struct FbReader {
    src: Source,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Decompressed bytes before `buf[0]`, wrapping: the inflate thread's
    /// buffers start their bytes a little way in, so this is "negative"
    /// while the first one is read. Places are `offset` + index ([`FbReader::at`]).
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
    /// Where the last piece handed out ends, and the payload bytes its
    /// chunk has left from there.
    last_piece: Option<(u64, u64)>,
    /// Salvage: the file to reopen after damaged compressed data, and the
    /// gap being skipped.
    salvage: Option<std::path::PathBuf>,
    gap: Option<Gap>,
    /// The end that came while a damaged stretch was still to be told:
    /// handed out after it.
    end_after_gap: Option<End>,
    /// Decompressed bytes a salvage scan has looked through.
    scanned: u64,
    /// With the inflate thread, `buf[crc_from..end]` is not yet in the
    /// CRC-32: each piece is summed as it is handed out.
    crc_from: usize,
}

/// A place to start reading an `.fb` file again: the end of a piece
/// inside or at the end of a chunk's payload (see [`FbReader::seek_point`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeekPoint {
    /// Decompressed offset just after the piece.
    pub offset: u64,
    /// The chunk's time, its number, and its payload length and bytes left
    /// from `offset` on.
    pub time: Time,
    pub chunks: u64,
    pub declared: u64,
    pub left: u64,
    /// For gzip files, where inflating starts (at or before `offset`).
    pub gzip: Option<AccessPoint>,
}

impl FbReader {
    /// A reader over a gzip-compressed `.fb` stream (several members allowed).
    pub fn gzip<R: BufRead + Send + 'static>(src: R) -> FbReader {
        FbReader::with_source(Source::Gzip(Box::new(GzipReader::new(Box::new(src)))))
    }

    /// A reader over a gzip-compressed `.fb` stream inflated on a thread of
    /// its own, so that inflating and what the caller does with the pieces
    /// run side by side. It reports what [`FbReader::gzip`] does (bytes,
    /// ends, errors and their places), except seek points and where a
    /// payload is split into pieces. Dropping it stops the thread.
    pub fn gzip_threaded<R: BufRead + Send + 'static>(src: R) -> FbReader {
        FbReader::gzip_stoppable(src, Default::default())
    }

    /// As [`FbReader::gzip_threaded`]; `stop` is raised when the reader is
    /// dropped, for a source that waits for a file to grow.
    pub(crate) fn gzip_stoppable<R: BufRead + Send + 'static>(
        src: R,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> FbReader {
        FbReader::with_source(Source::Threaded(Box::new(GzipThread::spawn(src, stop))))
    }

    /// A reader over already-decompressed records.
    pub fn plain<R: Read + Send + 'static>(src: R) -> FbReader {
        FbReader::with_source(Source::Plain(Box::new(src)))
    }

    fn with_source(src: Source) -> FbReader {
        FbReader {
            src,
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
            last_piece: None,
            salvage: None,
            gap: None,
            end_after_gap: None,
            scanned: 0,
            crc_from: 0,
        }
    }

    /// A reader over a gzip `.fb` stream that keeps access points for
    /// [`FbReader::seek_point`].
    pub fn gzip_tracking<R: BufRead + Send + 'static>(src: R) -> FbReader {
        FbReader::with_source(Source::Gzip(Box::new(GzipReader::tracking(Box::new(src)))))
    }

    /// [`FbReader::gzip_tracking`] with the inflating on a thread of its
    /// own, as [`FbReader::gzip_threaded`] does: its seek points start at
    /// an access point up to a buffer's worth (1 MiB) further back.
    pub fn gzip_tracking_threaded<R: BufRead + Send + 'static>(src: R) -> FbReader {
        FbReader::with_source(Source::Threaded(Box::new(GzipThread::spawn_tracking(src))))
    }

    /// Continues at `point`. `src` reads the file from the access point's
    /// compressed byte (gzip), or from `point.offset` (uncompressed).
    pub fn resume<R: BufRead + Send + 'static>(
        src: R,
        point: &SeekPoint,
    ) -> Result<FbReader, ContainerError> {
        let (mut r, from) = match &point.gzip {
            Some(ap) => (
                FbReader::with_source(Source::Gzip(Box::new(GzipReader::resume(
                    Box::new(src),
                    ap,
                )))),
                ap.out,
            ),
            None => (FbReader::plain(src), point.offset),
        };
        r.offset = from;
        r.time = point.time;
        let mut skip = point.offset.checked_sub(from).ok_or_else(|| {
            ContainerError::Io(std::io::Error::new(
                ErrorKind::InvalidData,
                "the access point lies after the seek point",
            ))
        })?;
        while skip > 0 {
            if r.available() == 0 {
                r.fill()?;
                if r.available() == 0 {
                    return Err(ContainerError::Io(ErrorKind::UnexpectedEof.into()));
                }
            }
            let n = (r.available() as u64).min(skip) as usize;
            r.start += n;
            skip -= n as u64;
        }
        r.chunks = point.chunks;
        r.declared = point.declared;
        r.at = if point.left == 0 {
            Where::Trailer
        } else {
            Where::Payload { left: point.left }
        };
        Ok(r)
    }

    /// Where the last piece handed out ends, as a place to resume
    /// reading; None when the gzip reader no longer holds an access point
    /// before it (or does not keep them).
    pub fn seek_point(&self) -> Option<SeekPoint> {
        let (offset, left) = self.last_piece?;
        let gzip = match &self.src {
            Source::Gzip(g) => Some(g.access_point_before(offset)?),
            Source::Threaded(t) => Some(t.access_point_before(offset)?),
            Source::Plain(_) => None,
        };
        Some(SeekPoint {
            offset,
            time: self.time,
            chunks: self.chunks,
            declared: self.declared,
            left,
            gzip,
        })
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

    /// The decompressed offset of `buf[i]`.
    fn at(&self, i: usize) -> u64 {
        self.offset.wrapping_add(i as u64)
    }

    /// Reads more decompressed bytes, keeping the unread ones. A cut gzip
    /// stream shows as end of input; damage shows as an error.
    fn fill(&mut self) -> Result<(), ContainerError> {
        // Every byte read so far goes into the CRC-32 before more come.
        self.sum_to(self.end);
        let left = self.end - self.start;
        if let (Source::Threaded(t), true) = (&mut self.src, left <= HEADROOM && !self.eof) {
            // Take the inflate thread's buffer as it is instead of copying
            // it; the few bytes left unread (a record header cut in two)
            // go in front of its bytes.
            let mut keep = [0u8; HEADROOM];
            keep[..left].copy_from_slice(&self.buf[self.start..self.end]);
            return match t.swap_unsummed(&mut self.buf) {
                Ok(Some((start, end))) => {
                    // The thread's bytes start at least HEADROOM in.
                    self.offset = self.at(self.end).wrapping_sub(start as u64);
                    self.buf[start - left..start].copy_from_slice(&keep[..left]);
                    (self.start, self.end, self.crc_from) = (start - left, end, start);
                    Ok(())
                }
                Ok(None) => {
                    self.eof = true;
                    Ok(())
                }
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    self.eof_cut();
                    Ok(())
                }
                Err(e) => Err(self.read_failed(e)),
            };
        }
        if self.start > 0 {
            self.offset = self.at(self.start);
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Bytes read here are summed as they are read.
        self.crc_from = self.end;
        while !self.eof && self.end < self.buf.len() {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    self.crc_from = self.end;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => self.eof_cut(),
                Err(e) => return Err(self.read_failed(e)),
            }
        }
        Ok(())
    }

    /// Adds `buf[crc_from..to]` to the inflate thread's CRC-32 (a no-op
    /// for the other sources, which sum as they read).
    fn sum_to(&mut self, to: usize) {
        if let Source::Threaded(t) = &mut self.src {
            if self.crc_from < to {
                t.sum(&self.buf[self.crc_from..to]);
                self.crc_from = to;
            }
        }
    }

    /// The error a failed read of the source (not a cut) is for the
    /// container: damage is placed after the bytes read.
    fn read_failed(&mut self, e: std::io::Error) -> ContainerError {
        let offset = self.at(self.end);
        let time = self.time;
        match e.downcast::<GzipFailure>() {
            Ok(f) => ContainerError::Corrupt {
                offset,
                time,
                file_offset: f.file_offset,
                source: f.error,
            },
            Err(e) => ContainerError::Io(e),
        }
    }

    fn eof_cut(&mut self) {
        self.eof = true;
        self.gzip_cut = true;
    }

    fn truncated(&mut self, cause: TruncationCause) -> End {
        self.finished = true;
        End::Truncated(Truncation {
            offset: self.at(self.start),
            time: self.time,
            cause,
        })
    }

    fn bad(&self, problem: RecordProblem) -> ContainerError {
        ContainerError::BadRecord {
            offset: self.at(self.start),
            time: self.time,
            problem,
        }
    }

    fn parse_header(&self, line: &[u8]) -> Result<(u64, u64), ContainerError> {
        // A minimega file has a header every 4 KiB of screen data: the
        // plain form is read without building a string.
        if let Some(sp) = line.iter().position(|&b| b == b' ') {
            if let (Some(delta), Some(len)) = (decimal(&line[..sp]), decimal(&line[sp + 1..])) {
                return Ok((delta, len));
            }
        }
        let lossy = || String::from_utf8_lossy(line).into_owned();
        let text =
            std::str::from_utf8(line).map_err(|_| self.bad(RecordProblem::NotAscii(lossy())))?;
        let shape = || self.bad(RecordProblem::Shape(lossy()));
        let (delta, len) = text.split_once(' ').ok_or_else(shape)?;
        let delta: u64 = delta.parse().map_err(|_| shape())?;
        let len: u64 = len.parse().map_err(|_| shape())?;
        Ok((delta, len))
    }
}

/// A decimal number as `str::parse::<u64>` reads it (an optional `+`,
/// then digits), or None where that would fail.
fn decimal(text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

impl Container for FbReader {
    fn bytes_read(&self) -> u64 {
        match self.src.compressed_offset() {
            Some(at) => at,
            None => self.at(self.start),
        }
    }

    fn format_name(&self) -> &'static str {
        match self.src {
            Source::Gzip(_) | Source::Threaded(_) => "minimega .fb (gzip)",
            Source::Plain(_) => "minimega .fb (uncompressed)",
        }
    }

    fn seek_point(&self) -> Option<SeekPoint> {
        FbReader::seek_point(self)
    }

    fn trailing_data_at(&self) -> Option<u64> {
        match &self.src {
            Source::Gzip(g) => g.trailing_data_at(),
            Source::Threaded(g) => g.trailing_data_at(),
            Source::Plain(_) => None,
        }
    }

    fn set_salvage(&mut self, path: &std::path::Path) {
        self.salvage = Some(path.to_path_buf());
    }

    fn next_piece(&mut self) -> Result<Piece<'_>, ContainerError> {
        if let Some(end) = self.end_after_gap.take() {
            return Ok(Piece::End(end));
        }
        let out = loop {
            match self.step() {
                Ok(out) => break out,
                Err(e) if self.salvage.is_none() => return Err(e),
                Err(e) => {
                    if let Some(out) = self.skip_damage(e)? {
                        break out;
                    }
                }
            }
        };
        Ok(match out {
            Out::Data { start, n } => Piece::Data {
                time: self.time,
                offset: self.at(start),
                bytes: &self.buf[start..start + n],
            },
            // Reading resumed after damage but ended before a whole
            // record: the damaged stretch is still told, then the end.
            Out::End(end) => match self.gap.take() {
                Some(gap) => {
                    self.end_after_gap = Some(end);
                    Piece::Gap(gap)
                }
                None => Piece::End(end),
            },
            Out::Gap(gap) => Piece::Gap(gap),
        })
    }
}

impl FbReader {
    fn step(&mut self) -> Result<Out, ContainerError> {
        if self.finished {
            return Ok(Out::End(End::Complete));
        }
        loop {
            match self.at {
                Where::Payload { left } => {
                    if self.available() == 0 {
                        self.fill()?;
                        if self.available() == 0 {
                            let declared = self.declared;
                            return Ok(Out::End(self.truncated(TruncationCause::InsideChunk {
                                chunk: self.chunks,
                                got: declared - left,
                                declared,
                            })));
                        }
                    }
                    let n = (self.available() as u64).min(left) as usize;
                    let start = self.start;
                    self.sum_to(start + n);
                    self.last_piece = Some((self.at(start + n), left - n as u64));
                    self.start += n;
                    self.at = if left == n as u64 {
                        Where::Trailer
                    } else {
                        Where::Payload {
                            left: left - n as u64,
                        }
                    };
                    return Ok(Out::Data { start, n });
                }
                Where::Trailer => {
                    if self.available() < 2 {
                        self.fill()?;
                        if self.available() < 2 {
                            return Ok(Out::End(self.truncated(TruncationCause::InChunkTrailer {
                                chunk: self.chunks,
                            })));
                        }
                    }
                    if &self.buf[self.start..self.start + 2] != b"\r\n" {
                        return Err(self.bad(RecordProblem::NoTrailer { chunk: self.chunks }));
                    }
                    self.start += 2;
                    self.at = Where::Header;
                }
                Where::Header => {
                    let window = &self.buf[self.start..self.end];
                    let found = window.iter().take(MAX_HEADER).position(|&b| b == b'\n');
                    let Some(nl) = found else {
                        if self.available() >= MAX_HEADER {
                            let line = String::from_utf8_lossy(&window[..MAX_HEADER]).into_owned();
                            return Err(self.bad(RecordProblem::NoEndOfLine(line)));
                        }
                        let before = self.available();
                        self.fill()?;
                        if self.available() == before {
                            if before == 0 && !self.gzip_cut {
                                self.finished = true;
                                return Ok(Out::End(End::Complete));
                            }
                            let cause = if before == 0 {
                                TruncationCause::UnfinishedGzip
                            } else {
                                TruncationCause::InChunkHeader {
                                    chunk: self.chunks + 1,
                                }
                            };
                            return Ok(Out::End(self.truncated(cause)));
                        }
                        continue;
                    };
                    if nl == 0 || window[nl - 1] != b'\r' {
                        return Err(self.bad(RecordProblem::NoCr));
                    }
                    let (delta, len) = self.parse_header(&window[..nl - 1])?;
                    if len > self.limits.max_chunk {
                        return Err(ContainerError::ChunkTooLong {
                            offset: self.at(self.start),
                            time: self.time,
                            len,
                            max: self.limits.max_chunk,
                        });
                    }
                    if delta > self.limits.max_gap_ns {
                        return Err(self.bad(RecordProblem::Gap {
                            chunk: self.chunks + 1,
                            delta_ns: delta,
                            max_hours: self.limits.max_gap_ns / 3_600_000_000_000,
                        }));
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
                    if let Some(mut gap) = self.gap.take() {
                        gap.resumed_at = Some(self.at(self.start));
                        let header = nl as u64 + 1;
                        gap.resumed_at = gap.resumed_at.map(|a| a - header);
                        return Ok(Out::Gap(gap));
                    }
                }
                Where::Scan => {
                    let full = self.available() == self.buf.len();
                    let window = &self.buf[self.start..self.end];
                    match super::salvage::find_records(window, &self.limits, self.eof, full) {
                        super::salvage::Records::At(p) => {
                            self.start += p;
                            self.at = Where::Header;
                        }
                        super::salvage::Records::NeedMore(p) => {
                            self.start += p;
                            self.scanned += p as u64;
                            // No records within a while of a gzip file's
                            // damage: the deflate stream itself decodes
                            // garbage; read on at a later block.
                            if self.scanned > SCAN_BEFORE_BLOCKS {
                                if let Some(after) = self.src.compressed_offset() {
                                    let count = self.at(self.end);
                                    if !self.reopen_after(after, count)? {
                                        if let Some(gap) = self.gap.take() {
                                            return Ok(Out::Gap(gap));
                                        }
                                        return Ok(Out::End(End::Complete));
                                    }
                                    continue;
                                }
                            }
                            if self.eof {
                                // Nothing readable follows the damage.
                                self.start = self.end;
                                self.finished = true;
                                if let Some(gap) = self.gap.take() {
                                    return Ok(Out::Gap(gap));
                                }
                                return Ok(Out::End(End::Complete));
                            }
                            self.fill()?;
                        }
                    }
                }
            }
        }
    }

    /// Salvage: reads on at the first deflate block or gzip member after
    /// compressed byte `after` that decodes into chunk records, counting
    /// decompressed bytes on from `count`. False: none is left.
    fn reopen_after(&mut self, after: u64, count: u64) -> Result<bool, ContainerError> {
        let path = self.salvage.clone().expect("salvage is on");
        let mut file = std::fs::File::open(&path)?;
        let found = super::salvage::find_resync(&mut file, after, &self.limits)?;
        let Some(found) = found else {
            self.finished = true;
            self.start = self.end;
            return Ok(false);
        };
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(found.compressed))?;
        let window = if found.member_start {
            Vec::new()
        } else {
            found.found.window.clone()
        };
        let ap = AccessPoint {
            out: window.len() as u64,
            compressed: found.compressed,
            bits: found.bits,
            bit_buf: found.bit_buf,
            crc: 0,
            member_len: 0,
            member_start: found.member_start,
            window,
        };
        let reader: Box<dyn BufRead + Send> =
            Box::new(std::io::BufReader::with_capacity(1 << 16, file));
        self.src = Source::Gzip(Box::new(GzipReader::resume_unchecked(reader, &ap)));
        self.offset = count;
        self.start = 0;
        self.end = 0;
        self.eof = false;
        self.gzip_cut = false;
        self.scanned = 0;
        if let Some(gap) = self.gap.as_mut() {
            gap.file_resumed_at = Some(found.compressed);
        }
        let mut skip = found.found.skip;
        while skip > 0 {
            if self.available() == 0 {
                self.fill()?;
                if self.available() == 0 {
                    break;
                }
            }
            let n = (self.available() as u64).min(skip) as usize;
            self.start += n;
            skip -= n as u64;
        }
        self.at = Where::Header;
        Ok(true)
    }

    /// Salvage: starts skipping the damage `e` reports. Some: what to hand
    /// out now; None: go on reading.
    fn skip_damage(&mut self, e: ContainerError) -> Result<Option<Out>, ContainerError> {
        let here = self.at(self.start);
        let cause = crate::error_chain(&e);
        let gap = self.gap.get_or_insert(Gap {
            offset: here,
            resumed_at: None,
            file_offset: None,
            file_resumed_at: None,
            time: self.time,
            cause,
            uncertain_bytes: 0,
        });
        match e {
            ContainerError::BadRecord { .. } | ContainerError::ChunkTooLong { .. } => {
                self.scanned = 0;
                // The bad header's first byte cannot start the next record.
                self.start = (self.start + 1).min(self.end);
                self.at = Where::Scan;
                Ok(None)
            }
            ContainerError::Corrupt { file_offset, .. } => {
                gap.file_offset.get_or_insert(file_offset);
                let damaged_at = self.at(self.end);
                if self.reopen_after(file_offset, damaged_at)? {
                    Ok(None)
                } else {
                    Ok(Some(Out::Gap(self.gap.take().expect("just set"))))
                }
            }
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_reads_what_str_parse_reads() {
        let cases = [
            "0",
            "7",
            "4096",
            "+12",
            "007",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "",
            "+",
            "-1",
            "1 2",
            "12a",
            " 1",
            "1.5",
            "++1",
            "٣",
        ];
        for text in cases {
            assert_eq!(
                decimal(text.as_bytes()),
                text.parse::<u64>().ok(),
                "{text:?}"
            );
        }
    }
}
