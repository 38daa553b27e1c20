//! One checkpoint as bytes: where the container resumes (chunk, offset,
//! gzip access point and window) and what the parser held (screen, cursor,
//! pixel format, colour map, zlib stream windows). The whole record is
//! deflated; reading it back checks every length against what is left
//! and against the screen limits before anything is allocated, so a
//! damaged or hostile index fails here, never later in the decoder.

use crate::container::access::AccessPoint;
use crate::container::SeekPoint;
use crate::framebuffer::{Cursor, Framebuffer};
use crate::limits::Limits;
use crate::rfb::parser::Saved;
use crate::rfb::PixelFormat;
use crate::time::Time;

/// A place the seek index can restart playback from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Time of the last piece applied before it: every update applied so
    /// far is at or before this, so the screen at any t >= it can be found
    /// by playing on from here.
    pub time: Time,
    pub last_update: Option<Time>,
    pub point: SeekPoint,
    pub saved: Saved,
    /// When set, the screen is stored as its difference from an earlier
    /// checkpoint's screen and `saved.screen` is empty (0x0) until
    /// [`super::Index::checkpoint`] applies the difference to that one.
    pub delta: Option<RowDelta>,
}

/// A screen stored as the rows that differ from an earlier checkpoint's
/// screen of the same size. Rows are compared as whole slices, so finding
/// them costs a memcmp per row; each differing row is kept XORed with the
/// base, whose unchanged pixels then deflate to almost nothing. A Raw
/// recording repaints every 100 ms but changes a few rows, so most of its
/// checkpoints cost the few kilobytes those rows take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowDelta {
    /// The checkpoint whose screen this one differs from.
    pub base: u64,
    pub width: u32,
    pub height: u32,
    /// (first row, number of rows): ascending, disjoint, within the screen.
    pub runs: Vec<(u32, u32)>,
    /// The runs' rows XORed with the base's, one run after another.
    pub xor: Vec<u8>,
}

impl RowDelta {
    /// The rows of `screen` that differ from `base` (same size).
    pub fn between(base_index: u64, base: &Framebuffer, screen: &Framebuffer) -> RowDelta {
        let stride = screen.stride();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut xor = Vec::new();
        let rows = screen
            .data()
            .chunks_exact(stride.max(1))
            .zip(base.data().chunks_exact(stride.max(1)));
        for (y, (a, b)) in rows.enumerate() {
            if a == b {
                continue;
            }
            let y = y as u32;
            match runs.last_mut() {
                Some((first, n)) if *first + *n == y => *n += 1,
                _ => runs.push((y, 1)),
            }
            xor.extend(a.iter().zip(b).map(|(x, y)| x ^ y));
        }
        RowDelta {
            base: base_index,
            width: screen.width(),
            height: screen.height(),
            runs,
            xor,
        }
    }

    /// Turns `base` (the screen of checkpoint `self.base`) into this one.
    pub fn apply(&self, base: &mut Framebuffer) -> Result<(), CodecError> {
        if base.width() != self.width || base.height() != self.height {
            return Err(CodecError::Bad("a screen's base does not fit"));
        }
        let stride = base.stride();
        let mut xor = self.xor.chunks_exact(stride.max(1));
        for &(first, n) in &self.runs {
            for y in first..first + n {
                let row = base.row_mut(0, y, self.width);
                let diff = xor.next().ok_or(CodecError::Short)?;
                for (p, d) in row.iter_mut().zip(diff) {
                    *p ^= *d;
                }
            }
        }
        Ok(())
    }
}

/// Why a checkpoint's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("the checkpoint record ends early")]
    Short,
    #[error("the checkpoint record holds {what} of {len}, over the limit of {max}")]
    TooLong {
        what: &'static str,
        len: u64,
        max: u64,
    },
    #[error("the checkpoint record is inconsistent: {0}")]
    Bad(&'static str),
}

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn opt_time(&mut self, t: Option<Time>) {
        self.u8(t.is_some() as u8);
        self.u64(t.map_or(0, |t| t.0));
    }
    fn opt_bytes(&mut self, b: &Option<Vec<u8>>) {
        self.u8(b.is_some() as u8);
        if let Some(b) = b {
            self.bytes(b);
        }
    }
}

pub(crate) struct In<'a> {
    buf: &'a [u8],
}

