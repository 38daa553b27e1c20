//! The server-to-client RFB stream parser (RFC 6143 section 7.6).
//!
//! It takes bytes in pieces of any size and never cares where a piece ends:
//! a message, a rectangle header, even a pixel may span pieces. It keeps only
//! what the current step needs in one slice (a header, or one rectangle's
//! compressed data); Raw pixels go straight to the framebuffer. Each piece
//! comes with the time it arrived, and a message takes the time of the piece
//! that holds its last byte (docs/formats.md section 1).

use crate::decode::{self, DecodeContext, RectCx, RectError, RectState, Step};
use crate::framebuffer::Screen;
use crate::limits::Limits;
use crate::time::Time;
use crate::wire::{Encoding, PixelFormat, Rect, ServerMessage};

mod events;
mod resume;
mod salvage;
pub use events::{Event, ParseError, ParseErrorKind, Warning, WarningKind};
pub use resume::Saved;
pub use salvage::Candidate;

/// Capacity of the held-back buffer kept between rectangles; a larger one,
/// left by a large compressed rectangle, is freed once empty.
const MAX_IDLE_PENDING: usize = 4 << 20;

#[derive(Debug)]
enum State {
    MessageType,
    UpdateHeader,
    RectHeader {
        left: u16,
        done: u32,
    },
    Rect {
        left: u16,
        done: u32,
        rect: Rect,
        encoding: Encoding,
        state: RectState,
    },
    ColourMapHeader,
    ColourMap {
        first: u16,
        count: u16,
    },
    CutTextHeader,
    CutText {
        left: u32,
        len: u32,
    },
    /// Skips a fixed number of bytes (padding of messages rfbplay ignores).
    Skip {
        left: usize,
        then_fence: bool,
    },
    FenceData,
}

/// Parses a server-to-client stream into framebuffer changes and events.
#[derive(Debug)]
pub struct Parser {
    state: State,
    pending: Vec<u8>,
    need: usize,
    offset: u64,
    unit_offset: u64,
    time: Time,
    updates: u64,
    ctx: DecodeContext,
    screen: Screen,
    size_at_update_start: (u32, u32),
    /// Stream offset of the FramebufferUpdate in progress.
    update_start: u64,
    messages: std::collections::BTreeMap<&'static str, u64>,
    /// Stream bytes of the rectangle being decoded, header included.
    rect_bytes: u64,
    message_offset: u64,
}

impl Parser {
    /// A parser for a stream in `pixel_format`. `keep_shown` keeps a copy of
    /// the screen between updates for frame export (see [`Screen`]).
    pub fn new(pixel_format: PixelFormat, limits: Limits, keep_shown: bool) -> Parser {
        Parser {
            state: State::MessageType,
            pending: Vec::new(),
            need: 0,
            offset: 0,
            unit_offset: 0,
            time: Time::ZERO,
            updates: 0,
            ctx: DecodeContext::new(pixel_format, limits),
            screen: Screen::new(keep_shown),
            size_at_update_start: (0, 0),
            update_start: 0,
            messages: Default::default(),
            rect_bytes: 0,
            message_offset: 0,
        }
    }

    /// Measures what each update really changed ([`Screen::damage`]).
    pub fn set_measure_damage(&mut self, on: bool) {
        self.screen.measure_damage = on;
    }

    /// Starts from a known screen size (ServerInit of an FBS file or a live
    /// connection).
    pub fn set_screen_size(&mut self, width: u32, height: u32) -> Result<(), RectError> {
        self.ctx.limits.check_screen(width, height)?;
        self.screen.resize(width, height);
        self.screen.commit();
        self.ctx.size_known = true;
        self.size_at_update_start = (width, height);
        Ok(())
    }

