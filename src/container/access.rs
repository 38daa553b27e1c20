//! Access points into a gzip stream, so the seek index can start reading a
//! `.fb` file in the middle (as zlib's `zran.c` does): a deflate block
//! boundary's compressed bit position and the 32 KiB of output before it.
//!
//! Two ways find them. [`Tracker`] inflates with miniz_oxide's
//! block-boundary API into a linear history buffer (miniz_oxide's
//! non-wrapping mode looks back into the same buffer), which also lets it
//! cut a boundary's window out later, when a checkpoint asks for one,
//! instead of copying 32 KiB at every boundary; small files and resumed
//! reads use it. [`BlockFinder`] rides along zlib-rs (the faster inflater
//! of plain playback) on an index build's inflate thread: zlib-rs stops at
//! a block boundary when asked, and miniz_oxide settles the bit position.
//!
//! Why not the `indexed_deflate` crate (which wraps the same miniz_oxide
//! API): its access points are chosen by compressed distance and kept in
//! its own index file, while rfbplay needs an access point just before the
//! container positions its checkpoints pick, stored inside its own index
//! file with its own validation, and needs rfbplay's multi-member, cut and
//! trailing-data handling.

use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY,
    TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{decompress, BlockBoundaryState, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use std::collections::VecDeque;

/// Deflate looks back at most this far (RFC 1951 section 3.2.5).
pub const WINDOW: usize = 32 * 1024;
/// History kept behind the newest output: a deflate block can inflate to
/// about 4 MiB (16K symbols of 258 bytes, as zlib and Go write them), and
/// the `.fb` reader reads 256 KiB ahead of the piece it hands out.
const RETAIN: usize = 6 << 20;
/// The history buffer of a reader that reads a whole file (an index
/// build): when full, the last RETAIN bytes move to its start. Large, so
/// that moving costs a tenth of the output's size rather than most of it
/// (16 MiB made the move 30% of an index build's time).
const CAPACITY: usize = 64 << 20;
/// The history buffer of a reader resumed at an access point, which
/// reads a few megabytes to the moment a seek wants: smaller, so that the
/// same pages are used again rather than new ones touched.
const RESUMED_CAPACITY: usize = 16 << 20;

/// Where reading can start again: a deflate block boundary inside a gzip
/// member, or the start of a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPoint {
    /// Decompressed bytes before this point.
    pub out: u64,
    /// The compressed file byte where reading resumes.
    pub compressed: u64,
    /// Bits (0..=7) of the byte before `compressed` still to be read, and
    /// their values in the low bits of `bit_buf`.
    pub bits: u8,
    pub bit_buf: u8,
    /// CRC-32 and length (mod 2^32) of the member's data before this point.
    pub crc: u32,
    pub member_len: u32,
    /// A member header starts at `compressed`; no window is needed.
    pub member_start: bool,
    /// The output before this point in its member, at most 32 KiB.
    pub window: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
struct Boundary {
    out: u64,
    compressed: u64,
    bits: u8,
    bit_buf: u8,
    crc: u32,
    member_len: u32,
    member_start: bool,
}

impl Boundary {
    /// The start of a member, whose header begins at compressed byte
    /// `compressed`: reading starts there afresh.
    fn member_start(out: u64, compressed: u64) -> Boundary {
        Boundary {
            out,
            compressed,
            bits: 0,
            bit_buf: 0,
            crc: 0,
            member_len: 0,
            member_start: true,
        }
    }

    fn with_window(&self, window: Vec<u8>) -> AccessPoint {
        AccessPoint {
            out: self.out,
            compressed: self.compressed,
            bits: self.bits,
            bit_buf: self.bit_buf,
            crc: self.crc,
            member_len: self.member_len,
            member_start: self.member_start,
            window,
        }
    }
}

/// What one call of [`Tracker::inflate`] did.
pub struct Inflated {
    pub used: usize,
    pub made: usize,
    /// The member's deflate data ended and all its output was handed out.
    pub end: bool,
}

/// A raw deflate inflater that remembers block boundaries.
pub struct Tracker {
    r: Box<DecompressorOxide>,
    buf: Vec<u8>,
    /// Output written into `buf`, and how much of it was handed out.
    pos: usize,
    drained: usize,
    /// Decompressed offset of `buf[0]`.
    base: u64,
    /// Decompressed offset where the current member's data starts.
    member_out: u64,
    crc: crc32fast::Hasher,
    member_len: u32,
    ended: bool,
    boundaries: VecDeque<Boundary>,
}

impl Tracker {
    /// A tracker whose output so far is `out` bytes.
    pub fn new(out: u64) -> Tracker {
        Tracker::with_capacity(out, CAPACITY)
    }

    /// A tracker for a reader resumed at a member's start.
    pub fn at_member(out: u64) -> Tracker {
        Tracker::with_capacity(out, RESUMED_CAPACITY)
    }

    fn with_capacity(out: u64, capacity: usize) -> Tracker {
        Tracker {
            r: Box::default(),
            buf: vec![0; capacity],
            pos: 0,
            drained: 0,
            base: out,
            member_out: out,
            crc: crc32fast::Hasher::new(),
            member_len: 0,
            ended: false,
            boundaries: VecDeque::new(),
        }
    }

    /// Continues from a block boundary inside a member.
    pub fn resume(ap: &AccessPoint) -> Tracker {
        let mut t = Tracker::with_capacity(ap.out - ap.window.len() as u64, RESUMED_CAPACITY);
        t.buf[..ap.window.len()].copy_from_slice(&ap.window);
        t.pos = ap.window.len();
        t.drained = t.pos;
        t.member_out = t.base;
        t.crc = crc32fast::Hasher::new_with_initial_len(ap.crc, u64::from(ap.member_len));
        t.member_len = ap.member_len;
        t.r = Box::new(DecompressorOxide::from_block_boundary_state(
            &BlockBoundaryState {
                num_bits: ap.bits,
                bit_buf: ap.bit_buf,
                ..Default::default()
            },
        ));
        t
    }

    /// A new member's header starts at compressed byte `compressed`.
    pub fn member_start(&mut self, compressed: u64) {
        let out = self.base + self.pos as u64;
        self.base = out;
        self.pos = 0;
        self.drained = 0;
        self.member_out = out;
        *self.r = DecompressorOxide::default();
        self.crc = crc32fast::Hasher::new();
        self.member_len = 0;
        self.ended = false;
        self.push(Boundary::member_start(out, compressed));
    }

    /// CRC-32 and length (mod 2^32) of the member's data so far.
    pub fn member_sums(&self) -> (u32, u32) {
        (self.crc.clone().finalize(), self.member_len)
    }

    fn push(&mut self, b: Boundary) {
        // Keep boundaries whose window is still in the history, at most
        // a few hundred (blocks of a few KiB each in RETAIN).
        if self.boundaries.len() >= 4096 {
            self.boundaries.pop_front();
        }
        self.boundaries.push_back(b);
    }

    /// Hands out pending output, or inflates more from `input`, whose first
    /// byte is compressed file byte `at`.
    pub fn inflate(&mut self, input: &[u8], at: u64, out: &mut [u8]) -> Result<Inflated, String> {
        let mut used = 0;
        if self.drained == self.pos && !self.ended {
            if self.pos == self.buf.len() {
                self.slide();
            }
            used = self.fill(input, at)?.0;
        }
        let n = (self.pos - self.drained).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.drained..self.drained + n]);
        self.drained += n;
        Ok(Inflated {
            used,
            made: n,
            end: self.ended && self.drained == self.pos,
        })
    }

    /// Inflates from `input` (compressed file byte `at` on) into the free
    /// end of the history buffer, up to the next block boundary at most:
    /// the input bytes used and the output bytes made. Output made before
    /// damage stays in the buffer, to be handed out before the error is.
    pub fn fill(&mut self, input: &[u8], at: u64) -> Result<(usize, usize), String> {
        let flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF
            | TINFL_FLAG_HAS_MORE_INPUT
            | TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY;
        let (status, n_in, n_out) = decompress(&mut self.r, input, &mut self.buf, self.pos, flags);
        let made = &self.buf[self.pos..self.pos + n_out];
        self.crc.update(made);
        self.member_len = self.member_len.wrapping_add(n_out as u32);
        self.pos += n_out;
        match status {
            TINFLStatus::BlockBoundary => {
                if let Some(st) = self.r.block_boundary_state() {
                    self.push(Boundary {
                        out: self.base + self.pos as u64,
                        compressed: at + n_in as u64,
                        bits: st.num_bits,
                        bit_buf: st.bit_buf,
                        crc: self.crc.clone().finalize(),
                        member_len: self.member_len,
                        member_start: false,
                    });
                }
            }
            TINFLStatus::Done => self.ended = true,
            TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => {}
            TINFLStatus::FailedCannotMakeProgress => return Err("stalled".into()),
            TINFLStatus::BadParam => return Err("bad parameter".into()),
            TINFLStatus::Adler32Mismatch => return Err("checksum".into()),
            TINFLStatus::Failed => return Err("rejected by the decoder".into()),
        }
        Ok((n_in, n_out))
    }

    /// Hands out output already inflated, without inflating more.
    pub fn drain(&mut self, out: &mut [u8]) -> Inflated {
        let n = (self.pos - self.drained).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.drained..self.drained + n]);
        self.drained += n;
        Inflated {
            used: 0,
            made: n,
            end: self.ended && self.drained == self.pos,
        }
    }

    fn slide(&mut self) {
        let keep_from = self.pos.saturating_sub(RETAIN).min(self.drained);
        self.buf.copy_within(keep_from..self.pos, 0);
        self.pos -= keep_from;
        self.drained -= keep_from;
        self.base += keep_from as u64;
        let oldest = self.base + WINDOW as u64;
        while self.boundaries.front().is_some_and(|b| {
            !b.member_start && b.out < oldest && b.out - self.member_out >= WINDOW as u64
        }) {
            self.boundaries.pop_front();
        }
    }

    /// The last access point at or before decompressed offset `out`, with
    /// its window, while it is still in the history.
    pub fn access_point_before(&self, out: u64) -> Option<AccessPoint> {
        let b = self.boundaries.iter().rev().find(|b| b.out <= out)?;
        let window = if b.member_start {
            Vec::new()
        } else {
            let start = b
                .out
                .saturating_sub(WINDOW as u64)
                .max(self.member_out.min(b.out));
            // A boundary of an earlier member keeps its own member start
            // unknown here: only the current member's are used.
            if b.out < self.member_out || start < self.base {
                return None;
            }
            let (s, e) = ((start - self.base) as usize, (b.out - self.base) as usize);
            self.buf.get(s..e)?.to_vec()
        };
        Some(b.with_window(window))
    }
}