impl<'a> In<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> In<'a> {
        In { buf }
    }
    pub(crate) fn rest(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError::Short);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn flag(&mut self) -> Result<bool, CodecError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::Bad("a flag is neither 0 nor 1")),
        }
    }
    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    /// A length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(&mut self, what: &'static str, max: u64) -> Result<&'a [u8], CodecError> {
        let len = self.u64()?;
        if len > max {
            return Err(CodecError::TooLong { what, len, max });
        }
        if len > self.buf.len() as u64 {
            return Err(CodecError::Short);
        }
        self.take(len as usize)
    }
    fn opt_time(&mut self) -> Result<Option<Time>, CodecError> {
        let some = self.flag()?;
        let t = self.u64()?;
        Ok(some.then_some(Time(t)))
    }
    fn opt_window(&mut self) -> Result<Option<Vec<u8>>, CodecError> {
        if !self.flag()? {
            return Ok(None);
        }
        Ok(Some(self.bytes("a zlib window", WINDOW)?.to_vec()))
    }
}

const WINDOW: u64 = crate::container::access::WINDOW as u64;
/// How a checkpoint's screen is stored: whole, or as a [`RowDelta`].
const WHOLE: u8 = 0;
const BLANK: u8 = 1;
const ROWS: u8 = 2;

/// How [`encode`] stores a checkpoint's screen.
#[derive(Clone, Copy, Debug)]
pub enum Storage<'a> {
    Whole,
    /// As the rows that differ from checkpoint `.0`'s screen, `.1`.
    Rows(u64, &'a Framebuffer),
    /// Not at all: the update after the checkpoint repaints every pixel,
    /// so playing on from a black screen of its size gives the same
    /// screens from then on.
    Blank,
}

/// The checkpoint as uncompressed bytes (the caller deflates them), its
/// screen stored as `storage` says.
pub fn encode(c: &Checkpoint, storage: Storage<'_>) -> Vec<u8> {
    let mut o = Out(Vec::with_capacity(c.saved.screen.data().len() + 300_000));
    o.u64(c.time.0);
    o.opt_time(c.last_update);
    let p = &c.point;
    o.u64(p.offset);
    o.u64(p.time.0);
    o.u64(p.chunks);
    o.u64(p.declared);
    o.u64(p.left);
    o.u8(p.gzip.is_some() as u8);
    if let Some(ap) = &p.gzip {
        o.u64(ap.out);
        o.u64(ap.compressed);
        o.u8(ap.bits);
        o.u8(ap.bit_buf);
        o.u32(ap.crc);
        o.u32(ap.member_len);
        o.u8(ap.member_start as u8);
        o.bytes(&ap.window);
    }
    let s = &c.saved;
    o.u64(s.offset);
    o.u64(s.time.0);
    o.u64(s.updates);
    o.0.extend_from_slice(&s.pixel_format.to_wire());
    o.u64(s.colour_map.len() as u64);
    for e in &s.colour_map {
        o.0.extend_from_slice(e);
    }
    o.u8(s.size_known as u8);
    o.opt_bytes(&s.zlib);
    o.opt_bytes(&s.zrle);
    for t in &s.tight {
        o.opt_bytes(t);
    }
    o.u32(s.screen.width());
    o.u32(s.screen.height());
    match storage {
        Storage::Blank => o.u8(BLANK),
        Storage::Rows(k, fb)
            if fb.width() == s.screen.width() && fb.height() == s.screen.height() =>
        {
            let d = RowDelta::between(k, fb, &s.screen);
            o.u8(ROWS);
            o.u64(k);
            o.u32(d.runs.len() as u32);
            for (first, n) in &d.runs {
                o.u32(*first);
                o.u32(*n);
            }
            o.0.extend_from_slice(&d.xor);
        }
        _ => {
            o.u8(WHOLE);
            o.0.extend_from_slice(s.screen.data());
        }
    }
    o.u8(s.cursor.is_some() as u8);
    if let Some(cur) = &s.cursor {
        o.u16(cur.width);
        o.u16(cur.height);
        o.u16(cur.hotspot.0);
        o.u16(cur.hotspot.1);
        o.bytes(&cur.pixels);
        o.bytes(&cur.mask);
    }
    o.u8(s.pointer.is_some() as u8);
    let (x, y) = s.pointer.unwrap_or_default();
    o.u16(x);
    o.u16(y);
    o.u64(s.generation);
    o.0
}

