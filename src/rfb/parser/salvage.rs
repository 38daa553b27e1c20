//! What `--salvage` needs of the parser after damage: a quick test of
//! whether a FramebufferUpdate can start at a place in the stream, and a
//! new parser that goes on from there with the screen as it was.
//!
//! The connection-long zlib streams (Zlib, ZRLE, Tight) lost their history
//! with the damage. Servers end every rectangle's zlib data with a sync
//! flush, so each rectangle's data starts at a byte-aligned deflate block
//! boundary, and a raw inflater primed with 32 KiB of zeros decodes it:
//! bytes that copy from the lost history come out as zeros (rapidgzip's
//! approach to an unknown window), so such rectangles may show wrong
//! pixels until the area is painted again. The damage report says so.

use super::{Parser, State};
use crate::decode::{self, resumable::WINDOW, DecodeContext};
use crate::framebuffer::Screen;
use crate::wire::{Encoding, Rect};

/// Whether a FramebufferUpdate can start at `b[0]`.
#[derive(Debug, PartialEq, Eq)]
pub enum Candidate {
    Yes,
    No,
    NeedMore,
}

impl Parser {
    /// Whether `b` starts like a FramebufferUpdate on this screen: type 0,
    /// a zero padding byte (as servers send it), at least one rectangle,
    /// and a first rectangle with a known encoding that fits the screen
    /// (RFC 6143 7.6.1).
    pub fn update_could_start(&self, b: &[u8]) -> Candidate {
        if b.len() < 16 {
            let head_ok = b.first().is_none_or(|&t| t == 0) && b.get(1).is_none_or(|&p| p == 0);
            return if head_ok {
                Candidate::NeedMore
            } else {
                Candidate::No
            };
        }
        if b[0] != 0 || b[1] != 0 || u16::from_be_bytes([b[2], b[3]]) == 0 {
            return Candidate::No;
        }
        let r = &b[4..16];
        let rect = Rect::new(
            u16::from_be_bytes([r[0], r[1]]),
            u16::from_be_bytes([r[2], r[3]]),
            u16::from_be_bytes([r[4], r[5]]),
            u16::from_be_bytes([r[6], r[7]]),
        );
        let encoding = Encoding(i32::from_be_bytes([r[8], r[9], r[10], r[11]]));
        let fb = self.screen.drawn_ref();
        let fits = rect.fits(fb.width(), fb.height()) && rect.area() > 0;
        let ok = match encoding {
            Encoding::RAW
            | Encoding::COPY_RECT
            | Encoding::RRE
            | Encoding::HEXTILE
            | Encoding::ZLIB
            | Encoding::TIGHT
            | Encoding::ZRLE => fits,
            Encoding::DESKTOP_SIZE | Encoding::EXTENDED_DESKTOP_SIZE => {
                rect.x == 0
                    && rect.y == 0
                    && self
                        .ctx
                        .limits
                        .check_screen(u32::from(rect.w), u32::from(rect.h))
                        .is_ok()
            }
            Encoding::CURSOR => rect.w <= 256 && rect.h <= 256,
            _ => false,
        };
        if ok {
            Candidate::Yes
        } else {
            Candidate::No
        }
    }

    /// A parser that reads on from stream byte `offset` after damage, with
    /// the screen as last shown (what frames showed up to the damage;
    /// without a shown copy, what was drawn, the damaged update's pixels
    /// before the damage included: only `info` and `find` play so), the
    /// counts so far, and the zlib streams in use primed with a window of
    /// zeros. Also says whether any zlib stream had history to lose.
    pub fn after_damage(&self, offset: u64, keep_shown: bool, draw_cursor: bool) -> (Parser, bool) {
        let mut ctx = DecodeContext::new(self.ctx.pixel_format, self.ctx.limits);
        ctx.colour_map = self.ctx.colour_map.clone();
        ctx.size_known = true;
        ctx.counters = self.ctx.counters.clone();
        let zeros = vec![0u8; WINDOW];
        let prime = |used: bool| used.then_some(zeros.as_slice());
        let zlib_used = self.ctx.zlib.saved().map_or(true, |w| w.is_some());
        let zrle_used = self.ctx.zrle.saved().map_or(true, |w| w.is_some());
        let tight_used = match self.ctx.tight.saved() {
            Ok(w) => w.map(|s| s.is_some()),
            Err(()) => [true; 4],
        };
        // Windows of zeros are valid dictionaries: these cannot fail.
        if let Ok(s) = decode::zlib::Stream::restore(prime(zlib_used)) {
            ctx.zlib = s;
        }
        if let Ok(s) = decode::zlib::Stream::restore(prime(zrle_used)) {
            ctx.zrle = s;
        }
        if let Ok(s) = decode::tight::Streams::restore(tight_used.map(prime)) {
            ctx.tight = s;
        }
        let lost = zlib_used || zrle_used || tight_used.iter().any(|&u| u);
        let screen = Screen::restore(
            self.screen.shown().clone(),
            self.screen.cursor.clone(),
            self.screen.pointer,
            self.screen.generation(),
            keep_shown,
            draw_cursor,
        );
        let fb = screen.drawn_ref();
        let size = (fb.width(), fb.height());
        let mut p = Parser {
            state: State::MessageType,
            pending: Vec::new(),
            need: 0,
            offset,
            unit_offset: offset,
            time: self.time,
            updates: self.updates,
            ctx,
            screen,
            size_at_update_start: size,
            messages: self.messages.clone(),
            rect_bytes: 0,
            message_offset: offset,
            update_start: offset,
        };
        p.screen.measure_damage = self.screen.measure_damage;
        (p, lost)
    }
}
