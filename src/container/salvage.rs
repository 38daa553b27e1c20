//! Finding a place to read on after damage in an `.fb` file, for
//! `--salvage`: the next run of well-formed chunk records in the
//! decompressed stream, and the next deflate block (or gzip member) that
//! decodes after a corrupt stretch of the compressed file.
//!
//! The deflate block finder follows rapidgzip's idea (Knespel and Brunst,
//! "Rapidgzip", 2023): try every bit offset as the start of a dynamic or
//! stored block, reject nearly all of them with cheap header checks (a
//! dynamic block's code-length code must be a complete prefix code, a
//! stored block's length must match its complement), and confirm the rest
//! by decoding. The 32 KiB window before the block is lost with the damage;
//! rapidgzip marks bytes that copy from it. rfbplay decodes each candidate
//! twice, once with a window of zeros and once with a window of 0xa5: a
//! byte on which both agree did not come from the lost window, and once
//! both agree on 32 KiB in a row their windows are the same, so everything
//! after is exact. Reading resumes at the first chunk record inside that
//! exact part, so no byte that depends on the lost window reaches the
//! player.

use super::access::WINDOW;
use crate::limits::Limits;
use miniz_oxide::inflate::core::inflate_flags::{
    TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
};
use miniz_oxide::inflate::core::{decompress, BlockBoundaryState, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use std::io::{self, Read, Seek, SeekFrom};

/// Records in a row that count as "the chunk structure is back".
const RECORDS: usize = 3;
/// Decoded bytes a candidate block may take to become exact and show
/// chunk records before it is given up.
const MAX_TRIAL: usize = 8 << 20;
/// Compressed bytes read ahead of the scan position at a time.
const READ_AHEAD: usize = 1 << 20;

/// What a look at the start of a byte slice says about a chunk header.
#[derive(Debug, PartialEq, Eq)]
pub enum Header {
    /// `<delta_ns> <len>\r\n` of this many bytes.
    Valid {
        len: usize,
        delta: u64,
        payload: u64,
    },
    Invalid,
    /// The slice ends before the header could be judged.
    NeedMore,
}

/// Checks a chunk header at the start of `b` as minimega writes them:
/// decimal numbers without sign or padding, one space, CRLF
/// (docs/formats.md section 1), within `limits`.
pub fn header_at(b: &[u8], limits: &Limits) -> Header {
    let mut at = 0;
    let mut numbers = [0u64; 2];
    for (i, n) in numbers.iter_mut().enumerate() {
        let begin = at;
        while at < b.len() && b[at].is_ascii_digit() {
            if at - begin >= 20 {
                return Header::Invalid;
            }
            at += 1;
        }
        if at == b.len() {
            return Header::NeedMore;
        }
        let digits = &b[begin..at];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return Header::Invalid;
        }
        let Some(v) = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return Header::Invalid;
        };
        *n = v;
        let sep: &[u8] = if i == 0 { b" " } else { b"\r\n" };
        for &s in sep {
            match b.get(at) {
                None => return Header::NeedMore,
                Some(&c) if c == s => at += 1,
                Some(_) => return Header::Invalid,
            }
        }
    }
    let [delta, payload] = numbers;
    if payload > limits.max_chunk || delta > limits.max_gap_ns {
        return Header::Invalid;
    }
    Header::Valid {
        len: at,
        delta,
        payload,
    }
}

/// What [`find_records`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Records {
    /// Records start at this position.
    At(usize),
    /// None starts before this position; more bytes are needed to judge
    /// the ones after it.
    NeedMore(usize),
}

/// The first position in `b` where [`RECORDS`] chunk records follow each
/// other (each header valid, its payload followed by CRLF). At the end of
/// the data (`at_end`), fewer records that run exactly to the end count.
/// A record whose payload is longer than `b` can hold is judged on its
/// header alone once `b` is `full`.
pub fn find_records(b: &[u8], limits: &Limits, at_end: bool, full: bool) -> Records {
    for p in 0..b.len() {
        if !b[p].is_ascii_digit() || (p > 0 && b[p - 1].is_ascii_digit()) {
            continue;
        }
        match chain_at(&b[p..], limits, at_end, full) {
            Some(true) => return Records::At(p),
            Some(false) => {}
            None => return Records::NeedMore(p),
        }
    }
    Records::NeedMore(b.len())
}

