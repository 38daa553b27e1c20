//! `rfbplay::compare` on synthetic pairs whose differences are known
//! exactly, and on real screens from the corpus: counts, anti-aliasing,
//! masks, selections, dirty rectangles, layouts and the diff image.

mod common;

use rfbplay::compare::{
    self, compare, compare_and_draw, compare_in, DiffMode, ImageView, Layout, Options, Rect,
    Tolerance,
};

/// A width x height RGB image filled by `f(x, y)`.
fn rgb(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&f(x, y));
        }
    }
    v
}

fn view(data: &[u8], w: u32, h: u32) -> ImageView<'_> {
    ImageView::packed(data, w, h, Layout::Rgb).unwrap()
}

fn texture(x: u32, y: u32) -> [u8; 3] {
    [
        (x * 7 % 256) as u8,
        (y * 5 % 256) as u8,
        ((x + y) % 256) as u8,
    ]
}

#[test]
fn one_pixel_changed() {
    let a = rgb(64, 48, texture);
    let b = rgb(64, 48, |x, y| {
        if (x, y) == (10, 20) {
            [255, 0, 255]
        } else {
            texture(x, y)
        }
    });
    let c = compare(&view(&a, 64, 48), &view(&b, 64, 48), &Options::default()).unwrap();
    assert_eq!(c.diff_pixels, 1);
    assert_eq!(c.aa_pixels, 0);
    assert_eq!(c.bbox, Some(Rect::new(10, 20, 1, 1)));
    assert_eq!(c.regions, vec![Rect::new(10, 20, 1, 1)]);
    assert!((c.diff_ratio() - 1.0 / (64.0 * 48.0)).abs() < 1e-12);
    assert!(!c.is_same(&Tolerance::default()));
    assert!(c.is_same(&Tolerance {
        max_diff_pixels: Some(1),
        max_diff_ratio: None
    }));
    assert!(!c.is_same(&Tolerance {
        max_diff_pixels: None,
        max_diff_ratio: Some(0.0001)
    }));
}

