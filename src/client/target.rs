//! Where to connect, written the way VNC users already write it.
//!
//! vncviewer and friends read `host:N` as *display* N, i.e. TCP port
//! 5900 + N, and `host::port` as a port. People also write `host:5901`, so a
//! number of 100 or more after a single colon is taken as a port: no one runs
//! display 100, and 5900 + 5901 would be a surprising place to connect to.
//!
//! | written            | host        | port |
//! |--------------------|-------------|------|
//! | `host`             | host        | 5900 |
//! | `host:1`           | host        | 5901 |
//! | `host:5901`        | host        | 5901 |
//! | `host::5901`       | host        | 5901 |
//! | `host::1`          | host        | 1    |
//! | `:1`               | localhost   | 5901 |
//! | `[::1]:1`          | ::1         | 5901 |
//! | `[::1]::5999`      | ::1         | 5999 |
//! | `fe80::1` (bare v6)| fe80::1     | 5900 |
//!
//! An IPv6 address with a display or port must be in brackets; a bare
//! string with three or more colons is read as an IPv6 address alone.

use std::fmt;
use std::str::FromStr;

/// The first VNC port; display N listens on `BASE_PORT + N`.
pub const BASE_PORT: u16 = 5900;

/// Numbers below this after a single colon are displays, not ports.
const MAX_DISPLAY: u16 = 100;

/// A VNC server address: host name or IP address, and TCP port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
}

/// A target string that does not follow the syntax above.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty VNC target")]
    Empty,
    #[error("VNC target {0:?}: `[` without a closing `]`")]
    Bracket(String),
    #[error("VNC target {target:?}: {what:?} is not a display number or port (0-65535)")]
    BadNumber { target: String, what: String },
    #[error("VNC target {target:?}: display {display} is past the last port (65535)")]
    DisplayTooLarge { target: String, display: u16 },
    #[error("VNC target {0:?}: unexpected text after the address")]
    Trailing(String),
}

impl Target {
    pub fn new(host: impl Into<String>, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    /// Parses the syntax in the module documentation.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        let (host, rest) = if let Some(inner) = s.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| TargetError::Bracket(s.to_string()))?;
            let rest = &inner[close + 1..];
            if !rest.is_empty() && !rest.starts_with(':') {
                return Err(TargetError::Trailing(s.to_string()));
            }
            (&inner[..close], rest)
        } else if s.matches(':').count() >= 3 {
            // A bare IPv6 address: no room for a display without brackets.
            (s, "")
        } else {
            match s.find(':') {
                Some(i) => (&s[..i], &s[i..]),
                None => (s, ""),
            }
        };
        let host = if host.is_empty() { "localhost" } else { host };
        let port = if rest.is_empty() {
            BASE_PORT
        } else if let Some(port) = rest.strip_prefix("::") {
            parse_u16(s, port)?
        } else {
            // `rest` starts with a single ':' here.
            let n = parse_u16(s, &rest[1..])?;
            if n < MAX_DISPLAY {
                BASE_PORT
                    .checked_add(n)
                    .ok_or_else(|| TargetError::DisplayTooLarge {
                        target: s.to_string(),
                        display: n,
                    })?
            } else {
                n
            }
        };
        Ok(Target::new(host, port))
    }

    /// The display number, when the port is one (5900..5999).
    pub fn display(&self) -> Option<u16> {
        self.port
            .checked_sub(BASE_PORT)
            .filter(|&n| n < MAX_DISPLAY)
    }

    /// `host:port` for `ToSocketAddrs`, with IPv6 in brackets.
    pub fn socket_addr_string(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn parse_u16(target: &str, what: &str) -> Result<u16, TargetError> {
    if what.is_empty() || !what.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetError::BadNumber {
            target: target.to_string(),
            what: what.to_string(),
        });
    }
    what.parse().map_err(|_| TargetError::BadNumber {
        target: target.to_string(),
        what: what.to_string(),
    })
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Target, TargetError> {
        Target::parse(s)
    }
}

/// Prints `host::port`, which every VNC tool reads back the same way.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]::{}", self.host, self.port)
        } else {
            write!(f, "{}::{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> (String, u16) {
        let t = Target::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (t.host, t.port)
    }

    #[test]
    fn displays_and_ports() {
        assert_eq!(t("host"), ("host".into(), 5900));
        assert_eq!(t("host:0"), ("host".into(), 5900));
        assert_eq!(t("host:1"), ("host".into(), 5901));
        assert_eq!(t("host:99"), ("host".into(), 5999));
        assert_eq!(t("host:100"), ("host".into(), 100));
        assert_eq!(t("10.0.0.5:5901"), ("10.0.0.5".into(), 5901));
        assert_eq!(t("host::1"), ("host".into(), 1));
        assert_eq!(t("host::5901"), ("host".into(), 5901));
        assert_eq!(t(":2"), ("localhost".into(), 5902));
        assert_eq!(t(" host:3 "), ("host".into(), 5903));
    }

    #[test]
    fn ipv6() {
        assert_eq!(t("[::1]:1"), ("::1".into(), 5901));
        assert_eq!(t("[::1]::1"), ("::1".into(), 1));
        assert_eq!(t("[::1]"), ("::1".into(), 5900));
        assert_eq!(t("[fe80::1]:6000"), ("fe80::1".into(), 6000));
        assert_eq!(t("fe80::1:2"), ("fe80::1:2".into(), 5900));
        // Two colons: the vncviewer reading, empty host and a port.
        assert_eq!(t("::1"), ("localhost".into(), 1));
    }

    #[test]
    fn errors() {
        assert_eq!(Target::parse(""), Err(TargetError::Empty));
        assert!(matches!(
            Target::parse("[::1"),
            Err(TargetError::Bracket(_))
        ));
        assert!(matches!(
            Target::parse("[::1]x"),
            Err(TargetError::Trailing(_))
        ));
        assert!(matches!(
            Target::parse("h:x"),
            Err(TargetError::BadNumber { .. })
        ));
        assert!(matches!(
            Target::parse("h:"),
            Err(TargetError::BadNumber { .. })
        ));
        assert!(matches!(
            Target::parse("h::"),
            Err(TargetError::BadNumber { .. })
        ));
        assert!(matches!(
            Target::parse("h:-1"),
            Err(TargetError::BadNumber { .. })
        ));
        assert!(matches!(
            Target::parse("h::65536"),
            Err(TargetError::BadNumber { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for s in ["h:1", "h::1", "[::1]:7", "[::1]::70", "h:6000"] {
            let a = Target::parse(s).unwrap();
            let b = Target::parse(&a.to_string()).unwrap();
            assert_eq!(a, b, "{s} -> {a}");
        }
        assert_eq!(Target::parse("h:3").unwrap().display(), Some(3));
        assert_eq!(Target::parse("h::6000").unwrap().display(), None);
        assert_eq!(
            Target::parse("[::1]:1").unwrap().socket_addr_string(),
            "[::1]:5901"
        );
    }
}
