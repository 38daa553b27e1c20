//! The .kb grammar (docs/formats.md section 3), text in, lines out, no I/O.
//!
//! Kept apart from [`super::load`] so that `inject`, the control socket and
//! fuzzing parse exactly what a file would, and so a syntax error is found
//! before any file or image is opened.

use super::{Event, Item, Keysym, Line, Script};
use crate::time::parse_go_duration;

/// What is wrong with one line. The caller adds the file and line number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("no ':' between the delay and the event")]
    NoColon,
    #[error("delay '{0}' is neither integer nanoseconds nor a Go duration (250ms, 1.5s, 1m3s)")]
    BadDelay(String),
    #[error("unknown event '{0}' (KeyEvent, PointerEvent, LoadFile, WaitForIt, ClickItEvent)")]
    UnknownEvent(String),
    #[error("{event} takes {want} fields after its name, this line has {got}")]
    FieldCount {
        event: &'static str,
        want: usize,
        got: usize,
    },
    #[error("'{0}' is not true or false")]
    BadBool(String),
    #[error(
        "unknown key '{0}': use an X11 keysym name without XK_ (Return, a, greater) or U+XXXX"
    )]
    UnknownKey(String),
    #[error("pointer button mask '{0}' is not a number from 0 to 255")]
    BadMask(String),
    #[error("pointer {axis} '{value}' is not a number from 0 to 65535")]
    BadCoordinate { axis: char, value: String },
    #[error("timeout '{0}' is neither integer nanoseconds nor a Go duration")]
    BadTimeout(String),
    #[error("{0} needs a non-empty path or image")]
    Empty(&'static str),
}

/// A syntax error at a line of a text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct ParseError {
    pub line: u32,
    pub error: LineError,
}

/// Parses a whole file's text. Stops at the first bad line.
pub fn parse_str(text: &str) -> Result<Script, ParseError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match parse_line(raw) {
            Ok(Some(item)) => lines.push(Line { number, item }),
            Ok(None) => {}
            Err(error) => {
                return Err(ParseError {
                    line: number,
                    error,
                })
            }
        }
    }
    Ok(Script { lines })
}

/// Parses one line: `None` for a blank line.
pub fn parse_line(raw: &str) -> Result<Option<Item>, LineError> {
    let line = raw.trim();
    if line.is_empty() {
        return Ok(None);
    }
    // A comment is recognised by the text before the first ':' only, so
    // `#: note` and `# note` both are, whatever follows (docs/formats.md section 3).
    let before = line.split(':').next().unwrap_or("");
    if before.trim_start().starts_with('#') {
        return Ok(Some(Item::Comment(line.to_string())));
    }
    let (delay, event) = line.split_once(':').ok_or(LineError::NoColon)?;
    let delay_ns = parse_ns(delay.trim()).ok_or_else(|| LineError::BadDelay(delay.into()))?;
    let event = parse_event(event)?;
    Ok(Some(Item::Event { delay_ns, event }))
}

/// Integer nanoseconds (what recorders write) or a Go-style duration.
pub fn parse_ns(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    parse_go_duration(text)
}

/// Parses the event part of a line (after the delay), as `inject` takes it.
pub fn parse_event(text: &str) -> Result<Event, LineError> {
    let text = text.trim();
    let (name, rest) = text.split_once(',').unwrap_or((text, ""));
    match name.trim() {
        "KeyEvent" => {
            let [down, key] = fields::<2>("KeyEvent", rest)?;
            let down = parse_bool(down).ok_or_else(|| LineError::BadBool(down.into()))?;
            let keysym = Keysym::parse(key).ok_or_else(|| LineError::UnknownKey(key.into()))?;
            Ok(Event::Key { down, keysym })
        }
        "PointerEvent" => {
            let [mask, x, y] = fields::<3>("PointerEvent", rest)?;
            let mask = mask.parse().map_err(|_| LineError::BadMask(mask.into()))?;
            let coord = |axis, v: &str| {
                v.parse::<u16>().map_err(|_| LineError::BadCoordinate {
                    axis,
                    value: v.into(),
                })
            };
            Ok(Event::Pointer {
                mask,
                x: coord('x', x)?,
                y: coord('y', y)?,
            })
        }
        "LoadFile" => {
            // The path is the rest of the line, so it may hold commas.
            let path = rest.trim();
            if path.is_empty() {
                return Err(LineError::Empty("LoadFile"));
            }
            Ok(Event::LoadFile { path: path.into() })
        }
        name @ ("WaitForIt" | "ClickItEvent") => {
            let event = if name == "WaitForIt" {
                "WaitForIt"
            } else {
                "ClickItEvent"
            };
            // The image is the rest of the line: a path may hold commas.
            let (timeout, image) = rest.split_once(',').ok_or(LineError::FieldCount {
                event,
                want: 2,
                got: usize::from(!rest.is_empty()),
            })?;
            let timeout = timeout.trim();
            let timeout_ns =
                parse_ns(timeout).ok_or_else(|| LineError::BadTimeout(timeout.into()))?;
            let image = image.trim();
            if image.is_empty() {
                return Err(LineError::Empty(event));
            }
            Ok(Event::Wait {
                click: name == "ClickItEvent",
                timeout_ns,
                image: image.into(),
            })
        }
        other => Err(LineError::UnknownEvent(other.into())),
    }
}

