//! Text to key presses, as a US keyboard types it (docs/formats.md section 3:
//! characters that need Shift on a US keyboard are typed with Shift_L held).
//!
//! The server maps keysyms to its own keycodes, so what matters is the
//! keysym of each character plus the Shift a real keyboard would hold: some
//! servers (and the applications behind them) look at the modifier state,
//! not just the keysym.

use super::{Event, Keysym};

/// Characters that need Shift on a US keyboard, besides A-Z.
const SHIFTED: &str = "~!@#$%^&*()_+{}|:\"<>?";

/// The keysym for a character and whether Shift is held for it.
pub fn key_for(c: char) -> (Keysym, bool) {
    match c {
        '\n' | '\r' => (Keysym::RETURN, false),
        '\t' => (Keysym::TAB, false),
        'A'..='Z' => (Keysym::from_char(c), true),
        _ if SHIFTED.contains(c) => (Keysym::from_char(c), true),
        _ => (Keysym::from_char(c), false),
    }
}

/// Replaces the escapes `\n`, `\r` (Return), `\t` (Tab) and `\\`; any other
/// backslash stays as typed.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// The key events that type `text` (already unescaped): a press and a
/// release per character, inside Shift_L press/release where needed.
pub fn type_events(text: &str) -> Vec<Event> {
    let mut events = Vec::with_capacity(text.len() * 2);
    let key = |down, keysym| Event::Key { down, keysym };
    for c in text.chars() {
        let (keysym, shift) = key_for(c);
        if shift {
            events.push(key(true, Keysym::SHIFT_L));
        }
        events.push(key(true, keysym));
        events.push(key(false, keysym));
        if shift {
            events.push(key(false, Keysym::SHIFT_L));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::write::format_event;

    fn typed(text: &str) -> Vec<String> {
        type_events(&unescape(text))
            .iter()
            .map(format_event)
            .collect()
    }

    #[test]
    fn shift_only_where_a_us_keyboard_needs_it() {
        assert_eq!(
            typed("a>A1!"),
            [
                "KeyEvent,true,a",
                "KeyEvent,false,a",
                "KeyEvent,true,Shift_L",
                "KeyEvent,true,greater",
                "KeyEvent,false,greater",
                "KeyEvent,false,Shift_L",
                "KeyEvent,true,Shift_L",
                "KeyEvent,true,A",
                "KeyEvent,false,A",
                "KeyEvent,false,Shift_L",
                "KeyEvent,true,1",
                "KeyEvent,false,1",
                "KeyEvent,true,Shift_L",
                "KeyEvent,true,exclam",
                "KeyEvent,false,exclam",
                "KeyEvent,false,Shift_L",
            ]
        );
        for c in SHIFTED.chars().chain('A'..='Z') {
            assert!(key_for(c).1, "{c}");
        }
        for c in "`1234567890-=[]\\;',./ abcxyz".chars() {
            assert!(!key_for(c).1, "{c}");
        }
        assert_eq!(key_for(' ').0.to_string(), "space");
        assert_eq!(key_for('/').0.to_string(), "slash");
        assert_eq!(key_for('"').0.to_string(), "quotedbl");
    }

    #[test]
    fn newline_and_tab_escapes() {
        assert_eq!(unescape(r"a\nb\tc\\n\q"), "a\nb\tc\\n\\q");
        assert_eq!(typed(r"\n")[0], "KeyEvent,true,Return");
        assert_eq!(typed("\n")[0], "KeyEvent,true,Return");
        assert_eq!(typed(r"\t")[0], "KeyEvent,true,Tab");
        assert_eq!(typed("\t")[1], "KeyEvent,false,Tab");
        assert_eq!(typed("é")[0], "KeyEvent,true,eacute");
    }

    #[test]
    fn echo_hello_matches_the_recorded_keys() {
        // The corpus file xterm_echo_hello.kb types this string.
        let keys = typed(r"echo hello > /tmp/x\n");
        assert_eq!(keys.len(), 20 * 2 + 2);
        assert_eq!(keys[keys.len() - 1], "KeyEvent,false,Return");
    }
}
