//! Synthetic recordings: a scripted scene drawn twice, once as the RFB
//! messages a server would send and once straight onto a model
//! framebuffer. Tests decode the messages and compare with the model after
//! every update; `examples/make_testdata.rs` writes them to `testdata/`; the
//! fuzz targets start from them. The picture is known, so a decoder bug
//! cannot hide behind a truth made by the same decoder.

use crate::container::FbWriter;
use crate::framebuffer::Framebuffer;
use crate::rfb::encode::{self, UpdateBuilder};
use crate::rfb::Rect;
use crate::time::Time;

/// One server message with the time it completes.
pub struct Message {
    pub time: Time,
    pub bytes: Vec<u8>,
    /// For a FramebufferUpdate: the screen after it.
    pub screen_after: Option<Framebuffer>,
}

/// A deterministic pattern: pixel (x, y) of picture `seed`.
pub fn pattern(seed: u32, w: u16, h: u16) -> Vec<u8> {
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h) * 4);
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            let v = x
                .wrapping_mul(7)
                .wrapping_add(y.wrapping_mul(13))
                .wrapping_add(seed.wrapping_mul(31));
            px.extend_from_slice(&[
                (v & 0xff) as u8,
                ((v >> 2) & 0xff) as u8,
                ((x ^ y ^ seed) & 0xff) as u8,
                0,
            ]);
        }
    }
    px
}

