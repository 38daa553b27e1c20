//! Server-side message writers: the bytes a VNC server would send. rfbplay
//! uses them to make synthetic recordings for its tests, fuzz seeds and
//! sample files, so every decoder can be checked against a picture whose
//! intended content is known.

use crate::wire::{Encoding, Rect, ServerMessage};

/// Builds one FramebufferUpdate message (RFC 6143 7.6.1).
pub struct UpdateBuilder {
    buf: Vec<u8>,
    count: u16,
    /// Write 0xFFFF as the count and end with LastRect (rfbproto).
    last_rect: bool,
}

impl Default for UpdateBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl UpdateBuilder {
    pub fn new() -> UpdateBuilder {
        UpdateBuilder {
            buf: vec![ServerMessage::FRAMEBUFFER_UPDATE.0, 0, 0, 0],
            count: 0,
            last_rect: false,
        }
    }

    /// Ends the update with a LastRect pseudo-rectangle instead of a count.
    pub fn with_last_rect(mut self) -> UpdateBuilder {
        self.last_rect = true;
        self
    }

    /// Appends a rectangle header; the caller appends its payload.
    pub fn header(&mut self, rect: Rect, encoding: Encoding) -> &mut Vec<u8> {
        for v in [rect.x, rect.y, rect.w, rect.h] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self.buf.extend_from_slice(&encoding.0.to_be_bytes());
        self.count += 1;
        &mut self.buf
    }

    /// A Raw rectangle from B, G, R, X pixels (the native format).
    pub fn raw(&mut self, rect: Rect, bgrx: &[u8]) -> &mut Self {
        self.header(rect, Encoding::RAW).extend_from_slice(bgrx);
        self
    }

    pub fn copy_rect(&mut self, rect: Rect, src_x: u16, src_y: u16) -> &mut Self {
        let b = self.header(rect, Encoding::COPY_RECT);
        b.extend_from_slice(&src_x.to_be_bytes());
        b.extend_from_slice(&src_y.to_be_bytes());
        self
    }

    /// A Zlib rectangle, compressed on the connection's stream `z` with a
    /// sync flush, as servers do.
    pub fn zlib(&mut self, rect: Rect, bgrx: &[u8], z: &mut flate2::Compress) -> &mut Self {
        let data = deflate_sync(z, bgrx);
        let b = self.header(rect, Encoding::ZLIB);
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend_from_slice(&data);
        self
    }

    pub fn desktop_size(&mut self, width: u16, height: u16) -> &mut Self {
        self.header(Rect::new(0, 0, width, height), Encoding::DESKTOP_SIZE);
        self
    }

    /// A Cursor pseudo-rectangle (RFC 6143 7.8.1) with native pixels.
    pub fn cursor(
        &mut self,
        hotspot: (u16, u16),
        w: u16,
        h: u16,
        bgrx: &[u8],
        mask: &[u8],
    ) -> &mut Self {
        let b = self.header(Rect::new(hotspot.0, hotspot.1, w, h), Encoding::CURSOR);
        b.extend_from_slice(bgrx);
        b.extend_from_slice(mask);
        self
    }

    /// The finished message.
    pub fn finish(mut self) -> Vec<u8> {
        let count = if self.last_rect {
            self.header(Rect::default(), Encoding::LAST_RECT);
            0xFFFF
        } else {
            self.count
        };
        self.buf[2..4].copy_from_slice(&count.to_be_bytes());
        self.buf
    }
}

/// Compresses `data` on a connection-long stream, ending in a sync flush.
pub fn deflate_sync(z: &mut flate2::Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut input = data;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let before = z.total_in();
        z.compress_vec(input, &mut out, flate2::FlushCompress::Sync)
            .expect("deflate into memory");
        input = &input[(z.total_in() - before) as usize..];
        // Done once all input is taken and the flush fit with room to spare.
        if input.is_empty() && out.len() < out.capacity() {
            return out;
        }
    }
}

pub fn bell() -> Vec<u8> {
    vec![ServerMessage::BELL.0]
}

pub fn server_cut_text(text: &[u8]) -> Vec<u8> {
    let mut b = vec![ServerMessage::SERVER_CUT_TEXT.0, 0, 0, 0];
    b.extend_from_slice(&(text.len() as u32).to_be_bytes());
    b.extend_from_slice(text);
    b
}

pub fn set_colour_map_entries(first: u16, colours: &[[u16; 3]]) -> Vec<u8> {
    let mut b = vec![ServerMessage::SET_COLOUR_MAP_ENTRIES.0, 0];
    b.extend_from_slice(&first.to_be_bytes());
    b.extend_from_slice(&(colours.len() as u16).to_be_bytes());
    for c in colours {
        for v in c {
            b.extend_from_slice(&v.to_be_bytes());
        }
    }
    b
}