/// Splits exactly N comma-separated, trimmed fields.
fn fields<'a, const N: usize>(
    event: &'static str,
    rest: &'a str,
) -> Result<[&'a str; N], LineError> {
    let parts: Vec<&'a str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(',').map(str::trim).collect()
    };
    <[&str; N]>::try_from(parts.as_slice()).map_err(|_| LineError::FieldCount {
        event,
        want: N,
        got: parts.len(),
    })
}

/// The spellings Go's strconv.ParseBool accepts, since minimega parses with it.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "t" | "T" | "1" => Some(true),
        "false" | "False" | "FALSE" | "f" | "F" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> (u64, Event) {
        match parse_line(line) {
            Ok(Some(Item::Event { delay_ns, event })) => (delay_ns, event),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn events_and_delays() {
        assert_eq!(
            ev("812345678:PointerEvent,0,612,540"),
            (
                812_345_678,
                Event::Pointer {
                    mask: 0,
                    x: 612,
                    y: 540
                }
            )
        );
        assert_eq!(
            ev("1.5s:KeyEvent,true,Shift_L"),
            (
                1_500_000_000,
                Event::Key {
                    down: true,
                    keysym: Keysym::SHIFT_L
                }
            )
        );
        assert_eq!(
            ev("250ms:KeyEvent,false,U+0041"),
            (
                250_000_000,
                Event::Key {
                    down: false,
                    keysym: Keysym(0x41)
                }
            )
        );
        assert_eq!(ev("1m3s:PointerEvent,255,0,65535").0, 63_000_000_000);
        assert_eq!(ev("10µs:PointerEvent,16,1,2").0, 10_000);
        assert_eq!(
            ev("1s:LoadFile,sub dir/a,b.kb"),
            (
                1_000_000_000,
                Event::LoadFile {
                    path: "sub dir/a,b.kb".into()
                }
            )
        );
        assert_eq!(
            ev("0:ClickItEvent,30s,ok.png"),
            (
                0,
                Event::Wait {
                    click: true,
                    timeout_ns: 30_000_000_000,
                    image: "ok.png".into()
                }
            )
        );
        assert_eq!(
            ev("5:WaitForIt,1000,iVBORw0KGgo="),
            (
                5,
                Event::Wait {
                    click: false,
                    timeout_ns: 1000,
                    image: "iVBORw0KGgo=".into()
                }
            )
        );
        // CRLF files and stray spaces are tolerated.
        assert_eq!(
            ev("5:KeyEvent, true , a\r").1,
            Event::Key {
                down: true,
                keysym: Keysym(0x61)
            }
        );
    }

    #[test]
    fn comments_and_blanks() {
        assert_eq!(parse_line("   "), Ok(None));
        assert_eq!(
            parse_line("#: starting login"),
            Ok(Some(Item::Comment("#: starting login".into())))
        );
        assert_eq!(
            parse_line("# plain comment, no colon"),
            Ok(Some(Item::Comment("# plain comment, no colon".into())))
        );
        // '#' after the first ':' does not make a comment.
        assert!(matches!(
            parse_line("5:#KeyEvent"),
            Err(LineError::UnknownEvent(_))
        ));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse_line("KeyEvent,true,a"), Err(LineError::NoColon));
        assert!(matches!(
            parse_line("-5:KeyEvent,true,a"),
            Err(LineError::BadDelay(_))
        ));
        assert!(matches!(
            parse_line("5x:KeyEvent,true,a"),
            Err(LineError::BadDelay(_))
        ));
        assert!(matches!(
            parse_line("99999999999999999999:KeyEvent,true,a"),
            Err(LineError::BadDelay(_))
        ));
        assert_eq!(
            parse_line("5:KeyEvent,yes,a"),
            Err(LineError::BadBool("yes".into()))
        );
        assert_eq!(
            parse_line("5:KeyEvent,true,Retrun"),
            Err(LineError::UnknownKey("Retrun".into()))
        );
        assert_eq!(
            parse_line("5:KeyEvent,true"),
            Err(LineError::FieldCount {
                event: "KeyEvent",
                want: 2,
                got: 1
            })
        );
        assert_eq!(
            parse_line("5:PointerEvent,256,1,1"),
            Err(LineError::BadMask("256".into()))
        );
        assert_eq!(
            parse_line("5:PointerEvent,1,1,70000"),
            Err(LineError::BadCoordinate {
                axis: 'y',
                value: "70000".into()
            })
        );
        assert_eq!(parse_line("5:LoadFile,"), Err(LineError::Empty("LoadFile")));
        assert!(matches!(
            parse_line("5:WaitForIt,soon,a.png"),
            Err(LineError::BadTimeout(_))
        ));
        assert!(matches!(
            parse_line("5:WaitForIt,1s"),
            Err(LineError::FieldCount { .. })
        ));
        assert_eq!(
            parse_line("5:Typo,1"),
            Err(LineError::UnknownEvent("Typo".into()))
        );
        let e = parse_str("1:KeyEvent,true,a\n\n3:KeyEvent,true,nope\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.to_string(), "line 3: unknown key 'nope': use an X11 keysym name without XK_ (Return, a, greater) or U+XXXX");
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let s = parse_str("# head\n\n1:KeyEvent,true,a\n").unwrap();
        let numbers: Vec<u32> = s.lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 3]);
    }
}
