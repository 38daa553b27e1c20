//! X11 keysyms: the key numbers a KeyEvent carries (RFC 6143 section 7.5.4)
//! and the names .kb files give them.
//!
//! A .kb file names a key as in X11's keysymdef.h without the `XK_` prefix
//! (`Return`, `greater`), or as `U+XXXX`, hex, which is the keysym value
//! itself (docs/formats.md section 3). The name table is generated from the header
//! by tools/gen_keysyms.py, because the `xkeysym` crate only maps values to
//! names; a writer uses the first name the header lists for a value, which
//! the header calls the non-deprecated one.

use super::keysym_table::{BY_NAME, BY_VALUE};
use std::fmt;

/// An X11 keysym value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Keysym(pub u32);

impl Keysym {
    pub const RETURN: Keysym = Keysym(0xff0d);
    pub const TAB: Keysym = Keysym(0xff09);
    pub const SHIFT_L: Keysym = Keysym(0xffe1);

    /// The keysym a keysymdef.h name stands for (case matters: `a` is not `A`).
    pub fn from_name(name: &str) -> Option<Keysym> {
        BY_NAME
            .binary_search_by(|(n, _)| n.as_bytes().cmp(name.as_bytes()))
            .ok()
            .and_then(|i| BY_NAME.get(i))
            .map(|&(_, v)| Keysym(v))
    }

    /// The first name keysymdef.h lists for this value, if it has one.
    pub fn name(self) -> Option<&'static str> {
        BY_VALUE
            .binary_search_by_key(&self.0, |&(v, _)| v)
            .ok()
            .and_then(|i| BY_VALUE.get(i))
            .map(|&(_, n)| n)
    }

    /// Parses a .kb key field: a keysymdef.h name or `U+XXXX` (1 to 8 hex digits).
    pub fn parse(text: &str) -> Option<Keysym> {
        if let Some(hex) = text.strip_prefix("U+") {
            if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            return u32::from_str_radix(hex, 16).ok().map(Keysym);
        }
        Keysym::from_name(text)
    }

    /// The keysym X11 uses for a character: Latin-1 characters are their own
    /// keysyms, other Unicode characters are 0x01000000 + the code point
    /// (keysymdef.h, "Unicode characters").
    pub fn from_char(c: char) -> Keysym {
        let cp = u32::from(c);
        match cp {
            0x20..=0x7e | 0xa0..=0xff => Keysym(cp),
            _ => Keysym(0x0100_0000 + cp),
        }
    }
}

impl fmt::Display for Keysym {
    /// The form a .kb writer uses: the name, else `U+XXXX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "U+{:04X}", self.0),
        }
    }
}

impl fmt::Debug for Keysym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keysym({self}, 0x{:x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_keysymdef() {
        assert_eq!(Keysym::from_name("Return"), Some(Keysym(0xff0d)));
        assert_eq!(Keysym::from_name("greater"), Some(Keysym(0x3e)));
        assert_eq!(Keysym::from_name("Shift_L"), Some(Keysym::SHIFT_L));
        assert_eq!(Keysym::from_name("a"), Some(Keysym(0x61)));
        assert_eq!(Keysym::from_name("A"), Some(Keysym(0x41)));
        assert_eq!(Keysym::from_name("space"), Some(Keysym(0x20)));
        assert_eq!(Keysym::from_name("F12"), Some(Keysym(0xffc9)));
        assert_eq!(Keysym::from_name("XK_Return"), None);
        assert_eq!(Keysym::from_name("return"), None);
        assert_eq!(Keysym::from_name(""), None);
    }

    #[test]
    fn tables_are_sorted_so_binary_search_works() {
        assert!(BY_NAME
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes()));
        assert!(BY_VALUE.windows(2).all(|w| w[0].0 < w[1].0));
        // Every name resolves to its own value through the search.
        for &(n, v) in BY_NAME {
            assert_eq!(Keysym::from_name(n), Some(Keysym(v)), "{n}");
        }
    }

    #[test]
    fn writer_names_are_the_first_listed() {
        assert_eq!(Keysym(0x27).name(), Some("apostrophe"));
        assert_eq!(Keysym(0xff0d).to_string(), "Return");
        assert_eq!(Keysym(0x20ac).to_string(), "EuroSign");
        assert_eq!(Keysym(0x0100_20ac).to_string(), "U+10020AC");
        assert_eq!(Keysym(0x1234_5678).to_string(), "U+12345678");
    }

    #[test]
    fn unicode_form_is_the_value() {
        assert_eq!(Keysym::parse("U+0041"), Some(Keysym(0x41)));
        assert_eq!(Keysym::parse("U+ff0d"), Some(Keysym::RETURN));
        assert_eq!(Keysym::parse("U+"), None);
        assert_eq!(Keysym::parse("U+123456789"), None);
        assert_eq!(Keysym::parse("U+12G4"), None);
        assert_eq!(Keysym::from_char('é'), Keysym(0xe9));
        assert_eq!(Keysym::from_char('€'), Keysym(0x0100_20ac));
    }
}
