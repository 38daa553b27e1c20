//! Self-contained Tight recordings in `testdata/`, one per compression type
//! and filter, each with the picture it is meant to show as a PNG.
//!
//! The files are made by this project's own tools: the test Tight encoder
//! in `tests/tight_enc` and `rfbplay::container::FbWriter`. To remake them
//! (after changing a scene below):
//!
//! ```text
//! cargo test --test tight_testdata -- --ignored regenerate
//! ```
//!
//! The ordinary tests play each committed `.fb` like any recording and
//! compare its last frame with the committed PNG: exactly for the lossless
//! files, within a mean absolute difference of 2 per channel for JPEG.

mod common;
mod tight_enc;

use rfbplay::container::FbWriter;
use rfbplay::player::{PlayOptions, Player};
use tight_enc::{fill, pictures, tight, update, Encoder, Filter, Picture};

/// A recording being built: the screen the decoder should end with, and
/// the updates that draw it.
struct Scene {
    canvas: Picture,
    enc: Encoder,
    rects: Vec<tight_enc::Rect>,
    updates: Vec<Vec<u8>>,
}

impl Scene {
    fn new(w: usize, h: usize, background: [u8; 3]) -> Scene {
        let mut s = Scene {
            canvas: Picture::new(w, h, |_, _| background),
            enc: Encoder::default(),
            rects: Vec::new(),
            updates: Vec::new(),
        };
        // The first update covers the screen: .fb files carry no
        // ServerInit, so it sets the screen size.
        s.put_fill(0, 0, w, h, background, 0);
        s.end_update();
        s
    }

    fn paint(&mut self, x0: usize, y0: usize, pic: &Picture) {
        for y in 0..pic.h {
            for x in 0..pic.w {
                let i = ((y0 + y) * self.canvas.w + x0 + x) * 3;
                self.canvas.rgb[i..i + 3].copy_from_slice(&pic.at(x, y));
            }
        }
    }

    fn put_fill(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3], reset: u8) {
        self.paint(x, y, &Picture::new(w, h, |_, _| c));
        self.rects.push(tight(
            x as u16,
            y as u16,
            w as u16,
            h as u16,
            fill(c, reset),
        ));
    }

    fn put(&mut self, x: usize, y: usize, pic: &Picture, stream: usize, filter: Filter, reset: u8) {
        self.paint(x, y, pic);
        let payload = self.enc.basic(pic, stream, filter, reset);
        self.rects.push(tight(
            x as u16,
            y as u16,
            pic.w as u16,
            pic.h as u16,
            payload,
        ));
    }

    fn put_jpeg(&mut self, x: usize, y: usize, pic: &Picture, quality: u8) {
        self.paint(x, y, pic);
        let payload = Encoder::jpeg(pic, quality, 0);
        self.rects.push(tight(
            x as u16,
            y as u16,
            pic.w as u16,
            pic.h as u16,
            payload,
        ));
    }

    fn end_update(&mut self) {
        let rects = std::mem::take(&mut self.rects);
        self.updates.push(update(&rects));
    }

    /// The `.fb` bytes: one update per 100 ms, each split in two chunks so
    /// readers see messages span chunks as real recordings do.
    fn fb(&self) -> Vec<u8> {
        let mut w = FbWriter::new(Vec::new(), 9);
        for (i, u) in self.updates.iter().enumerate() {
            let t = 1_000_000 + i as u64 * 100_000_000;
            let (a, b) = u.split_at(u.len() / 2);
            w.chunk(t, a).unwrap();
            w.chunk(t + 1_000, b).unwrap();
        }
        w.finish().unwrap()
    }
}