/// Whether records chain from the start of `b`; None: more bytes needed.
fn chain_at(b: &[u8], limits: &Limits, at_end: bool, full: bool) -> Option<bool> {
    let mut at = 0;
    for k in 0..RECORDS {
        if at == b.len() && at_end && k > 0 {
            return Some(true);
        }
        match header_at(&b[at..], limits) {
            Header::Invalid => return Some(false),
            Header::NeedMore if at_end => return Some(false),
            Header::NeedMore => return None,
            Header::Valid { len, payload, .. } => {
                let end = (at + len) as u64 + payload;
                if end + 2 > b.len() as u64 {
                    if full && k > 0 {
                        return Some(true);
                    }
                    return if at_end { Some(false) } else { None };
                }
                let end = end as usize;
                if &b[end..end + 2] != b"\r\n" {
                    return Some(false);
                }
                at = end + 2;
            }
        }
    }
    Some(true)
}

/// Where to read a damaged gzip file on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resync {
    /// Compressed file byte where reading resumes: a member header, or the
    /// byte after the one holding the block's first bits.
    pub compressed: u64,
    /// Bits (0..=7) of the byte before `compressed` that belong to the
    /// block, and their values in the low bits.
    pub bits: u8,
    pub bit_buf: u8,
    /// A gzip member header starts at `compressed`.
    pub member_start: bool,
    /// Where the first chunk record is, and how sure its bytes are.
    pub found: Found,
}

/// The deflate block or gzip member after compressed byte `after` of
/// `file` from which the data decodes exactly into chunk records; None
/// when none is left. The search goes to the end of the file and costs
/// about one bit test per compressed bit, plus a trial decode of the rare
/// candidates that pass them.
pub fn find_resync<F: Read + Seek>(
    file: &mut F,
    after: u64,
    limits: &Limits,
) -> io::Result<Option<Resync>> {
    let mut win = Ahead {
        base: after + 1,
        data: Vec::new(),
        eof: false,
    };
    file.seek(SeekFrom::Start(win.base))?;
    let mut trial = Trial::new();
    let mut pos = 0usize;
    loop {
        win.ensure(file, pos + READ_AHEAD.min(MAX_TRIAL))?;
        if pos >= win.data.len() {
            return Ok(None);
        }
        // Keep memory bounded: drop what the scan has passed.
        if pos > 4 * READ_AHEAD {
            win.data.drain(..pos);
            win.base += pos as u64;
            pos = 0;
        }
        let d = &win.data;
        if d[pos..].starts_with(&[0x1f, 0x8b, 8]) {
            if let Ok(Some(hlen)) = super::gzip::parse_header(&d[pos..]) {
                win.ensure(file, pos + hlen + MAX_TRIAL)?;
                let d = &win.data;
                if let Some(found) = trial.run(&d[pos + hlen..], None, win.eof, limits) {
                    return Ok(Some(Resync {
                        compressed: win.base + pos as u64,
                        bits: 0,
                        bit_buf: 0,
                        member_start: true,
                        found,
                    }));
                }
            }
        }
        for bit in 0..8u8 {
            let d = &win.data;
            if !block_header_plausible(&d[pos..], bit) {
                continue;
            }
            win.ensure(file, pos + 1 + MAX_TRIAL)?;
            let d = &win.data;
            let (start, bits, bit_buf) = if bit == 0 {
                (pos, 0, 0)
            } else {
                (pos + 1, 8 - bit, d[pos] >> bit)
            };
            let state = BlockBoundaryState {
                num_bits: bits,
                bit_buf,
                ..Default::default()
            };
            if let Some(found) = trial.run(&d[start..], Some(&state), win.eof, limits) {
                return Ok(Some(Resync {
                    compressed: win.base + start as u64,
                    bits,
                    bit_buf,
                    member_start: false,
                    found,
                }));
            }
        }
        pos += 1;
    }
}

/// Compressed bytes read ahead of the scan.
struct Ahead {
    base: u64,
    data: Vec<u8>,
    eof: bool,
}

