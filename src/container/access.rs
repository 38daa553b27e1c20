//! Access points into a gzip stream, so the seek index can start reading a
//! `.fb` file in the middle (as zlib's `zran.c` does): a deflate block
//! boundary's compressed bit position and the 32 KiB of output before it.
//!
//! flate2's zlib-rs backend cannot stop at block boundaries or start at a
//! bit offset, so this inflater uses miniz_oxide's block-boundary API
//! instead. It inflates into a linear history buffer (miniz_oxide's
//! non-wrapping mode looks back into the same buffer), which also lets it
//! cut a boundary's window out later, when a checkpoint asks for one,
//! instead of copying 32 KiB at every boundary.
//!
//! Why not the `indexed_deflate` crate (which wraps the same miniz_oxide
//! API): its access points are chosen by compressed distance and kept in
//! its own index file, while rfbplay needs an access point just before the
//! container positions its checkpoints pick, stored inside its own index
//! file with its own validation, and needs rfbplay's multi-member, cut and
//! trailing-data handling. Its builder inflated no faster than this one
//! (mm_xvnc_xterm.fb, 500 MB decompressed: indexed_deflate 0.71-0.79 s,
//! this loop 0.78-0.95 s, flate2/zlib-rs 1.33-1.39 s, on a loaded 2-core
//! machine), so plain playback keeps zlib-rs and only index builds and
//! resumed reads use this one.

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
/// The history buffer of a reader whose buffers are handed out whole
/// ([`Tracker::swap_out`]): small, as nothing slides in it and each
/// swap copies only the 32 KiB window into the next buffer.
pub const SWAP_CAPACITY: usize = 4 << 20;
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

    /// A tracker whose buffers are handed out whole: see [`Tracker::swap_out`].
    pub fn swapping() -> Tracker {
        Tracker::with_capacity(0, SWAP_CAPACITY)
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
        self.push(Boundary {
            out,
            compressed,
            bits: 0,
            bit_buf: 0,
            crc: 0,
            member_len: 0,
            member_start: true,
        });
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

    /// Output inflated and not yet handed out.
    pub fn pending(&self) -> usize {
        self.pos - self.drained
    }

    /// The history buffer has no room left.
    pub fn is_full(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The member's deflate data has ended.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Hands out the pending output by handing out the history buffer
    /// itself, without copying it: swaps it with `spare`, which becomes
    /// the new history buffer with the last 32 KiB of output (the window
    /// deflate may look back into) at its start. Returns where the output
    /// lies in `spare`, and the access point of the newest block boundary
    /// in it (cut now, while its window is still at hand).
    pub fn swap_out(&mut self, spare: &mut Vec<u8>) -> ((usize, usize), Option<AccessPoint>) {
        let ap = self.access_point_before(self.base + self.pos as u64);
        let out = (self.drained, self.pos);
        let keep = self.pos.min(WINDOW);
        spare.resize(self.buf.len().max(SWAP_CAPACITY), 0);
        spare[..keep].copy_from_slice(&self.buf[self.pos - keep..self.pos]);
        std::mem::swap(spare, &mut self.buf);
        self.base += (self.pos - keep) as u64;
        (self.pos, self.drained) = (keep, keep);
        let base = self.base;
        self.boundaries.retain(|b| b.out >= base);
        (out, ap)
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
        Some(AccessPoint {
            out: b.out,
            compressed: b.compressed,
            bits: b.bits,
            bit_buf: b.bit_buf,
            crc: b.crc,
            member_len: b.member_len,
            member_start: b.member_start,
            window,
        })
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

    /// Reads a swapping reader to its end: the bytes, whether it ended
    /// cleanly, and the access points it handed out.
    fn read_swapped(file: &[u8]) -> (Vec<u8>, bool, Vec<super::AccessPoint>) {
        let mut r = GzipReader::swapping(BufReader::with_capacity(4096, file));
        let (mut out, mut aps) = (Vec::new(), Vec::new());
        let mut spare = Vec::new();
        loop {
            match r.read_swap(&mut spare) {
                Ok(None) => return (out, true, aps),
                Ok(Some(((s, e), ap))) => {
                    out.extend_from_slice(&spare[s..e]);
                    aps.extend(ap);
                }
                Err(_) => return (out, false, aps),
            }
        }
    }

    #[test]
    fn swapping_reads_what_copying_reads_and_its_access_points_resume() {
        // Several swaps per member, two members, and cuts and damage.
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
            let copied = read_all(GzipReader::tracking(BufReader::new(f)));
            let (out, ok, aps) = read_swapped(f);
            assert_eq!((out.len(), ok), (copied.0.len(), copied.1), "{name}");
            assert!(out == copied.0, "{name}: the bytes differ");
            if name != "whole" {
                continue;
            }
            assert!(aps.len() >= 2, "{name}: {} access points", aps.len());
            for ap in &aps {
                let src = BufReader::new(&file[ap.compressed as usize..]);
                let (rest, ok) = read_all(GzipReader::resume(src, ap));
                assert!(ok, "resumed at {} ended badly", ap.out);
                assert!(rest == d[ap.out as usize..], "resumed at {}", ap.out);
            }
        }
    }
}
