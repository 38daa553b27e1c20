//! Zlib encoding (rfbproto "Zlib encoding"): a 4-byte length, then zlib data
//! that inflates to the rectangle's Raw pixels. One zlib stream serves every
//! Zlib rectangle of the connection.

use super::resumable::Inflater;
use super::{inflate_exact, RectCx, RectError, Step};

/// The connection-long inflater, created on first use.
#[derive(Default)]
pub struct Stream(Option<Inflater>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(d) => write!(
                f,
                "zlib stream ({} bytes in, {} out)",
                d.total_in(),
                d.total_out()
            ),
            None => f.write_str("zlib stream (unused)"),
        }
    }
}

impl Stream {
    pub fn get(&mut self) -> &mut Inflater {
        self.0.get_or_insert_with(Inflater::new)
    }

    /// What the seek index saves: `Ok(None)` for an unused stream, the
    /// window for one at a sync flush, `Err(())` for one that cannot be
    /// saved here.
    #[allow(clippy::result_unit_err)]
    pub fn saved(&self) -> Result<Option<Vec<u8>>, ()> {
        match &self.0 {
            None => Ok(None),
            Some(i) => i.window().map(Some).ok_or(()),
        }
    }

    /// Brings back a stream [`Stream::saved`] described.
    pub fn restore(saved: Option<&[u8]>) -> Result<Stream, flate2::DecompressError> {
        Ok(Stream(saved.map(Inflater::resume).transpose()?))
    }
}

#[derive(Debug, Default)]
pub struct Zlib {
    len: Option<usize>,
}

impl Zlib {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let Some(len) = self.len else {
            if input.len() < 4 {
                return Ok(Step::Need(4));
            }
            let len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
            let raw_len = cx.rect.area() as usize * cx.ctx.bpp();
            cx.ctx.limits.check_compressed(len, raw_len)?;
            self.len = Some(len);
            return Ok(Step::Advance(4));
        };
        if input.len() < len {
            return Ok(Step::Need(len));
        }
        let rect = cx.rect;
        let bpp = cx.ctx.bpp();
        let mut out = std::mem::take(&mut cx.ctx.scratch);
        out.clear();
        out.resize(rect.area() as usize * bpp, 0);
        let result = inflate_exact(cx.ctx.zlib.get(), &input[..len], &mut out);
        if result.is_ok() {
            super::raw::write_pixels(cx, &out);
        }
        cx.ctx.scratch = out;
        result.map(|()| Step::Done(len))
    }
}
