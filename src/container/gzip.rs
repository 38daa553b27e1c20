//! The gzip layer of `.fb` files (RFC 1952), read member by member so that
//! rfbplay knows exactly where it is in the compressed file: damage is
//! placed at the file byte where inflate failed, a stream cut short is told
//! apart from a corrupt one, and bytes after a complete stream that are not
//! another member are reported as trailing data instead of failing the
//! recording they follow.

use super::access::{AccessPoint, BlockFinder, Tracker};
use std::io::{self, BufRead, Read};
use zlib_rs::{Inflate, InflateFlush, Status};

/// CRC-32 and length (mod 2^32) of a member's data, with crc32fast:
/// about three times flate2's (zlib-rs's) speed where the CPU has
/// VPCLMULQDQ (52 against 19 GB/s here), and a check costs every byte.
#[derive(Clone, Default)]
pub struct Crc {
    hasher: crc32fast::Hasher,
    len: u32,
}

impl Crc {
    pub fn new() -> Crc {
        Crc::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len = self.len.wrapping_add(bytes.len() as u32);
    }

    pub fn sum(&self) -> u32 {
        self.hasher.clone().finalize()
    }

    pub fn amount(&self) -> u32 {
        self.len
    }

    pub fn reset(&mut self) {
        *self = Crc::default();
    }

    /// Continues with the bytes `next` summed, as if they had been
    /// given to [`Crc::update`].
    pub fn combine(&mut self, next: &Crc) {
        self.hasher.combine(&next.hasher);
        self.len = self.len.wrapping_add(next.len);
    }
}

/// Longest gzip header accepted (file name and comment included).
const MAX_HEADER: usize = 64 * 1024;

/// What went wrong inside the compressed stream.
#[derive(Clone, Debug, thiserror::Error)]
pub enum GzipError {
    #[error("bad gzip header: {0}")]
    Header(&'static str),
    #[error("invalid deflate data ({0})")]
    Deflate(String),
    #[error("gzip checksum mismatch: the data decompressed but differs from what was written")]
    Checksum,
    #[error("gzip length mismatch: {got} bytes decompressed, the trailer says {expected}")]
    Length { got: u32, expected: u32 },
}

/// A gzip failure and the compressed file byte where it was found.
#[derive(Clone, Debug, thiserror::Error)]
#[error("at file byte {file_offset}")]
pub struct GzipFailure {
    pub file_offset: u64,
    #[source]
    pub error: GzipError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body,
    Trailer,
    /// After a member: another member, trailing data or the end.
    Between,
    Done,
}

/// The inflater behind a [`GzipReader`].
enum Engine {
    /// zlib-ng, through flate2: plain reading. On minimega's recordings,
    /// long matches a few bytes apart, it inflates about three times as
    /// fast as zlib-rs (0.09 against 0.27 s for 500 MB on this project's
    /// 2-core benchmark machine), and inflate is most of a raw
    /// recording's decode.
    Fast(flate2::Decompress),
    /// zlib-rs: an index build, which asks inflate to stop at deflate block
    /// boundaries (`InflateFlush::Block`); flate2 cannot ask for that.
    Blocks(Inflate),
}

impl Engine {
    fn reset(&mut self) {
        match self {
            Engine::Fast(d) => d.reset(false),
            Engine::Blocks(i) => i.reset(false),
        }
    }

