//! Replays the fuzz seeds and every input a fuzzer once crashed on
//! (`fuzz/regressions/TARGET/`) through the same library entry points the
//! fuzz targets call, so a fixed crash stays fixed in `cargo test`.

use rfbplay::fuzzing;
use rfbplay::rfb::Encoding;
use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) {
            for e in entries.flatten() {
                out.push((
                    e.path().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    out
}

fn replay(target: &str, f: impl Fn(&[u8])) -> usize {
    let all = inputs(target);
    for (name, data) in &all {
        // A panic here names the input that brought it back.
        eprintln!("replaying {name}");
        f(data);
    }
    all.len()
}

#[test]
fn containers_and_stream() {
    assert!(replay("container_fb", fuzzing::container_fb) > 0);
    assert!(replay("container_fbs", fuzzing::container_fbs) > 0);
    assert!(replay("stream", fuzzing::stream) > 0);
    assert!(replay("client_handshake", fuzzing::client_handshake) > 0);
}

#[test]
fn rectangles() {
    let targets = [
        ("rect_raw", Encoding::RAW),
        ("rect_copyrect", Encoding::COPY_RECT),
        ("rect_zlib", Encoding::ZLIB),
        ("rect_rre", Encoding::RRE),
        ("rect_hextile", Encoding::HEXTILE),
        ("rect_tight", Encoding::TIGHT),
        ("rect_zrle", Encoding::ZRLE),
        ("rect_cursor", Encoding::CURSOR),
        (
            "rect_extended_desktop_size",
            Encoding::EXTENDED_DESKTOP_SIZE,
        ),
    ];
    let mut n = 0;
    for (target, enc) in targets {
        n += replay(target, |d| fuzzing::rect(enc, d));
    }
    assert!(n > 0);
}

#[test]
fn kb_text_and_viewer_stream() {
    assert!(replay("kb_text", fuzzing::kb_text) > 0);
    assert!(replay("viewer_stream", fuzzing::viewer_stream) > 0);
}
