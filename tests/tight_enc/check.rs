//! Test harness for Tight streams: a parser over a known screen, feeding,
//! and reading back colours and rectangle errors.

use super::Picture;
use rfbplay::decode::RectError;
use rfbplay::limits::Limits;
use rfbplay::rfb::{ParseError, ParseErrorKind, Parser, PixelFormat};
use rfbplay::Time;

pub fn parser_with(pf: PixelFormat, w: u32, h: u32) -> Parser {
    let mut p = Parser::new(pf, Limits::default(), true);
    p.set_screen_size(w, h).unwrap();
    p
}

pub fn parser(w: u32, h: u32) -> Parser {
    parser_with(PixelFormat::BGRX, w, h)
}

pub fn feed(p: &mut Parser, bytes: &[u8]) -> Result<(), ParseError> {
    p.feed(bytes, Time::ZERO, &mut |_, _| {})
}

pub fn rgb_at(p: &Parser, x: u32, y: u32) -> [u8; 3] {
    let px = p.screen().shown().row(x, y, 1);
    [px[2], px[1], px[0]]
}

pub fn assert_picture(p: &Parser, x0: u32, y0: u32, pic: &Picture) {
    for y in 0..pic.h {
        for x in 0..pic.w {
            assert_eq!(
                rgb_at(p, x0 + x as u32, y0 + y as u32),
                pic.at(x, y),
                "pixel {x},{y}"
            );
        }
    }
}

pub fn rect_error(e: ParseError) -> RectError {
    match e.kind {
        ParseErrorKind::Rect { error, .. } => error,
        other => panic!("not a rectangle error: {other}"),
    }
}

/// Decodes one Tight rectangle payload at 0,0 and returns its error.
pub fn decode_error(pf: PixelFormat, w: u16, h: u16, payload: Vec<u8>) -> RectError {
    let mut p = parser_with(pf, u32::from(w).max(1), u32::from(h).max(1));
    let e =
        feed(&mut p, &super::update(&[super::tight(0, 0, w, h, payload)])).expect_err("must fail");
    rect_error(e)
}