/// Output and input kept after a candidate boundary to tell which of its
/// eight possible bit positions is the right one.
const PROBE: usize = 16 * 1024;
/// Output a candidate's trial must reproduce at least, unless its member
/// ends sooner.
const PROBE_MIN: usize = 4 * 1024;
/// Output after a candidate below which it is not tried at all.
const PROBE_TINY: usize = 256;

/// Finds access points while zlib-rs inflates (the fast inflater of plain
/// playback), for index builds on the inflate thread.
///
/// zlib-rs's safe interface stops at a deflate block boundary when asked
/// (`InflateFlush::Block`), with the compressed bytes it read up to there,
/// but does not say how many bits of the last byte are still unread. So a
/// boundary is a candidate: its last byte, the 32 KiB of output before it
/// (kept from the calls before once an access point is wanted), and the
/// next 16 KiB of input and output are kept, and miniz_oxide
/// (which resumed reads use) decodes that input from each of the eight
/// bit positions. Exactly one must reproduce the output, or the candidate
/// is dropped and the next boundary tried. Asked once every
/// [`BlockFinder::spacing`] bytes, so zlib-rs runs at full speed in
/// between. The access points it gives have no CRC yet: the reader's side
/// fills it in as it checksums the bytes (`crc_pending`).
pub struct BlockFinder {
    /// Decompressed bytes between access points, at least.
    spacing: u64,
    /// Decompressed offset of the last access point found.
    last: Option<u64>,
    candidate: Option<Candidate>,
    found: Vec<AccessPoint>,
    /// The member's last 32 KiB of output at most, kept while an access
    /// point is wanted (the window of the boundary to come).
    tail: Vec<u8>,
}