    /// Inflates from `input` into `out`: the bytes used and made, and how
    /// the call ended (an error as the inflater words it).
    fn run(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        flush: InflateFlush,
    ) -> (usize, usize, Result<Status, String>) {
        match self {
            Engine::Fast(d) => {
                let (in0, out0) = (d.total_in(), d.total_out());
                let status = d
                    .decompress(input, out, flate2::FlushDecompress::None)
                    .map(|s| match s {
                        flate2::Status::Ok => Status::Ok,
                        flate2::Status::BufError => Status::BufError,
                        flate2::Status::StreamEnd => Status::StreamEnd,
                    })
                    .map_err(|e| e.message().unwrap_or("invalid deflate data").to_string());
                let used = (d.total_in() - in0) as usize;
                let made = (d.total_out() - out0) as usize;
                (used, made, status)
            }
            Engine::Blocks(i) => {
                let (in0, out0) = (i.total_in(), i.total_out());
                let status = i
                    .decompress(input, out, flush)
                    .map_err(|e| i.error_message().unwrap_or(e.as_str()).to_string());
                let used = (i.total_in() - in0) as usize;
                let made = (i.total_out() - out0) as usize;
                (used, made, status)
            }
        }
    }
}

/// Decompresses a gzip file of one or more members.
pub struct GzipReader<R> {
    src: R,
    state: State,
    inflate: Engine,
    crc: Crc,
    /// Compressed bytes consumed so far.
    consumed: u64,
    header: Vec<u8>,
    /// Where non-gzip bytes follow the last complete member.
    trailing: Option<u64>,
    members: u64,
    /// Set when access points are wanted (index builds, resumed reads):
    /// inflates with miniz_oxide instead of `inflate`.
    tracker: Option<Box<Tracker>>,
    /// The member's checksums cannot hold: reading started after damage.
    unchecked: bool,
    /// Damage found by the call that also inflated the bytes before it:
    /// those bytes go out first, the failure with the next read, so the
    /// place reported is where inflate stopped whatever the buffer sizes.
    failed: Option<GzipFailure>,
    /// Set when the caller checks members' sums itself (see
    /// [`GzipReader::defer_checks`]): trailers read and not yet taken.
    deferred: Option<Vec<MemberCheck>>,
    /// Set when zlib-rs inflating should find access points too (see
    /// [`GzipReader::finding`]).
    finder: Option<Box<BlockFinder>>,
    /// Decompressed bytes handed out so far by the zlib-rs path.
    out_total: u64,
    /// The last compressed byte inflate read, and whether its last call
    /// stopped at a block boundary (the next must go past it).
    last_byte: u8,
    at_boundary: bool,
}

/// What a member's trailer says of the member (RFC 1952 section 2.3.1),
/// and where it is.
#[derive(Clone, Copy, Debug)]
pub struct MemberCheck {
    crc: u32,
    len: u32,
    at: u64,
}

impl MemberCheck {
    /// Checks the trailer against the member's CRC-32 and length (mod
    /// 2^32) as inflated.
    pub fn against(&self, crc: u32, len: u32) -> io::Result<()> {
        let (at, error) = if crc != self.crc {
            (self.at, GzipError::Checksum)
        } else if len != self.len {
            let length = GzipError::Length {
                got: len,
                expected: self.len,
            };
            (self.at + 4, length)
        } else {
            return Ok(());
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            GzipFailure {
                file_offset: at,
                error,
            },
        ))
    }
}

impl<R: BufRead> GzipReader<R> {
    pub fn new(src: R) -> GzipReader<R> {
        GzipReader {
            src,
            state: State::Header,
            inflate: Engine::Fast(flate2::Decompress::new(false)),
            crc: Crc::new(),
            consumed: 0,
            header: Vec::new(),
            trailing: None,
            members: 0,
            tracker: None,
            unchecked: false,
            failed: None,
            deferred: None,
            finder: None,
            out_total: 0,
            last_byte: 0,
            at_boundary: false,
        }
    }

    /// A reader that inflates with zlib-rs as [`GzipReader::new`] does and
    /// finds an access point about every `spacing` decompressed bytes
    /// (see [`BlockFinder`]), taken with
    /// [`GzipReader::take_access_points`]. Their CRC-32 is left to the
    /// caller, who checks the members' sums as [`GzipReader::defer_checks`]
    /// says.
    pub fn finding(src: R, spacing: u64) -> GzipReader<R> {
        let mut g = GzipReader::new(src).defer_checks();
        g.inflate = Engine::Blocks(Inflate::new(false, 15));
        g.finder = Some(Box::new(BlockFinder::new(spacing)));
        g
    }

    /// The access points found since the last call, oldest first; each
    /// comes before any byte after it is handed out.
    pub fn take_access_points(&mut self) -> Vec<AccessPoint> {
        self.finder.as_mut().map(|f| f.take()).unwrap_or_default()
    }

    /// A reader that leaves the members' checksums to its caller, who
    /// takes each trailer with [`GzipReader::take_checks`] after the
    /// member's bytes and checks it against their CRC-32: the inflate
    /// thread leaves that work to the reader's side. Not for tracking.
    pub fn defer_checks(mut self) -> GzipReader<R> {
        self.deferred = Some(Vec::new());
        self
    }

