//! Template search speed on a 1920x1080 screen made of real screenshots
//! (the corpus truth images, tiled): the time to find a template that is
//! there, to decide one is absent at the default tolerance, and to find
//! the closest match of an absent one over the whole screen, for 16x16,
//! 64x64 and 200x100 templates. A ratio-printing tool, not a timed test
//! (CONVENTIONS.md 11).
//!
//! Run: `cargo run --release --example bench_search -- ../shared/corpus`

use rfbplay::framebuffer::Framebuffer;
use rfbplay::search::Template;
use rfbplay::search::{Budget, Searcher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn load(path: &Path) -> Framebuffer {
    let img = image::open(path).expect("open screenshot").to_rgb8();
    Framebuffer::from_rgb(img.width(), img.height(), img.as_raw())
}

/// `tiles` laid out left to right, top to bottom, over a w x h screen.
fn tiled(tiles: &[Framebuffer], w: u32, h: u32) -> Framebuffer {
    let mut fb = Framebuffer::new(w, h);
    let (mut x, mut y, mut row_h, mut i) = (0, 0, 0, 0);
    while y < h {
        let t = &tiles[i % tiles.len()];
        i += 1;
        let tw = t.width().min(w - x);
        let th = t.height().min(h - y);
        for j in 0..th {
            let src = t.row(0, j, tw).to_vec();
            fb.row_mut(x, y + j, tw).copy_from_slice(&src);
        }
        row_h = row_h.max(th);
        x += tw;
        if x >= w {
            x = 0;
            y += row_h;
            row_h = 0;
        }
    }
    fb
}

fn cut(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> Arc<Template> {
    let mut bgrx = Vec::new();
    for j in y..y + h {
        bgrx.extend_from_slice(fb.row(x, j, w));
    }
    Arc::new(Template {
        width: w,
        height: h,
        bgrx,
        source: "cut".into(),
        path: None,
    })
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or("../shared/corpus".into());
    let names = [
        "enc_xvnc_zrle.truth.png",
        "enc_qemu_modes_zrle.truth.png",
        "enc_xvnc_hextile.truth.png",
    ];
    let shots: Vec<Framebuffer> = names
        .iter()
        .map(|n| load(&Path::new(&dir).join(n)))
        .collect();
    let screen = tiled(&shots, 1920, 1080);
    let other = load(&Path::new(&dir).join("enc_qemu_ipxe_tight.truth.png"));
    let limit = Duration::from_secs(60);
    for (w, h) in [(16, 16), (64, 64), (200, 100)] {
        let present = cut(&screen, 1500, 900, w, h);
        let absent = cut(&other, 40, 40, w, h);
        let run = |t: &Arc<Template>, tol: f64| {
            let mut s = Searcher::new(Arc::clone(t));
            let all = s.whole(&screen).unwrap();
            let start = Instant::now();
            let mut stop = || false;
            let mut budget = Budget {
                deadline: Some(start + limit),
                stop: &mut stop,
            };
            let found = s.search(&screen, all, tol, &mut budget);
            (start.elapsed(), found)
        };
        let (t1, f1) = run(&present, 12.0);
        let (t2, f2) = run(&absent, 12.0);
        let (t3, f3) = run(&absent, f64::INFINITY);
        println!(
            "{w}x{h}: present {t1:.2?} ({:?}); absent at tolerance 12 {t2:.2?} ({:?}); closest match of absent {t3:.2?} (score {:.1}, complete {})",
            f1.best.map(|m| (m.x, m.y)),
            f2.best.map(|m| m.score),
            f3.best.map_or(-1.0, |m| m.score),
            f3.complete
        );
    }
}
