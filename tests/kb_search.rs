//! Template search on real screens (the corpus truth screenshots of Xvnc
//! xterms): an exact cut-out is found where it was cut, a JPEG-damaged copy
//! is still found with its score reported, and a template that is not on
//! the screen is not found. Prints the search times for the report.

mod common;

use rfbplay::framebuffer::Framebuffer;
use rfbplay::kb::search::Searcher;
use rfbplay::kb::{load, LoadOptions, Template};
use std::sync::Arc;
use std::time::Instant;

fn screen(name: &str) -> Option<Framebuffer> {
    let dir = common::corpus()?;
    let (w, h, rgb) = common::read_rgb(&dir.join(name));
    Some(Framebuffer::from_rgb(w, h, &rgb))
}

fn cut(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |i, j| {
        let p = fb.row(x + i, y + j, 1);
        image::Rgb([p[2], p[1], p[0]])
    })
}

fn template(img: &image::RgbImage, format: image::ImageFormat) -> Arc<Template> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format).unwrap();
    Arc::new(
        load::decode_template(bytes.get_ref(), "test".into(), &LoadOptions::default()).unwrap(),
    )
}

#[test]
fn finds_xterm_text_exactly_and_through_jpeg() {
    let Some(fb) = screen("enc_xvnc_zrle.truth.png") else {
        return;
    };
    // The first xterm's top-left text: 10x20 font at +10+10.
    let (x, y, w, h) = (13, 13, 120, 40);
    let img = cut(&fb, x, y, w, h);
    let mut exact = Searcher::new(template(&img, image::ImageFormat::Png));
    let all = exact.whole(&fb).unwrap();
    let t = Instant::now();
    let m = exact.search(&fb, all, 12.0).unwrap();
    let exact_time = t.elapsed();
    assert_eq!((m.x, m.y, m.score), (x, y, 0.0));

    let mut lossy = Searcher::new(template(&img, image::ImageFormat::Jpeg));
    let t = Instant::now();
    let m = lossy.search(&fb, all, 12.0).unwrap();
    let lossy_time = t.elapsed();
    assert_eq!((m.x, m.y), (x, y));
    assert!(m.score > 0.0, "JPEG should not be exact");
    eprintln!(
        "1024x768 screen, {w}x{h} template: exact found in {exact_time:?}; JPEG copy found in {lossy_time:?} with score {:.2}",
        m.score
    );

    // A template from another screen is not there.
    let Some(other) = screen("enc_qemu_modes_hextile.truth.png") else {
        return;
    };
    let foreign = cut(&other, 0, 0, 64, 32.min(other.height()));
    let mut s = Searcher::new(template(&foreign, image::ImageFormat::Png));
    let t = Instant::now();
    let none = s.search(&fb, all_for(&s, &fb), 12.0);
    eprintln!("absent template: searched in {:?}", t.elapsed());
    assert_eq!(none, None);
}

fn all_for(s: &Searcher, fb: &Framebuffer) -> rfbplay::kb::search::Area {
    s.whole(fb).unwrap()
}
