//! What `play`, `type` and `inject` promise on the command line, without a
//! VNC server: `--control` never deletes a file that is not a stale socket
//! (nor any input of the playback), `--help` lists every target form the
//! parser reads, `type` has no options that do nothing, and `record-kb`
//! warns when it listens beyond loopback.

mod common;

use common::TempDir;
use rfbplay::client::Target;
use rfbplay::kb::control::{self, ControlError, ControlServer};
use rfbplay::kb::play::Control;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

fn rfbplay(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run rfbplay")
}

/// A .kb file with a template image next to it.
fn files(dir: &Path) {
    let img = image::RgbImage::from_pixel(4, 3, image::Rgb([200, 10, 10]));
    img.save(dir.join("t.png")).unwrap();
    std::fs::write(
        dir.join("x.kb"),
        "# a comment\n0:KeyEvent,true,a\n0:WaitForIt,1s,t.png\n",
    )
    .unwrap();
}

#[test]
fn control_refuses_inputs_and_other_files_and_keeps_them() {
    let dir = TempDir::new("kb-cli-control");
    let d = dir.path();
    files(d);
    let kb_text = std::fs::read(d.join("x.kb")).unwrap();
    // The reported case: the socket path is the .kb file itself. Port 1 on
    // loopback refuses, but the control path is checked first.
    for (path, expect) in [
        ("x.kb", "is x.kb, an input of this playback"),
        ("./x.kb", "an input of this playback"),
        ("t.png", "is t.png, an input of this playback"),
    ] {
        let out = rfbplay(d, &["play", "127.0.0.1::1", "x.kb", "--control", path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}: {err}");
        assert!(err.contains(expect), "{path}: {err}");
        assert!(err.contains(&format!("--control {path}")), "{err}");
        assert_eq!(err.matches("input of").count(), 1, "said twice? {err}");
    }
    assert_eq!(std::fs::read(d.join("x.kb")).unwrap(), kb_text);
    assert!(d.join("t.png").exists());

    // Any other file that is not a socket stays too.
    std::fs::write(d.join("notes.txt"), "keep me").unwrap();
    let out = rfbplay(
        d,
        &["play", "127.0.0.1::1", "x.kb", "--control", "notes.txt"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("notes.txt")).unwrap(),
        "keep me"
    );
    std::fs::create_dir(d.join("sub")).unwrap();
    let out = rfbplay(d, &["play", "127.0.0.1::1", "x.kb", "--control", "sub"]);
    assert!(!out.status.success());
    assert!(d.join("sub").is_dir());
}

#[test]
fn control_replaces_only_a_socket_nothing_answers_on() {
    let dir = TempDir::new("kb-cli-sock");
    let path = dir.path().join("c.sock");
    let inputs = [dir.path().join("x.kb")];

    // A live socket (another playback) is refused and left alone.
    let live = UnixListener::bind(&path).unwrap();
    let (tx, _rx) = mpsc::channel();
    let err = ControlServer::start(&path, &inputs, tx).err().unwrap();
    assert!(matches!(err, ControlError::InUse { .. }), "{err}");
    assert!(path.exists());
    drop(live);

    // The file a killed playback leaves: replaced, and it answers.
    assert!(path.exists());
    let (tx, rx) = mpsc::channel();
    let server = ControlServer::start(&path, &inputs, tx).unwrap();
    let answer = std::thread::spawn(move || {
        if let Ok(Control::GetStep(reply)) = rx.recv() {
            reply.send("3/9 x.kb:3".into()).unwrap();
        }
    });
    assert_eq!(control::request(&path, "getstep").unwrap(), "3/9 x.kb:3");
    answer.join().unwrap();
    drop(server);
    assert!(!path.exists(), "the server's own socket stays behind");

    // Something else put in its place while it ran is not removed.
    let (tx, _rx) = mpsc::channel();
    let server = ControlServer::start(&path, &inputs, tx).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "not ours").unwrap();
    drop(server);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not ours");
}

