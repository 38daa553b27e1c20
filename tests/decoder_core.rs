//! The core decoder against a synthetic scene whose pictures are known:
//! every update must match the model whatever the chunking, every prefix of
//! a recording must keep exactly the updates it completes, and damage must
//! be reported at its place.

mod common;

use rfbplay::container::{Container, End, FbReader, Piece};
use rfbplay::decode::RectError;
use rfbplay::framebuffer::Framebuffer;
use rfbplay::limits::{LimitError, Limits};
use rfbplay::rfb::encode::UpdateBuilder;
use rfbplay::rfb::{Encoding, Event, ParseErrorKind, Parser, PixelFormat, Rect};
use rfbplay::synth::{self, Message};

/// Decodes timed pieces; returns the shown screen after each update, or the
/// error that stopped decoding.
fn decode(
    pieces: &[(rfbplay::Time, Vec<u8>)],
) -> (Vec<Framebuffer>, Option<rfbplay::rfb::ParseError>) {
    let mut parser = Parser::new(PixelFormat::BGRX, Limits::default(), true);
    let mut screens = Vec::new();
    for (time, bytes) in pieces {
        let mut on_event = |e: Event, s: &rfbplay::framebuffer::Screen| {
            if let Event::Update { .. } = e {
                screens.push(s.shown().clone());
            }
        };
        if let Err(e) = parser.feed(bytes, *time, &mut on_event) {
            return (screens, Some(e));
        }
    }
    (screens, None)
}

fn expected(scene: &[Message]) -> Vec<&Framebuffer> {
    scene
        .iter()
        .filter_map(|m| m.screen_after.as_ref())
        .collect()
}

#[test]
fn every_update_matches_the_model_whatever_the_chunking() {
    let scene = synth::core_scene();
    let want = expected(&scene);
    for sizes in [
        &[usize::MAX][..],
        &[1],
        &[4096],
        &[7, 3, 1000, 2],
        &[12],
        &[11, 13],
    ] {
        let (got, err) = decode(&synth::chunks(&scene, sizes));
        assert!(err.is_none(), "chunk sizes {sizes:?}: {err:?}");
        assert_eq!(got.len(), want.len(), "chunk sizes {sizes:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, *w, "update {i} with chunk sizes {sizes:?}");
        }
    }
}

#[test]
fn one_byte_pieces_give_the_same_frames_as_4096_byte_pieces() {
    let scene = synth::core_scene();
    let a = decode(&synth::chunks(&scene, &[1])).0;
    let b = decode(&synth::chunks(&scene, &[4096])).0;
    assert_eq!(a, b);
    assert_eq!(a.len(), expected(&scene).len());
}

/// Reads a container to its end; returns payload bytes, the screens after
/// each update, and how it ended.
fn play_container(mut reader: FbReader) -> (usize, Vec<Framebuffer>, End) {
    let mut parser = Parser::new(PixelFormat::BGRX, Limits::default(), true);
    let mut screens = Vec::new();
    let mut delivered = 0;
    loop {
        match reader.next_piece().expect("a prefix is a cut, not damage") {
            Piece::Data { time, bytes, .. } => {
                delivered += bytes.len();
                let mut on_event = |e: Event, s: &rfbplay::framebuffer::Screen| {
                    if let Event::Update { .. } = e {
                        screens.push(s.shown().clone());
                    }
                };
                parser
                    .feed(bytes, time, &mut on_event)
                    .expect("a prefix decodes without error");
            }
            Piece::End(end) => return (delivered, screens, end),
            Piece::Gap(g) => panic!("no gaps without salvage: {g:?}"),
        }
    }
}

#[test]
fn every_prefix_keeps_exactly_the_updates_it_completes() {
    let scene = synth::core_scene();
    let want = expected(&scene);
    // Where each update's last byte lies in the stream.
    let mut update_ends = Vec::new();
    let mut pos = 0;
    for m in &scene {
        pos += m.bytes.len();
        if m.screen_after.is_some() {
            update_ends.push(pos);
        }
    }
    // The uncompressed container, so every byte position is a cut point.
    let mut plain = Vec::new();
    for (time, bytes) in synth::chunks(&scene, &[100, 37, 4096]) {
        plain.extend_from_slice(format!("{} {}\r\n", time.0, bytes.len()).as_bytes());
        plain.extend_from_slice(&bytes);
        plain.extend_from_slice(b"\r\n");
    }
    // The writer's deltas are relative; rebuild them properly.
    let plain = relative_deltas(&plain);
    for cut in 0..=plain.len() {
        let reader = FbReader::plain(std::io::Cursor::new(plain[..cut].to_vec()));
        let (delivered, screens, _end) = play_container(reader);
        let complete = update_ends.iter().filter(|&&end| end <= delivered).count();
        assert_eq!(
            screens.len(),
            complete,
            "cut at byte {cut}, {delivered} stream bytes delivered"
        );
        for (i, s) in screens.iter().enumerate() {
            assert_eq!(s, want[i], "cut at byte {cut}, update {i}");
        }
    }
}