impl Ahead {
    fn ensure<F: Read>(&mut self, file: &mut F, len: usize) -> io::Result<()> {
        while !self.eof && self.data.len() < len {
            let old = self.data.len();
            let want = (len - old).max(64 << 10);
            self.data.resize(old + want, 0);
            let n = file.read(&mut self.data[old..])?;
            self.data.truncate(old + n);
            if n == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }
}

/// Reads `n` bits (n <= 57) at bit `bit` of `b` (LSB first, RFC 1951
/// section 3.1.1); None past the end.
fn bits(b: &[u8], bit: usize, n: usize) -> Option<u64> {
    let first = bit / 8;
    let last = (bit + n).div_ceil(8);
    let bytes = b.get(first..last)?;
    let mut v = 0u64;
    for (i, &x) in bytes.iter().enumerate() {
        v |= u64::from(x) << (8 * i);
    }
    Some((v >> (bit % 8)) & ((1u64 << n) - 1))
}

/// Whether a dynamic or stored deflate block header can start at bit
/// `bit` of `b` (RFC 1951 sections 3.2.3, 3.2.4, 3.2.7). Fixed-code blocks
/// are not looked for: nearly any bits start one.
fn block_header_plausible(b: &[u8], bit: u8) -> bool {
    let bit = usize::from(bit);
    let Some(head) = bits(b, bit, 3) else {
        return false;
    };
    match head >> 1 {
        0 => {
            // Stored: LEN and NLEN at the next byte boundary.
            let at = (bit + 3).div_ceil(8);
            match b.get(at..at + 4) {
                Some(l) => {
                    let len = u16::from_le_bytes([l[0], l[1]]);
                    let nlen = u16::from_le_bytes([l[2], l[3]]);
                    // The empty stored blocks of sync flushes say nothing.
                    len == !nlen && len > 0
                }
                None => false,
            }
        }
        2 => {
            let Some(h) = bits(b, bit + 3, 14) else {
                return false;
            };
            let (hlit, hdist, hclen) = (h & 31, (h >> 5) & 31, (h >> 10) & 15);
            if hlit > 29 || hdist > 29 {
                return false;
            }
            let n = hclen as usize + 4;
            let Some(lens) = bits(b, bit + 17, 3 * n) else {
                return false;
            };
            // The code-length code must be complete (zlib's inflate_table
            // refuses an incomplete one): Kraft sum exactly 1.
            let mut kraft = 0u32;
            let mut used = 0;
            for i in 0..n {
                let l = (lens >> (3 * i)) & 7;
                if l > 0 {
                    kraft += 1 << (7 - l);
                    used += 1;
                }
            }
            kraft == 128 && used >= 2
        }
        _ => false,
    }
}

/// Two decoders of one candidate, with different guesses for the lost
/// window.
struct Trial {
    a: Vec<u8>,
    b: Vec<u8>,
}

/// What a candidate that decodes into chunk records gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Decoded bytes before the first chunk record.
    pub skip: u64,
    /// Bytes after it, among the ones decoded while judging, that still
    /// depend on the lost window (the two guesses disagree on them); 0
    /// when the two decoders met.
    pub uncertain: u64,
}

impl Trial {
    fn new() -> Trial {
        Trial {
            a: vec![0; WINDOW + MAX_TRIAL],
            b: vec![0; WINDOW + MAX_TRIAL],
        }
    }

    /// Decodes `input` from a block boundary (`state`) or from a member's
    /// first block (None). Some when the output shows chunk records whose
    /// headers both guesses agree on.
    fn run(
        &mut self,
        input: &[u8],
        state: Option<&BlockBoundaryState>,
        at_eof: bool,
        limits: &Limits,
    ) -> Option<Found> {
        self.a[..WINDOW].fill(0);
        self.b[..WINDOW].fill(0xa5);
        let new = |s: Option<&BlockBoundaryState>| match s {
            Some(s) => Box::new(DecompressorOxide::from_block_boundary_state(s)),
            None => Box::<DecompressorOxide>::default(),
        };
        let (mut ra, mut rb) = (new(state), new(state));
        let flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF | TINFL_FLAG_HAS_MORE_INPUT;
        let (mut in_pos, mut out) = (0usize, WINDOW);
        // Output after the last byte on which the guesses disagree.
        let mut agree_from = WINDOW;
        let mut found: Option<usize> = None;
        let mut step = 16 << 10;
        loop {
            let end = (out + step).min(self.a.len());
            let (sa, ia, na) =
                decompress(&mut ra, &input[in_pos..], &mut self.a[..end], out, flags);
            let (sb, ib, nb) =
                decompress(&mut rb, &input[in_pos..], &mut self.b[..end], out, flags);
            if (ia, na) != (ib, nb) || sa != sb {
                return None;
            }
            if let Some(d) = (out..out + na).rev().find(|&i| self.a[i] != self.b[i]) {
                agree_from = d + 1;
            }
            in_pos += ia;
            out += na;
            step = (step * 2).min(1 << 20);
            let done = match sa {
                TINFLStatus::Done => true,
                TINFLStatus::NeedsMoreInput if in_pos == input.len() => {
                    if !at_eof {
                        return None;
                    }
                    true
                }
                TINFLStatus::NeedsMoreInput | TINFLStatus::HasMoreOutput => false,
                _ => return None,
            };
            if found.is_none() {
                found = self.first_records(out, done, limits);
                // Garbage that happens to decode shows no chunk headers;
                // minimega's chunks are at most 4 KiB.
                if found.is_none() && (done || out - WINDOW >= 256 << 10) {
                    return None;
                }
            }
            let met = out - agree_from >= WINDOW;
            if let Some(p) = found {
                if met || done || out == self.a.len() {
                    let uncertain = (p..agree_from).filter(|&i| self.a[i] != self.b[i]).count();
                    return Some(Found {
                        skip: (p - WINDOW) as u64,
                        uncertain: uncertain as u64,
                    });
                }
            }
            if (na == 0 && ia == 0) || out == self.a.len() {
                return None;
            }
        }
    }

