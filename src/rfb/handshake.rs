//! The RFB handshake's server messages (RFC 6143 sections 7.1 to 7.3):
//! ProtocolVersion, the security types or the 3.3 security choice, the VNC
//! Authentication challenge, SecurityResult and ServerInit, parsed from
//! bytes with no I/O, and the vocabulary they carry ([`Version`],
//! [`SecurityType`], [`ServerInit`]).
//!
//! Every parser answers [`Parsed::Need`] with the total length the message
//! needs when it has too few bytes (a normal answer, not an error), and
//! checks every length it reads against [`MAX_TEXT`] before asking for or
//! keeping more: a hostile peer cannot make anyone buffer more than that.
//! The live client ([`crate::client::handshake`]), the FBS reader and the
//! keyboard/mouse proxy, which each see the handshake differently, share
//! these parsers so that they agree on what a handshake is.

use super::PixelFormat;
use std::fmt;

/// Reason strings and desktop names longer than this are refused before
/// allocating: real ones are a line of text.
pub const MAX_TEXT: u32 = 64 * 1024;

/// ServerInit's fixed part: size, pixel format, name length.
pub const SERVER_INIT_HEAD: usize = 24;

/// Length of the VNC Authentication challenge (RFC 6143 section 7.2.2).
pub const CHALLENGE_LEN: usize = 16;

/// What a parser made of the bytes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The message needs at least this many bytes in all (more than given).
    Need(usize),
    /// The message, and how many bytes it took.
    Done(T, usize),
}

/// A server handshake message that breaks the protocol or refuses us.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("not a VNC server, or an unsupported RFB version: it sent {got:?}")]
    BadVersion { got: String },
    #[error("the server refused the connection: {reason}")]
    Refused { reason: String },
    #[error("no supported security type; the server offers {}; rfbplay speaks None (1) and VNC Authentication (2)", List(.offered))]
    NoCommonSecurity { offered: Vec<SecurityType> },
    #[error("the server asks for a VNC password; set VNC_PASSWORD or use --password-file")]
    PasswordNeeded,
    #[error("authentication failed{}", match .reason { Some(r) => format!(": {r}"), None => " (wrong password?)".to_string() })]
    AuthFailed { reason: Option<String> },
    #[error("{what} of {len} bytes is over the limit of {max}")]
    TooLong {
        what: &'static str,
        len: u32,
        max: u32,
    },
}

/// A protocol version rfbplay speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V3_3,
    V3_7,
    V3_8,
}

impl Version {
    /// What a client answers to a server's `RFB xxx.yyy\n` (RFC 6143
    /// section 7.1.1): the highest version both speak. Minor versions
    /// other than 3.7 and 3.8+ are read as 3.3, as the RFC asks (this
    /// covers 3.4/3.6 from UltraVNC and 3.889 from Apple, which is >= 8).
    pub fn negotiate(server: &[u8; 12]) -> Option<Version> {
        if &server[..4] != b"RFB " || server[7] != b'.' || server[11] != b'\n' {
            return None;
        }
        let num = |b: &[u8]| -> Option<u32> {
            b.iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        let major = num(&server[4..7])?;
        let minor = num(&server[8..11])?;
        match (major, minor) {
            (3, 8..) => Some(Version::V3_8),
            (3, 7) => Some(Version::V3_7),
            (3, 3..=6) => Some(Version::V3_3),
            // RealVNC 4+ and others may say 4.x or 5.x but speak 3.8.
            (4..=9, _) => Some(Version::V3_8),
            _ => None,
        }
    }

    pub fn wire(self) -> &'static [u8; 12] {
        match self {
            Version::V3_3 => b"RFB 003.003\n",
            Version::V3_7 => b"RFB 003.007\n",
            Version::V3_8 => b"RFB 003.008\n",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V3_3 => "3.3",
            Version::V3_7 => "3.7",
            Version::V3_8 => "3.8",
        })
    }
}

/// Security types are wire vocabulary: they live in [`crate::wire`].
pub use crate::wire::SecurityType;

struct List<'a>(&'a [SecurityType]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// Screen size, pixel format and desktop name (RFC 6143 section 7.3.2),
/// or what a container knows of them (a `.fb` file knows none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInit {
    pub width: u32,
    pub height: u32,
    pub pixel_format: Option<PixelFormat>,
    pub name: String,
}