/// Reads back what [`encode`] wrote, within `limits`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Checkpoint, CodecError> {
    let mut i = In::new(bytes);
    let time = Time(i.u64()?);
    let last_update = i.opt_time()?;
    let offset = i.u64()?;
    let ptime = Time(i.u64()?);
    let chunks = i.u64()?;
    let declared = i.u64()?;
    let left = i.u64()?;
    if left > declared {
        return Err(CodecError::Bad("more chunk bytes left than declared"));
    }
    let gzip = if i.flag()? {
        let out = i.u64()?;
        let compressed = i.u64()?;
        let bits = i.u8()?;
        let bit_buf = i.u8()?;
        let crc = i.u32()?;
        let member_len = i.u32()?;
        let member_start = i.flag()?;
        let window = i.bytes("a gzip window", WINDOW)?.to_vec();
        if bits > 7 || out > offset || (window.len() as u64) > out {
            return Err(CodecError::Bad("the gzip access point does not fit"));
        }
        Some(AccessPoint {
            out,
            compressed,
            bits,
            bit_buf,
            crc,
            member_len,
            member_start,
            window,
        })
    } else {
        None
    };
    let s_offset = i.u64()?;
    let s_time = Time(i.u64()?);
    let updates = i.u64()?;
    let pf: [u8; 16] = i.take(16)?.try_into().map_err(|_| CodecError::Short)?;
    let pixel_format = PixelFormat::from_wire(&pf);
    if pixel_format.unsupported_reason().is_some() {
        return Err(CodecError::Bad("unsupported pixel format"));
    }
    let n = i.u64()?;
    if n > 65536 {
        return Err(CodecError::TooLong {
            what: "a colour map",
            len: n,
            max: 65536,
        });
    }
    let raw = i.take(n as usize * 4)?;
    let colour_map = raw
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    let size_known = i.flag()?;
    let zlib = i.opt_window()?;
    let zrle = i.opt_window()?;
    let tight = [
        i.opt_window()?,
        i.opt_window()?,
        i.opt_window()?,
        i.opt_window()?,
    ];
    let (w, h) = (i.u32()?, i.u32()?);
    limits
        .check_screen(w, h)
        .map_err(|_| CodecError::Bad("the screen size is over the limits"))?;
    let stride = w as usize * crate::framebuffer::BYTES_PER_PIXEL;
    let (screen, delta) = match i.u8()? {
        WHOLE => {
            let data = i.take(stride * h as usize)?.to_vec();
            (
                Framebuffer::from_bgrx(w, h, data).ok_or(CodecError::Short)?,
                None,
            )
        }
        BLANK => (Framebuffer::new(w, h), None),
        ROWS => {
            let base = i.u64()?;
            let count = i.u32()?;
            if count > h {
                return Err(CodecError::Bad("more row runs than rows"));
            }
            let mut runs = Vec::with_capacity(count as usize);
            let mut next = 0u32;
            for _ in 0..count {
                let (first, n) = (i.u32()?, i.u32()?);
                if first < next || n == 0 || u64::from(first) + u64::from(n) > u64::from(h) {
                    return Err(CodecError::Bad("the changed rows are out of order"));
                }
                next = first + n;
                runs.push((first, n));
            }
            let rows: usize = runs.iter().map(|&(_, n)| n as usize).sum();
            let xor = i.take(rows * stride)?.to_vec();
            let delta = RowDelta {
                base,
                width: w,
                height: h,
                runs,
                xor,
            };
            (Framebuffer::new(0, 0), Some(delta))
        }
        _ => return Err(CodecError::Bad("unknown screen storage")),
    };
    let cursor = if i.flag()? {
        let (cw, ch, hx, hy) = (i.u16()?, i.u16()?, i.u16()?, i.u16()?);
        let area = u64::from(cw) * u64::from(ch);
        let pixels = i.bytes("cursor pixels", area * 4)?.to_vec();
        let mask_len = u64::from(cw).div_ceil(8) * u64::from(ch);
        let mask = i.bytes("a cursor mask", mask_len)?.to_vec();
        if pixels.len() as u64 != area * 4 || mask.len() as u64 != mask_len {
            return Err(CodecError::Bad("the cursor's data does not match its size"));
        }
        Some(Cursor {
            width: cw,
            height: ch,
            hotspot: (hx, hy),
            pixels,
            mask,
        })
    } else {
        None
    };
    let has_pointer = i.flag()?;
    let (x, y) = (i.u16()?, i.u16()?);
    let generation = i.u64()?;
    if !i.buf.is_empty() {
        return Err(CodecError::Bad("bytes follow the checkpoint"));
    }
    Ok(Checkpoint {
        delta,
        time,
        last_update,
        point: SeekPoint {
            offset,
            time: ptime,
            chunks,
            declared,
            left,
            gzip,
        },
        saved: Saved {
            offset: s_offset,
            time: s_time,
            updates,
            pixel_format,
            colour_map,
            size_known,
            zlib,
            zrle,
            tight,
            screen,
            cursor,
            pointer: has_pointer.then_some((x, y)),
            generation,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfb::Parser;

    fn checkpoint(screen: Framebuffer) -> Checkpoint {
        let mut saved = Parser::new(PixelFormat::BGRX, Limits::default(), false)
            .save()
            .expect("a new parser is at a message boundary");
        saved.screen = screen;
        Checkpoint {
            time: Time(5),
            last_update: Some(Time(4)),
            point: SeekPoint {
                offset: 10,
                time: Time(5),
                chunks: 1,
                declared: 4,
                left: 0,
                gzip: None,
            },
            saved,
            delta: None,
        }
    }

    fn screen(seed: u8) -> Framebuffer {
        let data = (0..64 * 48 * 4).map(|i| (i as u8) ^ seed).collect();
        Framebuffer::from_bgrx(64, 48, data).unwrap()
    }

    #[test]
    fn a_screen_stored_as_changed_rows_reads_back_equal() {
        let base = screen(0);
        let mut now = base.clone();
        now.fill(crate::rfb::Rect::new(3, 7, 10, 2), [9, 9, 9, 0]);
        now.set(63, 47, [1, 2, 3, 0]);
        let bytes = encode(&checkpoint(now.clone()), Storage::Rows(0, &base));
        // Three changed rows of 256 bytes, not the whole 12 KiB screen.
        let whole = encode(&checkpoint(now.clone()), Storage::Whole);
        assert_eq!(
            whole.len() - bytes.len(),
            64 * 48 * 4 - 3 * 256 - 8 - 4 - 2 * 8
        );
        let mut c = decode(&bytes, &Limits::default()).unwrap();
        let delta = c.delta.take().expect("stored as a difference");
        assert_eq!(delta.runs, vec![(7, 2), (47, 1)]);
        let mut rebuilt = base.clone();
        delta.apply(&mut rebuilt).unwrap();
        assert_eq!(rebuilt.data(), now.data());
        // The rest of the record is intact.
        let mut whole = checkpoint(now.clone());
        whole.saved.screen = Framebuffer::new(0, 0);
        assert_eq!(c, whole);
    }

    #[test]
    fn row_runs_out_of_order_or_past_the_screen_are_refused() {
        let base = screen(0);
        let mut now = base.clone();
        now.set(0, 40, [1, 1, 1, 0]);
        let bytes = encode(&checkpoint(now), Storage::Rows(0, &base));
        // The run table: one run, (40, 1).
        let table = [1u32, 40, 1].map(u32::to_le_bytes).concat();
        let at = 4 + bytes
            .windows(table.len())
            .position(|w| w == table)
            .expect("the run table is in the record");
        for (first, n) in [(47u32, 2u32), (40, 0), (u32::MAX, 1)] {
            let mut bad = bytes.clone();
            bad[at..at + 4].copy_from_slice(&first.to_le_bytes());
            bad[at + 4..at + 8].copy_from_slice(&n.to_le_bytes());
            assert_eq!(
                decode(&bad, &Limits::default()),
                Err(CodecError::Bad("the changed rows are out of order")),
                "run ({first}, {n})"
            );
        }
        // A difference applied to a screen of another size is refused.
        let delta = decode(&bytes, &Limits::default()).unwrap().delta.unwrap();
        let mut other = Framebuffer::new(32, 48);
        assert!(delta.apply(&mut other).is_err());
    }
}
