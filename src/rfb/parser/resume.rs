//! Saving and restoring the parser between messages, for the seek index:
//! what a checkpoint must hold so that decoding can go on from it as if the
//! stream had been parsed from the start.

use super::{Parser, State};
use crate::decode::{self, DecodeContext};
use crate::framebuffer::{Cursor, Framebuffer, Screen};
use crate::limits::Limits;
use crate::time::Time;
use crate::wire::PixelFormat;

/// A parser's state between messages, as the seek index keeps it: the
/// screen drawn so far, cursor, pixel format, colour map, and the window
/// of each connection-long zlib stream (None: never used).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub offset: u64,
    pub time: Time,
    pub updates: u64,
    pub pixel_format: PixelFormat,
    pub colour_map: Vec<[u8; 4]>,
    pub size_known: bool,
    pub zlib: Option<Vec<u8>>,
    pub zrle: Option<Vec<u8>>,
    pub tight: [Option<Vec<u8>>; 4],
    pub screen: Framebuffer,
    pub cursor: Option<Cursor>,
    pub pointer: Option<(u16, u16)>,
    pub generation: u64,
}

impl Parser {
    /// The parser's state for the seek index, between messages only (and
    /// only when every zlib stream stands at a sync flush).
    pub fn save(&self) -> Option<Saved> {
        if !self.at_message_boundary() {
            return None;
        }
        Some(Saved {
            offset: self.offset,
            time: self.time,
            updates: self.updates,
            pixel_format: self.ctx.pixel_format,
            colour_map: self.ctx.colour_map.entries().to_vec(),
            size_known: self.ctx.size_known,
            zlib: self.ctx.zlib.saved().ok()?,
            zrle: self.ctx.zrle.saved().ok()?,
            tight: self.ctx.tight.saved().ok()?,
            screen: self.screen.drawn_ref().clone(),
            cursor: self.screen.cursor.clone(),
            pointer: self.screen.pointer,
            generation: self.screen.generation(),
        })
    }

    /// A parser that goes on from `saved`, as if it had parsed the stream
    /// up to there.
    pub fn restore(
        saved: Saved,
        limits: Limits,
        keep_shown: bool,
        draw_cursor: bool,
    ) -> Result<Parser, flate2::DecompressError> {
        let mut ctx = DecodeContext::new(saved.pixel_format, limits);
        ctx.colour_map = crate::rfb::pixel::ColourMap::from_entries(saved.colour_map);
        ctx.size_known = saved.size_known;
        ctx.zlib = decode::zlib::Stream::restore(saved.zlib.as_deref())?;
        ctx.zrle = decode::zlib::Stream::restore(saved.zrle.as_deref())?;
        ctx.tight = decode::tight::Streams::restore(saved.tight.each_ref().map(|w| w.as_deref()))?;
        let size = (saved.screen.width(), saved.screen.height());
        let screen = Screen::restore(
            saved.screen,
            saved.cursor,
            saved.pointer,
            saved.generation,
            keep_shown,
            draw_cursor,
        );
        Ok(Parser {
            state: State::MessageType,
            pending: Vec::new(),
            need: 0,
            offset: saved.offset,
            unit_offset: saved.offset,
            time: saved.time,
            updates: saved.updates,
            ctx,
            screen,
            size_at_update_start: size,
            messages: Default::default(),
            rect_bytes: 0,
            message_offset: saved.offset,
            update_start: saved.offset,
        })
    }
}