    /// The first place in the output so far where chunk records start and
    /// both guesses agree on the first header.
    fn first_records(&self, out: usize, done: bool, limits: &Limits) -> Option<usize> {
        let mut from = WINDOW;
        while from < out {
            match find_records(&self.a[from..out], limits, done, false) {
                Records::At(q) => {
                    let p = from + q;
                    let head = p..(p + 48).min(out);
                    if self.a[head.clone()] == self.b[head] {
                        return Some(p);
                    }
                    from = p + 1;
                }
                Records::NeedMore(_) => return None,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::{Cursor, Write};

    fn records(n: usize) -> Vec<u8> {
        let mut x = 7u32;
        let mut out = Vec::new();
        for i in 0..n {
            // Recorders' deltas vary in every digit, as socket reads do.
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let len = 500 + (i * 37) % 3000;
            write!(out, "{} {}\r\n", 1 + (x >> 8) % 9_999_999, len).unwrap();
            for k in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                out.push(if (k / 64) % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    0
                });
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn headers_are_judged_strictly() {
        let l = Limits::default();
        assert_eq!(
            header_at(b"100 4096\r\nxx", &l),
            Header::Valid {
                len: 10,
                delta: 100,
                payload: 4096
            }
        );
        assert_eq!(header_at(b"100 40", &l), Header::NeedMore);
        for bad in [
            &b"0100 4\r\n"[..],
            b"1 4\n",
            b"1  4\r\n",
            b" 1 4\r\n",
            b"1 x\r\n",
        ] {
            assert_eq!(header_at(bad, &l), Header::Invalid, "{bad:?}");
        }
    }

    #[test]
    fn records_are_found_after_garbage() {
        let l = Limits::default();
        let data = records(5);
        let mut b = b"12 9\r\nxx garbage 7 1\r\n".to_vec();
        let at = b.len();
        b.extend_from_slice(&data);
        assert_eq!(find_records(&b, &l, true, false), Records::At(at));
    }

    #[test]
    fn a_corrupt_deflate_stream_is_read_on_at_a_later_block() {
        let data = records(3000);
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        let gz = e.finish().unwrap();
        let damage = gz.len() / 3;
        let found = find_resync(&mut Cursor::new(&gz), damage as u64, &Limits::default())
            .unwrap()
            .expect("a later block decodes");
        assert!(found.compressed > damage as u64 && !found.member_start);
        assert!(found.compressed < damage as u64 + 200_000, "{found:?}");
        // Decoding from there (zero window) gives the file's own bytes
        // from the first record on.
        let mut r = Box::new(DecompressorOxide::from_block_boundary_state(
            &BlockBoundaryState {
                num_bits: found.bits,
                bit_buf: found.bit_buf,
                ..Default::default()
            },
        ));
        let mut out = vec![0u8; WINDOW + data.len()];
        let (_, _, n) = decompress(
            &mut r,
            &gz[found.compressed as usize..],
            &mut out,
            WINDOW,
            TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        );
        let got = &out[WINDOW + found.found.skip as usize..WINDOW + n];
        assert!(got.len() > 10_000);
        // Bytes that copy from the lost window decode as zeros, and are
        // counted as uncertain; every other byte is the file's own.
        let truth = &data[data.len() - got.len()..];
        let wrong = got.iter().zip(truth).filter(|(a, b)| a != b).count();
        assert!(wrong as u64 <= found.found.uncertain, "{wrong} {found:?}");
        assert!(matches!(
            header_at(got, &Limits::default()),
            Header::Valid { .. }
        ));
    }
}