    /// The trailers read since the last call, oldest first; each comes
    /// after its member's last byte and before any byte of the next.
    pub fn take_checks(&mut self) -> Vec<MemberCheck> {
        self.deferred
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// A reader that remembers access points (see [`GzipReader::access_point_before`]).
    pub fn tracking(src: R) -> GzipReader<R> {
        let mut g = GzipReader::new(src);
        g.tracker = Some(Box::new(Tracker::new(0)));
        g
    }

    /// A reader that continues from `ap`; `src` must start at its
    /// compressed byte.
    pub fn resume(src: R, ap: &AccessPoint) -> GzipReader<R> {
        let mut g = GzipReader::new(src);
        g.consumed = ap.compressed;
        if ap.member_start {
            g.tracker = Some(Box::new(Tracker::at_member(ap.out)));
        } else {
            g.tracker = Some(Box::new(Tracker::resume(ap)));
            g.state = State::Body;
        }
        g
    }

    /// A reader that continues after damage at `ap`, whose window is a
    /// guess: the trailer of the member it is in is not checked.
    pub fn resume_unchecked(src: R, ap: &AccessPoint) -> GzipReader<R> {
        let mut g = GzipReader::resume(src, ap);
        g.unchecked = !ap.member_start;
        g
    }

    /// The last access point at or before decompressed byte `out`, while a
    /// tracking reader still holds its window.
    pub fn access_point_before(&self, out: u64) -> Option<AccessPoint> {
        self.tracker.as_ref()?.access_point_before(out)
    }

    /// Compressed bytes consumed so far.
    pub fn compressed_offset(&self) -> u64 {
        self.consumed
    }

    /// The file byte where non-gzip data starts after a complete stream.
    pub fn trailing_data_at(&self) -> Option<u64> {
        self.trailing
    }

    fn fail(&self, at: u64, error: GzipError) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            GzipFailure {
                file_offset: at,
                error,
            },
        )
    }

    fn cut() -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, "the gzip stream is cut short")
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.consumed += n as u64;
    }

    /// After a member: another member, trailing data or the end.
    fn between(&mut self) -> io::Result<()> {
        let avail = self.src.fill_buf()?;
        if avail.is_empty() {
            self.state = State::Done;
        } else if avail[0] == 0x1f && (avail.len() < 2 || avail[1] == 0x8b) {
            self.state = State::Header;
        } else {
            self.trailing = Some(self.consumed);
            self.state = State::Done;
        }
        Ok(())
    }

    /// Reads a member's trailer and checks it (or leaves it to the caller).
    fn trailer(&mut self) -> io::Result<()> {
        let mut trailer = [0u8; 8];
        let mut got = 0;
        while got < 8 {
            let avail = self.src.fill_buf()?;
            if avail.is_empty() {
                return Err(Self::cut());
            }
            let n = avail.len().min(8 - got);
            trailer[got..got + n].copy_from_slice(&avail[..n]);
            self.consume(n);
            got += n;
        }
        let at = self.consumed - 8;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let len = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let (sum, amount) = match &self.tracker {
            Some(t) => t.member_sums(),
            None => (self.crc.sum(), self.crc.amount()),
        };
        self.members += 1;
        self.state = State::Between;
        if std::mem::take(&mut self.unchecked) {
            return Ok(());
        }
        let check = MemberCheck { crc, len, at };
        match self.deferred.as_mut() {
            Some(checks) => checks.push(check),
            None => check.against(sum, amount)?,
        }
        Ok(())
    }

    /// Gathers and checks a member's header. Ok(false): the file ended
    /// inside it.
    fn read_header(&mut self) -> io::Result<bool> {
        let start = self.consumed - self.header.len() as u64;
        loop {
            match parse_header(&self.header) {
                Ok(Some(_)) => {
                    if let Some(t) = self.tracker.as_mut() {
                        t.member_start(start);
                    }
                    if let Some(f) = self.finder.as_mut() {
                        f.member_start(start, self.out_total);
                    }
                    self.at_boundary = false;
                    self.unchecked = false;
                    self.header.clear();
                    self.inflate.reset();
                    self.crc.reset();
                    self.state = State::Body;
                    return Ok(true);
                }
                Ok(None) if self.header.len() < MAX_HEADER => {}
                Ok(None) => return Err(self.fail(start, GzipError::Header("longer than 64 KiB"))),
                Err(e) => return Err(self.fail(start, GzipError::Header(e))),
            }
            let avail = self.src.fill_buf()?;
            if avail.is_empty() {
                return Ok(false);
            }
            // Take bytes one header field at a time would be exact; taking
            // what the header can still need is simpler: a header is parsed
            // again from the start, and only its own bytes are consumed.
            let need = header_need(&self.header).min(avail.len());
            self.header.extend_from_slice(&avail[..need]);
            self.consume(need);
        }
    }
}