/// The server's side of the security negotiation (RFC 6143 section 7.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityOffer {
    /// RFB 3.3: the server chose, as a u32 (0 is a refusal, returned as
    /// [`HandshakeError::Refused`]).
    Chosen(u32),
    /// RFB 3.7 and later: the types the client may pick from.
    Offered(Vec<SecurityType>),
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A u32-length-prefixed string (reason strings, the desktop name), its
/// length checked against `max` before anything is kept.
pub fn text(b: &[u8], what: &'static str, max: u32) -> Result<Parsed<String>, HandshakeError> {
    if b.len() < 4 {
        return Ok(Parsed::Need(4));
    }
    let len = be32(b);
    if len > max {
        return Err(HandshakeError::TooLong { what, len, max });
    }
    let end = 4 + len as usize;
    if b.len() < end {
        return Ok(Parsed::Need(end));
    }
    let s = String::from_utf8_lossy(&b[4..end]).trim_end().to_string();
    Ok(Parsed::Done(s, end))
}

/// ProtocolVersion (7.1.1): the version a client speaking up to 3.8
/// agrees on with this server.
pub fn protocol_version(b: &[u8]) -> Result<Parsed<Version>, HandshakeError> {
    let Some(v) = b.first_chunk::<12>() else {
        return Ok(Parsed::Need(12));
    };
    match Version::negotiate(v) {
        Some(version) => Ok(Parsed::Done(version, 12)),
        None => Err(HandshakeError::BadVersion {
            got: String::from_utf8_lossy(v).into_owned(),
        }),
    }
}

/// The security types (7.1.2), or the 3.3 server's choice; a server that
/// refuses says why in a reason string, returned as the error.
pub fn security_offer(version: Version, b: &[u8]) -> Result<Parsed<SecurityOffer>, HandshakeError> {
    let (refused, head) = if version == Version::V3_3 {
        if b.len() < 4 {
            return Ok(Parsed::Need(4));
        }
        let t = be32(b);
        if t != 0 {
            return Ok(Parsed::Done(SecurityOffer::Chosen(t), 4));
        }
        (true, 4)
    } else {
        let Some(&count) = b.first() else {
            return Ok(Parsed::Need(1));
        };
        let end = 1 + usize::from(count);
        if count > 0 && b.len() < end {
            return Ok(Parsed::Need(end));
        }
        if count > 0 {
            let types = b[1..end].iter().copied().map(SecurityType).collect();
            return Ok(Parsed::Done(SecurityOffer::Offered(types), end));
        }
        (true, 1)
    };
    debug_assert!(refused);
    match text(&b[head..], "reason string", MAX_TEXT)? {
        Parsed::Need(n) => Ok(Parsed::Need(head + n)),
        Parsed::Done(reason, _) => Err(HandshakeError::Refused { reason }),
    }
}

/// Whether the server's security message so far is a refusal (type 0,
/// or no types), whose reason may still be to come: a reader with no more
/// bytes to wait for can say so without the reason.
pub fn is_refusal(version: Version, b: &[u8]) -> bool {
    match version {
        Version::V3_3 => b.len() >= 4 && be32(b) == 0,
        _ => b.first() == Some(&0),
    }
}

/// VNC Authentication's challenge (7.2.2).
pub fn challenge(b: &[u8]) -> Result<Parsed<[u8; CHALLENGE_LEN]>, HandshakeError> {
    match b.first_chunk::<CHALLENGE_LEN>() {
        Some(c) => Ok(Parsed::Done(*c, CHALLENGE_LEN)),
        None => Ok(Parsed::Need(CHALLENGE_LEN)),
    }
}

/// SecurityResult (7.1.3): success, or a failure with its reason (3.8
/// sends one; 3.3 and 3.7 do not).
pub fn security_result(version: Version, b: &[u8]) -> Result<Parsed<()>, HandshakeError> {
    if b.len() < 4 {
        return Ok(Parsed::Need(4));
    }
    if be32(b) == 0 {
        return Ok(Parsed::Done((), 4));
    }
    if version < Version::V3_8 {
        return Err(HandshakeError::AuthFailed { reason: None });
    }
    match text(&b[4..], "reason string", MAX_TEXT)? {
        Parsed::Need(n) => Ok(Parsed::Need(4 + n)),
        Parsed::Done(reason, _) => Err(HandshakeError::AuthFailed {
            reason: Some(reason),
        }),
    }
}

