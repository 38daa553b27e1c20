//! Recording time: nanoseconds since the start of a recording.
//!
//! Recordings store chunk deltas as integer nanoseconds, so time is kept as an
//! integer to make "update time <= frame time" comparisons exact. Users write
//! times as seconds (`12.5`), Go-style durations (`1m3s`, `250ms`) or `end`.

use std::fmt;
use std::str::FromStr;

/// A point in a recording, in nanoseconds from its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;

    pub fn from_secs_f64(secs: f64) -> Time {
        Time((secs.max(0.0) * 1e9).round() as u64)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The first whole millisecond at or after this time: how the time is
    /// displayed, and so what a user types back for it.
    pub fn ceil_ms(self) -> Time {
        Time(self.0.div_ceil(1_000_000).saturating_mul(1_000_000))
    }

    pub fn saturating_add(self, ns: u64) -> Time {
        Time(self.0.saturating_add(ns))
    }
}

impl fmt::Display for Time {
    /// `83.250s` style, millisecond precision, which is what users read.
    /// Rounded up, so a time displayed for an update, typed back (`frame
    /// --at`), names a moment at or after it: the screen it drew. Every
    /// command shows a moment the same way.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.div_ceil(1_000_000);
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// A time given on the command line: a point, or the end of the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    At(Time),
    End,
}

impl FromStr for TimeSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("end") {
            return Ok(TimeSpec::End);
        }
        parse_duration(s).map(TimeSpec::At)
    }
}

/// Parses `12.5` (seconds), `90` (seconds) or a Go-style duration such as
/// `1m3s`, `1.5s`, `250ms`, `10us`, `10µs`, `100ns`, `1h`.
pub fn parse_duration(s: &str) -> Result<Time, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty time".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Time::from_secs_f64(secs));
        }
        return Err(format!("'{s}' is not a time of zero or more seconds"));
    }
    parse_go_duration(s).map(Time).ok_or_else(|| {
        format!("'{s}' is not a time: use seconds (12.5), a duration (1m3s, 250ms) or 'end'")
    })
}

/// Go's `time.ParseDuration` grammar, unsigned: a sequence of decimal numbers,
/// each with a unit among ns, us, µs, μs, ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Option<u64> {
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return None;
    }
    Some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_go_durations() {
        assert_eq!(parse_duration("12.5").unwrap(), Time(12_500_000_000));
        assert_eq!(parse_duration("1m3s").unwrap(), Time(63_000_000_000));
        assert_eq!(parse_duration("250ms").unwrap(), Time(250_000_000));
        assert_eq!(parse_duration("10µs").unwrap(), Time(10_000));
        assert_eq!(parse_duration("1h").unwrap(), Time(3_600_000_000_000));
        assert_eq!(parse_duration("1.5s").unwrap(), Time(1_500_000_000));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("5x").is_err());
        assert_eq!("end".parse::<TimeSpec>().unwrap(), TimeSpec::End);
    }

    #[test]
    fn displays_milliseconds() {
        assert_eq!(Time(83_250_000_000).to_string(), "83.250s");
        assert_eq!(Time(5_000_000).to_string(), "0.005s");
        // Up, to the screen after the update at that time.
        assert_eq!(Time(11_117_400_000).to_string(), "11.118s");
        assert_eq!(Time(1).to_string(), "0.001s");
        assert_eq!(Time(0).to_string(), "0.000s");
    }
}
