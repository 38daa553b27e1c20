//! The server-to-client stream parser and the server-side message writers.
//!
//! The wire vocabulary (encodings, message types, rectangles, pixel formats)
//! lives in [`crate::wire`]; it is re-exported here, where code written
//! before the move looks for it.

pub mod encode;
pub mod handshake;
pub mod parser;
pub mod pixel;
pub mod stream_map;

pub use crate::wire::{Encoding, PixelFormat, Rect, ServerMessage};
pub use parser::{Candidate, Event, ParseError, ParseErrorKind, Parser, Warning, WarningKind};
pub use stream_map::StreamMap;

/// Server-to-client message types as bare numbers, for code written before
/// [`ServerMessage`]; the numbers and names come from it.
pub mod message {
    use crate::wire::ServerMessage;

    pub const FRAMEBUFFER_UPDATE: u8 = ServerMessage::FRAMEBUFFER_UPDATE.0;
    pub const SET_COLOUR_MAP_ENTRIES: u8 = ServerMessage::SET_COLOUR_MAP_ENTRIES.0;
    pub const BELL: u8 = ServerMessage::BELL.0;
    pub const SERVER_CUT_TEXT: u8 = ServerMessage::SERVER_CUT_TEXT.0;

    pub fn name(kind: u8) -> &'static str {
        ServerMessage(kind).name().unwrap_or("unknown")
    }
}
