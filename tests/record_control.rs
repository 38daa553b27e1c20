//! `rfbplay record --control SOCK` against real TigerVNC Xvnc servers:
//! recordings added and stopped through `rfbplay ctl`, a failing one shown
//! in `list` without disturbing the others, an owner-only socket, and
//! only a stale socket ever replaced.
#![cfg(unix)]

mod common;
#[path = "common/recorder.rs"]
mod recorder;
#[path = "common/xvnc.rs"]
mod xvnc;

use recorder::{ctl, list, rfbplay, Bin};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use xvnc::Xvnc;

fn state<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {rows:?}"))
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(10), "waited for {what}");
        sleep(Duration::from_millis(100));
    }
}

fn info_duration(file: &Path) -> f64 {
    let o = rfbplay().arg("info").arg(file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = out.lines().find(|l| l.starts_with("duration:")).unwrap();
    line["duration:".len()..]
        .trim()
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn add_list_stop_and_a_failing_recording_beside_working_ones() {
    let (Some(a), Some(b)) = (
        Xvnc::start(&["-SecurityTypes", "None"]),
        Xvnc::start_with(&["-SecurityTypes", "None"], "800x600"),
    ) else {
        return;
    };
    let dir = common::TempDir::new("recctl");
    let sock = dir.path().join("rec.sock");
    let recs = dir.path().join("recs");
    let mut bin = Bin(rfbplay()
        .args(["record", "--control"])
        .arg(&sock)
        .arg("--dir")
        .arg(&recs)
        .arg(format!("a={}", a.target()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    wait_for("the socket", || sock.exists());
    let meta = std::fs::symlink_metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner only");
    wait_for("a recording", || {
        state(&list(&sock), "a")["state"] == "recording"
    });

    let (ok, answer) = ctl(&sock, &["add", &format!("b={}", b.target())]);
    assert!(ok, "{answer}");
    // Nothing listens here: it fails, and says why in list.
    let port = xvnc::free_port();
    let (ok, answer) = ctl(&sock, &["add", &format!("c=127.0.0.1::{port}")]);
    assert!(ok, "{answer}");
    wait_for("b recording and c failed", || {
        let rows = list(&sock);
        state(&rows, "b")["state"] == "recording" && state(&rows, "c")["state"] == "failed"
    });
    let rows = list(&sock);
    let err = state(&rows, "c")["error"].as_str().unwrap().to_string();
    assert!(err.contains("connection refused"), "{err}");
    assert_eq!(state(&rows, "a")["state"], "recording", "{rows:?}");
    assert_eq!(state(&rows, "b")["width"], 800);

    // Refusals: a running name, an existing file, a bad request.
    let (ok, answer) = ctl(&sock, &["add", &format!("a={}", b.target())]);
    assert!(!ok && answer.contains("already recording"), "{answer}");
    std::fs::write(recs.join("d.fb"), b"keep me").unwrap();
    let (ok, answer) = ctl(&sock, &["add", &format!("d={}", b.target())]);
    assert!(!ok && answer.contains("already exists"), "{answer}");
    assert_eq!(std::fs::read(recs.join("d.fb")).unwrap(), b"keep me");
    let (ok, answer) = ctl(&sock, &["add", "../x=h:1"]);
    assert!(!ok, "{answer}");
    let (ok, answer) = ctl(&sock, &["frobnicate"]);
    assert!(
        !ok && answer.starts_with("error: unknown request"),
        "{answer}"
    );

    sleep(Duration::from_millis(1000));
    let (ok, answer) = ctl(&sock, &["stop", "a"]);
    assert!(ok, "{answer}");
    assert_eq!(state(&list(&sock), "a")["state"], "ended");
    assert_eq!(state(&list(&sock), "b")["state"], "recording");
    let a_len = info_duration(&recs.join("a.fb"));
    assert!(a_len > 1.0, "a lasted {a_len} s");

    let (ok, answer) = ctl(&sock, &["stop", "--all"]);
    assert!(ok && answer == "ok: stopped 1 recording", "{answer}");
    assert!(info_duration(&recs.join("b.fb")) > 0.9);

    // SIGTERM ends the recorder and removes its socket; c's failure is
    // its exit status.
    assert!(Command::new("kill")
        .args(["-TERM", &bin.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = bin.0.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(!sock.exists(), "socket removed");
}

#[test]
fn only_a_stale_socket_is_replaced() {
    let dir = common::TempDir::new("recctl-stale");
    let recs = dir.path().join("recs");
    let start = |sock: &Path| {
        rfbplay()
            .args(["record", "--control"])
            .arg(sock)
            .arg("--dir")
            .arg(&recs)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // A regular file: refused and left alone.
    let file = dir.path().join("file.sock");
    std::fs::write(&file, b"not a socket").unwrap();
    let o = start(&file).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a socket");

    // A stale socket (nobody listens): replaced.
    let sock = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let mut first = Bin(start(&sock));
    wait_for("the recorder to answer", || ctl(&sock, &["list"]).0);

    // A live one: a second recorder is refused and the first keeps it.
    let o = start(&sock).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(ctl(&sock, &["list"]).0);
    let _ = first.0.kill();
}

/// A controlled recording is as crash-safe as any: `kill -9` of the
/// recorder leaves a file that decodes up to about the last second.
#[test]
fn kill_9_leaves_decodable_files() {
    let Some(a) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("recctl-kill9");
    let sock = dir.path().join("rec.sock");
    let recs = dir.path().join("recs");
    let mut bin = Bin(rfbplay()
        .args(["record", "--control"])
        .arg(&sock)
        .arg("--dir")
        .arg(&recs)
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    wait_for("the socket", || sock.exists());
    let (ok, answer) = ctl(&sock, &["add", &format!("a={}", a.target())]);
    assert!(ok, "{answer}");
    wait_for("a recording", || {
        state(&list(&sock), "a")["state"] == "recording"
    });
    sleep(Duration::from_millis(1500));
    bin.0.kill().unwrap();
    let _ = bin.0.wait();
    let o = rfbplay()
        .arg("info")
        .arg(recs.join("a.fb"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("1024x768"), "{out}");
    let truncated = out.lines().find(|l| l.starts_with("truncated:")).unwrap();
    assert!(
        truncated.contains("yes"),
        "killed, so the gzip stream is open: {out}"
    );
}