/// Turns absolute times in record headers into deltas.
fn relative_deltas(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = plain;
    let mut last = 0u64;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&rest[..nl - 1]).unwrap();
        let (t, len) = header.split_once(' ').unwrap();
        let (t, len): (u64, usize) = (t.parse().unwrap(), len.parse().unwrap());
        out.extend_from_slice(format!("{} {len}\r\n", t - last).as_bytes());
        last = t;
        out.extend_from_slice(&rest[nl + 1..nl + 1 + len + 2]);
        rest = &rest[nl + 1 + len + 2..];
    }
    out
}

#[test]
fn gzip_prefixes_are_truncations_never_errors() {
    let scene = synth::core_scene();
    let file = synth::fb_file(&scene, &[64]);
    let total = expected(&scene).len();
    let mut last_count = 0;
    for cut in (0..file.len()).step_by(3).chain([file.len()]) {
        let reader = FbReader::gzip(std::io::Cursor::new(file[..cut].to_vec()));
        let (_, screens, end) = play_container(reader);
        assert!(
            screens.len() >= last_count,
            "cut at {cut}: fewer updates than a shorter prefix"
        );
        last_count = screens.len();
        if cut == file.len() {
            assert_eq!(end, End::Complete);
            assert_eq!(screens.len(), total);
        } else if cut > 0 {
            assert!(
                matches!(end, End::Truncated(_)),
                "cut at {cut} ended as {end:?}"
            );
        }
    }
}

