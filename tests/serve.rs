//! `rfbplay serve` over HTTP: frames equal `rfbplay frame --at` exactly,
//! the timeline tells what `info` tells, and only recordings under the
//! served folder are ever read (`..`, absolute paths, encoded separators
//! and links leading outside are refused; no request changes a file).

mod common;
#[path = "common/serve.rs"]
mod serve;

use common::TempDir;
use serve::{frame_at, Server};
use std::process::Command;

fn rfbplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
}

/// Decodes a PNG to (width, height, RGB).
fn rgb(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let img = image::load_from_memory(png).unwrap().to_rgb8();
    (img.width(), img.height(), img.into_raw())
}

#[test]
fn frames_are_exactly_the_sampler_screens() {
    let dir = common::testdata();
    let server = Server::start(&dir);
    for (file, t) in [
        ("minimega_qemu_ipxe.fb", "0"),
        ("minimega_qemu_ipxe.fb", "3"),
        ("minimega_qemu_ipxe.fb", "8.19"),
        ("minimega_qemu_ipxe.fb", "17.565"),
        ("tight_gradient.fb", "0.01"),
        ("synthetic_core.rbs", "end"),
    ] {
        let (status, head, body) = server.get(&format!("/api/frame?path={file}&t={t}"));
        assert_eq!(status, 200, "{file} at {t}: {head}");
        assert!(head
            .to_ascii_lowercase()
            .contains("content-type: image/png"));
        if t != "end" {
            let want = format!("x-frame-time: {:.9}", t.parse::<f64>().unwrap());
            assert!(head.to_ascii_lowercase().contains(&want), "{head}");
        }
        assert!(
            rgb(&body) == frame_at(&dir.join(file), t),
            "{file} at {t}: the served frame differs from `rfbplay frame --at {t}`"
        );
    }
    // Past the end there is no screen; a bad time is the caller's mistake.
    assert_eq!(server.get("/api/frame?path=rre.fb&t=99").0, 404);
    assert_eq!(server.get("/api/frame?path=rre.fb&t=-1").0, 400);
    assert_eq!(server.get("/api/frame?path=rre.fb&t=abc").0, 400);
}

#[test]
fn timeline_and_list_tell_what_info_tells() {
    let dir = common::testdata();
    let server = Server::start(&dir);
    let (status, _, body) = server.get("/api/timeline?path=minimega_qemu_ipxe.fb");
    assert_eq!(status, 200);
    let tl: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let info = rfbplay()
        .args(["-q", "info", "--json"])
        .arg(dir.join("minimega_qemu_ipxe.fb"))
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(tl["duration_s"], info["duration_s"]);
    assert_eq!(
        tl["updates"].as_array().unwrap().len() as u64,
        info["updates"].as_u64().unwrap()
    );
    assert!(
        tl["cut"]["time_s"].as_f64().unwrap() > 17.0,
        "{}",
        tl["cut"]
    );
    assert!(tl["damage"].is_null());
    assert!(tl["updates"][0][1].as_u64().unwrap() > 0, "changed pixels");

    let (_, _, body) = server.get("/api/list");
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"rre.fb") && names.contains(&"synthetic_core.rbs"));
    assert!(!names.iter().any(|n| n.ends_with(".png")), "{names:?}");

    let (status, head, body) = server.get("/api/thumb?path=minimega_qemu_ipxe.fb");
    assert_eq!(status, 200, "{head}");
    let (w, _, _) = rgb(&body);
    assert!(w <= 192 && w > 0);

    // The pages and their script are in the binary.
    let (status, _, page) = server.get("/play/minimega_qemu_ipxe.fb");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("/assets/player.js"));
    assert_eq!(server.get("/assets/player.js").0, 200);
    assert_eq!(server.get("/").0, 200);
}