/// A decompressed `.fb` container of `n` chunk records as minimega writes
/// them while the screen streams: `<delta> 4096\r\n`, 4 KiB of payload,
/// CRLF. The payload is noise of 64 values, which deflate codes as literals
/// in compressed blocks, while each header's ` 4096\r\n` is copied from
/// the one before: the case salvage meets after gzip damage.
pub fn noise_records(n: usize, seed: u32) -> Vec<u8> {
    use std::io::Write;
    let mut x = seed;
    let mut out = Vec::new();
    for _ in 0..n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        write!(out, "{} 4096\r\n", 1000 + (x >> 8) % 9000).expect("a Vec takes it");
        for _ in 0..4096 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            out.push(128 + (x >> 26) as u8);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Writes a whole rectangle of B, G, R, X pixels onto the model.
fn draw(model: &mut Framebuffer, rect: Rect, bgrx: &[u8]) {
    model.write_rect_bytes(rect, 0, bgrx);
}

/// The core scene: Raw, CopyRect (overlapping both ways), Zlib on one
/// stream across updates, LastRect, a 0x0 Cursor, Bell, ServerCutText,
/// SetColorMapEntries, and DesktopSize growing then shrinking the screen.
pub fn core_scene() -> Vec<Message> {
    let mut out = Vec::new();
    let mut model = Framebuffer::new(48, 32);
    let mut z = flate2::Compress::new(flate2::Compression::new(6), true);
    let mut t = 0u64;
    let mut next_time = |step_ms: u64| {
        t += step_ms * 1_000_000;
        Time(t)
    };
    let push_update = |out: &mut Vec<Message>, time, bytes, model: &Framebuffer| {
        out.push(Message {
            time,
            bytes,
            screen_after: Some(model.clone()),
        });
    };

    // 1: the whole screen, Raw, split into bands as TigerVNC does.
    let mut u = UpdateBuilder::new();
    for band in 0..4u16 {
        let r = Rect::new(0, band * 8, 48, 8);
        let px = pattern(u32::from(band), r.w, r.h);
        u.raw(r, &px);
        draw(&mut model, r, &px);
    }
    push_update(&mut out, next_time(12), u.finish(), &model);

    // 2: CopyRect down-right over its own source, then up-left.
    let mut u = UpdateBuilder::new();
    let r = Rect::new(10, 6, 20, 12);
    u.copy_rect(r, 4, 2);
    model.copy_within(4, 2, r);
    let r2 = Rect::new(0, 0, 16, 10);
    u.copy_rect(r2, 3, 5);
    model.copy_within(3, 5, r2);
    push_update(&mut out, next_time(100), u.finish(), &model);

    out.push(Message {
        time: next_time(30),
        bytes: encode::bell(),
        screen_after: None,
    });

    // 3: Zlib rectangles sharing the connection's stream, with LastRect.
    let mut u = UpdateBuilder::new().with_last_rect();
    for (i, r) in [Rect::new(5, 5, 17, 9), Rect::new(30, 20, 18, 12)]
        .into_iter()
        .enumerate()
    {
        let px = pattern(10 + i as u32, r.w, r.h);
        u.zlib(r, &px, &mut z);
        draw(&mut model, r, &px);
    }
    u.cursor((0, 0), 0, 0, &[], &[]);
    push_update(&mut out, next_time(70), u.finish(), &model);

    out.push(Message {
        time: next_time(5),
        bytes: encode::server_cut_text(b"copied text"),
        screen_after: None,
    });
    out.push(Message {
        time: next_time(5),
        bytes: encode::set_colour_map_entries(0, &[[0xffff, 0, 0], [0, 0xffff, 0]]),
        screen_after: None,
    });

    // 4: the screen grows; the new area arrives in the same update.
    let mut u = UpdateBuilder::new();
    u.desktop_size(64, 40);
    model.resize(64, 40);
    let r = Rect::new(0, 0, 64, 40);
    let px = pattern(20, r.w, r.h);
    u.zlib(r, &px, &mut z);
    draw(&mut model, r, &px);
    push_update(&mut out, next_time(200), u.finish(), &model);

    // 5: an empty update, then one more Zlib rectangle on the same stream.
    push_update(
        &mut out,
        next_time(100),
        UpdateBuilder::new().finish(),
        &model,
    );
    let mut u = UpdateBuilder::new();
    let r = Rect::new(40, 30, 24, 10);
    let px = pattern(30, r.w, r.h);
    u.zlib(r, &px, &mut z);
    draw(&mut model, r, &px);
    u.raw(Rect::new(1, 1, 1, 1), &[1, 2, 3, 0]);
    draw(&mut model, Rect::new(1, 1, 1, 1), &[1, 2, 3, 0]);
    push_update(&mut out, next_time(150), u.finish(), &model);

    // 6: the screen shrinks.
    let mut u = UpdateBuilder::new();
    u.desktop_size(40, 24);
    model.resize(40, 24);
    push_update(&mut out, next_time(333), u.finish(), &model);
    out
}

/// Lays messages out as `.fb` chunks. `sizes` gives successive chunk
/// lengths (cycled); a chunk's time is the time of the message holding its
/// last byte, so each message completes at its own time or later.
pub fn chunks(messages: &[Message], sizes: &[usize]) -> Vec<(Time, Vec<u8>)> {
    let mut stream = Vec::new();
    let mut ends = Vec::new();
    for m in messages {
        stream.extend_from_slice(&m.bytes);
        ends.push((stream.len(), m.time));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let len = sizes[i % sizes.len()].max(1).min(stream.len() - pos);
        i += 1;
        let last = pos + len - 1;
        let time = ends
            .iter()
            .find(|(end, _)| *end > last)
            .map_or(Time::ZERO, |(_, t)| *t);
        out.push((time, stream[pos..pos + len].to_vec()));
        pos += len;
    }
    out
}

/// The messages as a gzip `.fb` file with the given chunk sizes.
pub fn fb_file(messages: &[Message], sizes: &[usize]) -> Vec<u8> {
    let mut w = FbWriter::new(Vec::new(), 6);
    for (time, bytes) in chunks(messages, sizes) {
        w.chunk(time.0, &bytes).expect("writing to memory");
    }
    w.finish().expect("writing to memory")
}

/// The messages as an FBS file: the server side of an RFB 3.8 handshake
/// announcing a `width` x `height` screen in the native pixel format, then
/// one block per chunk with millisecond timestamps.
pub fn fbs_file(messages: &[Message], sizes: &[usize], width: u16, height: u16) -> Vec<u8> {
    use crate::container::fbs;
    let hs = fbs::handshake_bytes(width, height, &crate::rfb::PixelFormat::BGRX, "synthetic");
    let chunks = chunks(messages, sizes);
    let mut blocks: Vec<(u32, &[u8])> = vec![(0, &hs)];
    for (time, bytes) in &chunks {
        blocks.push(((time.0 / 1_000_000) as u32, bytes));
    }
    fbs::write_fbs(&blocks)
}