#[test]
fn an_unknown_encoding_is_reported_at_its_rectangle() {
    let scene = synth::core_scene();
    let mut stream = Vec::new();
    for m in &scene {
        stream.extend_from_slice(&m.bytes);
    }
    // The third update's first rectangle header: find it by its offset.
    let offsets: Vec<usize> = scene
        .iter()
        .scan(0, |pos, m| {
            let start = *pos;
            *pos += m.bytes.len();
            Some(start)
        })
        .collect();
    let zlib_update = 3; // messages: update, update, bell, update(zlib) ...
    let rect_at = offsets[zlib_update] + 4;
    stream[rect_at + 8..rect_at + 12].copy_from_slice(&99i32.to_be_bytes());
    let pieces = vec![(rfbplay::Time(5), stream)];
    let (screens, err) = decode(&pieces);
    assert_eq!(
        screens.len(),
        2,
        "the two updates before the damage are kept"
    );
    let err = err.expect("decoding stops");
    assert_eq!(err.offset, rect_at as u64);
    match &err.kind {
        ParseErrorKind::Rect {
            encoding, update, ..
        } => {
            assert_eq!(encoding.0, 99);
            assert_eq!(*update, 3, "the third update, as `updates` numbers it");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("unknown encoding 99") && text.contains(&format!("byte {rect_at}")),
        "{text}"
    );
}

#[test]
fn corrupt_zlib_data_is_reported_with_its_encoding() {
    let scene = synth::core_scene();
    let mut stream: Vec<u8> = scene.iter().flat_map(|m| m.bytes.clone()).collect();
    let zlib_msg_start: usize = scene[..3].iter().map(|m| m.bytes.len()).sum();
    // Header 4 + rect header 12 + length 4, then zlib data: break its header.
    let data_at = zlib_msg_start + 4 + 12 + 4;
    stream[data_at] ^= 0xff;
    let (screens, err) = decode(&[(rfbplay::Time(1), stream)]);
    assert_eq!(screens.len(), 2);
    let err = err.expect("decoding stops");
    let text = err.to_string();
    assert!(
        text.contains("Zlib (6)") && text.contains("zlib data is corrupt: "),
        "{text}"
    );
    // The cause stays typed, with flate2's error as its source, and the
    // message says each part once.
    let ParseErrorKind::Rect { error, .. } = &err.kind else {
        panic!("{err}")
    };
    assert!(matches!(error, RectError::Zlib(_)));
    let cause = std::error::Error::source(error)
        .expect("flate2's error")
        .to_string();
    assert!(
        !cause.is_empty() && text.matches(&cause).count() == 1,
        "{text}"
    );
    assert_eq!(text.matches("corrupt").count(), 1, "{text}");
}

#[test]
fn a_huge_screen_claim_is_refused_before_allocating() {
    let mut u = rfbplay::rfb::encode::UpdateBuilder::new();
    u.desktop_size(60000, 60000);
    let (_, err) = decode(&[(rfbplay::Time(1), u.finish())]);
    let text = err.expect("refused").to_string();
    assert!(
        text.contains("60000x60000") && text.contains("over the limit"),
        "{text}"
    );
}

#[test]
fn shipped_synthetic_recording_decodes_to_its_picture() {
    let dir = common::testdata();
    let mut player =
        rfbplay::player::Player::open(&dir.join("synthetic_core.fb"), Default::default()).unwrap();
    let (shot, summary) =
        rfbplay::export::screen_at(&mut player, None, &rfbplay::progress::NoProgress);
    assert!(summary.error.is_none());
    assert_eq!(summary.end, End::Complete);
    let shot = shot.unwrap();
    let (w, h, rgb) = common::read_rgb(&dir.join("synthetic_core.png"));
    assert_eq!((shot.width(), shot.height()), (w, h));
    assert_eq!(shot.to_rgb(), rgb);
}

#[test]
fn extended_desktop_size_changes_the_screen() {
    // rfbproto ExtendedDesktopSize: number-of-screens, padding, then 16
    // bytes per screen; the rectangle's size is the new screen size.
    let mut u = rfbplay::rfb::encode::UpdateBuilder::new();
    let b = u.header(
        rfbplay::rfb::Rect::new(0, 0, 30, 20),
        rfbplay::rfb::Encoding::EXTENDED_DESKTOP_SIZE,
    );
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0, 0, 30, 0, 20, 0, 0, 0, 0]);
    let msg = u.finish();
    for size in [1, msg.len()] {
        let pieces: Vec<_> = msg
            .chunks(size)
            .map(|c| (rfbplay::Time(1), c.to_vec()))
            .collect();
        let (screens, err) = decode(&pieces);
        assert!(err.is_none(), "{err:?}");
        assert_eq!((screens[0].width(), screens[0].height()), (30, 20));
    }
}

#[test]
fn cursor_is_drawn_only_when_asked_and_moves_cleanly() {
    use rfbplay::rfb::{encode::UpdateBuilder, Encoding, Rect};
    // A 2x2 white cursor with hotspot (1, 1), left column opaque only.
    let shape = [255u8; 16];
    let mask = [0x80u8, 0x80];
    let mut first = UpdateBuilder::new();
    first.raw(Rect::new(0, 0, 4, 4), &[0; 64]);
    first.cursor((1, 1), 2, 2, &shape, &mask);
    first.header(Rect::new(2, 2, 0, 0), Encoding::POINTER_POS);
    let mut second = UpdateBuilder::new();
    second.header(Rect::new(1, 1, 0, 0), Encoding::POINTER_POS);
    let stream = [first.finish(), second.finish()].concat();
    for draw in [false, true] {
        let mut parser = Parser::new(PixelFormat::BGRX, Limits::default(), true);
        parser.set_draw_cursor(draw);
        let mut shots = vec![];
        parser
            .feed(&stream, rfbplay::Time(1), &mut |e, s| {
                if let Event::Update { .. } = e {
                    shots.push(s.shown().to_rgb());
                }
            })
            .unwrap();
        let whites = |rgb: &[u8]| -> Vec<usize> { (0..16).filter(|i| rgb[i * 3] == 255).collect() };
        let (white, white2) = (whites(&shots[0]), whites(&shots[1]));
        if draw {
            // Hotspot at (2,2): the opaque column is x=1, rows 1 and 2.
            assert_eq!(white, [5, 9]);
            // Moved to (1,1): x=0, rows 0 and 1; the old place is restored.
            assert_eq!(white2, [0, 4]);
        } else {
            assert!(white.is_empty() && white2.is_empty());
        }
    }
}

