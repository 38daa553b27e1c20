//! RFB wire vocabulary: encodings, pixel formats, rectangles and the
//! server-to-client stream parser.
//!
//! Numbers from the wire are kept as newtypes so that unknown values survive
//! intact and print with their name when one is known (RFC 6143 section 7.7,
//! rfbproto "Encodings").

pub mod encode;
pub mod parser;
pub mod pixel;

pub use parser::{Event, ParseError, ParseErrorKind, Parser, Warning, WarningKind};
pub use pixel::PixelFormat;

use std::fmt;

/// An RFB encoding number, known or not.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Encoding(pub i32);

impl Encoding {
    pub const RAW: Encoding = Encoding(0);
    pub const COPY_RECT: Encoding = Encoding(1);
    pub const RRE: Encoding = Encoding(2);
    pub const CORRE: Encoding = Encoding(4);
    pub const HEXTILE: Encoding = Encoding(5);
    pub const ZLIB: Encoding = Encoding(6);
    pub const TIGHT: Encoding = Encoding(7);
    pub const ZLIBHEX: Encoding = Encoding(8);
    pub const ZRLE: Encoding = Encoding(16);
    pub const DESKTOP_SIZE: Encoding = Encoding(-223);
    pub const LAST_RECT: Encoding = Encoding(-224);
    pub const POINTER_POS: Encoding = Encoding(-232);
    pub const CURSOR: Encoding = Encoding(-239);
    pub const X_CURSOR: Encoding = Encoding(-240);
    pub const DESKTOP_NAME: Encoding = Encoding(-307);
    pub const EXTENDED_DESKTOP_SIZE: Encoding = Encoding(-308);

    /// The name used in rfbproto, when this number has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "Raw",
            1 => "CopyRect",
            2 => "RRE",
            4 => "CoRRE",
            5 => "Hextile",
            6 => "Zlib",
            7 => "Tight",
            8 => "ZlibHex",
            16 => "ZRLE",
            -223 => "DesktopSize",
            -224 => "LastRect",
            -232 => "PointerPos",
            -239 => "Cursor",
            -240 => "XCursor",
            -307 => "DesktopName",
            -308 => "ExtendedDesktopSize",
            -32..=-23 => "JPEGQualityLevel",
            -256..=-247 => "CompressionLevel",
            _ => return None,
        })
    }

    /// Pseudo-encodings carry state or signals rather than pixels.
    pub fn is_pseudo(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "unknown encoding {} (0x{:08x})", self.0, self.0 as u32),
        }
    }
}

impl fmt::Debug for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A rectangle on the screen, in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Rect {
        Rect { x, y, w, h }
    }

    pub fn area(self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    pub fn is_empty(self) -> bool {
        self.w == 0 || self.h == 0
    }

    pub fn right(self) -> u32 {
        u32::from(self.x) + u32::from(self.w)
    }

    pub fn bottom(self) -> u32 {
        u32::from(self.y) + u32::from(self.h)
    }

    /// Whether the rectangle lies within a `width` x `height` screen.
    pub fn fits(self, width: u32, height: u32) -> bool {
        self.right() <= width && self.bottom() <= height
    }
}

impl fmt::Display for Rect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}+{}+{}", self.w, self.h, self.x, self.y)
    }
}

/// Server-to-client message types (RFC 6143 section 7.6).
pub mod message {
    pub const FRAMEBUFFER_UPDATE: u8 = 0;
    pub const SET_COLOUR_MAP_ENTRIES: u8 = 1;
    pub const BELL: u8 = 2;
    pub const SERVER_CUT_TEXT: u8 = 3;

    pub fn name(kind: u8) -> &'static str {
        match kind {
            FRAMEBUFFER_UPDATE => "FramebufferUpdate",
            SET_COLOUR_MAP_ENTRIES => "SetColorMapEntries",
            BELL => "Bell",
            SERVER_CUT_TEXT => "ServerCutText",
            _ => "unknown",
        }
    }
}