/// ServerInit (7.3.2), its desktop name at most `max_name` bytes.
pub fn server_init(b: &[u8], max_name: u32) -> Result<Parsed<ServerInit>, HandshakeError> {
    let Some(head) = b.first_chunk::<SERVER_INIT_HEAD>() else {
        return Ok(Parsed::Need(SERVER_INIT_HEAD));
    };
    let (name, used) = match text(&b[20..], "desktop name", max_name)? {
        Parsed::Need(n) => return Ok(Parsed::Need(20 + n)),
        Parsed::Done(name, n) => (name, 20 + n),
    };
    let mut pf = [0u8; 16];
    pf.copy_from_slice(&head[4..20]);
    Ok(Parsed::Done(
        ServerInit {
            width: u32::from(u16::from_be_bytes([head[0], head[1]])),
            height: u32::from(u16::from_be_bytes([head[2], head[3]])),
            pixel_format: Some(PixelFormat::from_wire(&pf)),
            name,
        },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init_bytes(name: &[u8]) -> Vec<u8> {
        let mut v = vec![3, 0, 2, 0];
        v.extend_from_slice(&PixelFormat::BGRX.to_wire());
        v.extend_from_slice(&(name.len() as u32).to_be_bytes());
        v.extend_from_slice(name);
        v
    }

    #[test]
    fn each_prefix_asks_for_the_total_it_needs() {
        let b = init_bytes(b"desk");
        for cut in 0..b.len() {
            match server_init(&b[..cut], MAX_TEXT).unwrap() {
                Parsed::Need(n) => assert!(n > cut && n <= b.len(), "{cut}: {n}"),
                d => panic!("{cut}: {d:?}"),
            }
        }
        let Parsed::Done(si, used) = server_init(&b, MAX_TEXT).unwrap() else {
            panic!()
        };
        assert_eq!(
            (si.width, si.height, si.name.as_str(), used),
            (768, 512, "desk", b.len())
        );
    }

    #[test]
    fn lengths_are_refused_before_they_are_waited_for() {
        let mut b = init_bytes(b"");
        b[20..24].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            server_init(&b, MAX_TEXT),
            Err(HandshakeError::TooLong {
                what: "desktop name",
                len: u32::MAX,
                max: MAX_TEXT
            })
        );
        let refusal = [&[0u8][..], &(MAX_TEXT + 1).to_be_bytes()].concat();
        assert!(matches!(
            security_offer(Version::V3_8, &refusal),
            Err(HandshakeError::TooLong { .. })
        ));
    }

    #[test]
    fn offers_refusals_and_results() {
        assert_eq!(
            security_offer(Version::V3_8, &[2, 1, 2, 9]),
            Ok(Parsed::Done(
                SecurityOffer::Offered(vec![SecurityType::NONE, SecurityType::VNC_AUTH]),
                3
            ))
        );
        assert_eq!(
            security_offer(Version::V3_3, &[0, 0, 0, 2]),
            Ok(Parsed::Done(SecurityOffer::Chosen(2), 4))
        );
        let why = [&[0u8][..], &3u32.to_be_bytes(), b"no!"].concat();
        assert_eq!(
            security_offer(Version::V3_7, &why[..5]),
            Ok(Parsed::Need(8))
        );
        assert_eq!(
            security_offer(Version::V3_7, &why),
            Err(HandshakeError::Refused {
                reason: "no!".into()
            })
        );
        assert_eq!(
            security_result(Version::V3_7, &[0, 0, 0, 1]),
            Err(HandshakeError::AuthFailed { reason: None })
        );
        assert_eq!(
            security_result(Version::V3_8, &[0, 0, 0, 1]),
            Ok(Parsed::Need(8))
        );
        assert_eq!(protocol_version(b"RFB 003.0"), Ok(Parsed::Need(12)));
        assert!(protocol_version(b"SSH-2.0-Open").is_err());
    }
}
