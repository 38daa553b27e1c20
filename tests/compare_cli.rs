//! `rfbplay compare` as a user runs it: exit status 0 same, 1 different,
//! 2 error for every outcome, the `--json` schema, masks from the command
//! line and from files, and the diff image (written next to its target,
//! never over an input).

mod common;

use common::TempDir;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rfbplay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("run rfbplay")
}

fn compare_json(a: &Path, b: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["compare".as_ref(), a.as_ref(), b.as_ref()];
    args.push("--json".as_ref());
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = rfbplay(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v, stderr)
}

const KEYS: &[&str] = &[
    "schema",
    "result",
    "expected",
    "actual",
    "width",
    "height",
    "size_mismatch",
    "diff_pixels",
    "diff_ratio",
    "aa_pixels",
    "bbox",
    "regions",
    "masks",
    "threshold",
    "exact",
    "aa",
    "max_diff_pixels",
    "max_diff_ratio",
    "diff_image",
    "error",
];

fn assert_schema(v: &Value) {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = KEYS.to_vec();
    keys.sort_unstable();
    want.sort_unstable();
    assert_eq!(keys, want, "{v}");
    assert_eq!(v["schema"], 1);
}

/// A 120x80 light screen, with a dark box at each of `boxes` (x, y, w, h).
fn screen(dir: &Path, name: &str, boxes: &[(u32, u32, u32, u32)]) -> PathBuf {
    let img = image::RgbImage::from_fn(120, 80, |x, y| {
        let inside = boxes
            .iter()
            .any(|&(bx, by, w, h)| x >= bx && x < bx + w && y >= by && y < by + h);
        image::Rgb(if inside {
            [30, 40, 160]
        } else {
            [235, 235, 230]
        })
    });
    let p = dir.join(name);
    img.save(&p).unwrap();
    p
}

