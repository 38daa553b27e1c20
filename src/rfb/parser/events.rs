//! What the stream parser reports: events as it meets them, warnings that
//! name their place, and the error that stops a stream.

use crate::decode::{self, RectError};
use crate::time::Time;
use crate::wire::{Encoding, Rect, ServerMessage};

/// Something the stream said, reported as the parser meets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A FramebufferUpdate is complete but not yet shown: the shown screen
    /// is still the one before it. [`Event::Update`] follows.
    Completing {
        index: u64,
        time: Time,
    },
    /// A FramebufferUpdate is complete and the shown screen reflects it.
    Update {
        index: u64,
        time: Time,
        rects: u32,
    },
    /// The screen size changed (DesktopSize, ExtendedDesktopSize, or the
    /// first update of a stream with no ServerInit).
    Resize {
        width: u32,
        height: u32,
        time: Time,
    },
    Bell {
        time: Time,
    },
    CutText {
        len: u32,
        time: Time,
    },
    ColourMap {
        first: u16,
        count: u16,
        time: Time,
    },
    /// A rectangle of an update is complete: its encoding, where it was
    /// drawn, where its header starts in the stream and how many stream
    /// bytes it took, header included. `update` counts from 1, as
    /// `rfbplay updates` numbers them.
    Rect {
        update: u64,
        encoding: Encoding,
        rect: Rect,
        offset: u64,
        bytes: u64,
        time: Time,
    },
    /// A message that carries nothing for the screen (fences and the like).
    Other {
        kind: u8,
        time: Time,
    },
    /// Something odd that did not stop decoding; callers show it.
    Warning(Warning),
}

/// Something odd in the stream, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (RFB stream byte {offset}, recording time {time})")]
pub struct Warning {
    /// Where the message or rectangle starts, in bytes of the
    /// server-to-client stream.
    pub offset: u64,
    pub time: Time,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    /// A ServerCutText longer than [`Limits::warn_cut_text`]: its text is
    /// skipped as usual, but a damaged length swallows the rest.
    #[error("ServerCutText claims {len} bytes of text, more than {limit}; if the length is damaged, the rest of the recording is read as text")]
    LongCutText { len: u32, limit: u32 },
    #[error("{encoding} rectangle {rect} of update {update}: {warning}")]
    Rect {
        /// Counted from 1, as `rfbplay updates` numbers them.
        update: u64,
        encoding: Encoding,
        rect: Rect,
        warning: decode::RectWarning,
    },
}

/// A stream that cannot be decoded further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (RFB stream byte {offset}, recording time {time})")]
pub struct ParseError {
    /// Where the message or rectangle that failed starts (its header's
    /// first byte), counted in bytes of the server-to-client stream.
    pub offset: u64,
    /// Where the data that failed starts, in the same count: the Hextile
    /// tile or RRE subrectangle, the zlib data of a ZRLE rectangle, the
    /// Tight field, the piece of Zlib data; `offset` when nothing finer is
    /// known.
    pub failing_offset: u64,
    pub time: Time,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("unknown server message type {}", .0.0)]
    UnknownMessage(ServerMessage),
    #[error("{} rectangle {rect} of update {update}: {}", Named(*encoding), decode::Chain(error))]
    Rect {
        /// Counted from 1, as `rfbplay updates` numbers them.
        update: u64,
        encoding: Encoding,
        rect: Rect,
        error: RectError,
    },
    #[error("internal error: a decoder asked for {need} bytes with {have} in hand")]
    Stalled { need: usize, have: usize },
}

/// An encoding as error messages name it: an unknown one says what kind
/// of number it is, and in hex, where servers' private numbers show.
struct Named(Encoding);

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.name() {
            Some(_) => self.0.fmt(f),
            None => write!(
                f,
                "unknown encoding {} (0x{:08x})",
                self.0 .0, self.0 .0 as u32
            ),
        }
    }
}
