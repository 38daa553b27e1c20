//! Writing .kb text: the inverse of [`super::parse`].
//!
//! Delays are written as integer nanoseconds, as minimega's recorder does;
//! timeouts as Go durations, which minimega's WaitForIt reader expects; keys
//! by their first keysymdef.h name, else `U+XXXX`. Reading the output gives
//! back the same events (the round-trip tests check it).

use super::{Event, Item, Script};
use std::fmt::Write as _;
use std::io::{self, Write};

/// The text of an event, without the delay (what `inject` takes).
pub fn format_event(event: &Event) -> String {
    match event {
        Event::Key { down, keysym } => format!("KeyEvent,{down},{keysym}"),
        Event::Pointer { mask, x, y } => format!("PointerEvent,{mask},{x},{y}"),
        Event::LoadFile { path } => format!("LoadFile,{path}"),
        Event::Wait {
            click,
            timeout_ns,
            image,
        } => {
            let name = if *click { "ClickItEvent" } else { "WaitForIt" };
            // Past 2^53 ns (104 days) the reader's float arithmetic would
            // not give the same number back; integers always do.
            let mut timeout = format_go_duration(*timeout_ns);
            if crate::time::parse_go_duration(&timeout) != Some(*timeout_ns) {
                timeout = timeout_ns.to_string();
            }
            format!("{name},{timeout},{image}")
        }
    }
}

/// One line of a file, without the newline.
pub fn format_item(item: &Item) -> String {
    match item {
        Item::Comment(text) => text.clone(),
        Item::Event { delay_ns, event } => format!("{delay_ns}:{}", format_event(event)),
    }
}

/// Writes a whole script, one line per item.
pub fn write_script(script: &Script, out: &mut dyn Write) -> io::Result<()> {
    for line in &script.lines {
        writeln!(out, "{}", format_item(&line.item))?;
    }
    Ok(())
}

/// Go's `time.Duration.String` form (`1h2m3.5s`, `250ms`, `1.5us`), which
/// [`crate::time::parse_go_duration`] reads back exactly.
pub fn format_go_duration(ns: u64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let frac = |whole: u64, part: u64, digits: usize| -> String {
        let mut s = whole.to_string();
        if part != 0 {
            let p = format!("{part:0digits$}");
            s.push('.');
            s.push_str(p.trim_end_matches('0'));
        }
        s
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}us", frac(ns / 1_000, ns % 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns / 1_000_000, ns % 1_000_000, 6));
    }
    let mut s = String::new();
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    if h > 0 {
        let _ = write!(s, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(s, "{m}m");
    }
    let _ = write!(s, "{}s", frac(secs % 60, ns % 1_000_000_000, 9));
    s
}

#[cfg(test)]
mod tests {
    use super::super::{parse_str, Keysym};
    use super::*;
    use crate::time::parse_go_duration;

    #[test]
    fn go_durations_read_back() {
        for (ns, text) in [
            (0, "0s"),
            (999, "999ns"),
            (1_500, "1.5us"),
            (250_000_000, "250ms"),
            (1_500_000_000, "1.5s"),
            (63_000_000_000, "1m3s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_001, "1h2m3.000000001s"),
        ] {
            assert_eq!(format_go_duration(ns), text);
            assert_eq!(parse_go_duration(text), Some(ns), "{text}");
        }
        for ns in [1, 1_001, 123_456_789, 59_999_999_999, 86_400_123_000_000] {
            assert_eq!(parse_go_duration(&format_go_duration(ns)), Some(ns));
        }
    }

    #[test]
    fn synthetic_round_trip() {
        let text = "# header\n\
                    1.5s:KeyEvent,true,U+0041\n\
                    #: a comment\n\
                    250ms:KeyEvent,T,Return\n\
                    7:PointerEvent,16,0,65535\n\
                    1s:LoadFile,a,b.kb\n\
                    0:WaitForIt,90s,x.png\n\
                    3:ClickItEvent,1500,iVBORw0KGgo=\n\
                    4:KeyEvent,false,U+12345678\n";
        let first = parse_str(text).unwrap();
        let mut out = Vec::new();
        write_script(&first, &mut out).unwrap();
        let written = String::from_utf8(out).unwrap();
        let second = parse_str(&written).unwrap();
        let strip = |s: &Script| s.lines.iter().map(|l| l.item.clone()).collect::<Vec<_>>();
        assert_eq!(strip(&first), strip(&second));
        assert!(
            written.contains("1500000000:KeyEvent,true,A\n"),
            "{written}"
        );
        assert!(written.contains("0:WaitForIt,1m30s,x.png\n"), "{written}");
        assert!(
            written.contains("3:ClickItEvent,1.5us,iVBORw0KGgo=\n"),
            "{written}"
        );
        assert_eq!(
            format_event(&Event::Key {
                down: false,
                keysym: Keysym(0x1234_5678)
            }),
            "KeyEvent,false,U+12345678"
        );
    }
}
