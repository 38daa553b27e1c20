//! The RFB handshake, client side (RFC 6143 sections 7.1 and 7.3):
//! ProtocolVersion, security (None or VNC Authentication), ClientInit and
//! ServerInit, for servers speaking 3.3, 3.7 or 3.8.
//!
//! It runs over any blocking `Read + Write`, so the unit tests can drive it
//! against a scripted server; I/O failures are turned into
//! [`ClientError`]s that name the target and the stage.

use super::auth;
use super::error::{is_timeout, ClientError, SecurityType, Stage};
use super::target::Target;
use crate::container::ServerInit;
use crate::rfb::PixelFormat;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::Duration;

/// Reason strings and desktop names longer than this are refused before
/// allocating: real ones are a line of text.
pub const MAX_TEXT: u32 = 64 * 1024;

/// The protocol version agreed with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V3_3,
    V3_7,
    V3_8,
}

impl Version {
    /// What the client answers to a server's `RFB xxx.yyy\n` (RFC 6143
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

/// What the handshake settled.
#[derive(Clone, Debug)]
pub struct Handshake {
    pub version: Version,
    pub security: SecurityType,
    pub server_init: ServerInit,
}

/// Blocking I/O with errors mapped to the stage in progress.
struct Io<'a, S> {
    s: &'a mut S,
    target: &'a Target,
    stage: Stage,
    timeout: Duration,
}

impl<S: Read + Write> Io<'_, S> {
    fn err(&self, e: io::Error) -> ClientError {
        let (target, stage) = (self.target.clone(), self.stage);
        if is_timeout(&e) {
            ClientError::Timeout {
                target,
                stage,
                secs: self.timeout.as_secs_f64(),
            }
        } else if e.kind() == io::ErrorKind::UnexpectedEof
            || e.kind() == io::ErrorKind::ConnectionReset
        {
            ClientError::Closed { target, stage }
        } else {
            ClientError::Io {
                target,
                stage,
                source: e,
            }
        }
    }

    fn read<const N: usize>(&mut self) -> Result<[u8; N], ClientError> {
        let mut b = [0u8; N];
        self.s.read_exact(&mut b).map_err(|e| self.err(e))?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, ClientError> {
        Ok(u32::from_be_bytes(self.read()?))
    }

    /// A u32-length-prefixed string (reason strings, the desktop name).
    fn text(&mut self, what: &str) -> Result<String, ClientError> {
        let len = self.u32()?;
        if len > MAX_TEXT {
            return Err(ClientError::Malformed {
                target: self.target.clone(),
                stage: self.stage,
                what: format!("{what} of {len} bytes is over the limit of {MAX_TEXT}"),
            });
        }
        let mut b = vec![0u8; len as usize];
        self.s.read_exact(&mut b).map_err(|e| self.err(e))?;
        Ok(String::from_utf8_lossy(&b).trim_end().to_string())
    }

    fn write(&mut self, b: &[u8]) -> Result<(), ClientError> {
        self.s.write_all(b).map_err(|e| self.err(e))?;
        self.s.flush().map_err(|e| self.err(e))
    }
}

/// Runs the handshake on a connected stream, speaking at most `max`.
/// `timeout` is only used in messages; the caller sets it on the socket.
pub fn handshake<S: Read + Write>(
    stream: &mut S,
    target: &Target,
    password: Option<&[u8]>,
    shared: bool,
    timeout: Duration,
    max: Version,
) -> Result<Handshake, ClientError> {
    let mut io = Io {
        s: stream,
        target,
        stage: Stage::ProtocolVersion,
        timeout,
    };
    let server_version: [u8; 12] = io.read()?;
    let version = Version::negotiate(&server_version).ok_or_else(|| ClientError::BadVersion {
        target: target.clone(),
        got: String::from_utf8_lossy(&server_version).into_owned(),
    })?;
    let version = version.min(max);
    io.write(version.wire())?;

    io.stage = Stage::Security;
    let security = if version == Version::V3_3 {
        // RFC 6143 section 7.1.2 (3.3): the server picks, as a u32.
        let t = io.u32()?;
        match t {
            0 => {
                let reason = io.text("reason string")?;
                return Err(ClientError::ServerRefused {
                    target: target.clone(),
                    reason,
                });
            }
            1 | 2 => SecurityType(t as u8),
            _ => {
                return Err(ClientError::UnsupportedSecurity {
                    target: target.clone(),
                    offered: vec![SecurityType(t.min(255) as u8)],
                })
            }
        }
    } else {
        // RFC 6143 section 7.1.2: a count, then the types; zero means
        // failure with a reason string.
        let [count] = io.read()?;
        if count == 0 {
            let reason = io.text("reason string")?;
            return Err(ClientError::ServerRefused {
                target: target.clone(),
                reason,
            });
        }
        let mut offered = vec![0u8; usize::from(count)];
        io.s.read_exact(&mut offered).map_err(|e| io.err(e))?;
        let offered: Vec<SecurityType> = offered.into_iter().map(SecurityType).collect();
        let chosen = choose(&offered, password.is_some()).ok_or_else(|| {
            ClientError::UnsupportedSecurity {
                target: target.clone(),
                offered: offered.clone(),
            }
        })?;
        io.write(&[chosen.0])?;
        chosen
    };

    if security == SecurityType::VNC_AUTH {
        io.stage = Stage::Authentication;
        let password = password.ok_or_else(|| ClientError::PasswordNeeded {
            target: target.clone(),
        })?;
        let challenge: [u8; auth::CHALLENGE_LEN] = io.read()?;
        io.write(&auth::respond(&challenge, password))?;
    }

    // RFC 6143 section 7.1.3: 3.8 sends SecurityResult even for None;
    // 3.3 and 3.7 only after authentication.
    if security == SecurityType::VNC_AUTH || version == Version::V3_8 {
        io.stage = Stage::SecurityResult;
        match io.u32()? {
            0 => {}
            _ => {
                let reason = if version == Version::V3_8 {
                    Some(io.text("reason string")?)
                } else {
                    None
                };
                return Err(ClientError::AuthFailed {
                    target: target.clone(),
                    reason,
                });
            }
        }
    }

    // RFC 6143 sections 7.3.1 and 7.3.2.
    io.stage = Stage::ServerInit;
    io.write(&[u8::from(shared)])?;
    let head: [u8; 20] = io.read()?;
    let width = u32::from(u16::from_be_bytes([head[0], head[1]]));
    let height = u32::from(u16::from_be_bytes([head[2], head[3]]));
    let mut pf = [0u8; 16];
    pf.copy_from_slice(&head[4..20]);
    let pixel_format = PixelFormat::from_wire(&pf);
    let name = io.text("desktop name")?;
    Ok(Handshake {
        version,
        security,
        server_init: ServerInit {
            width,
            height,
            pixel_format: Some(pixel_format),
            name,
        },
    })
}

/// None when no password was given (a server that offers both lets us in
/// without one), VNC Authentication otherwise.
fn choose(offered: &[SecurityType], have_password: bool) -> Option<SecurityType> {
    let none = offered.contains(&SecurityType::NONE);
    let vnc = offered.contains(&SecurityType::VNC_AUTH);
    match (none, vnc) {
        (_, true) if have_password => Some(SecurityType::VNC_AUTH),
        (true, _) => Some(SecurityType::NONE),
        // Choosing it lets the handshake report PasswordNeeded clearly.
        (false, true) => Some(SecurityType::VNC_AUTH),
        (false, false) => None,
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