struct Candidate {
    out: u64,
    compressed: u64,
    last_byte: u8,
    window: Vec<u8>,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl BlockFinder {
    pub fn new(spacing: u64) -> BlockFinder {
        BlockFinder {
            spacing,
            last: None,
            candidate: None,
            found: Vec::new(),
            tail: Vec::with_capacity(2 * WINDOW),
        }
    }

    /// Whether the next inflate call, at decompressed offset `out`, should
    /// stop at a block boundary.
    pub fn wants(&self, out: u64) -> bool {
        self.candidate.is_none() && self.last.is_none_or(|l| out >= l + self.spacing)
    }

    /// A member starts at compressed byte `compressed` and decompressed
    /// offset `out`: an access point that needs no window. A candidate of
    /// the member before is settled with what it has.
    pub fn member_start(&mut self, compressed: u64, out: u64) {
        self.settle();
        self.last = Some(out);
        self.tail.clear();
        self.found
            .push(Boundary::member_start(out, compressed).with_window(Vec::new()));
    }

    /// Inflate stopped at a block boundary at decompressed offset `out`
    /// and compressed byte `compressed`, whose byte before is `last_byte`,
    /// having made `made` since the last call.
    pub fn boundary(&mut self, out: u64, compressed: u64, last_byte: u8, made: &[u8]) {
        if self.candidate.is_some() {
            return;
        }
        self.keep_tail(made);
        if self.tail.len() < WINDOW {
            return;
        }
        self.candidate = Some(Candidate {
            out,
            compressed,
            last_byte,
            window: self.tail[self.tail.len() - WINDOW..].to_vec(),
            input: Vec::with_capacity(PROBE),
            output: Vec::with_capacity(PROBE),
        });
        self.tail.clear();
    }

    /// Inflate used `input` and made `output` (in order), reaching
    /// decompressed offset `out`: kept after a candidate until there is
    /// enough to test it, and as the window of the boundary to come once
    /// an access point is wanted.
    pub fn after(&mut self, out: u64, input: &[u8], output: &[u8]) {
        if let Some(c) = self.candidate.as_mut() {
            let take = |v: &mut Vec<u8>, b: &[u8]| {
                v.extend_from_slice(&b[..(PROBE - v.len()).min(b.len())]);
            };
            take(&mut c.input, input);
            take(&mut c.output, output);
            if c.output.len() == PROBE && c.input.len() == PROBE {
                self.settle();
            }
        } else if self.wants(out) {
            self.keep_tail(output);
        }
    }

    fn keep_tail(&mut self, output: &[u8]) {
        let new = &output[output.len().saturating_sub(WINDOW)..];
        let drop = (self.tail.len() + new.len()).saturating_sub(WINDOW);
        self.tail.drain(..drop.min(self.tail.len()));
        self.tail.extend_from_slice(new);
    }

    /// Tests the candidate with what it has (its member ended, or the
    /// stream did): an access point when exactly one bit position fits.
    pub fn settle(&mut self) {
        let Some(c) = self.candidate.take() else {
            return;
        };
        let fits: Vec<u8> = (0..8u8).filter(|&bits| c.fits(bits)).collect();
        if let [bits] = fits[..] {
            self.last = Some(c.out);
            self.found.push(AccessPoint {
                out: c.out,
                compressed: c.compressed,
                bits,
                bit_buf: unread(c.last_byte, bits),
                crc: 0,
                member_len: 0,
                member_start: false,
                window: c.window,
            });
        }
    }

    /// The access points found since the last call, oldest first.
    pub fn take(&mut self) -> Vec<AccessPoint> {
        std::mem::take(&mut self.found)
    }
}

/// The last `bits` bits of `byte` (its high ones, as deflate reads bits
/// from the low end), the part of it still to be read.
fn unread(byte: u8, bits: u8) -> u8 {
    byte.checked_shr(u32::from(8 - bits)).unwrap_or(0)
}

impl Candidate {
    /// Whether inflating the kept input from `bits` unread bits of the
    /// last byte reproduces the kept output.
    fn fits(&self, bits: u8) -> bool {
        let mut r = DecompressorOxide::from_block_boundary_state(&BlockBoundaryState {
            num_bits: bits,
            bit_buf: unread(self.last_byte, bits),
            ..Default::default()
        });
        let mut buf = vec![0u8; WINDOW + self.output.len()];
        buf[..WINDOW].copy_from_slice(&self.window);
        let (mut pos, mut input) = (WINDOW, &self.input[..]);
        let flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF | TINFL_FLAG_HAS_MORE_INPUT;
        while pos < buf.len() {
            let (status, n_in, n_out) = decompress(&mut r, input, &mut buf, pos, flags);
            if buf[pos..pos + n_out] != self.output[pos - WINDOW..pos - WINDOW + n_out] {
                return false;
            }
            pos += n_out;
            input = &input[n_in..];
            match status {
                TINFLStatus::Done | TINFLStatus::NeedsMoreInput => break,
                TINFLStatus::HasMoreOutput if n_in + n_out > 0 => {}
                _ => return false,
            }
        }
        // A few bytes could come out alike from a wrong position too.
        self.output.len() >= PROBE_TINY && pos - WINDOW >= PROBE_MIN.min(self.output.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::gzip::GzipReader;
    use flate2::write::GzEncoder;
    use std::io::{BufReader, Read, Write};

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Reads everything; returns the bytes and whether it ended cleanly.
    fn read_all<R: Read>(mut r: R) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 7777];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => return (out, false),
            }
        }
    }

    fn data(n: usize) -> Vec<u8> {
        let mut x = 1u32;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if (i / 5000) % 2 == 0 {
                    (x >> 24) as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect()
    }

    #[test]
    fn tracking_reads_what_zlib_rs_reads_even_when_cut() {
        let d = data(3_000_000);
        let mut file = gz(&d[..1_000_000], 6);
        file.extend(gz(&d[1_000_000..], 1));
        for cut in [
            file.len(),
            file.len() - 4,
            file.len() / 2,
            file.len() / 3 + 17,
        ] {
            let plain = read_all(GzipReader::new(BufReader::new(&file[..cut])));
            let tracked = read_all(GzipReader::tracking(BufReader::new(&file[..cut])));
            // A cut stream ends with an error after the same bytes: output
            // already inflated is handed out before the missing input is.
            assert_eq!(plain, tracked, "cut at {cut}");
        }
    }

    #[test]
    fn reading_resumed_at_an_access_point_goes_on_alike() {
        let d = data(4_000_000);
        let mut file = gz(&d[..1_500_000], 6);
        file.extend(gz(&d[1_500_000..], 9));
        let mut r = GzipReader::tracking(BufReader::new(&file[..]));
        let mut buf = vec![0u8; 50_000];
        let mut at = 0u64;
        let mut seen = 0;
        while at < d.len() as u64 {
            let n = r.read(&mut buf).unwrap();
            assert!(n > 0);
            at += n as u64;
            let Some(ap) = r.access_point_before(at) else {
                continue;
            };
            seen += 1;
            let src = BufReader::new(&file[ap.compressed as usize..]);
            let (rest, ok) = read_all(GzipReader::resume(src, &ap));
            assert!(ok, "resumed at {} ended badly", ap.out);
            assert_eq!(rest, d[ap.out as usize..], "resumed at {}", ap.out);
            if seen > 12 {
                break;
            }
        }
        assert!(seen > 3);
    }

    /// Reads a finding reader to its end: the bytes, whether it ended
    /// cleanly, and its access points with their CRC-32 filled in.
    fn read_finding(file: &[u8], spacing: u64) -> (Vec<u8>, bool, Vec<super::AccessPoint>) {
        let mut r = GzipReader::finding(BufReader::with_capacity(4096, file), spacing);
        let (mut out, mut aps) = (Vec::new(), Vec::new());
        let mut member_from = 0;
        let mut buf = vec![0u8; 100_000];
        let ended = loop {
            let got = r.read(&mut buf);
            for mut ap in r.take_access_points() {
                if ap.member_start {
                    member_from = ap.out as usize;
                } else {
                    let member = &out.get(member_from..ap.out as usize);
                    // Found before the bytes after it are handed out.
                    let member = member.expect("an access point ahead of its bytes");
                    ap.crc = crc32fast::hash(member);
                    ap.member_len = member.len() as u32;
                }
                aps.push(ap);
            }
            match got {
                Ok(0) => break true,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
        };
        (out, ended, aps)
    }

    #[test]
    fn finding_reads_what_plain_reading_reads_and_its_access_points_resume() {
        let d = data(11_000_000);
        let mut file = gz(&d[..6_000_000], 6);
        file.extend(gz(&d[6_000_000..], 1));
        let mut damaged = file.clone();
        let at = damaged.len() / 3;
        damaged[at] ^= 0x55;
        for (name, f) in [
            ("whole", &file[..]),
            ("cut", &file[..file.len() / 2 + 13]),
            ("cut trailer", &file[..file.len() - 3]),
            ("damaged", &damaged[..]),
        ] {
            // Both leave the sums to their caller.
            let plain = read_all(GzipReader::new(BufReader::new(f)).defer_checks());
            let (out, ok, aps) = read_finding(f, 500_000);
            assert_eq!((out.len(), ok), (plain.0.len(), plain.1), "{name}");
            assert!(out == plain.0, "{name}: the bytes differ");
            if name != "whole" {
                continue;
            }
            // Two member starts and a block boundary about every 500 kB.
            let starts = aps.iter().filter(|ap| ap.member_start).count();
            assert_eq!(starts, 2, "{name}");
            assert!(aps.len() >= 12, "{name}: {} access points", aps.len());
            for ap in &aps {
                let src = BufReader::new(&file[ap.compressed as usize..]);
                let (rest, ok) = read_all(GzipReader::resume(src, ap));
                assert!(ok, "resumed at {} ended badly", ap.out);
                assert!(rest == d[ap.out as usize..], "resumed at {}", ap.out);
            }
        }
        // Stored blocks (level 0) and the strongest level: whatever
        // access points are found resume exactly.
        for level in [0, 9] {
            let file = gz(&d[..3_000_000], level);
            let (out, ok, aps) = read_finding(&file, 300_000);
            assert!(ok && out == d[..3_000_000], "level {level}");
            for ap in &aps {
                let src = BufReader::new(&file[ap.compressed as usize..]);
                let (rest, ok) = read_all(GzipReader::resume(src, ap));
                assert!(
                    ok && rest == d[ap.out as usize..3_000_000],
                    "level {level}: {}",
                    ap.out
                );
            }
        }
    }
}