/// How many more bytes the header parser may need before it can decide.
fn header_need(got: &[u8]) -> usize {
    match parse_header(got) {
        Ok(None) if got.len() < 10 => 10 - got.len(),
        _ => 1,
    }
}

/// Parses a gzip member header: Ok(Some(len)) when complete, Ok(None) when
/// more bytes are needed (RFC 1952 section 2.3).
pub(crate) fn parse_header(h: &[u8]) -> Result<Option<usize>, &'static str> {
    if h.len() < 10 {
        if h.len() >= 2 && h[..2] != [0x1f, 0x8b] {
            return Err("not gzip magic");
        }
        return Ok(None);
    }
    if h[..2] != [0x1f, 0x8b] {
        return Err("not gzip magic");
    }
    if h[2] != 8 {
        return Err("compression method is not deflate");
    }
    let flags = h[3];
    if flags & 0xe0 != 0 {
        return Err("reserved flag bits set");
    }
    let mut at = 10;
    if flags & 0x04 != 0 {
        let Some(len) = h.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
        if h.len() < at {
            return Ok(None);
        }
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            match h[at.min(h.len())..].iter().position(|&b| b == 0) {
                Some(nul) => at += nul + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        at += 2;
        if h.len() < at {
            return Ok(None);
        }
    }
    Ok(Some(at))
}

