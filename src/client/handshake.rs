//! The RFB handshake, client side (RFC 6143 sections 7.1 and 7.3):
//! ProtocolVersion, security (None or VNC Authentication), ClientInit and
//! ServerInit, for servers speaking 3.3, 3.7 or 3.8.
//!
//! [`ClientHandshake`] is the whole exchange with no I/O: it is fed the
//! server's bytes, parses them with the shared parsers of
//! [`rfb::handshake`](crate::rfb::handshake), and says what to send and how
//! many more bytes it needs. [`handshake`] drives it over any blocking
//! `Read + Write` (the socket, or a scripted server in the tests), reading
//! exactly what is needed so nothing after ServerInit is taken, and turns
//! failures into [`ClientError`]s that name the target and the stage.

use super::auth;
use super::error::{is_timeout, ClientError, SecurityType, Stage};
use super::target::Target;
use crate::container::ServerInit;
pub use crate::rfb::handshake::Version;
use crate::rfb::handshake::{self as wire, HandshakeError, Parsed, SecurityOffer};
use std::io::{self, Read, Write};
use std::time::Duration;

pub use crate::rfb::handshake::MAX_TEXT;

/// What the handshake settled.
#[derive(Clone, Debug)]
pub struct Handshake {
    pub version: Version,
    pub security: SecurityType,
    pub server_init: ServerInit,
}

/// Where the handshake is: the server message it waits for.
#[derive(Clone, Debug)]
enum State {
    ProtocolVersion,
    Security(Version),
    Challenge(Version),
    SecurityResult(Version, SecurityType),
    ServerInit(Version, SecurityType),
    Done(Handshake),
}

/// The client side of the handshake as a state machine: feed it the
/// server's bytes ([`feed`](Self::feed)), send what
/// [`take_output`](Self::take_output) gives, until [`done`](Self::done).
/// Printable, and it never holds more than one message (at most
/// [`MAX_TEXT`] and a few bytes).
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    state: State,
    password: Option<Vec<u8>>,
    shared: bool,
    max: Version,
    /// The current message's bytes so far.
    held: Vec<u8>,
    /// The current message's length, as far as it is known.
    need: usize,
    out: Vec<u8>,
}

impl ClientHandshake {
    /// Speaks at most `max`; `password` for VNC Authentication; `shared`
    /// is ClientInit's flag (leave other viewers connected).
    pub fn new(password: Option<&[u8]>, shared: bool, max: Version) -> ClientHandshake {
        ClientHandshake {
            state: State::ProtocolVersion,
            password: password.map(<[u8]>::to_vec),
            shared,
            max,
            held: Vec::new(),
            need: 12,
            out: Vec::new(),
        }
    }

    /// The stage in progress, for error messages.
    pub fn stage(&self) -> Stage {
        match self.state {
            State::ProtocolVersion => Stage::ProtocolVersion,
            State::Security(_) => Stage::Security,
            State::Challenge(_) => Stage::Authentication,
            State::SecurityResult(..) => Stage::SecurityResult,
            State::ServerInit(..) | State::Done(_) => Stage::ServerInit,
        }
    }

    /// How many more server bytes the current message needs at least (0
    /// once done). Reading exactly this many never reads past ServerInit.
    pub fn wants(&self) -> usize {
        match self.state {
            State::Done(_) => 0,
            _ => self.need.saturating_sub(self.held.len()),
        }
    }

    /// Bytes to send to the server now.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// What the handshake settled, once ServerInit has come.
    pub fn done(&self) -> Option<&Handshake> {
        match &self.state {
            State::Done(h) => Some(h),
            _ => None,
        }
    }