#[test]
fn a_time_jump_of_years_is_damage_not_a_pause() {
    let plain = b"5 1\r\n\x02\r\n999999999999999999 1\r\n\x02\r\n".to_vec();
    let mut r = FbReader::plain(std::io::Cursor::new(plain));
    assert!(matches!(r.next_piece().unwrap(), Piece::Data { .. }));
    let err = rfbplay::error_chain(&r.next_piece().unwrap_err());
    assert!(
        err.contains("chunk 2") && err.contains("over the limit of 24 hours"),
        "{err}"
    );
}

#[test]
fn a_zlib_bomb_is_refused_not_inflated() {
    // 8 MiB of zeros compress to a few KiB; announced as one 1x1 Zlib
    // rectangle, they must stop at the rectangle's 4 bytes.
    let mut z = flate2::Compress::new(flate2::Compression::best(), true);
    let bomb = rfbplay::rfb::encode::deflate_sync(&mut z, &vec![0u8; 8 << 20]);
    assert!(bomb.len() < 64 << 10);
    let mut u = rfbplay::rfb::encode::UpdateBuilder::new();
    u.raw(rfbplay::rfb::Rect::new(0, 0, 4, 4), &[0; 64]);
    let first = u.finish();
    let mut u = rfbplay::rfb::encode::UpdateBuilder::new();
    let b = u.header(
        rfbplay::rfb::Rect::new(0, 0, 1, 1),
        rfbplay::rfb::Encoding::ZLIB,
    );
    b.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
    b.extend_from_slice(&bomb);
    let (screens, err) = decode(&[(rfbplay::Time(1), [first, u.finish()].concat())]);
    assert_eq!(screens.len(), 1);
    let text = err.expect("refused").to_string();
    assert!(
        text.contains("Zlib (6)") && text.contains("compressed data of"),
        "{text}"
    );
}

#[test]
fn a_zlib_bomb_under_the_length_limit_stops_at_the_rectangle() {
    // Short enough to pass the length check for a 256x256 rectangle, but
    // inflating to 32 times its pixels: output stops at the rectangle.
    let mut z = flate2::Compress::new(flate2::Compression::best(), true);
    let bomb = rfbplay::rfb::encode::deflate_sync(&mut z, &vec![0u8; 8 << 20]);
    let mut u = rfbplay::rfb::encode::UpdateBuilder::new();
    u.raw(
        rfbplay::rfb::Rect::new(0, 0, 256, 256),
        &vec![0; 256 * 256 * 4],
    );
    let b = u.header(
        rfbplay::rfb::Rect::new(0, 0, 256, 256),
        rfbplay::rfb::Encoding::ZLIB,
    );
    b.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
    b.extend_from_slice(&bomb);
    let (_, err) = decode(&[(rfbplay::Time(1), u.finish())]);
    let text = err.expect("refused").to_string();
    assert!(
        text.contains("zlib data holds more than the rectangle"),
        "{text}"
    );
}

/// An update of `n` full-screen rectangles of `encoding`, each with
/// `payload`, on a `side` x `side` screen.
fn full_screen_update(side: u16, encoding: Encoding, payload: &[u8], n: u32) -> Vec<u8> {
    let mut u = UpdateBuilder::new();
    for _ in 0..n {
        u.header(Rect::new(0, 0, side, side), encoding)
            .extend_from_slice(payload);
    }
    u.finish()
}

fn work_limit_error(stream: Vec<u8>) -> rfbplay::rfb::ParseError {
    let started = std::time::Instant::now();
    let (screens, err) = decode(&[(rfbplay::Time(1), stream)]);
    assert!(screens.is_empty());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    err.expect("refused")
}

#[test]
fn a_pile_of_full_screen_tight_fills_is_refused_by_the_work_limit() {
    // 65,535 fills of a 2048x2048 screen: 20 bytes each, 4 M pixels each.
    let stream = full_screen_update(2048, Encoding::TIGHT, &[0x80, 1, 2, 3], 65_535);
    let err = work_limit_error(stream);
    let ParseErrorKind::Rect {
        update,
        rect,
        encoding,
        error,
    } = &err.kind
    else {
        panic!("{err}")
    };
    assert_eq!((*update, *encoding), (1, Encoding::TIGHT));
    assert_eq!(*rect, Rect::new(0, 0, 2048, 2048));
    assert!(
        matches!(
            error,
            RectError::Limit(LimitError::Work { screens: 4, screen_area, .. })
                if *screen_area == 2048 * 2048
        ),
        "{error:?}"
    );
    // Growing the screen from nothing and three fills make 4 screens; the
    // fourth fill is refused at its header.
    assert_eq!(err.offset, 4 + 3 * 16);
    assert!(err.to_string().contains("over the limit of"), "{err}");
}

