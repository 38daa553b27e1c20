//! Entry points for the fuzz targets in `fuzz/`: each takes arbitrary bytes
//! and drives one stage the way a hostile file or server would. They must
//! never panic, hang or allocate without bound; the targets are one-line
//! wrappers so that the library, not the harness, holds the logic.

use crate::container::{fbs::FbsReader, Container, FbReader, Piece};
use crate::limits::Limits;
use crate::rfb::{Encoding, Parser, PixelFormat};
use crate::time::Time;

/// Tighter limits than the defaults, so a fuzzer explores rather than
/// spending its time filling legitimately large screens.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_width: 2048,
        max_height: 2048,
        max_pixels: 1 << 20,
        max_chunk: 1 << 20,
        ..Limits::default()
    }
}

fn drain(c: &mut dyn Container) {
    let mut parser = Parser::new(PixelFormat::BGRX, fuzz_limits(), true);
    for _ in 0..100_000 {
        match c.next_piece() {
            Ok(Piece::Data { time, bytes, .. }) => {
                if parser.feed(bytes, time, &mut |_, _| {}).is_err() {
                    return;
                }
            }
            Ok(Piece::End(_)) | Err(_) => return,
            Ok(Piece::Gap(_)) => {}
        }
    }
}

/// The `.fb` container, both uncompressed and gzip, then the stream.
pub fn container_fb(data: &[u8]) {
    let mut plain = FbReader::plain(std::io::Cursor::new(data.to_vec())).with_limits(fuzz_limits());
    drain(&mut plain);
    let mut gz = FbReader::gzip(std::io::Cursor::new(data.to_vec())).with_limits(fuzz_limits());
    drain(&mut gz);
}

/// FBS files: header, blocks, handshake, then the stream.
pub fn container_fbs(data: &[u8]) {
    let mut with_magic = b"FBS 001.000\n".to_vec();
    with_magic.extend_from_slice(data);
    if let Ok(mut r) = FbsReader::open(std::io::Cursor::new(with_magic)) {
        drain(&mut r);
    }
}

/// Pixel formats a stream may be in, chosen by the first input byte.
fn pixel_format(selector: u8) -> PixelFormat {
    let mut pf = PixelFormat::BGRX;
    match selector % 5 {
        0 => {}
        1 => pf.big_endian = true,
        2 => {
            pf = PixelFormat {
                big_endian: selector & 0x80 != 0,
                ..PixelFormat::RGB565
            }
        }
        3 => {
            pf = PixelFormat::COLOUR_MAP_8;
        }
        _ => {
            pf = PixelFormat {
                bits_per_pixel: 8,
                depth: 8,
                big_endian: false,
                true_colour: true,
                red_max: 7,
                green_max: 7,
                blue_max: 3,
                red_shift: 0,
                green_shift: 3,
                blue_shift: 6,
            }
        }
    }
    pf
}

/// The stream parser: byte 0 picks the pixel format, byte 1 the piece
/// size; the rest is the stream, fed in pieces of that size. The same
/// stream fed whole must give the same screen.
pub fn stream(data: &[u8]) {
    let [sel, piece, rest @ ..] = data else {
        return;
    };
    let pf = pixel_format(*sel);
    let run = |size: usize| {
        let mut parser = Parser::new(pf, fuzz_limits(), true);
        let mut ok = true;
        for chunk in rest.chunks(size.max(1)) {
            if parser.feed(chunk, Time::ZERO, &mut |_, _| {}).is_err() {
                ok = false;
                break;
            }
        }
        (ok, parser.updates(), parser.screen().shown().clone())
    };
    let split = run(usize::from(*piece));
    let whole = run(rest.len());
    assert_eq!(split, whole, "the screen depends on where the pieces split");
}

/// One rectangle of `encoding` on a 64x48 screen: bytes 0-7 are the
/// rectangle, byte 8 the pixel format; the rest is its payload, followed
/// by a second, valid rectangle so that leftover state shows.
pub fn rect(encoding: Encoding, data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let v = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
    let (x, y, w, h) = (v(0) % 80, v(2) % 64, v(4) % 80, v(6) % 64);
    let pf = pixel_format(data[8]);
    let mut msg = vec![0, 0, 0, 2];
    for n in [x, y, w, h] {
        msg.extend_from_slice(&n.to_be_bytes());
    }
    msg.extend_from_slice(&encoding.0.to_be_bytes());
    msg.extend_from_slice(&data[9..]);
    let mut parser = Parser::new(pf, fuzz_limits(), true);
    if parser.set_screen_size(64, 48).is_err() {
        return;
    }
    let _ = parser.feed(&msg, Time::ZERO, &mut |_, _| {});
}

/// A .kb text (docs/formats.md section 3): parses or fails cleanly, and what
/// parses writes back to text that parses to the same lines.
pub fn kb_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(first) = crate::kb::parse_str(&text) else {
        return;
    };
    let mut out = Vec::new();
    if crate::kb::write::write_script(&first, &mut out).is_err() {
        return;
    }
    let again = crate::kb::parse_str(&String::from_utf8_lossy(&out));
    let items = |s: &crate::kb::Script| s.lines.iter().map(|l| l.item.clone()).collect::<Vec<_>>();
    match again {
        Ok(second) => assert_eq!(items(&first), items(&second), "the writer changed events"),
        Err(e) => panic!("the writer's output does not parse: {e}"),
    }
}

/// The viewer-to-server stream `record-kb` follows: byte 0 picks where to
/// split the rest; whole and split feeding must report the same events.
pub fn viewer_stream(data: &[u8]) {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let run = |pieces: &[&[u8]]| {
        let mut p = crate::kb::proxy::ClientStream::default();
        p.set_server_choice(1);
        let mut got = Vec::new();
        for piece in pieces {
            p.feed(piece, &mut |i| got.push(i));
        }
        (got, p.lost().cloned())
    };
    let at = usize::from(cut).min(rest.len());
    let whole = run(&[rest]);
    assert_eq!(
        run(&[&rest[..at], &rest[at..]]),
        whole,
        "split feeding differs"
    );
    let bytes: Vec<&[u8]> = rest.chunks(1).collect();
    assert_eq!(run(&bytes), whole, "byte-by-byte feeding differs");
}

/// The client's handshake machine, fed a server's bytes in pieces whose
/// sizes come from the data itself, with a password so every state is
/// reachable; what it holds stays within one message.
pub fn client_handshake(data: &[u8]) {
    use crate::client::handshake::{ClientHandshake, Version, MAX_TEXT};
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let mut hs = ClientHandshake::new(Some(b"pw"), true, Version::V3_8);
    let step = usize::from(split).max(1);
    for piece in rest.chunks(step) {
        match hs.feed(piece) {
            Ok(used) if used < piece.len() => assert!(hs.done().is_some()),
            Ok(_) => {}
            Err(_) => return,
        }
        assert!(hs.wants() <= MAX_TEXT as usize + 64);
        let _ = hs.take_output();
    }
}