#[test]
fn rectangle_changed_and_two_regions() {
    let a = rgb(200, 100, |_, _| [240, 240, 240]);
    let b = rgb(200, 100, |x, y| {
        if (5..15).contains(&x) && (6..10).contains(&y) || (150..160).contains(&x) && y == 90 {
            [20, 30, 200]
        } else {
            [240, 240, 240]
        }
    });
    let c = compare(
        &view(&a, 200, 100),
        &view(&b, 200, 100),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(c.diff_pixels, 40 + 10);
    assert_eq!(c.bbox, Some(Rect::new(5, 6, 155, 85)));
    assert_eq!(
        c.regions,
        vec![Rect::new(5, 6, 10, 4), Rect::new(150, 90, 10, 1)]
    );
    let one = Options {
        max_regions: 1,
        ..Options::default()
    };
    let c1 = compare(&view(&a, 200, 100), &view(&b, 200, 100), &one).unwrap();
    assert_eq!(c1.regions, vec![Rect::new(5, 6, 155, 85)]);
}

/// White | one grey anti-aliased column | black, the edge at `edge`.
fn edge_image(edge: u32) -> Vec<u8> {
    rgb(40, 12, |x, _| match x.cmp(&edge) {
        std::cmp::Ordering::Less => [255, 255, 255],
        std::cmp::Ordering::Equal => [128, 128, 128],
        std::cmp::Ordering::Greater => [0, 0, 0],
    })
}

#[test]
fn antialiased_edge_shifted_by_one_pixel_is_not_a_difference() {
    let a = edge_image(20);
    let b = edge_image(21);
    let (va, vb) = (view(&a, 40, 12), view(&b, 40, 12));
    let c = compare(&va, &vb, &Options::default()).unwrap();
    // Columns 20 (grey to white) and 21 (black to grey) change on all 12 rows.
    assert_eq!((c.diff_pixels, c.aa_pixels), (0, 24));
    assert!(c.is_same(&Tolerance::default()));
    assert_eq!(c.bbox, None);
    let no_aa = Options {
        detect_aa: false,
        ..Options::default()
    };
    let c = compare(&va, &vb, &no_aa).unwrap();
    assert_eq!((c.diff_pixels, c.aa_pixels), (24, 0));
    assert_eq!(c.bbox, Some(Rect::new(20, 0, 2, 12)));
}

#[test]
fn a_colour_change_invisible_in_grey_is_detected() {
    // Equal luma (Y differs by less than 0.2 of 255), different hue.
    let orange = [200u8, 100, 50];
    let grey = [124u8, 124, 124];
    let luma =
        |p: [u8; 3]| 0.29889531 * p[0] as f64 + 0.58662247 * p[1] as f64 + 0.11448223 * p[2] as f64;
    assert!((luma(orange) - luma(grey)).abs() < 0.2);
    let a = rgb(30, 30, |_, _| grey);
    let b = rgb(30, 30, |x, y| if x < 10 && y < 10 { orange } else { grey });
    let c = compare(&view(&a, 30, 30), &view(&b, 30, 30), &Options::default()).unwrap();
    assert_eq!(c.diff_pixels, 100);
    assert_eq!(c.bbox, Some(Rect::new(0, 0, 10, 10)));
}

#[test]
fn threshold_and_exact() {
    let a = rgb(16, 16, |_, _| [100, 100, 100]);
    let b = rgb(16, 16, |x, y| {
        if x == 3 && y == 3 {
            [101, 100, 100]
        } else {
            [100, 100, 100]
        }
    });
    let (va, vb) = (view(&a, 16, 16), view(&b, 16, 16));
    assert_eq!(
        compare(&va, &vb, &Options::default()).unwrap().diff_pixels,
        0
    );
    let zero = Options {
        threshold: 0.0,
        ..Options::default()
    };
    assert_eq!(compare(&va, &vb, &zero).unwrap().diff_pixels, 1);
    let exact = Options {
        exact: true,
        ..Options::default()
    };
    assert_eq!(compare(&va, &vb, &exact).unwrap().diff_pixels, 1);
    let bad = Options {
        threshold: 1.5,
        ..Options::default()
    };
    assert!(compare(&va, &vb, &bad).is_err());
}

#[test]
fn masks_hide_changes_and_count_them() {
    let a = rgb(100, 60, |_, _| [250, 250, 250]);
    let b = rgb(100, 60, |x, y| {
        if (10..20).contains(&x) && (10..20).contains(&y) || (x, y) == (80, 50) {
            [200, 0, 0]
        } else {
            [250, 250, 250]
        }
    });
    let (va, vb) = (view(&a, 100, 60), view(&b, 100, 60));
    let only_inside = Options {
        masks: vec![Rect::new(5, 5, 20, 20), Rect::new(70, 40, 20, 20)],
        ..Options::default()
    };
    let c = compare(&va, &vb, &only_inside).unwrap();
    assert_eq!(c.diff_pixels, 0);
    assert!(c.is_same(&Tolerance::default()));
    assert_eq!(
        c.masks.iter().map(|m| m.diff_pixels).collect::<Vec<_>>(),
        vec![100, 1]
    );
    let one_mask = Options {
        masks: vec![Rect::new(5, 5, 20, 20)],
        ..Options::default()
    };
    let (c, img) = compare_and_draw(&va, &vb, &one_mask, None, DiffMode::Overlay).unwrap();
    assert_eq!(c.diff_pixels, 1);
    assert_eq!(c.bbox, Some(Rect::new(80, 50, 1, 1)));
    let img = img.unwrap();
    let px = |x: u32, y: u32| {
        let i = ((y * img.width + x) * 3) as usize;
        [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]]
    };
    assert_eq!(px(80, 50), [255, 0, 0], "a counted change is red");
    assert_eq!(px(5, 11), [0, 96, 255], "a mask is hatched");
    assert_eq!(
        px(5, 14),
        [254, 254, 254],
        "between its stripes, the faded image"
    );
    assert_eq!(px(12, 12), [255, 170, 170], "a masked change is pink");
    let grey = px(50, 30);
    assert!(grey[0] == grey[1] && grey[1] == grey[2] && grey[0] > 200);
    // A mask larger than the image is clipped, not refused.
    let big = Options {
        masks: vec![Rect::new(0, 0, 1000, 1000)],
        ..Options::default()
    };
    let c = compare(&va, &vb, &big).unwrap();
    assert_eq!(c.masks[0].rect, Rect::new(0, 0, 100, 60));
    assert_eq!(c.masks[0].diff_pixels, 101);
}

