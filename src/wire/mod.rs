//! RFB wire vocabulary: the numbers and small structures every stage of
//! rfbplay speaks (encodings, message types, security types, rectangles,
//! pixel formats). It sits at the bottom of the crate and imports nothing
//! of it, so the parser, decoders, client, recorder and exporters can all
//! use it without importing each other.
//!
//! Numbers from the wire are newtypes made by [`wire_enum!`]: unknown values
//! survive intact, and every value prints as "Name (n)" or "unknown (n)"
//! (RFC 6143 section 7; rfbproto "Encodings").

#[macro_use]
mod macros;
pub mod pixel;

pub use pixel::{ColourMap, PixelFormat};

use std::fmt;

wire_enum! {
    /// An RFB encoding number, known or not (RFC 6143 7.7, 7.8; rfbproto).
    pub struct Encoding(i32) {
        RAW = 0 => "Raw",
        COPY_RECT = 1 => "CopyRect",
        RRE = 2 => "RRE",
        CORRE = 4 => "CoRRE",
        HEXTILE = 5 => "Hextile",
        ZLIB = 6 => "Zlib",
        TIGHT = 7 => "Tight",
        ZLIBHEX = 8 => "ZlibHex",
        ZRLE = 16 => "ZRLE",
        DESKTOP_SIZE = -223 => "DesktopSize",
        LAST_RECT = -224 => "LastRect",
        POINTER_POS = -232 => "PointerPos",
        CURSOR = -239 => "Cursor",
        X_CURSOR = -240 => "XCursor",
        DESKTOP_NAME = -307 => "DesktopName",
        EXTENDED_DESKTOP_SIZE = -308 => "ExtendedDesktopSize",
    }
    // rfbproto: ranges of pseudo-encodings that carry a level.
    else |n| match n {
        -32..=-23 => Some("JPEGQualityLevel"),
        -256..=-247 => Some("CompressionLevel"),
        _ => None,
    }
}

impl Encoding {
    /// Pseudo-encodings carry state or signals rather than pixels.
    pub fn is_pseudo(self) -> bool {
        self.0 < 0
    }
}

wire_enum! {
    /// Server-to-client message types (RFC 6143 7.6; rfbproto).
    pub struct ServerMessage(u8) {
        FRAMEBUFFER_UPDATE = 0 => "FramebufferUpdate",
        SET_COLOUR_MAP_ENTRIES = 1 => "SetColorMapEntries",
        BELL = 2 => "Bell",
        SERVER_CUT_TEXT = 3 => "ServerCutText",
        END_OF_CONTINUOUS_UPDATES = 150 => "EndOfContinuousUpdates",
        SERVER_FENCE = 248 => "ServerFence",
        XVP = 250 => "xvp",
    }
}

wire_enum! {
    /// Client-to-server message types (RFC 6143 7.5; rfbproto).
    pub struct ClientMessage(u8) {
        SET_PIXEL_FORMAT = 0 => "SetPixelFormat",
        SET_ENCODINGS = 2 => "SetEncodings",
        FRAMEBUFFER_UPDATE_REQUEST = 3 => "FramebufferUpdateRequest",
        KEY_EVENT = 4 => "KeyEvent",
        POINTER_EVENT = 5 => "PointerEvent",
        CLIENT_CUT_TEXT = 6 => "ClientCutText",
        ENABLE_CONTINUOUS_UPDATES = 150 => "EnableContinuousUpdates",
        CLIENT_FENCE = 248 => "ClientFence",
        XVP = 250 => "xvp",
        SET_DESKTOP_SIZE = 251 => "SetDesktopSize",
    }
}

wire_enum! {
    /// Security types (RFC 6143 7.2; rfbproto "Security Types").
    pub struct SecurityType(u8) {
        INVALID = 0 => "Invalid",
        NONE = 1 => "None",
        VNC_AUTH = 2 => "VNC Authentication",
        RA2 = 5 => "RA2",
        RA2NE = 6 => "RA2ne",
        TIGHT = 16 => "Tight",
        ULTRA = 17 => "Ultra",
        TLS = 18 => "TLS",
        VENCRYPT = 19 => "VeNCrypt",
        SASL = 20 => "SASL",
        MD5 = 21 => "MD5 hash",
        XVP = 22 => "xvp",
        APPLE_REMOTE_DESKTOP = 30 => "Apple Remote Desktop",
        MS_LOGON_II = 113 => "MSLogonII",
        UNIX_LOGIN = 129 => "Unix Login",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_numbers_print_with_their_name_or_as_unknown() {
        assert_eq!(Encoding::TIGHT.to_string(), "Tight (7)");
        assert_eq!(Encoding(-25).to_string(), "JPEGQualityLevel (-25)");
        assert_eq!(format!("{:?}", Encoding(99)), "unknown (99)");
        assert_eq!(ServerMessage(248).to_string(), "ServerFence (248)");
        assert_eq!(ClientMessage::KEY_EVENT.0, 4);
        assert_eq!(SecurityType(2).to_string(), "VNC Authentication (2)");
        assert_eq!(SecurityType(7).to_string(), "unknown (7)");
    }

    #[test]
    fn every_named_value_has_its_index() {
        for (i, e) in Encoding::ALL.iter().enumerate() {
            assert_eq!(e.index(), Some(i));
        }
        assert_eq!(Encoding(99).index(), None);
        assert_eq!(Encoding(-25).index(), None);
    }
}