    /// Takes server bytes, up to the end of ServerInit; returns how many
    /// it used (the rest is the session's). Input may be split anywhere.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, HandshakeError> {
        let mut used = 0;
        while !matches!(self.state, State::Done(_)) {
            let take = self.wants().min(input.len() - used);
            self.held.extend_from_slice(&input[used..used + take]);
            used += take;
            if self.held.len() < self.need {
                break;
            }
            self.step()?;
        }
        Ok(used)
    }

    /// Parses the held message; on success moves on and queues replies.
    fn step(&mut self) -> Result<(), HandshakeError> {
        let held = std::mem::take(&mut self.held);
        let next = match self.state.clone() {
            State::ProtocolVersion => match wire::protocol_version(&held)? {
                Parsed::Need(n) => return self.wait(held, n),
                Parsed::Done(server, _) => {
                    let version = server.min(self.max);
                    self.out.extend_from_slice(version.wire());
                    State::Security(version)
                }
            },
            State::Security(version) => match wire::security_offer(version, &held)? {
                Parsed::Need(n) => return self.wait(held, n),
                Parsed::Done(offer, _) => self.security(version, offer)?,
            },
            State::Challenge(version) => match wire::challenge(&held)? {
                Parsed::Need(n) => return self.wait(held, n),
                Parsed::Done(challenge, _) => {
                    let password = self.password.as_deref().unwrap_or_default();
                    self.out
                        .extend_from_slice(&auth::respond(&challenge, password));
                    State::SecurityResult(version, SecurityType::VNC_AUTH)
                }
            },
            State::SecurityResult(version, security) => {
                match wire::security_result(version, &held)? {
                    Parsed::Need(n) => return self.wait(held, n),
                    Parsed::Done((), _) => self.client_init(version, security),
                }
            }
            State::ServerInit(version, security) => match wire::server_init(&held, MAX_TEXT)? {
                Parsed::Need(n) => return self.wait(held, n),
                Parsed::Done(server_init, _) => State::Done(Handshake {
                    version,
                    security,
                    server_init,
                }),
            },
            State::Done(h) => State::Done(h),
        };
        self.state = next;
        self.need = match self.state {
            State::ProtocolVersion => 12,
            State::Security(Version::V3_3) => 4,
            State::Security(_) => 1,
            State::Challenge(_) => wire::CHALLENGE_LEN,
            State::SecurityResult(..) => 4,
            State::ServerInit(..) => wire::SERVER_INIT_HEAD,
            State::Done(_) => 0,
        };
        Ok(())
    }

    /// The message is longer than held: keep it and wait for `n` bytes.
    fn wait(&mut self, held: Vec<u8>, n: usize) -> Result<(), HandshakeError> {
        self.held = held;
        self.need = n;
        Ok(())
    }

    /// RFC 6143 section 7.1.2: take the server's choice (3.3) or choose.
    fn security(
        &mut self,
        version: Version,
        offer: SecurityOffer,
    ) -> Result<State, HandshakeError> {
        let security = match offer {
            SecurityOffer::Chosen(t @ (1 | 2)) => SecurityType(t as u8),
            SecurityOffer::Chosen(t) => {
                return Err(HandshakeError::NoCommonSecurity {
                    offered: vec![SecurityType(t.min(255) as u8)],
                })
            }
            SecurityOffer::Offered(offered) => {
                let chosen = choose(&offered, self.password.is_some())
                    .ok_or(HandshakeError::NoCommonSecurity { offered })?;
                self.out.push(chosen.0);
                chosen
            }
        };
        if security == SecurityType::VNC_AUTH {
            if self.password.is_none() {
                return Err(HandshakeError::PasswordNeeded);
            }
            return Ok(State::Challenge(version));
        }
        // 3.8 sends SecurityResult even for None (7.1.3).
        Ok(if version == Version::V3_8 {
            State::SecurityResult(version, security)
        } else {
            self.client_init(version, security)
        })
    }

    /// ClientInit (7.3.1), then wait for ServerInit.
    fn client_init(&mut self, version: Version, security: SecurityType) -> State {
        self.out.push(u8::from(self.shared));
        State::ServerInit(version, security)
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
    let mut hs = ClientHandshake::new(password, shared, max);
    let mut buf = Vec::new();
    loop {
        let out = hs.take_output();
        if !out.is_empty() {
            stream
                .write_all(&out)
                .and_then(|()| stream.flush())
                .map_err(|e| io_error(target, hs.stage(), timeout, e))?;
        }
        if let Some(h) = hs.done() {
            return Ok(h.clone());
        }
        buf.resize(hs.wants(), 0);
        stream
            .read_exact(&mut buf)
            .map_err(|e| io_error(target, hs.stage(), timeout, e))?;
        let stage = hs.stage();
        hs.feed(&buf)
            .map_err(|e| handshake_error(target, stage, e))?;
    }
}

/// An I/O failure during `stage`.
fn io_error(target: &Target, stage: Stage, timeout: Duration, e: io::Error) -> ClientError {
    let target = target.clone();
    if is_timeout(&e) {
        ClientError::Timeout {
            target,
            stage,
            secs: timeout.as_secs_f64(),
        }
    } else if matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    ) {
        ClientError::Closed { target, stage }
    } else {
        ClientError::Io {
            target,
            stage,
            source: e,
        }
    }
}

/// What the server said, as the client's error for `target`.
fn handshake_error(target: &Target, stage: Stage, e: HandshakeError) -> ClientError {
    let target = target.clone();
    match e {
        HandshakeError::BadVersion { got } => ClientError::BadVersion { target, got },
        HandshakeError::Refused { reason } => ClientError::ServerRefused { target, reason },
        HandshakeError::NoCommonSecurity { offered } => {
            ClientError::UnsupportedSecurity { target, offered }
        }
        HandshakeError::PasswordNeeded => ClientError::PasswordNeeded { target },
        HandshakeError::AuthFailed { reason } => ClientError::AuthFailed { target, reason },
        e @ HandshakeError::TooLong { .. } => ClientError::Malformed {
            target,
            stage,
            source: e,
        },
    }
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
