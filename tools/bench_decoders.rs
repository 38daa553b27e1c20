//! Decode speed of recordings, without file reading or gunzip in the timing:
//! the stream is read into memory first, then decoded again and again.
//! Prints, per file, full first frames per second (the first update of a
//! recording covers the whole screen) and updates per second over the file.
//! A ratio-printing tool, not a timed test (CONVENTIONS.md 11).
//!
//! Run: `cargo run --release --example bench_decoders -- FILE.fb...`

use rfbplay::container::{self, Piece};
use rfbplay::limits::Limits;
use rfbplay::rfb::{Parser, PixelFormat};
use rfbplay::Time;
use std::time::{Duration, Instant};

fn stream_of(path: &str) -> Vec<u8> {
    let mut c = container::open(std::path::Path::new(path)).expect("open recording");
    let mut out = vec![];
    while let Piece::Data { bytes, .. } = c.next_piece().expect("read recording") {
        out.extend_from_slice(bytes);
    }
    out
}

/// Decodes `stream` in 4 KiB pieces (a socket read's size) and returns the
/// parser, stopping after `max_updates` if given. A known `size` spares
/// the timing the screen's growth rectangle by rectangle (minimega files
/// store no size).
fn decode(stream: &[u8], max_updates: Option<u64>, size: Option<(u32, u32)>) -> Parser {
    let mut p = Parser::new(PixelFormat::BGRX, Limits::default(), false);
    if let Some((w, h)) = size {
        p.set_screen_size(w, h).expect("size within limits");
    }
    for piece in stream.chunks(4096) {
        if p.feed(piece, Time::ZERO, &mut |_, _| {}).is_err() {
            break;
        }
        if max_updates.is_some_and(|m| p.updates() >= m) {
            break;
        }
    }
    p
}

/// Runs `f` for about a second and returns runs per second.
fn rate(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(1) || n < 3 {
        f();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

fn main() {
    for path in std::env::args().skip(1) {
        let stream = stream_of(&path);
        // The first update, alone: feed byte ranges until it completes.
        let mut p = Parser::new(PixelFormat::BGRX, Limits::default(), false);
        let mut end = 0;
        while p.updates() == 0 && end < stream.len() {
            let next = (end + 256).min(stream.len());
            if p.feed(&stream[end..next], Time::ZERO, &mut |_, _| {})
                .is_err()
            {
                break;
            }
            end = next;
        }
        let fb = p.screen().drawn_ref();
        let first = (fb.width(), fb.height());
        let frames = rate(|| {
            decode(&stream[..end], Some(1), Some(first));
        });
        let updates = decode(&stream, None, None).updates();
        let files = rate(|| {
            decode(&stream, None, None);
        });
        println!(
            "{path}: first update {}x{}: {frames:.0} frames/s; whole file: {updates} updates, {:.0} updates/s, {:.0} MB/s of stream",
            first.0,
            first.1,
            files * updates as f64,
            files * stream.len() as f64 / 1e6,
        );
    }
}
