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
    /// When set, `saved.screen` holds the XOR of the screen with this
    /// earlier checkpoint's screen (same size), which deflates to little
    /// when little changed; [`super::Index::checkpoint`] undoes it.
    pub delta_of: Option<u64>,
}

/// `a ^= b`, byte by byte (equal lengths).
pub fn xor_into(a: &mut [u8], b: &[u8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= *y;
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

/// The checkpoint as uncompressed bytes (the caller deflates them); with
/// `base`, the screen is stored as its XOR with that checkpoint's screen.
pub fn encode(c: &Checkpoint, base: Option<(u64, &Framebuffer)>) -> Vec<u8> {
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
    match base {
        Some((k, fb)) if fb.width() == s.screen.width() && fb.height() == s.screen.height() => {
            o.u8(1);
            o.u64(k);
            let at = o.0.len();
            o.0.extend_from_slice(s.screen.data());
            xor_into(&mut o.0[at..], fb.data());
        }
        _ => {
            o.u8(0);
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
    let delta_of = i.flag()?.then(|| i.u64()).transpose()?;
    let len = w as usize * h as usize * crate::framebuffer::BYTES_PER_PIXEL;
    let screen = Framebuffer::from_bgrx(w, h, i.take(len)?.to_vec()).ok_or(CodecError::Short)?;
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
        delta_of,
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