#[test]
fn help_lists_every_target_form_the_parser_reads() {
    let dir = TempDir::new("kb-cli-help");
    // Each form as --help writes it, with an example and where it goes.
    let forms = [
        ("`host:N`", "example.org:1", "example.org", 5901),
        ("`host:PORT`", "example.org:5999", "example.org", 5999),
        ("`host::PORT`", "example.org::7", "example.org", 7),
        ("bare `host`", "example.org", "example.org", 5900),
        ("`:N`", ":2", "localhost", 5902),
        ("`[v6addr]:N`", "[::1]:3", "::1", 5903),
        ("`[v6addr]::PORT`", "[::1]::5999", "::1", 5999),
        (
            "bare IPv6 address like 2001:db8::1",
            "2001:db8::1",
            "2001:db8::1",
            5900,
        ),
    ];
    for cmd in ["play", "type", "inject", "record-kb"] {
        let out = rfbplay(dir.path(), &[cmd, "--help"]);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        for (form, example, host, port) in forms {
            assert!(help.contains(form), "{cmd} --help lacks {form}: {help}");
            assert_eq!(
                example.parse::<Target>().unwrap(),
                Target::new(host, port),
                "{example}"
            );
        }
        // The help says Unix socket paths are not targets (the parser
        // takes one for a host name); if it ever reads them as sockets,
        // the help must list that form instead.
        assert!(help.contains("TCP only (no Unix socket paths)"), "{help}");
        assert_eq!(
            "/tmp/vnc.sock".parse::<Target>().unwrap(),
            Target::new("/tmp/vnc.sock", 5900)
        );
    }
}

#[test]
fn type_has_no_tolerance_but_inject_and_play_do() {
    let dir = TempDir::new("kb-cli-tol");
    let out = rfbplay(dir.path(), &["type", "--help"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("--tolerance"));
    let out = rfbplay(
        dir.path(),
        &["type", "127.0.0.1::1", "x", "--tolerance", "3"],
    );
    assert_eq!(out.status.code(), Some(2), "type accepted --tolerance");
    for cmd in ["play", "inject"] {
        let out = rfbplay(dir.path(), &[cmd, "--help"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("--tolerance"));
    }
}

/// Starts `record-kb --listen ADDR`, reads its stderr up to the line that
/// invites a viewer, stops it with SIGTERM; the lines read, or None when
/// it could not listen there (no IPv6 on this machine).
fn record_kb_banner(dir: &Path, listen: &str) -> Option<Vec<String>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["record-kb", "--listen", listen, "127.0.0.1::1", "x.kb"])
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("point a VNC viewer") || line.contains("cannot listen");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    if lines.iter().any(|l| l.contains("cannot listen")) {
        return None;
    }
    assert!(status.success(), "{lines:?}");
    Some(lines)
}

#[test]
fn record_kb_warns_once_when_listening_beyond_loopback() {
    let dir = TempDir::new("kb-cli-listen");
    let lines = record_kb_banner(dir.path(), "0.0.0.0:0").unwrap();
    let warnings: Vec<&String> = lines.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{lines:?}");
    assert!(warnings[0].contains("0.0.0.0:"), "{lines:?}");
    assert!(warnings[0].contains("other machines"), "{lines:?}");
    if let Some(lines) = record_kb_banner(dir.path(), "[::]:0") {
        assert_eq!(lines.iter().filter(|l| l.contains("warning")).count(), 1);
    }
    for local in ["127.0.0.1:0", "[::1]:0"] {
        if let Some(lines) = record_kb_banner(dir.path(), local) {
            assert!(!lines.iter().any(|l| l.contains("warning")), "{lines:?}");
        }
    }
}

#[test]
fn errors_say_their_cause_once() {
    let dir = TempDir::new("kb-cli-errors");
    let d = dir.path();
    let out = rfbplay(d, &["play", "--check", "missing.kb"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches("missing.kb").count(), 1, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    // A socket path in a folder that does not exist: the path once, the
    // cause once.
    files(d);
    let out = rfbplay(
        d,
        &[
            "play",
            "127.0.0.1::1",
            "x.kb",
            "--control",
            "no/such/dir/c.sock",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches("c.sock").count(), 1, "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