    /// Draws the last cursor shape at the last pointer position into the
    /// shown screen, where the stream tells both.
    pub fn set_draw_cursor(&mut self, on: bool) {
        self.screen.draw_cursor = on;
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The screen, for a caller that is done feeding (see
    /// [`Screen::take_shown`]).
    pub fn screen_mut(&mut self) -> &mut Screen {
        &mut self.screen
    }

    pub fn context(&self) -> &DecodeContext {
        &self.ctx
    }

    /// Bytes held outside the screens: the piece of stream kept back for
    /// the next step and the decoders' inflate buffer.
    pub fn buffered(&self) -> usize {
        self.pending.capacity() + self.ctx.scratch.capacity()
    }

    /// Stream bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Stream bytes received so far: those consumed and those held back
    /// until a step has all it needs. The next piece fed starts here.
    pub fn received(&self) -> u64 {
        self.offset + self.pending.len() as u64
    }

    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Messages seen so far, by name.
    pub fn messages(&self) -> &std::collections::BTreeMap<&'static str, u64> {
        &self.messages
    }

    /// Whether the parser is between messages, with nothing held back.
    pub fn at_message_boundary(&self) -> bool {
        matches!(self.state, State::MessageType) && self.pending.is_empty()
    }

    /// Where the unit in progress (a message, or a rectangle of an
    /// update) started.
    pub fn unit_offset(&self) -> u64 {
        self.unit_offset
    }

    /// Where the message in progress started.
    pub fn message_offset(&self) -> u64 {
        self.message_offset
    }

    /// Feeds the next piece of the stream, which arrived at `time`.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        time: Time,
        on_event: &mut dyn FnMut(Event, &Screen),
    ) -> Result<(), ParseError> {
        self.time = time;
        loop {
            if !self.pending.is_empty() {
                if self.pending.len() < self.need {
                    let take = (self.need - self.pending.len()).min(input.len());
                    self.pending.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.pending.len() < self.need {
                        return Ok(());
                    }
                }
                let mut buf = std::mem::take(&mut self.pending);
                let used = self.run(&buf, on_event);
                let used = match used {
                    Ok(n) => n,
                    Err(e) => {
                        self.pending = buf;
                        return Err(e);
                    }
                };
                buf.drain(..used);
                if buf.is_empty() && buf.capacity() > MAX_IDLE_PENDING {
                    // A large rectangle's data was held here; do not keep
                    // its size for the rest of the recording.
                    buf = Vec::new();
                }
                self.pending = buf;
                if !self.pending.is_empty() && self.pending.len() < self.need && input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            if input.is_empty() {
                return Ok(());
            }
            let used = self.run(input, on_event)?;
            self.pending.extend_from_slice(&input[used..]);
            return Ok(());
        }
    }

    /// Runs steps over `buf` until a step needs more than is left; returns
    /// the bytes used and leaves `self.need` set. Steps run even on an empty
    /// rest, so that an update whose last rectangle has no payload (a 0x0
    /// Cursor, LastRect) completes in the piece that holds its last byte.
    fn run(
        &mut self,
        buf: &[u8],
        on_event: &mut dyn FnMut(Event, &Screen),
    ) -> Result<usize, ParseError> {
        let mut pos = 0;
        let mut idle = 0;
        loop {
            let rest = &buf[pos..];
            match self.step(rest, on_event)? {
                Step::Need(n) if n > rest.len() => {
                    self.need = n;
                    return Ok(pos);
                }
                Step::Need(n) => {
                    return Err(self.error(ParseErrorKind::Stalled {
                        need: n,
                        have: rest.len(),
                    }));
                }
                Step::Advance(k) | Step::Done(k) => {
                    // A step that consumes nothing must change state; a
                    // decoder that does neither would spin forever.
                    idle = if k == 0 { idle + 1 } else { 0 };
                    if idle > 4 {
                        return Err(self.error(ParseErrorKind::Stalled {
                            need: 0,
                            have: rest.len(),
                        }));
                    }
                    pos += k;
                    self.offset += k as u64;
                }
            }
        }
    }

    fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            offset: self.unit_offset,
            failing_offset: self.unit_offset,
            time: self.time,
            kind,
        }
    }

    /// A rectangle's error, placed: `step_at` is where the failing step's
    /// input starts, `header` whether the step was the header itself.
    fn rect_error(
        &self,
        rect: Rect,
        encoding: Encoding,
        error: RectError,
        step_at: u64,
    ) -> ParseError {
        let failing = match &error {
            RectError::At {
                within: decode::Within::Data,
                offset,
                ..
            } => self.unit_offset + 12 + offset,
            _ => step_at,
        };
        ParseError {
            offset: self.unit_offset,
            failing_offset: failing,
            time: self.time,
            kind: ParseErrorKind::Rect {
                update: self.updates + 1,
                encoding,
                rect,
                error,
            },
        }
    }

    /// Reports the warnings the last decoder step left.
    fn warn_rect(
        &mut self,
        rect: Rect,
        encoding: Encoding,
        on_event: &mut dyn FnMut(Event, &Screen),
    ) {
        for warning in std::mem::take(&mut self.ctx.warnings) {
            let w = Warning {
                offset: self.unit_offset,
                time: self.time,
                kind: WarningKind::Rect {
                    update: self.updates + 1,
                    encoding,
                    rect,
                    warning,
                },
            };
            on_event(Event::Warning(w), &self.screen);
        }
    }

    fn step(
        &mut self,
        input: &[u8],
        on_event: &mut dyn FnMut(Event, &Screen),
    ) -> Result<Step, ParseError> {
        let time = self.time;
        match &mut self.state {
            State::MessageType => {
                if input.is_empty() {
                    return Ok(Step::Need(1));
                }
                self.unit_offset = self.offset;
                self.message_offset = self.offset;
                let kind = ServerMessage(input[0]);
                self.state = match kind {
                    ServerMessage::FRAMEBUFFER_UPDATE => State::UpdateHeader,
                    ServerMessage::SET_COLOUR_MAP_ENTRIES => State::ColourMapHeader,
                    ServerMessage::BELL => {
                        on_event(Event::Bell { time }, &self.screen);
                        State::MessageType
                    }
                    ServerMessage::SERVER_CUT_TEXT => State::CutTextHeader,
                    // EndOfContinuousUpdates (rfbproto): the type byte alone.
                    ServerMessage::END_OF_CONTINUOUS_UPDATES => {
                        on_event(Event::Other { kind: kind.0, time }, &self.screen);
                        State::MessageType
                    }
                    // ServerFence (rfbproto): 3 padding, u32 flags, u8 length, data.
                    ServerMessage::SERVER_FENCE => State::Skip {
                        left: 8,
                        then_fence: true,
                    },
                    // xvp (rfbproto): padding, version, code.
                    ServerMessage::XVP => State::Skip {
                        left: 3,
                        then_fence: false,
                    },
                    other => return Err(self.error(ParseErrorKind::UnknownMessage(other))),
                };
                if let Some(name) = kind.name() {
                    *self.messages.entry(name).or_default() += 1;
                }
                Ok(Step::Advance(1))
            }
            State::UpdateHeader => {
                if input.len() < 3 {
                    return Ok(Step::Need(3));
                }
                let count = u16::from_be_bytes([input[1], input[2]]);
                let fb = self.screen.drawn_ref();
                self.size_at_update_start = (fb.width(), fb.height());
                self.update_start = self.unit_offset;
                self.ctx.work = decode::Work::default();
                self.state = State::RectHeader {
                    left: count,
                    done: 0,
                };
                Ok(Step::Advance(3))
            }
            State::RectHeader { left, done } => {
                if *left == 0 {
                    let done = *done;
                    self.finish_update(done, on_event);
                    return Ok(Step::Done(0));
                }
                if input.len() < 12 {
                    return Ok(Step::Need(12));
                }
                let rect = Rect::new(
                    u16::from_be_bytes([input[0], input[1]]),
                    u16::from_be_bytes([input[2], input[3]]),
                    u16::from_be_bytes([input[4], input[5]]),
                    u16::from_be_bytes([input[6], input[7]]),
                );
                let encoding = Encoding(i32::from_be_bytes([
                    input[8], input[9], input[10], input[11],
                ]));
                let (left, done) = (*left - 1, *done + 1);
                self.unit_offset = self.offset;
                self.rect_bytes = 12;
                self.ctx.counters.add_bytes(encoding, 12);
                // The header is part of what the rectangle's work is
                // weighed against.
                self.ctx.work.bytes = self.offset + 12 - self.update_start;
                let mut cx = RectCx {
                    rect,
                    encoding,
                    ctx: &mut self.ctx,
                    screen: &mut self.screen,
                };
                let state = match decode::begin(encoding, &mut cx) {
                    Ok(state) => state,
                    Err(error) => return Err(self.rect_error(rect, encoding, error, self.offset)),
                };
                if encoding == Encoding::LAST_RECT {
                    self.ctx.counters.add_rect(encoding);
                    self.state = State::RectHeader { left: 0, done };
                } else {
                    self.state = State::Rect {
                        left,
                        done,
                        rect,
                        encoding,
                        state,
                    };
                }
                Ok(Step::Advance(12))
            }
            State::Rect {
                left,
                done,
                rect,
                encoding,
                state,
            } => {
                let (rect, encoding, left, done) = (*rect, *encoding, *left, *done);
                self.ctx.work.bytes = self.offset - self.update_start;
                let mut cx = RectCx {
                    rect,
                    encoding,
                    ctx: &mut self.ctx,
                    screen: &mut self.screen,
                };
                let step = match state.step(input, &mut cx) {
                    Ok(step) => step,
                    Err(error) => return Err(self.rect_error(rect, encoding, error, self.offset)),
                };
                if !self.ctx.warnings.is_empty() {
                    self.warn_rect(rect, encoding, on_event);
                }
                let used = match step {
                    Step::Need(_) => return Ok(step),
                    Step::Advance(n) | Step::Done(n) => n,
                };
                self.rect_bytes += used as u64;
                self.ctx.counters.add_bytes(encoding, used as u64);
                if let Step::Done(n) = step {
                    on_event(
                        Event::Rect {
                            update: self.updates + 1,
                            encoding,
                            rect,
                            offset: self.unit_offset,
                            bytes: self.rect_bytes,
                            time,
                        },
                        &self.screen,
                    );
                    // Counted when complete, so a cut rectangle is not.
                    self.ctx.counters.add_rect(encoding);
                    self.state = State::RectHeader { left, done };
                    return Ok(Step::Advance(n));
                }
                Ok(step)
            }
            State::ColourMapHeader => {
                if input.len() < 5 {
                    return Ok(Step::Need(5));
                }
                let first = u16::from_be_bytes([input[1], input[2]]);
                let count = u16::from_be_bytes([input[3], input[4]]);
                self.state = State::ColourMap { first, count };
                Ok(Step::Advance(5))
            }
            State::ColourMap { first, count } => {
                let (first, count) = (*first, *count);
                let len = usize::from(count) * 6;
                if input.len() < len {
                    return Ok(Step::Need(len));
                }
                let colours: Vec<[u16; 3]> = input[..len]
                    .chunks_exact(6)
                    .map(|c| {
                        [
                            u16::from_be_bytes([c[0], c[1]]),
                            u16::from_be_bytes([c[2], c[3]]),
                            u16::from_be_bytes([c[4], c[5]]),
                        ]
                    })
                    .collect();
                self.ctx.colour_map.set(first, &colours);
                on_event(Event::ColourMap { first, count, time }, &self.screen);
                self.state = State::MessageType;
                Ok(Step::Advance(len))
            }
            State::CutTextHeader => {
                if input.len() < 7 {
                    return Ok(Step::Need(7));
                }
                let len = u32::from_be_bytes([input[3], input[4], input[5], input[6]]);
                let limit = self.ctx.limits.warn_cut_text;
                if len > limit {
                    let w = Warning {
                        offset: self.unit_offset,
                        time,
                        kind: WarningKind::LongCutText { len, limit },
                    };
                    on_event(Event::Warning(w), &self.screen);
                }
                self.state = State::CutText { left: len, len };
                Ok(Step::Advance(7))
            }
            // The text is skipped as it streams past, so no length is too long.
            State::CutText { left, len } => {
                if *left == 0 {
                    on_event(Event::CutText { len: *len, time }, &self.screen);
                    self.state = State::MessageType;
                    return Ok(Step::Done(0));
                }
                if input.is_empty() {
                    return Ok(Step::Need(1));
                }
                let n = (*left as usize).min(input.len());
                *left -= n as u32;
                Ok(Step::Advance(n))
            }
            State::Skip { left, then_fence } => {
                if *left == 0 {
                    self.state = if *then_fence {
                        State::FenceData
                    } else {
                        State::MessageType
                    };
                    return Ok(Step::Done(0));
                }
                if input.is_empty() {
                    return Ok(Step::Need(1));
                }
                let n = (*left).min(input.len());
                *left -= n;
                Ok(Step::Advance(n))
            }
            State::FenceData => {
                if input.is_empty() {
                    return Ok(Step::Need(1));
                }
                let len = usize::from(input[0]);
                let kind = ServerMessage::SERVER_FENCE.0;
                on_event(Event::Other { kind, time }, &self.screen);
                self.state = State::Skip {
                    left: len,
                    then_fence: false,
                };
                Ok(Step::Advance(1))
            }
        }
    }

    fn finish_update(&mut self, rects: u32, on_event: &mut dyn FnMut(Event, &Screen)) {
        let index = self.updates;
        self.updates += 1;
        self.ctx.size_known = true;
        on_event(
            Event::Completing {
                index,
                time: self.time,
            },
            &self.screen,
        );
        self.screen.commit();
        let fb = self.screen.shown();
        let size = (fb.width(), fb.height());
        if size != self.size_at_update_start || index == 0 {
            on_event(
                Event::Resize {
                    width: size.0,
                    height: size.1,
                    time: self.time,
                },
                &self.screen,
            );
        }
        on_event(
            Event::Update {
                index,
                time: self.time,
                rects,
            },
            &self.screen,
        );
        self.state = State::MessageType;
    }
}
