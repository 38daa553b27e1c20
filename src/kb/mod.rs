//! Keyboard/mouse recordings: minimega's plain-text `.kb` files
//! (docs/formats.md section 3), one `<delay>:<event>` per line.
//!
//! [`parse`] reads one file's text into [`Script`] lines without touching the
//! disk; [`load`] reads a file from disk, follows its `LoadFile` lines and
//! decodes its template images, so a whole playback is checked before the
//! first event is sent; [`write`] turns lines back into text. [`typing`]
//! turns a string into the key presses a US keyboard would make.

mod keysym_table;

pub mod control;
pub mod keysym;
pub mod live;
pub mod load;
pub mod parse;
pub mod play;
pub mod proxy;
pub mod record;
pub mod screen;
pub mod typing;
pub mod write;

pub use keysym::Keysym;
pub use load::{load, Action, LoadError, LoadErrorKind, LoadOptions, Program, Step, Template};
pub use parse::{parse_event, parse_line, parse_str, LineError, ParseError};

/// One event of a .kb file, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `KeyEvent,<true|false>,<key>`: press (`down`) or release.
    Key { down: bool, keysym: Keysym },
    /// `PointerEvent,<mask>,<x>,<y>`: the RFB button mask (bit 1 left, 2
    /// middle, 4 right, 8 and 16 the wheel) and the position.
    Pointer { mask: u8, x: u16, y: u16 },
    /// `LoadFile,<path>`: play another file here; relative to this file's folder.
    LoadFile { path: String },
    /// `WaitForIt,<timeout>,<image>` (`click: false`) or
    /// `ClickItEvent,<timeout>,<image>` (`click: true`). `image` is a file
    /// path or the image in base64, kept as written.
    Wait {
        click: bool,
        timeout_ns: u64,
        image: String,
    },
}

/// One meaningful line of a .kb file; blank lines are dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in its file.
    pub number: u32,
    pub item: Item,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A line whose text before the first `:` starts with `#`, kept whole
    /// (minimega logs it during playback).
    Comment(String),
    /// An event after `delay_ns` nanoseconds since the previous one.
    Event { delay_ns: u64, event: Event },
}

/// The lines of one .kb file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub lines: Vec<Line>,
}

impl Script {
    /// The events with their delays, in order, comments left out.
    pub fn events(&self) -> impl Iterator<Item = (u64, &Event)> {
        self.lines.iter().filter_map(|l| match &l.item {
            Item::Event { delay_ns, event } => Some((*delay_ns, event)),
            Item::Comment(_) => None,
        })
    }
}