#[test]
fn same_different_and_tolerances() {
    let t = TempDir::new("cmp-cli");
    let a = screen(t.path(), "a.png", &[]);
    let a2 = screen(t.path(), "a2.png", &[]);
    let b = screen(t.path(), "b.png", &[(10, 20, 5, 4)]);

    let (code, v, _) = compare_json(&a, &a2, &[]);
    assert_schema(&v);
    assert_eq!((code, v["result"].as_str()), (0, Some("same")));
    assert_eq!(v["diff_pixels"], 0);
    assert_eq!(v["bbox"], Value::Null);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(120), Some(80))
    );

    let (code, v, _) = compare_json(&a, &b, &[]);
    assert_schema(&v);
    assert_eq!((code, v["result"].as_str()), (1, Some("different")));
    assert_eq!(v["diff_pixels"], 20);
    assert!((v["diff_ratio"].as_f64().unwrap() - 20.0 / 9600.0).abs() < 1e-12);
    assert_eq!(v["bbox"], serde_json::json!([10, 20, 5, 4]));
    assert_eq!(v["regions"], serde_json::json!([[10, 20, 5, 4]]));
    assert_eq!(v["error"], Value::Null);

    assert_eq!(compare_json(&a, &b, &["--max-diff-pixels", "20"]).0, 0);
    assert_eq!(compare_json(&a, &b, &["--max-diff-pixels", "19"]).0, 1);
    assert_eq!(compare_json(&a, &b, &["--max-diff-ratio", "0.003"]).0, 0);
    assert_eq!(compare_json(&a, &b, &["--max-diff-ratio", "0.002"]).0, 1);

    // The text form exits the same way.
    let out = rfbplay(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("different: 20 of 9600 pixels differ"),
        "{text}"
    );
    assert!(text.contains("bounding box: 10,20,5,4"), "{text}");
    let out = rfbplay(&["compare".as_ref(), a.as_os_str(), a2.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn size_mismatch_is_different() {
    let t = TempDir::new("cmp-cli");
    let a = screen(t.path(), "a.png", &[]);
    let small = t.path().join("small.png");
    image::RgbImage::new(60, 80).save(&small).unwrap();
    let (code, v, _) = compare_json(&a, &small, &[]);
    assert_schema(&v);
    assert_eq!((code, v["result"].as_str()), (1, Some("different")));
    assert_eq!(
        v["size_mismatch"],
        serde_json::json!({"expected": [120, 80], "actual": [60, 80]})
    );
    assert_eq!(v["diff_pixels"], Value::Null);
    let out = rfbplay(&["compare".as_ref(), a.as_os_str(), small.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn errors_exit_2_with_a_code() {
    let t = TempDir::new("cmp-cli");
    let a = screen(t.path(), "a.png", &[]);
    let missing = t.path().join("missing.png");
    let junk = t.path().join("junk.png");
    std::fs::write(&junk, b"not a png at all").unwrap();
    let truncated = t.path().join("truncated.png");
    let bytes = std::fs::read(&a).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    for (a, b, code) in [
        (&a, &missing, "missing_file"),
        (&missing, &a, "missing_file"),
        (&a, &junk, "unreadable_image"),
        (&a, &truncated, "unreadable_image"),
        // Equal bytes are decoded once, and still judged.
        (&junk, &junk, "unreadable_image"),
    ] {
        let (status, v, stderr) = compare_json(a, b, &[]);
        assert_schema(&v);
        assert_eq!(status, 2, "{v}");
        assert_eq!(v["result"], "error");
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(stderr.starts_with("rfbplay: error: "), "{stderr}");
        let out = rfbplay(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
        assert_eq!(out.status.code(), Some(2));
    }
    // The decoder's message appears once, not again as a chained cause.
    let (_, v, _) = compare_json(&a, &junk, &[]);
    let msg = v["error"]["message"].as_str().unwrap();
    assert_eq!(msg.matches("Invalid PNG signature").count(), 1, "{msg}");

    // A header claiming 9000x9000 pixels (sides allowed, more than 8192x8192
    // in all) is refused before allocation.
    let huge = t.path().join("huge.png");
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&9000u32.to_be_bytes());
    ihdr.extend_from_slice(&9000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut crc = flate2::Crc::new();
    crc.update(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.sum().to_be_bytes());
    for name in [b"IDAT", b"IEND"] {
        let mut crc = flate2::Crc::new();
        crc.update(name);
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(name);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    }
    std::fs::write(&huge, &png).unwrap();
    let (status, v, _) = compare_json(&a, &huge, &[]);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (2, Some("unreadable_image"))
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("9000x9000, larger than"), "{msg}");

    let bad_masks = t.path().join("masks.json");
    std::fs::write(&bad_masks, "{\"nothing\": 1}").unwrap();
    let (status, v, _) = compare_json(&a, &a, &["--mask-file", bad_masks.to_str().unwrap()]);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (2, Some("bad_mask_file"))
    );
    // Usage errors exit 2 as well.
    let out = rfbplay(&[
        "compare".as_ref(),
        a.as_os_str(),
        a.as_os_str(),
        "--threshold".as_ref(),
        "2".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn masks_from_flags_and_files() {
    let t = TempDir::new("cmp-cli");
    let a = screen(t.path(), "a.png", &[]);
    let b = screen(t.path(), "b.png", &[(50, 10, 10, 10)]);
    let (code, v, _) = compare_json(&a, &b, &["--mask", "45,5,20,20"]);
    assert_eq!((code, v["result"].as_str()), (0, Some("same")));
    assert_eq!(
        v["masks"],
        serde_json::json!([{"rect": [45, 5, 20, 20], "diff_pixels": 100}])
    );
    let (code, _, _) = compare_json(&a, &b, &["--mask", "0,0,50,80"]);
    assert_eq!(code, 1);

    let plain = t.path().join("plain.json");
    std::fs::write(&plain, r#"[{"x":45,"y":5,"width":20,"height":20}]"#).unwrap();
    assert_eq!(
        compare_json(&a, &b, &["--mask-file", plain.to_str().unwrap()]).0,
        0
    );

    // An openQA needle: only the match area is compared.
    let needle = t.path().join("needle.json");
    std::fs::write(
        &needle,
        r#"{"area":[{"xpos":0,"ypos":40,"width":120,"height":40,"type":"match"}],"tags":["t"]}"#,
    )
    .unwrap();
    assert_eq!(
        compare_json(&a, &b, &["--mask-file", needle.to_str().unwrap()]).0,
        0
    );
    let c = screen(t.path(), "c.png", &[(50, 50, 2, 2)]);
    let (code, v, _) = compare_json(&a, &c, &["--mask-file", needle.to_str().unwrap()]);
    assert_eq!((code, v["diff_pixels"].as_u64()), (1, Some(4)));
}

#[test]
fn diff_image_is_written_and_never_over_an_input() {
    let t = TempDir::new("cmp-cli");
    let a = screen(t.path(), "a.png", &[]);
    let b = screen(t.path(), "b.png", &[(50, 10, 10, 10), (100, 60, 5, 5)]);
    let diff = t.path().join("diff.png");
    let (code, v, _) = compare_json(
        &a,
        &b,
        &["--diff", diff.to_str().unwrap(), "--mask", "45,5,20,20"],
    );
    assert_eq!(code, 1);
    assert_eq!(v["diff_image"].as_str(), Some(diff.to_str().unwrap()));
    let img = image::open(&diff).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (120, 80));
    assert_eq!(img.get_pixel(102, 62).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(55, 15).0, [255, 170, 170]);
    assert_eq!(img.get_pixel(45, 11).0, [0, 96, 255]);
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let side = t.path().join("side.png");
    let (code, _, _) = compare_json(
        &a,
        &b,
        &[
            "--diff",
            side.to_str().unwrap(),
            "--diff-mode",
            "side-by-side",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        image::open(&side).unwrap().to_rgb8().dimensions(),
        (360, 80)
    );

    // Over an input, by the same or another spelling of its path: refused,
    // and the input is untouched.
    let before = std::fs::read(&b).unwrap();
    let other_spelling = t.path().join(".").join("b.png");
    for target in [&b, &other_spelling] {
        let (code, v, _) = compare_json(&a, &b, &["--diff", target.to_str().unwrap()]);
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (2, Some("diff_is_input"))
        );
    }
    #[cfg(unix)]
    {
        let link = t.path().join("link.png");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let (code, _, _) = compare_json(&a, &b, &["--diff", link.to_str().unwrap()]);
        assert_eq!(code, 2);
    }
    assert_eq!(std::fs::read(&b).unwrap(), before);
}

/// A real screen against a copy with a changed area, through files.
#[test]
fn corpus_screen_through_files() {
    let Some(dir) = common::corpus() else { return };
    let src = dir.join("enc_qemu_modes_hextile.truth.png");
    let Some(src) = common::require(src.is_file().then_some(src), "a 1024x768 corpus screen")
    else {
        return;
    };
    let t = TempDir::new("cmp-cli");
    let mut img = image::open(&src).unwrap().to_rgb8();
    for y in 100..110 {
        for x in 200..230 {
            let p = img.get_pixel_mut(x, y);
            p.0 = [255 - p.0[0], 255 - p.0[1], 255 - p.0[2]];
        }
    }
    let changed = t.path().join("changed.png");
    img.save(&changed).unwrap();
    let (code, v, _) = compare_json(&src, &changed, &["--exact"]);
    assert_eq!(code, 1);
    assert_eq!(v["diff_pixels"], 300);
    assert_eq!(v["bbox"], serde_json::json!([200, 100, 30, 10]));
    let (code, _, _) = compare_json(&src, &changed, &["--mask", "200,100,30,10", "--exact"]);
    assert_eq!(code, 0);
}