/// The scenes, by file name, and whether they are lossy.
fn scenes() -> Vec<(&'static str, bool, Scene)> {
    let mut out = Vec::new();

    let mut s = Scene::new(64, 48, [20, 40, 60]);
    s.put_fill(4, 4, 20, 10, [250, 0, 0], 0);
    s.put_fill(30, 8, 30, 30, [0, 250, 0], 0);
    s.end_update();
    s.put_fill(10, 20, 40, 20, [1, 2, 250], 0);
    s.put_fill(63, 47, 1, 1, [255, 255, 255], 0);
    s.end_update();
    out.push(("tight_fill", false, s));

    let mut s = Scene::new(64, 48, [0, 0, 0]);
    s.put(0, 0, &pictures::ramp(64, 24), 0, Filter::Implicit, 0);
    s.put(0, 24, &pictures::ramp(40, 24), 1, Filter::Copy, 0);
    // 3x1: 9 bytes of TPIXELs, sent without zlib.
    s.put(50, 30, &pictures::ramp(3, 1), 0, Filter::Copy, 0);
    s.end_update();
    s.put(8, 8, &pictures::ramp(30, 12), 0, Filter::Implicit, 0);
    s.end_update();
    out.push(("tight_copy", false, s));

    let mut s = Scene::new(64, 48, [200, 200, 200]);
    s.put(1, 1, &pictures::two_colours(13, 9), 0, Filter::Palette, 0);
    s.put(20, 5, &pictures::two_colours(41, 30), 1, Filter::Palette, 0);
    s.put(2, 40, &pictures::two_colours(5, 2), 2, Filter::Palette, 0);
    s.end_update();
    out.push(("tight_palette2", false, s));

    let mut s = Scene::new(64, 48, [200, 200, 200]);
    s.put(0, 0, &pictures::stripes(32, 16, 3), 0, Filter::Palette, 0);
    s.put(32, 0, &pictures::stripes(32, 16, 16), 1, Filter::Palette, 0);
    s.put(
        0,
        16,
        &pictures::stripes(64, 32, 256),
        2,
        Filter::Palette,
        0,
    );
    s.end_update();
    out.push(("tight_palette", false, s));

    let mut s = Scene::new(64, 48, [0, 0, 0]);
    s.put(0, 0, &pictures::ramp(64, 30), 0, Filter::Gradient, 0);
    let harsh = Picture::new(17, 11, |x, y| {
        if (x + y) % 2 == 0 {
            [255, 0, 255]
        } else {
            [0, 255, 1]
        }
    });
    s.put(5, 32, &harsh, 1, Filter::Gradient, 0);
    s.end_update();
    out.push(("tight_gradient", false, s));

    let mut s = Scene::new(64, 48, [128, 128, 128]);
    s.put_jpeg(0, 0, &pictures::smooth(64, 32), 90);
    s.end_update();
    s.put_jpeg(16, 24, &pictures::smooth(40, 24), 75);
    s.end_update();
    out.push(("tight_jpeg", true, s));

    // Streams restarted mid-recording, with the reset bit on a fill.
    let mut s = Scene::new(64, 48, [0, 0, 0]);
    s.put(0, 0, &pictures::ramp(32, 24), 0, Filter::Copy, 0);
    s.put(32, 0, &pictures::stripes(32, 24, 7), 3, Filter::Palette, 0);
    s.end_update();
    s.enc.reset(0);
    s.enc.reset(3);
    s.put_fill(0, 24, 64, 24, [9, 8, 7], 0b1001);
    s.put(0, 0, &pictures::stripes(32, 24, 5), 0, Filter::Palette, 0);
    s.put(32, 0, &pictures::ramp(32, 24), 3, Filter::Gradient, 0);
    s.end_update();
    out.push(("tight_reset", false, s));

    out
}

#[test]
#[ignore = "writes testdata/; run by hand to remake the files"]
fn regenerate() {
    let dir = common::testdata();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, _, scene) in scenes() {
        std::fs::write(dir.join(format!("{name}.fb")), scene.fb()).unwrap();
        let c = &scene.canvas;
        image::save_buffer(
            dir.join(format!("{name}.png")),
            &c.rgb,
            c.w as u32,
            c.h as u32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    }
}

#[test]
fn tight_testdata_decodes_to_its_pictures() {
    let dir = common::testdata();
    for (name, lossy, _) in scenes() {
        let fb = dir.join(format!("{name}.fb"));
        let mut player = Player::open(&fb, PlayOptions::default()).expect("opens");
        let (frame, summary) =
            rfbplay::export::screen_at(&mut player, None, &rfbplay::progress::NoProgress);
        assert!(summary.error.is_none(), "{name}: {:?}", summary.error);
        let frame = frame.expect("a frame").to_rgb();
        let (w, h, want) = common::read_rgb(&dir.join(format!("{name}.png")));
        assert_eq!(frame.len(), (w * h * 3) as usize, "{name}: size");
        if lossy {
            let total: u64 = frame
                .iter()
                .zip(&want)
                .map(|(&a, &b)| u64::from(a.abs_diff(b)))
                .sum();
            let mean = total as f64 / frame.len() as f64;
            assert!(mean <= 2.0, "{name}: mean absolute difference {mean}");
        } else {
            assert!(frame == want, "{name}: frame differs from its PNG");
        }
        let stats = player.parser().context().stats();
        let subs = &stats.subencodings["Tight"];
        let expected = match name {
            "tight_copy" => "copy",
            "tight_palette2" => "palette2",
            "tight_palette" => "palette",
            "tight_gradient" => "gradient",
            "tight_jpeg" => "jpeg",
            _ => "fill",
        };
        assert!(subs.contains_key(expected), "{name}: {subs:?}");
    }
}

/// The committed files are what the scenes make today: the encoder and the
/// recordings have not drifted apart.
#[test]
fn tight_testdata_matches_its_generator() {
    let dir = common::testdata();
    for (name, _, scene) in scenes() {
        let (w, h, want) = common::read_rgb(&dir.join(format!("{name}.png")));
        assert_eq!((w as usize, h as usize), (scene.canvas.w, scene.canvas.h));
        assert!(want == scene.canvas.rgb, "{name}: PNG is stale; regenerate");
    }
}