#[test]
fn needle_match_areas_select_and_exclude_areas_mask() {
    let needle = r#"{"area":[
        {"xpos":0,"ypos":0,"width":50,"height":60,"type":"match"},
        {"xpos":10,"ypos":10,"width":10,"height":10,"type":"exclude"}],
        "properties":[],"tags":["desktop"]}"#;
    let m = compare::parse_mask_file(needle).unwrap();
    let a = rgb(100, 60, |_, _| [0, 0, 0]);
    let b = rgb(100, 60, |x, y| {
        if (x, y) == (12, 12) || (x, y) == (30, 30) || (x, y) == (70, 30) {
            [255, 255, 255]
        } else {
            [0, 0, 0]
        }
    });
    let o = Options {
        masks: m.masks,
        select: m.select,
        ..Options::default()
    };
    let c = compare(&view(&a, 100, 60), &view(&b, 100, 60), &o).unwrap();
    assert_eq!(
        c.diff_pixels, 1,
        "only (30,30): (12,12) is excluded, (70,30) not matched"
    );
    assert_eq!(c.bbox, Some(Rect::new(30, 30, 1, 1)));
    assert_eq!(c.masks[0].diff_pixels, 1);
}

#[test]
fn dirty_rectangles_restrict_where_to_look() {
    let a = rgb(64, 64, |_, _| [10, 10, 10]);
    let b = rgb(64, 64, |x, y| {
        if x == y {
            [250, 250, 250]
        } else {
            [10, 10, 10]
        }
    });
    let (va, vb) = (view(&a, 64, 64), view(&b, 64, 64));
    let all = compare(&va, &vb, &Options::default()).unwrap();
    assert_eq!(all.diff_pixels, 64);
    let dirty = [Rect::new(0, 0, 8, 8), Rect::new(4, 4, 8, 8)];
    let c = compare_in(&va, &vb, &Options::default(), Some(&dirty)).unwrap();
    assert_eq!(c.diff_pixels, 12);
    assert_eq!(c.bbox, Some(Rect::new(0, 0, 12, 12)));
    assert_eq!(
        compare_in(&va, &vb, &Options::default(), Some(&[]))
            .unwrap()
            .diff_pixels,
        0
    );
}

#[test]
fn different_sizes_are_a_layout_difference() {
    let a = rgb(10, 10, texture);
    let b = rgb(12, 10, texture);
    let c = compare(&view(&a, 10, 10), &view(&b, 12, 10), &Options::default()).unwrap();
    let m = c.size_mismatch.unwrap();
    assert_eq!((m.expected, m.actual), ([10, 10], [12, 10]));
    assert!(!c.is_same(&Tolerance {
        max_diff_pixels: Some(u64::MAX),
        max_diff_ratio: Some(1.0)
    }));
}

