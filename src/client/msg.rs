//! Client-to-server messages (RFC 6143 section 7.5), as byte strings, and
//! [`Writer`], which sends them. Encoding is kept apart from the socket so
//! it can be checked byte for byte in tests.

use super::error::{session_io_error, ClientError};
use super::target::Target;
use crate::rfb::{Encoding, PixelFormat, Rect};
use std::io::Write;
use std::net::TcpStream;

/// Message type numbers (RFC 6143 section 7.5) as bytes, from
/// [`crate::wire::ClientMessage`].
pub mod kind {
    use crate::wire::ClientMessage;

    pub const SET_PIXEL_FORMAT: u8 = ClientMessage::SET_PIXEL_FORMAT.0;
    pub const SET_ENCODINGS: u8 = ClientMessage::SET_ENCODINGS.0;
    pub const FRAMEBUFFER_UPDATE_REQUEST: u8 = ClientMessage::FRAMEBUFFER_UPDATE_REQUEST.0;
    pub const KEY_EVENT: u8 = ClientMessage::KEY_EVENT.0;
    pub const POINTER_EVENT: u8 = ClientMessage::POINTER_EVENT.0;
    pub const CLIENT_CUT_TEXT: u8 = ClientMessage::CLIENT_CUT_TEXT.0;
}

/// SetPixelFormat (7.5.1): type, 3 bytes padding, PIXEL_FORMAT.
pub fn set_pixel_format(pf: &PixelFormat) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[0] = kind::SET_PIXEL_FORMAT;
    b[4..].copy_from_slice(&pf.to_wire());
    b
}

/// SetEncodings (7.5.2): type, padding, u16 count, i32 each. More than
/// 65535 encodings cannot be said; the list is cut there.
pub fn set_encodings(encodings: &[Encoding]) -> Vec<u8> {
    let encodings = &encodings[..encodings.len().min(usize::from(u16::MAX))];
    let mut b = Vec::with_capacity(4 + 4 * encodings.len());
    b.extend_from_slice(&[kind::SET_ENCODINGS, 0]);
    b.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
    for e in encodings {
        b.extend_from_slice(&e.0.to_be_bytes());
    }
    b
}

/// FramebufferUpdateRequest (7.5.3).
pub fn update_request(incremental: bool, r: Rect) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[0] = kind::FRAMEBUFFER_UPDATE_REQUEST;
    b[1] = u8::from(incremental);
    b[2..4].copy_from_slice(&r.x.to_be_bytes());
    b[4..6].copy_from_slice(&r.y.to_be_bytes());
    b[6..8].copy_from_slice(&r.w.to_be_bytes());
    b[8..10].copy_from_slice(&r.h.to_be_bytes());
    b
}

/// KeyEvent (7.5.4): an X11 keysym pressed or released.
pub fn key_event(down: bool, keysym: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = kind::KEY_EVENT;
    b[1] = u8::from(down);
    b[4..8].copy_from_slice(&keysym.to_be_bytes());
    b
}

/// PointerEvent (7.5.5): button mask (bit 0 left, 1 middle, 2 right,
/// 3/4 wheel up/down) and position.
pub fn pointer_event(mask: u8, x: u16, y: u16) -> [u8; 6] {
    let mut b = [0u8; 6];
    b[0] = kind::POINTER_EVENT;
    b[1] = mask;
    b[2..4].copy_from_slice(&x.to_be_bytes());
    b[4..6].copy_from_slice(&y.to_be_bytes());
    b
}

/// ClientCutText (7.5.6). The protocol's text is ISO 8859-1; characters
/// outside it are sent as `?`.
pub fn cut_text(text: &str) -> Vec<u8> {
    let latin1: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let mut b = Vec::with_capacity(8 + latin1.len());
    b.extend_from_slice(&[kind::CLIENT_CUT_TEXT, 0, 0, 0]);
    b.extend_from_slice(&(latin1.len() as u32).to_be_bytes());
    b.extend_from_slice(&latin1);
    b
}

/// The sending half of a connection. Get one with
/// [`Client::writer`](super::Client::writer), or a second one for another
/// thread with [`Client::try_clone_writer`](super::Client::try_clone_writer);
/// each message is written with a single `write_all`, so messages from two
/// writers never interleave mid-message on the socket as long as each
/// writer is used by one thread.
#[derive(Debug)]
pub struct Writer {
    stream: TcpStream,
    target: Target,
}

impl Writer {
    pub(crate) fn new(stream: TcpStream, target: Target) -> Writer {
        Writer { stream, target }
    }

    fn send(&mut self, b: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(b).map_err(|e| {
            session_io_error(&self.target, e, self.stream.write_timeout().ok().flatten())
        })
    }

    /// Asks the server to send pixels in `pf` from now on. The stream
    /// parser must be told the same format.
    pub fn set_pixel_format(&mut self, pf: &PixelFormat) -> Result<(), ClientError> {
        self.send(&set_pixel_format(pf))
    }

    /// The encodings the server may use, best first (the server may still
    /// pick any of them, and always may send Raw).
    pub fn set_encodings(&mut self, encodings: &[Encoding]) -> Result<(), ClientError> {
        self.send(&set_encodings(encodings))
    }

    pub fn request_update(&mut self, incremental: bool, rect: Rect) -> Result<(), ClientError> {
        self.send(&update_request(incremental, rect))
    }

    pub fn key(&mut self, down: bool, keysym: u32) -> Result<(), ClientError> {
        self.send(&key_event(down, keysym))
    }

    pub fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), ClientError> {
        self.send(&pointer_event(mask, x, y))
    }

    pub fn cut_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.send(&cut_text(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_on_the_wire() {
        assert_eq!(
            set_encodings(&[Encoding::RAW, Encoding::DESKTOP_SIZE]),
            [2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]
        );
        assert_eq!(
            update_request(true, Rect::new(1, 2, 1024, 768)),
            [3, 1, 0, 1, 0, 2, 4, 0, 3, 0]
        );
        assert_eq!(key_event(true, 0xff0d), [4, 1, 0, 0, 0, 0, 0xff, 0x0d]);
        assert_eq!(pointer_event(1, 300, 2), [5, 1, 1, 44, 0, 2]);
        assert_eq!(cut_text("aé€"), [6, 0, 0, 0, 0, 0, 0, 3, b'a', 0xe9, b'?']);
        let pf = set_pixel_format(&PixelFormat::BGRX);
        assert_eq!(pf[..8], [0, 0, 0, 0, 32, 24, 0, 1]);
        assert_eq!(pf[14..17], [16, 8, 0]);
    }
}
