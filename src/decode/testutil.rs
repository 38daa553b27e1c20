//! Helpers for the decoders' unit tests: build server-to-client messages by
//! hand and decode them through the real stream parser twice, once whole and
//! once a byte at a time, so every decoder test is also a split-independence
//! test (CONVENTIONS.md 9).

use super::RectError;
use crate::framebuffer::Framebuffer;
use crate::limits::Limits;
use crate::rfb::{Encoding, Event, ParseError, ParseErrorKind, Parser, PixelFormat, Rect};
use crate::time::Time;

/// 16 bpp big-endian RGB 5:6:5.
pub const RGB565_BE: PixelFormat = PixelFormat {
    big_endian: true,
    ..PixelFormat::RGB565
};

/// 8 bpp through a colour map.
pub const MAPPED8: PixelFormat = PixelFormat::COLOUR_MAP_8;

/// A native (B, G, R, X) wire pixel that is easy to tell apart from others.
pub fn pixel(n: u8) -> [u8; 4] {
    [n, n ^ 0x55, n ^ 0xaa, 0]
}

pub fn solid(w: u32, h: u32, px: [u8; 4]) -> Framebuffer {
    let mut fb = Framebuffer::new(w, h);
    fb.fill(Rect::new(0, 0, w as u16, h as u16), px);
    fb
}

/// A FramebufferUpdate message (RFC 6143 7.6.1).
pub fn update(rects: &[(Rect, Encoding, Vec<u8>)]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&(rects.len() as u16).to_be_bytes());
    for (r, enc, data) in rects {
        for v in [r.x, r.y, r.w, r.h] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&enc.0.to_be_bytes());
        b.extend_from_slice(data);
    }
    b
}

/// A SetColorMapEntries message (RFC 6143 7.6.2).
pub fn colour_map(first: u16, colours: &[[u16; 3]]) -> Vec<u8> {
    let mut b = vec![1, 0];
    b.extend_from_slice(&first.to_be_bytes());
    b.extend_from_slice(&(colours.len() as u16).to_be_bytes());
    for c in colours {
        for v in c {
            b.extend_from_slice(&v.to_be_bytes());
        }
    }
    b
}

/// Compresses `data` as one piece of a connection-long zlib stream, ending
/// with a sync flush as servers do.
pub fn deflate(z: &mut flate2::Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2 + 64);
    let start = z.total_in();
    loop {
        let used = (z.total_in() - start) as usize;
        z.compress_vec(&data[used..], &mut out, flate2::FlushCompress::Sync)
            .unwrap();
        if (z.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity().max(64));
    }
}

/// The `len` and zlib data of a ZRLE or Zlib rectangle.
pub fn zlib_payload(z: &mut flate2::Compress, data: &[u8]) -> Vec<u8> {
    let packed = deflate(z, data);
    let mut b = (packed.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(&packed);
    b
}

fn run(
    pf: PixelFormat,
    w: u32,
    h: u32,
    pieces: &mut dyn Iterator<Item = &[u8]>,
) -> (Result<Framebuffer, ParseError>, Vec<Event>) {
    let mut p = Parser::new(pf, Limits::default(), true);
    p.set_screen_size(w, h).unwrap();
    let mut events = vec![];
    for piece in pieces {
        if let Err(e) = p.feed(piece, Time::ZERO, &mut |e, _| events.push(e)) {
            return (Err(e), events);
        }
    }
    (Ok(p.screen().shown().clone()), events)
}

/// Decodes a whole stream, whole and byte by byte, and checks both ways agree.
pub fn decode_stream(
    pf: PixelFormat,
    w: u32,
    h: u32,
    stream: &[u8],
) -> Result<Framebuffer, ParseError> {
    let whole = run(pf, w, h, &mut std::iter::once(stream));
    let split = run(pf, w, h, &mut stream.chunks(1));
    assert_eq!(whole.1, split.1, "events differ with 1-byte pieces");
    match (&whole.0, &split.0) {
        (Ok(a), Ok(b)) => assert!(a == b, "frames differ with 1-byte pieces"),
        (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "errors differ with 1-byte pieces"),
        (a, b) => panic!("whole: {a:?}, 1-byte pieces: {b:?}"),
    }
    whole.0
}

/// Decodes one update on a `w` x `h` screen; a rectangle error comes back
/// as the [`RectError`] itself.
pub fn decode(
    pf: PixelFormat,
    w: u32,
    h: u32,
    rects: &[(Rect, Encoding, Vec<u8>)],
) -> Result<Framebuffer, RectError> {
    decode_stream(pf, w, h, &update(rects)).map_err(|e| match e.kind {
        ParseErrorKind::Rect { error, .. } => error,
        other => panic!("not a rectangle error: {other}"),
    })
}

/// Calls `f` with `n` damaged copies of `base`: a few bytes changed, and
/// sometimes cut short (a small fuzzer that runs with the unit tests).
/// RFBPLAY_MUTATIONS=k runs k times as many.
pub fn mutations(base: &[u8], n: usize, mut f: impl FnMut(&[u8])) {
    let scale: usize = std::env::var("RFBPLAY_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let n = n * scale;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..n {
        let mut b = base.to_vec();
        for _ in 0..1 + next() % 3 {
            if b.is_empty() {
                break;
            }
            let i = (next() % b.len() as u64) as usize;
            b[i] = match next() % 4 {
                0 => 0,
                1 => 255,
                _ => next() as u8,
            };
        }
        if next() % 4 == 0 {
            b.truncate((next() % (b.len() as u64 + 1)) as usize);
        }
        f(&b);
    }
}

/// Feeds `stream` whole to a parser on a `w` x `h` screen; errors are fine,
/// panics are not.
pub fn survive(pf: PixelFormat, w: u32, h: u32, stream: &[u8]) {
    let mut p = Parser::new(pf, Limits::default(), true);
    p.set_screen_size(w, h).unwrap();
    let _ = p.feed(stream, Time::ZERO, &mut |_, _| {});
}
