//! What can go wrong between rfbplay and a VNC server, in words a user can
//! act on. Every variant names the target, and the handshake stage where it
//! matters, because a recorder may talk to several servers at once.

use super::target::Target;
use std::fmt;
use std::io;

/// A stage of the connection, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Connect,
    ProtocolVersion,
    Security,
    Authentication,
    SecurityResult,
    ServerInit,
    /// After the handshake: normal message traffic.
    Session,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connecting",
            Stage::ProtocolVersion => "the protocol version exchange",
            Stage::Security => "the security type exchange",
            Stage::Authentication => "authentication",
            Stage::SecurityResult => "the security result",
            Stage::ServerInit => "ServerInit",
            Stage::Session => "the session",
        })
    }
}

/// Security types are wire vocabulary; they live in [`crate::wire`].
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

/// Why a connection could not be made or kept.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{target}: cannot resolve the host name: {source}")]
    Resolve { target: Target, source: io::Error },
    #[error("{target}: connection refused (is a VNC server listening on port {}?)", target.port)]
    Refused { target: Target, source: io::Error },
    #[error("{target}: cannot connect: {source}")]
    Connect { target: Target, source: io::Error },
    #[error("{target}: the server stopped answering during {stage} (no data for {secs:.1} s)")]
    Timeout {
        target: Target,
        stage: Stage,
        secs: f64,
    },
    #[error("{target}: the server closed the connection during {stage}")]
    Closed { target: Target, stage: Stage },
    #[error("{target}: network error during {stage}: {source}")]
    Io {
        target: Target,
        stage: Stage,
        source: io::Error,
    },
    #[error("{target}: not a VNC server, or an unsupported RFB version: it sent {got:?}")]
    BadVersion { target: Target, got: String },
    #[error("{target}: the server refused the connection: {reason}")]
    ServerRefused { target: Target, reason: String },
    #[error("{target}: no supported security type; the server offers {}; rfbplay speaks None (1) and VNC Authentication (2)", List(.offered))]
    UnsupportedSecurity {
        target: Target,
        offered: Vec<SecurityType>,
    },
    #[error(
        "{target}: the server asks for a VNC password; set VNC_PASSWORD or use --password-file"
    )]
    PasswordNeeded { target: Target },
    #[error("{target}: authentication failed{}", match .reason { Some(r) => format!(": {r}"), None => " (wrong password?)".to_string() })]
    AuthFailed {
        target: Target,
        reason: Option<String>,
    },
    #[error("{target}: malformed {stage}: {what}")]
    Malformed {
        target: Target,
        stage: Stage,
        what: String,
    },
}

impl ClientError {
    /// The server this error is about.
    pub fn target(&self) -> &Target {
        match self {
            ClientError::Resolve { target, .. }
            | ClientError::Refused { target, .. }
            | ClientError::Connect { target, .. }
            | ClientError::Timeout { target, .. }
            | ClientError::Closed { target, .. }
            | ClientError::Io { target, .. }
            | ClientError::BadVersion { target, .. }
            | ClientError::ServerRefused { target, .. }
            | ClientError::UnsupportedSecurity { target, .. }
            | ClientError::PasswordNeeded { target }
            | ClientError::AuthFailed { target, .. }
            | ClientError::Malformed { target, .. } => target,
        }
    }

    /// Whether trying again later may help (the server may come back), as
    /// opposed to a configuration problem (wrong password, no common
    /// security type) that retrying will not fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Resolve { .. }
                | ClientError::Refused { .. }
                | ClientError::Connect { .. }
                | ClientError::Timeout { .. }
                | ClientError::Closed { .. }
                | ClientError::Io { .. }
        )
    }
}

/// Whether an I/O error is a read or write timeout (the OS reports either
/// kind, depending on the platform).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Classifies an I/O error on an established session: a timeout (with the
/// socket's timeout in seconds), the server closing, or another failure.
pub fn session_io_error(
    target: &Target,
    e: io::Error,
    timeout: Option<std::time::Duration>,
) -> ClientError {
    let target = target.clone();
    if is_timeout(&e) {
        let secs = timeout.map_or(0.0, |d| d.as_secs_f64());
        ClientError::Timeout {
            target,
            stage: Stage::Session,
            secs,
        }
    } else if matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    ) {
        ClientError::Closed {
            target,
            stage: Stage::Session,
        }
    } else {
        ClientError::Io {
            target,
            stage: Stage::Session,
            source: e,
        }
    }
}
