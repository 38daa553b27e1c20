//! Recording a lab with one `rfbplay record --control` process, against
//! real TigerVNC Xvnc servers: keyboard/mouse sessions added and stopped
//! by name beside screen recordings (`add-kb`, `stop-kb`, `list`), one
//! session's bad password or dead server leaving the others recording,
//! and a small lab (five servers) recorded at once and killed with -9.
#![cfg(unix)]

mod common;
#[path = "common/recorder.rs"]
mod recorder;
#[path = "common/xvnc.rs"]
mod xvnc;

use recorder::{ctl, list, rfbplay, Bin};
use rfbplay::client::{Client, ConnectOptions, Target};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use xvnc::Xvnc;

fn row<'a>(rows: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name && r["type"] == kind)
        .unwrap_or_else(|| panic!("{kind} {name} not in {rows:?}"))
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(15), "waited for {what}");
        sleep(Duration::from_millis(100));
    }
}

fn recorder(sock: &Path, dir: &Path, jobs: &[String]) -> Bin {
    let bin = Bin(rfbplay()
        .args(["record", "--control"])
        .arg(sock)
        .arg("--dir")
        .arg(dir)
        .args(jobs)
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    wait_for("the socket", || sock.exists());
    bin
}

/// The port in an `add-kb` answer: "... point a VNC viewer at ADDR (...".
fn listen_port(answer: &str) -> u16 {
    let addr = answer
        .split("viewer at ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {answer}"));
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn viewer_on(port: u16) -> Result<Client, rfbplay::client::ClientError> {
    Client::connect(&Target::new("127.0.0.1", port), &ConnectOptions::default())
}

#[test]
fn add_kb_records_a_viewer_beside_the_screen_and_stops_by_name() {
    let Some(a) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("reclab-kb");
    let (sock, recs) = (dir.path().join("rec.sock"), dir.path().join("recs"));
    let _bin = recorder(&sock, &recs, &[format!("a={}", a.target())]);
    wait_for("a recording", || {
        row(&list(&sock), "fb", "a")["state"] == "recording"
    });

    // add-kb NAME takes the screen recording's server.
    let (ok, answer) = ctl(&sock, &["add-kb", "a", "--listen", "127.0.0.1:0"]);
    assert!(ok, "{answer}");
    assert!(!answer.contains("warning"), "{answer}");
    let port = listen_port(&answer);
    // One kb session per name while it runs.
    let (ok, again) = ctl(&sock, &["add-kb", "a", "--listen", "127.0.0.1:0"]);
    assert!(!ok && again.contains("already recording keys"), "{again}");

    let mut viewer = viewer_on(port).unwrap();
    assert_eq!(viewer.size(), (1024, 768), "the viewer reached a's server");
    viewer.pointer(0, 100, 200).unwrap();
    for (down, keysym) in [(true, 0x61), (false, 0x61), (true, 0x62), (false, 0x62)] {
        viewer.key(down, keysym).unwrap();
        sleep(Duration::from_millis(20));
    }
    sleep(Duration::from_millis(300));
    // A second viewer meanwhile is turned away.
    assert!(viewer_on(port).is_err(), "one viewer at a time");
    viewer.shutdown();
    drop(viewer);
    wait_for("the viewer counted", || {
        row(&list(&sock), "kb", "a")["viewers"] == 1
    });
    let rows = list(&sock);
    let kb = row(&rows, "kb", "a");
    assert_eq!(kb["state"], "recording", "{kb}");
    assert_eq!(kb["keys"], 4, "{kb}");
    assert_eq!(kb["pointers"], 1, "{kb}");
    assert_eq!(row(&rows, "fb", "a")["state"], "recording");

    // The table names both types.
    let (ok, table) = ctl(&sock, &["list"]);
    assert!(ok, "{table}");
    assert!(table.lines().any(|l| l.starts_with("fb   a ")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("kb   a ")), "{table}");

    let (ok, answer) = ctl(&sock, &["stop-kb", "a"]);
    assert!(ok, "{answer}");
    assert_eq!(row(&list(&sock), "kb", "a")["state"], "ended");
    assert_eq!(row(&list(&sock), "fb", "a")["state"], "recording");
    let text = std::fs::read_to_string(recs.join("a.kb")).unwrap();
    let events: Vec<String> = rfbplay::kb::parse_str(&text)
        .unwrap()
        .events()
        .map(|(_, e)| rfbplay::kb::write::format_event(e))
        .collect();
    assert_eq!(
        events,
        [
            "PointerEvent,0,100,200",
            "KeyEvent,true,a",
            "KeyEvent,false,a",
            "KeyEvent,true,b",
            "KeyEvent,false,b"
        ],
        "{text}"
    );

    // Unknown names are clear errors; a new session numbers its file.
    let (ok, answer) = ctl(&sock, &["stop-kb", "nosuch"]);
    assert!(
        !ok && answer.contains("no kb recording is named \"nosuch\""),
        "{answer}"
    );
    let (ok, answer) = ctl(&sock, &["stop", "nosuch"]);
    assert!(!ok && answer.contains("no recording is named"), "{answer}");
    let (ok, answer) = ctl(&sock, &["add-kb", "nosuch", "--listen", "127.0.0.1:0"]);
    assert!(!ok && answer.contains("no screen recording"), "{answer}");
    let (ok, answer) = ctl(&sock, &["add-kb", "a", "--listen", "127.0.0.1:0"]);
    assert!(ok && answer.ends_with("a.1.kb"), "{answer}");
    assert_eq!(std::fs::read_to_string(recs.join("a.kb")).unwrap(), text);
    let (ok, answer) = ctl(&sock, &["stop", "--all"]);
    assert!(ok && answer == "ok: stopped 2 recordings", "{answer}");
}

#[test]
fn a_bad_password_or_a_dead_server_leaves_the_others_recording() {
    let Some(good) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("reclab-fail");
    let Some(pw) = xvnc::password_file(dir.path(), "secret1") else {
        return;
    };
    let pw_arg = pw.to_string_lossy().into_owned();
    let Some(locked) = Xvnc::start(&["-SecurityTypes", "VncAuth", "-PasswordFile", &pw_arg]) else {
        return;
    };
    let (sock, recs) = (dir.path().join("rec.sock"), dir.path().join("recs"));
    // No password given to the recorder: `locked` fails.
    let _bin = recorder(
        &sock,
        &recs,
        &[
            format!("good={}", good.target()),
            format!("locked={}", locked.target()),
        ],
    );
    let dead = xvnc::free_port();
    let (ok, answer) = ctl(
        &sock,
        &[
            "add-kb",
            &format!("dead=127.0.0.1::{dead}"),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(ok, "{answer}");
    let dead_port = listen_port(&answer);
    let (ok, answer) = ctl(
        &sock,
        &[
            "add-kb",
            &format!("good={}", good.target()),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert!(ok, "{answer}");
    let good_port = listen_port(&answer);

    // A viewer of the dead server is closed; the session says why and
    // waits for the next viewer.
    assert!(viewer_on(dead_port).is_err());
    wait_for("locked failed, dead's error", || {
        let rows = list(&sock);
        row(&rows, "fb", "locked")["state"] == "failed"
            && row(&rows, "kb", "dead")["error"].is_string()
    });
    let rows = list(&sock);
    let locked_err = row(&rows, "fb", "locked")["error"].as_str().unwrap();
    assert!(locked_err.contains("password"), "{locked_err}");
    let dead_row = row(&rows, "kb", "dead");
    assert_eq!(dead_row["state"], "recording", "{dead_row}");
    assert!(
        dead_row["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{dead_row}"
    );

    // The others go on.
    let mut viewer = viewer_on(good_port).unwrap();
    viewer.key(true, 0x41).unwrap();
    viewer.key(false, 0x41).unwrap();
    sleep(Duration::from_millis(200));
    viewer.shutdown();
    drop(viewer);
    wait_for("good's viewer counted", || {
        row(&list(&sock), "kb", "good")["keys"] == 2
    });
    let rows = list(&sock);
    assert_eq!(row(&rows, "fb", "good")["state"], "recording", "{rows:?}");
    assert!(row(&rows, "fb", "good")["updates"].as_u64().unwrap() >= 1);
}

/// The screen of `file` at `t` seconds, as RGBA bytes.
fn frame_at(file: &Path, t: f64) -> Vec<u8> {
    let png = file.with_extension(format!("{:.3}.png", t));
    let o = rfbplay()
        .arg("frame")
        .arg(file)
        .arg(&png)
        .arg("--at")
        .arg(format!("{t:.3}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    image::open(&png).unwrap().to_rgba8().into_raw()
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
fn play_record_shows_each_key_in_the_frame_after_it() {
    if common::tool("xterm").is_none() || common::tool("xdotool").is_none() {
        return;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    x.spawn("xterm", &["-fn", "10x20", "-geometry", "+10+10"]);
    wait_for("xterm", || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--class", "XTerm"])
            .env("DISPLAY", x.display_env())
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    });
    sleep(Duration::from_millis(700));
    let dir = common::TempDir::new("reclab-play");
    // `echo hello`, one event every 100 ms.
    let mut kb = String::new();
    for e in rfbplay::kb::typing::type_events("echo hello") {
        kb += &rfbplay::kb::write::format_item(&rfbplay::kb::Item::Event {
            delay_ns: 100_000_000,
            event: e,
        });
        kb.push('\n');
    }
    let login = dir.path().join("login.kb");
    std::fs::write(&login, kb).unwrap();
    let run = dir.path().join("run.fb");
    let o = rfbplay()
        .args(["play", &x.target()])
        .arg(&login)
        .arg("--record")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // What was sent, on the recording's clock.
    let sent = std::fs::read_to_string(dir.path().join("run.sent.kb")).unwrap();
    let program = rfbplay::kb::parse_str(&sent).unwrap();
    let mut t = 0u64;
    let mut downs = vec![];
    let mut count = 0;
    for (delay, e) in program.events() {
        t += delay;
        count += 1;
        if let rfbplay::kb::Event::Key { down: true, .. } = e {
            downs.push(t as f64 / 1e9);
        }
    }
    assert_eq!(count, 20, "{sent}");
    assert!(downs[0] > 0.0, "the recording began before the first key");
    let last = t as f64 / 1e9;
    let length = info_duration(&run);
    assert!(
        length >= last + 0.45,
        "recorded {length} s, last key at {last} s"
    );

    // Each key's effect is on screen before the next key: the frame just
    // before the next key differs from the frame just before this one.
    for (i, &down) in downs.iter().enumerate() {
        let before = frame_at(&run, (down - 0.005).max(0.0));
        let after = frame_at(&run, down + 0.19);
        assert_ne!(before, after, "key {i} at {down} s changed nothing");
    }
    let start = frame_at(&run, 0.0);
    assert_ne!(start, frame_at(&run, length), "the typed text is on screen");
}

/// A small lab (tools/measure_lab.sh measures fifty): five servers in
/// one recorder, typing in one, then `kill -9`: every file decodes, and
/// the typing screen's file reaches to within a second of the kill.
#[test]
fn five_servers_in_one_recorder_survive_kill_9() {
    if common::tool("xterm").is_none() || common::tool("xdotool").is_none() {
        return;
    }
    let mut servers = vec![];
    for _ in 0..5 {
        let Some(x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
            return;
        };
        servers.push(x);
    }
    // Big enough to lie under the pointer (the screen's centre), which
    // gives it the keyboard on a desktop without a window manager.
    servers[0].spawn("xterm", &["-geometry", "100x40+0+0"]);
    wait_for("xterm", || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--class", "XTerm"])
            .env("DISPLAY", servers[0].display_env())
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    });
    let dir = common::TempDir::new("reclab-five");
    let (sock, recs) = (dir.path().join("rec.sock"), dir.path().join("recs"));
    let jobs: Vec<String> = servers
        .iter()
        .enumerate()
        .map(|(i, x)| format!("vm{i}={}", x.target()))
        .collect();
    let mut bin = recorder(&sock, &recs, &jobs);
    wait_for("five recordings", || {
        list(&sock)
            .iter()
            .filter(|r| r["state"] == "recording")
            .count()
            == 5
    });
    sleep(Duration::from_millis(1000));
    // Typing until the kill.
    let typist = Command::new("xdotool")
        .args([
            "type",
            "--delay",
            "50",
            "echo the quick brown fox jumps over",
        ])
        .env("DISPLAY", servers[0].display_env())
        .spawn()
        .unwrap();
    let mut typist = Bin(typist);
    sleep(Duration::from_millis(1200));
    let rows = list(&sock);
    let listed = Instant::now();
    bin.0.kill().unwrap();
    let killed_after = listed.elapsed().as_secs_f64();
    let _ = bin.0.wait();
    let _ = typist.0.kill();

    for i in 0..5 {
        let name = format!("vm{i}");
        let file = recs.join(format!("{name}.fb"));
        let o = rfbplay().arg("info").arg(&file).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("1024x768"), "{name}: {out}");
    }
    let at_kill = row(&rows, "fb", "vm0")["elapsed_s"].as_f64().unwrap() + killed_after;
    let last = info_duration(&recs.join("vm0.fb"));
    // list's elapsed time is refreshed every 0.25 s.
    assert!(
        at_kill - last <= 1.0 + 0.25,
        "killed at file time {at_kill} s, last update at {last} s"
    );
}