impl<R: BufRead> Read for GzipReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(f) = self.failed.take() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, f));
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    if !self.read_header()? {
                        return Err(Self::cut());
                    }
                }
                State::Between => self.between()?,
                State::Trailer => self.trailer()?,
                State::Body => {
                    if let Some(t) = self.tracker.as_mut() {
                        // Output already inflated goes out before any
                        // question about input (a cut file has none left).
                        let step = t.drain(out);
                        if step.end {
                            self.state = State::Trailer;
                        }
                        if step.made > 0 {
                            return Ok(step.made);
                        }
                    }
                    let avail = self.src.fill_buf()?;
                    // At the end of the file, inflate may still hold output
                    // (a copy a full buffer cut short): it goes out first.
                    let at_end = avail.is_empty();
                    if at_end && self.tracker.is_some() {
                        return Err(Self::cut());
                    }
                    if let Some(t) = self.tracker.as_mut() {
                        let step = t.inflate(avail, self.consumed, out);
                        let at = self.consumed;
                        let step = step.map_err(|e| self.fail(at, GzipError::Deflate(e)))?;
                        self.consume(step.used);
                        if step.end {
                            self.state = State::Trailer;
                        }
                        if step.made > 0 {
                            return Ok(step.made);
                        }
                        if step.used == 0 && !step.end {
                            return Err(self.fail(at, GzipError::Deflate("stalled".into())));
                        }
                        continue;
                    }
                    // An index build asks zlib-rs to stop at the next block
                    // boundary now and then; the call after a stop goes on.
                    let block = !self.at_boundary
                        && self
                            .finder
                            .as_ref()
                            .is_some_and(|f| f.wants(self.out_total));
                    let flush = if block {
                        InflateFlush::Block
                    } else {
                        InflateFlush::NoFlush
                    };
                    let (used, made, status) = self.inflate.run(avail, out, flush);
                    let stopped = block
                        && matches!(status, Ok(Status::Ok))
                        && used < avail.len()
                        && made < out.len();
                    if used > 0 {
                        self.last_byte = avail[used - 1];
                    }
                    if let Some(f) = self.finder.as_mut() {
                        if stopped {
                            let out_at = self.out_total + made as u64;
                            let at = self.consumed + used as u64;
                            f.boundary(out_at, at, self.last_byte, &out[..made]);
                        } else {
                            let out_at = self.out_total + made as u64;
                            f.after(out_at, &avail[..used], &out[..made]);
                        }
                        if matches!(status, Ok(Status::StreamEnd)) {
                            f.settle();
                        }
                    }
                    self.at_boundary = stopped;
                    self.out_total += made as u64;
                    let at = self.consumed + used as u64;
                    self.consume(used);
                    if self.deferred.is_none() {
                        self.crc.update(&out[..made]);
                    }
                    match status {
                        Ok(Status::StreamEnd) => {
                            self.state = State::Trailer;
                            if made > 0 {
                                return Ok(made);
                            }
                        }
                        Ok(_) if made > 0 => return Ok(made),
                        Ok(_) if at_end => return Err(Self::cut()),
                        Ok(_) if used > 0 || stopped => {}
                        Ok(_) => {
                            // Neither input used nor output made with input
                            // at hand: the decoder cannot go on.
                            return Err(self.fail(at, GzipError::Deflate("stalled".into())));
                        }
                        Err(msg) => {
                            if made > 0 {
                                self.failed = Some(GzipFailure {
                                    file_offset: at,
                                    error: GzipError::Deflate(msg),
                                });
                                return Ok(made);
                            }
                            return Err(self.fail(at, GzipError::Deflate(msg)));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> (Vec<u8>, io::Result<()>, Option<u64>) {
        read_in(bytes, 7, 13)
    }

    /// Reads through a `capacity`-byte input buffer, `size` bytes at a time.
    fn read_in(
        bytes: &[u8],
        capacity: usize,
        size: usize,
    ) -> (Vec<u8>, io::Result<()>, Option<u64>) {
        let mut r = GzipReader::new(io::BufReader::with_capacity(capacity, bytes));
        let mut out = Vec::new();
        let mut buf = vec![0u8; size];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, Ok(()), r.trailing_data_at()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Err(e), r.trailing_data_at()),
            }
        }
    }

    #[test]
    fn members_join_and_trailing_bytes_are_reported() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = gz(&data[..3000]);
        file.extend(gz(&data[3000..]));
        let len = file.len() as u64;
        let (out, r, trailing) = read_all(&file);
        assert_eq!(out, data);
        assert!(r.is_ok() && trailing.is_none());
        file.extend_from_slice(b"garbage");
        let (out, r, trailing) = read_all(&file);
        assert_eq!(out, data);
        assert!(r.is_ok());
        assert_eq!(trailing, Some(len));
    }

    #[test]
    fn a_cut_is_not_damage_and_damage_is_placed() {
        let data: Vec<u8> = (0..20000u32).map(|i| (i * 31 % 253) as u8).collect();
        let file = gz(&data);
        for cut in [5, 10, 200, file.len() - 4] {
            let (_, r, _) = read_all(&file[..cut]);
            assert_eq!(
                r.unwrap_err().kind(),
                io::ErrorKind::UnexpectedEof,
                "cut {cut}"
            );
        }
        let mut bad = file.clone();
        bad[file.len() - 6] ^= 0xff; // inside the CRC
        let (_, r, _) = read_all(&bad);
        let e = r.unwrap_err();
        let f = e.get_ref().unwrap().downcast_ref::<GzipFailure>().unwrap();
        assert_eq!(f.file_offset, file.len() as u64 - 8);
    }

    #[test]
    fn damage_is_placed_alike_whatever_the_buffer_sizes() {
        let data: Vec<u8> = (0..400_000u32)
            .map(|i| ((i / 97) * 31 % 253) as u8 ^ (i % 7) as u8)
            .collect();
        let file = gz(&data);
        let mut failed = 0;
        for at in (20..file.len() - 8).step_by(61) {
            let mut bad = file.clone();
            bad[at] ^= 0xa5;
            let place = |capacity, size| {
                let (out, r, _) = read_in(&bad, capacity, size);
                let offset = r.err().and_then(|e| {
                    let f = e.get_ref()?.downcast_ref::<GzipFailure>()?;
                    Some(f.file_offset)
                });
                (out, offset)
            };
            let small = place(7, 13);
            let big = place(1 << 16, 1 << 20);
            assert!(
                small == big,
                "damage at {at}: {} {:?} vs {} {:?}",
                small.0.len(),
                small.1,
                big.0.len(),
                big.1
            );
            assert!(small == place(1 << 12, 300), "damage at {at}");
            failed += usize::from(small.1.is_some());
        }
        assert!(failed > 5, "only {failed} damaged files failed to inflate");
    }
}