#[test]
fn full_screen_rre_subrectangles_are_refused_by_the_work_limit() {
    let side = 2048u16;
    let mut payload = 65_535u32.to_be_bytes().to_vec();
    payload.extend_from_slice(&[0; 4]);
    for i in 0..65_535u32 {
        payload.extend_from_slice(&[i as u8, 0, 0, 0]);
        for v in [0, 0, side, side] {
            payload.extend_from_slice(&v.to_be_bytes());
        }
    }
    let err = work_limit_error(full_screen_update(side, Encoding::RRE, &payload, 1));
    assert!(
        matches!(
            &err.kind,
            ParseErrorKind::Rect {
                error: RectError::Limit(LimitError::Work { .. }),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn resizes_back_and_forth_are_refused_by_the_work_limit() {
    // Each DesktopSize to a new width allocates and copies a screen.
    let mut u = UpdateBuilder::new();
    for i in 0..10_000u16 {
        u.desktop_size(2048 - i % 2, 2048);
    }
    let err = work_limit_error(u.finish());
    assert!(err.to_string().contains("pixels in one update"), "{err}");
}

#[test]
fn overdraw_within_the_work_limit_still_decodes() {
    // Three full-screen fills and a full-screen CopyRect: 4 screens.
    let mut stream = full_screen_update(512, Encoding::TIGHT, &[0x80, 1, 2, 3], 3);
    let mut u = UpdateBuilder::new();
    u.copy_rect(Rect::new(0, 0, 512, 512), 0, 0);
    stream.extend(u.finish());
    let (screens, err) = decode(&[(rfbplay::Time(1), stream)]);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(screens.len(), 2);
}

#[test]
fn a_cut_text_of_4_gb_is_reported_where_it_starts() {
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(0, 0, 1, 1), &[1, 2, 3, 0]);
    let first = u.finish();
    let mut stream = first.clone();
    stream.extend_from_slice(&[3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    stream.extend_from_slice(&first);
    let mut p = Parser::new(PixelFormat::BGRX, Limits::default(), true);
    let mut warnings = Vec::new();
    p.feed(&stream, rfbplay::Time(7), &mut |e, _| {
        if let Event::Warning(w) = e {
            warnings.push(w);
        }
    })
    .unwrap();
    assert_eq!(p.updates(), 1, "the update after it is read as text");
    assert_eq!(warnings.len(), 1);
    let w = &warnings[0];
    assert_eq!(w.offset, first.len() as u64);
    assert_eq!(
        w.kind,
        rfbplay::rfb::WarningKind::LongCutText {
            len: u32::MAX,
            limit: Limits::default().warn_cut_text
        }
    );
    assert!(
        w.to_string()
            .contains(&format!("RFB stream byte {}", first.len())),
        "{w}"
    );
}

#[test]
fn an_error_inside_a_rectangle_names_its_start_and_the_failing_byte_whatever_the_pieces() {
    // RRE: 8 header bytes, then 12 per subrectangle; the third is outside.
    let rect = Rect::new(0, 0, 4, 4);
    let mut data = 3u32.to_be_bytes().to_vec();
    data.extend_from_slice(&[0; 4]);
    for geo in [[0u16, 0, 1, 1], [1, 1, 1, 1], [3, 3, 2, 2]] {
        data.extend_from_slice(&[9, 9, 9, 0]);
        for v in geo {
            data.extend_from_slice(&v.to_be_bytes());
        }
    }
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(0, 0, 4, 4), &[0; 64]);
    u.header(rect, Encoding::RRE).extend_from_slice(&data);
    let stream = u.finish();
    let rect_at = 4 + 12 + 64;
    for size in [usize::MAX, 1, 5, 13] {
        let mut p = Parser::new(PixelFormat::BGRX, Limits::default(), true);
        let err = stream
            .chunks(size.min(stream.len()))
            .find_map(|piece| p.feed(piece, rfbplay::Time(1), &mut |_, _| {}).err())
            .expect("refused");
        assert_eq!(err.offset, rect_at as u64, "pieces of {size}");
        assert_eq!(
            err.failing_offset,
            (rect_at + 12 + 8 + 2 * 12) as u64,
            "pieces of {size}"
        );
    }
}
