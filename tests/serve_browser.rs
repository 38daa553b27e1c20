//! `rfbplay serve` in a real headless Chromium (the system's, driven by
//! tools/browser_check.js through puppeteer-core): the list, then a
//! recording opened by #t=, number keys, arrow keys, the seek bar, 4x
//! playback, stepping by 1/10 s and by update, markers, the help overlay,
//! zoom and the pixel inspector, and the PNG download. Every screen the
//! canvas showed is read back with getImageData and must equal `rfbplay
//! frame --at T` exactly. Screenshots stay in target/serve-artifacts/.

mod common;
#[path = "common/serve.rs"]
mod serve;

use serve::Server;
use std::path::Path;
use std::process::Command;

/// Runs the browser script on `rec` under `dir`; checks every capture.
fn check(dir: &Path, rec: &str, tag: &str) {
    let Some(node) = common::browser() else {
        return;
    };
    let server = Server::start(dir);
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/serve-artifacts")
        .join(tag);
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(node)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/browser_check.js"))
        .arg(server.url())
        .arg(rec)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    eprintln!("{result}");
    assert!(result["list_rows"].as_u64().unwrap() >= 1);
    assert_eq!(result["filtered_rows"], 1);
    assert!(
        result["notes"].as_array().unwrap().is_empty(),
        "{}",
        result["notes"]
    );
    let file = dir.join(rec);
    let checks = result["checks"].as_array().unwrap();
    assert!(checks.len() >= 10, "{checks:?}");
    for c in checks {
        let t = c["t"].to_string();
        let shown = std::fs::read(c["file"].as_str().unwrap()).unwrap();
        let (w, h, want) = serve::frame_at(&file, &t);
        assert_eq!(
            (c["w"].as_u64().unwrap(), c["h"].as_u64().unwrap()),
            (w as u64, h as u64)
        );
        assert!(
            shown == want,
            "{}: the canvas at {t} differs from `rfbplay frame --at {t}` in {} of {} bytes",
            c["name"],
            shown.iter().zip(&want).filter(|(a, b)| a != b).count(),
            want.len()
        );
    }
    let dl = &result["download"];
    let png = std::fs::read(dl["file"].as_str().unwrap()).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let (w, h, want) = serve::frame_at(&file, &dl["t"].to_string());
    assert_eq!((img.width(), img.height()), (w, h));
    assert!(
        img.into_raw() == want,
        "the downloaded PNG differs from the frame"
    );
    assert!(out.join("list.png").is_file() && out.join("player.png").is_file());
}

#[test]
fn browser_shows_exact_frames_of_testdata() {
    check(&common::testdata(), "minimega_qemu_ipxe.fb", "testdata");
}

#[test]
fn browser_shows_exact_frames_of_the_corpus() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    check(&corpus, "mm_qemu_modes.fb", "corpus");
}