/// The same picture as a framebuffer (B, G, R, X with padded rows and
/// junk in X) and as RGB and RGBA: no differences, whichever pairs.
#[test]
fn layouts_and_strides_read_the_same_pixels() {
    let (w, h) = (37u32, 21u32);
    let rgb_px = rgb(w, h, texture);
    let stride = w as usize * 4 + 12;
    let mut bgrx = vec![0xAAu8; stride * h as usize];
    let mut rgba = Vec::new();
    for y in 0..h as usize {
        for x in 0..w as usize {
            let p = &rgb_px[(y * w as usize + x) * 3..][..3];
            bgrx[y * stride + x * 4..][..3].copy_from_slice(&[p[2], p[1], p[0]]);
            bgrx[y * stride + x * 4 + 3] = (x * 31) as u8;
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
    }
    let views = [
        ImageView::packed(&rgb_px, w, h, Layout::Rgb).unwrap(),
        ImageView::new(&bgrx, w, h, stride, Layout::Bgrx).unwrap(),
        ImageView::packed(&rgba, w, h, Layout::Rgba).unwrap(),
    ];
    let exact = Options {
        exact: true,
        ..Options::default()
    };
    for a in &views {
        for b in &views {
            let c = compare(a, b, &exact).unwrap();
            assert_eq!(c.diff_pixels, 0, "{:?} vs {:?}", a.layout(), b.layout());
        }
    }
    assert!(ImageView::new(&bgrx, w, h + 1, stride, Layout::Bgrx).is_err());
    assert!(ImageView::new(&bgrx, w, h, stride - 13, Layout::Bgrx).is_err());
}

#[test]
fn a_framebuffer_is_a_view() {
    let mut fb = rfbplay::Framebuffer::new(32, 16);
    let blank = rfbplay::Framebuffer::new(32, 16);
    fb.fill(rfbplay::rfb::Rect::new(2, 3, 4, 5), [0, 0, 255, 0]);
    let c = compare(
        &ImageView::from(&blank),
        &ImageView::from(&fb),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(c.diff_pixels, 20);
    assert_eq!(c.bbox, Some(Rect::new(2, 3, 4, 5)));
}

#[test]
fn side_by_side_puts_expected_diff_actual() {
    let a = rgb(8, 4, |_, _| [0, 0, 0]);
    let b = rgb(8, 4, |x, y| {
        if (x, y) == (1, 1) {
            [0, 255, 0]
        } else {
            [0, 0, 0]
        }
    });
    let (_, img) = compare_and_draw(
        &view(&a, 8, 4),
        &view(&b, 8, 4),
        &Options::default(),
        None,
        DiffMode::SideBySide,
    )
    .unwrap();
    let img = img.unwrap();
    assert_eq!((img.width, img.height), (24, 4));
    let px = |x: u32, y: u32| img.rgb[((y * 24 + x) * 3) as usize..][..3].to_vec();
    assert_eq!(px(1, 1), [0, 0, 0]);
    assert_eq!(px(9, 1), [255, 0, 0]);
    assert_eq!(px(17, 1), [0, 255, 0]);
}

/// Real 1024x768 screens: each against itself, against itself with a
/// painted rectangle, and against the next one at threshold 0 without
/// anti-aliasing detection, where the count must equal a plain count of
/// pixels whose colour differs.
#[test]
fn corpus_screens() {
    let Some(dir) = common::corpus() else { return };
    let mut screens: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.png"))
        .map(|p| (compare::png::load_png(&p).unwrap(), p))
        .filter(|(img, _)| (img.width, img.height) == (1024, 768))
        .collect();
    screens.sort_by(|a, b| a.1.cmp(&b.1));
    assert!(screens.len() >= 2, "the corpus has 1024x768 screens");
    let zero = Options {
        threshold: 0.0,
        detect_aa: false,
        ..Options::default()
    };
    for (i, (img, path)) in screens.iter().enumerate() {
        let v = img.view();
        let same = compare(&v, &v, &Options::default()).unwrap();
        assert_eq!(same.diff_pixels, 0, "{}", path.display());
        let mut painted = img.clone();
        let bpp = img.layout.bytes_per_pixel();
        for y in 300..340usize {
            for x in 500..600usize {
                let p = &mut painted.data[(y * 1024 + x) * bpp..][..3];
                p.copy_from_slice(&[p[0] ^ 0x80, p[1] ^ 0x80, p[2] ^ 0x80]);
            }
        }
        let c = compare(&v, &painted.view(), &zero).unwrap();
        assert_eq!(c.diff_pixels, 4000, "{}", path.display());
        assert_eq!(c.bbox, Some(Rect::new(500, 300, 100, 40)));
        let (other, _) = &screens[(i + 1) % screens.len()];
        let plain = (0..768)
            .flat_map(|y| (0..1024).map(move |x| (x, y)))
            .filter(|&(x, y)| v.rgba(x, y) != other.view().rgba(x, y))
            .count() as u64;
        let c = compare(&v, &other.view(), &zero).unwrap();
        assert_eq!(c.diff_pixels, plain, "{}", path.display());
        let d = compare(&v, &other.view(), &Options::default()).unwrap();
        assert!(d.diff_pixels + d.aa_pixels <= plain);
        if d.diff_pixels > 0 {
            let b = d.bbox.unwrap();
            assert!(b.right() <= 1024 && b.bottom() <= 768);
            assert!(!d.regions.is_empty() && d.regions.len() <= 32);
            for r in &d.regions {
                assert!(
                    r.x >= b.x && r.right() <= b.right() && r.y >= b.y && r.bottom() <= b.bottom()
                );
            }
        }
    }
}

#[test]
fn identical_answers_what_compare_finds_for_an_image_and_itself() {
    let img = rgb(64, 40, texture);
    let options = Options {
        masks: vec![Rect::new(50, 30, 40, 40), Rect::new(0, 0, 8, 8)],
        select: vec![Rect::new(4, 4, 30, 20)],
        ..Options::default()
    };
    let by_pixels = compare(&view(&img, 64, 40), &view(&img, 64, 40), &options).unwrap();
    assert_eq!(compare::identical(64, 40, &options).unwrap(), by_pixels);
    assert_eq!(
        by_pixels.masks[0].rect,
        Rect::new(50, 30, 14, 10),
        "clipped"
    );
    let bad = Options {
        threshold: 2.0,
        ..Options::default()
    };
    assert!(compare::identical(64, 40, &bad).is_err());
}