/// A folder to serve: sub/rre.fb, a link to it, a link leading outside,
/// and a file that is not a recording; beside it, a recording outside.
fn layout() -> (TempDir, std::path::PathBuf) {
    let tmp = TempDir::new("serve");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy(common::testdata().join("rre.fb"), root.join("sub/rre.fb")).unwrap();
    std::fs::copy(
        common::testdata().join("hextile_all.fb"),
        tmp.path().join("secret.fb"),
    )
    .unwrap();
    std::os::unix::fs::symlink(root.join("sub/rre.fb"), root.join("inside.fb")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.fb"), root.join("outside.fb")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), root.join("up")).unwrap();
    std::fs::write(root.join("notes.txt"), "not a recording").unwrap();
    (tmp, root)
}

#[test]
fn only_recordings_under_the_folder_are_served() {
    let (tmp, root) = layout();
    let server = Server::start(&root);
    let secret = tmp.path().join("secret.fb").display().to_string();
    for (target, want) in [
        ("/play/sub/rre.fb", 200),
        ("/api/frame?path=sub/rre.fb&t=end", 200),
        ("/api/frame?path=inside.fb&t=end", 200),
        // `..`, written and percent-encoded
        ("/play/../secret.fb", 403),
        ("/play/sub/../../secret.fb", 403),
        ("/play/%2e%2e/secret.fb", 403),
        ("/api/frame?path=../secret.fb", 403),
        ("/api/frame?path=sub%2F..%2F..%2Fsecret.fb", 403),
        // encoded slashes and backslashes in the path
        ("/play/sub%2frre.fb", 404),
        ("/play/sub%2Frre.fb", 404),
        ("/play/..%2fsecret.fb", 404),
        ("/play/..%5csecret.fb", 404),
        // absolute paths
        (&format!("/api/frame?path={secret}"), 403),
        ("/api/timeline?path=/etc/passwd", 403),
        ("/play//etc/passwd", 403),
        // links whose target is outside
        ("/api/frame?path=outside.fb&t=end", 403),
        ("/api/timeline?path=up/secret.fb", 403),
        ("/play/up/secret.fb", 403),
        // not a recording, or nothing there
        ("/api/frame?path=notes.txt", 404),
        ("/play/missing.fb", 404),
        ("/api/frame?path=", 404),
    ] {
        let (status, head, _) = server.get(target);
        assert_eq!(status, want, "{target}: {head}");
    }
    let (_, _, body) = server.get("/api/list");
    let list = String::from_utf8_lossy(&body).into_owned();
    assert!(list.contains("sub/rre.fb"), "{list}");
    assert!(
        !list.contains("secret"),
        "the list names a file outside: {list}"
    );
}

#[test]
fn no_request_changes_a_file() {
    let (_tmp, root) = layout();
    let file = root.join("sub/rre.fb");
    let before = (
        std::fs::read(&file).unwrap(),
        file.metadata().unwrap().modified().unwrap(),
    );
    let server = Server::start(&root);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for target in [
            "/play/sub/rre.fb",
            "/api/frame?path=sub/rre.fb",
            "/api/list",
        ] {
            let (status, head, _) = server.request(method, target);
            assert_eq!(status, 405, "{method} {target}: {head}");
        }
    }
    let after = (
        std::fs::read(&file).unwrap(),
        file.metadata().unwrap().modified().unwrap(),
    );
    assert!(before == after, "a request changed {}", file.display());
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        5,
        "a file appeared"
    );
}

#[test]
fn a_folder_alone_means_serve() {
    let (_tmp, root) = layout();
    let server = Server::start_with(&[root.as_os_str()]);
    assert_eq!(server.get("/api/frame?path=sub/rre.fb&t=end").0, 200);
}

#[test]
fn a_non_loopback_address_gets_a_warning() {
    let (_tmp, root) = layout();
    let mut child = rfbplay()
        .arg("serve")
        .arg(&root)
        .args(["--listen", "0.0.0.0:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("warning: listening on 0.0.0.0:0"), "{first}");
}

/// Real-time playback asks rising times on the millisecond grid: an open
/// session plays forward to each, and every answer, including those a
/// millisecond either side of an update and after going back, is still
/// exactly `rfbplay frame --at`.
#[test]
fn sessions_play_forward_and_agree_with_frame() {
    let dir = common::testdata();
    let file = dir.join("minimega_qemu_ipxe.fb");
    let server = Server::start(&dir);
    let (_, _, body) = server.get("/api/timeline?path=minimega_qemu_ipxe.fb");
    let tl: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let updates: Vec<f64> = tl["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u[0].as_f64().unwrap())
        .collect();
    // Around a few updates: the ms before, and the ms that includes it.
    let mut times = Vec::new();
    for u in updates.iter().step_by(updates.len() / 8) {
        let ms = (u * 1000.0).floor();
        times.extend([ms / 1000.0, (ms + 1.0) / 1000.0]);
    }
    times.extend([2.0, 1.0, 1.5]); // back, then forward again
    let mut sources = Vec::new();
    for t in &times {
        let t = format!("{t}");
        let (status, head, body) =
            server.get(&format!("/api/frame?path=minimega_qemu_ipxe.fb&t={t}"));
        assert_eq!(status, 200, "{head}");
        let head = head.to_ascii_lowercase();
        let source = head
            .split("x-frame-source: ")
            .nth(1)
            .and_then(|s| s.lines().next())
            .unwrap()
            .to_string();
        assert!(
            rgb(&body) == frame_at(&file, &t),
            "at {t} (from {source}) the served frame differs from `rfbplay frame --at {t}`"
        );
        sources.push(source);
    }
    assert!(
        sources.iter().filter(|s| *s == "session").count() >= times.len() / 2,
        "{sources:?}"
    );
}

#[test]
fn with_a_saved_index_seeks_still_equal_frame() {
    // Sessions start at the index's checkpoint before the time asked for.
    let dir = common::testdata();
    let file = dir.join("minimega_qemu_ipxe.fb");
    let out = rfbplay()
        .args(["-q", "index"])
        .arg(&file)
        .args(["--every", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&dir);
    for t in ["12.5", "3.05", "9.999", "10.1", "0.9"] {
        let (status, head, body) =
            server.get(&format!("/api/frame?path=minimega_qemu_ipxe.fb&t={t}"));
        assert_eq!(status, 200, "{head}");
        assert!(
            rgb(&body) == frame_at(&file, t),
            "at {t} the served frame differs from `rfbplay frame --at {t}`"
        );
    }
}
