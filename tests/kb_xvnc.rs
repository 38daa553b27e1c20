//! Keyboard/mouse playback against a real TigerVNC Xvnc with an xterm, on
//! loopback: the corpus .kb files create the files they type, `type` and
//! `inject` work, a `record-kb` session replays to the same effect, several
//! viewers in turn go into one file with their gaps, the
//! control socket pauses and stops, and ClickItEvent clicks an xmessage
//! button. Tests skip when the tools are missing (fail with CI=true).

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use common::TempDir;
use rfbplay::kb::write::write_script;
use rfbplay::kb::{self, Event, Item, Keysym, Line, Script};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// An Xvnc with one xterm whose shell runs in a temporary folder.
struct Desk {
    x: xvnc::Xvnc,
    dir: TempDir,
    children: Vec<Child>,
}

impl Drop for Desk {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Desk {
    fn new(tag: &str, xterm: bool) -> Option<Desk> {
        Self::with_security(xterm, TempDir::new(tag), &["-SecurityTypes", "None"])
    }

    fn with_security(xterm: bool, dir: TempDir, security: &[&str]) -> Option<Desk> {
        common::tool("xterm")?;
        common::tool("xdotool")?;
        let x = xvnc::Xvnc::start(security)?;
        let mut d = Desk {
            x,
            dir,
            children: Vec::new(),
        };
        if xterm {
            let child = d
                .x_command("xterm")
                .args(["-fn", "10x20", "-geometry", "+10+10"])
                .env("SHELL", "/bin/sh")
                .env("PS1", "$ ")
                .spawn()
                .expect("spawn xterm");
            d.children.push(child);
            assert!(d.wait_window("--class", "XTerm"), "xterm did not appear");
            // Let the shell print its prompt and read input.
            std::thread::sleep(Duration::from_millis(700));
        }
        Some(d)
    }

    fn x_command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", self.x.display_env())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn wait_window(&self, how: &str, what: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let found = Command::new("xdotool")
                .args(["search", "--onlyvisible", how, what])
                .env("DISPLAY", self.x.display_env())
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
            if found {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn rfbplay(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run rfbplay")
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "rfbplay failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Waits until `path` holds `text` (the shell writes it a moment after the
/// last key).
fn wait_contents(path: &Path, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Drops the keys that type `/tmp/` (first slash through the second), so
/// `> /tmp/x` becomes `> x` in the xterm's own folder; their delays go to
/// the next event, so everything else keeps its recorded time.
fn without_tmp_prefix(text: &str) -> String {
    let script = kb::parse_str(text).unwrap();
    let is_slash = |l: &Line, down: bool| {
        matches!(&l.item, Item::Event { event: Event::Key { down: d, keysym }, .. }
            if *d == down && *keysym == Keysym(0x2f))
    };
    let first = script.lines.iter().position(|l| is_slash(l, true)).unwrap();
    let second = script
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| is_slash(l, false))
        .nth(1)
        .unwrap()
        .0;
    let mut carry = 0u64;
    let mut lines = Vec::new();
    for (i, l) in script.lines.into_iter().enumerate() {
        match l.item {
            Item::Event { delay_ns, .. } if (first..=second).contains(&i) => carry += delay_ns,
            Item::Event { delay_ns, event } => {
                lines.push(Line {
                    number: l.number,
                    item: Item::Event {
                        delay_ns: delay_ns + carry,
                        event,
                    },
                });
                carry = 0;
            }
            item => lines.push(Line {
                number: l.number,
                item,
            }),
        }
    }
    let mut out = Vec::new();
    write_script(&Script { lines }, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn echo_hello_creates_the_file_it_types() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(d) = Desk::new("kb-echo", true) else {
        return;
    };
    let original = std::fs::read_to_string(corpus.join("xterm_echo_hello.kb")).unwrap();
    std::fs::write(d.path("echo.kb"), without_tmp_prefix(&original)).unwrap();
    let t = d.x.target();
    let start = Instant::now();
    ok(&d.rfbplay(&["play", &t, "echo.kb", "--timing"]));
    // The recorded delays add up to 5.56 s; the absolute clock keeps it.
    let took = start.elapsed().as_secs_f64();
    assert!((5.5..7.0).contains(&took), "played in {took:.2}s");
    assert!(wait_contents(&d.path("x"), "hello\n"), "x was not written");

    // The file itself writes /tmp/x: run it too when that file is free.
    let tmp_x = Path::new("/tmp/x");
    if tmp_x.exists() {
        eprintln!("note: /tmp/x exists, not replaying the original file");
        return;
    }
    let path = corpus.join("xterm_echo_hello.kb");
    ok(&d.rfbplay(&["play", &t, path.to_str().unwrap()]));
    let written = wait_contents(tmp_x, "hello\n");
    let _ = std::fs::remove_file(tmp_x);
    assert!(written, "/tmp/x was not written");
}

#[test]
fn durations_loadfile_plays_its_include() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(d) = Desk::new("kb-load", true) else {
        return;
    };
    for name in ["durations_loadfile.kb", "xterm_echo_hello.kb"] {
        let text = std::fs::read_to_string(corpus.join(name)).unwrap();
        std::fs::write(d.path(name), without_tmp_prefix(&text)).unwrap();
    }
    let check = d.rfbplay(&["play", "--check", "durations_loadfile.kb"]);
    ok(&check);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("LoadFile:   1 (2 files)"), "{text}");
    let out = d.rfbplay(&["play", &d.x.target(), "durations_loadfile.kb"]);
    ok(&out);
    // The included file typed `echo hello > x`.
    assert!(
        wait_contents(&d.path("x"), "hello\n"),
        "the LoadFile did not play"
    );
    // Comments are printed only when asked for.
    let quiet = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!quiet.contains("clear the terminal first"), "{quiet}");
    std::fs::remove_file(d.path("x")).unwrap();
    let out = d.rfbplay(&["play", &d.x.target(), "durations_loadfile.kb", "--verbose"]);
    ok(&out);
    assert!(wait_contents(&d.path("x"), "hello\n"));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("#: clear the terminal first"), "{log}");
}

#[test]
fn type_and_inject() {
    let Some(d) = Desk::new("kb-type", true) else {
        return;
    };
    let t = d.x.target();
    ok(&d.rfbplay(&["type", &t, r"echo 'Typed: A>b' > t1\n"]));
    assert!(
        wait_contents(&d.path("t1"), "Typed: A>b\n"),
        "type did not work"
    );
    ok(&d.rfbplay(&["type", &t, "touch t2"]));
    ok(&d.rfbplay(&["inject", &t, "KeyEvent,true,Return"]));
    ok(&d.rfbplay(&["inject", &t, "KeyEvent,false,Return"]));
    assert!(
        wait_contents(&d.path("t2"), ""),
        "inject did not press Return"
    );
    let bad = d.rfbplay(&["inject", &t, "KeyEvent,true,NoSuchKey"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key 'NoSuchKey'"));
}

/// Runs `record-kb` in front of the desk's server and types `text`
/// through it with the project's client core as the viewer; returns the
/// event lines the viewer sent. The recording goes to `rec.kb`.
fn record_through_proxy(d: &Desk, text: &str) -> Vec<String> {
    record_through_proxy_with(d, text, None)
}

fn record_through_proxy_with(d: &Desk, text: &str, password: Option<&str>) -> Vec<String> {
    use rfbplay::client::{Client, ConnectOptions, Target};
    let port = xvnc::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([
            "record-kb",
            "--once",
            "--listen",
            &listen,
            &d.x.target(),
            "rec.kb",
        ])
        .current_dir(d.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut viewer = loop {
        let opts = ConnectOptions {
            password: password.map(String::from),
            ..ConnectOptions::default()
        };
        match Client::connect(&Target::new("127.0.0.1", port), &opts) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("{e}"),
        }
    };
    let mut sent = vec![];
    for (x, y) in [(600, 450), (420, 300), (416, 296)] {
        viewer.pointer(0, x, y).unwrap();
        sent.push(format!("PointerEvent,0,{x},{y}"));
        std::thread::sleep(Duration::from_millis(30));
    }
    for e in kb::typing::type_events(text) {
        let Event::Key { down, keysym } = e else {
            unreachable!()
        };
        viewer.key(down, keysym.0).unwrap();
        sent.push(kb::write::format_event(&e));
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(200));
    viewer.shutdown();
    drop(viewer);
    let status = recorder.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(recorder.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(status.success(), "{log}");
    sent
}

#[test]
fn record_kb_session_replays_to_the_same_effect() {
    let Some(d) = Desk::new("kb-rec", true) else {
        return;
    };
    let sent = record_through_proxy(&d, "echo rec > r1\n");
    assert!(
        wait_contents(&d.path("r1"), "rec\n"),
        "the live session did not reach the server"
    );

    // The file holds exactly what the viewer sent, with plausible delays.
    let text = std::fs::read_to_string(d.path("rec.kb")).unwrap();
    let script = kb::parse_str(&text).unwrap();
    let events: Vec<String> = script
        .events()
        .map(|(_, e)| kb::write::format_event(e))
        .collect();
    assert_eq!(events, sent);
    let delays: Vec<u64> = script.events().map(|(d, _)| d).skip(1).collect();
    assert!(
        delays
            .iter()
            .all(|&d| (15_000_000..200_000_000).contains(&d)),
        "{delays:?}"
    );

    std::fs::remove_file(d.path("r1")).unwrap();
    ok(&d.rfbplay(&["play", &d.x.target(), "rec.kb"]));
    assert!(
        wait_contents(&d.path("r1"), "rec\n"),
        "the replay did not type the command"
    );
}

#[test]
fn control_socket_pauses_steps_and_stops() {
    let Some(d) = Desk::new("kb-ctl", true) else {
        return;
    };
    // 30 events, 150 ms apart: about 4.5 s of typing.
    let mut text = String::from("100ms:PointerEvent,0,416,296\n");
    for e in kb::typing::type_events("echo ctl > c1\n") {
        text += &format!("150ms:{}\n", kb::write::format_event(&e));
    }
    std::fs::write(d.path("ctl.kb"), &text).unwrap();
    let sock = d.path("ctl.sock");
    let mut play = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([
            "play",
            &d.x.target(),
            "ctl.kb",
            "--control",
            sock.to_str().unwrap(),
        ])
        .current_dir(d.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ctl = |cmd: &str| {
        let out = d.rfbplay(&["ctl", sock.to_str().unwrap(), cmd]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(ctl("pause"), "ok");
    std::thread::sleep(Duration::from_millis(100));
    let at = ctl("getstep");
    assert!(at.contains("ctl.kb:"), "{at}");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(ctl("getstep"), at, "a paused playback moved on");
    assert_eq!(ctl("step"), "ok");
    std::thread::sleep(Duration::from_millis(100));
    assert_ne!(ctl("getstep"), at, "step did not send the next event");
    assert_eq!(ctl("continue"), "ok");
    assert_eq!(ctl("inject KeyEvent,false,Shift_L"), "ok");
    let bad = d.rfbplay(&[
        "ctl",
        sock.to_str().unwrap(),
        "inject",
        "KeyEvent,true,Bogus",
    ]);
    assert!(!bad.status.success(), "a bad event was accepted");
    let status = play.wait().unwrap();
    assert!(status.success());
    assert!(
        wait_contents(&d.path("c1"), "ctl\n"),
        "paused playback lost events"
    );
    assert!(!sock.exists(), "the socket file was left behind");

    // Stop ends a playback early.
    let mut play = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([
            "play",
            &d.x.target(),
            "ctl.kb",
            "--control",
            sock.to_str().unwrap(),
        ])
        .current_dir(d.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    assert_eq!(ctl("stop"), "ok");
    assert!(play.wait().unwrap().success());
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// The "ok" button of an xmessage at a known place, cut from the server's
/// screenshot, for the ClickItEvent template.
fn button_template(d: &Desk) -> Option<PathBuf> {
    let mut first = d
        .x_command("xmessage")
        .args(["-buttons", "ok:0", "-geometry", "+300+300", "first"])
        .spawn()
        .unwrap();
    assert!(d.wait_window("--class", "Xmessage"));
    std::thread::sleep(Duration::from_millis(300));
    let tree = Command::new("xwininfo")
        .args(["-root", "-tree"])
        .env("DISPLAY", d.x.display_env())
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&tree.stdout).to_string();
    // Children of the xmessage window: "WxH+x+y  +absx+absy"; the button
    // is the lowest one.
    let mut best: Option<(u32, u32, u32, u32)> = None;
    for line in tree
        .lines()
        .skip_while(|l| !l.contains("\"xmessage\""))
        .skip(1)
    {
        if line.contains("\": (") && !line.contains("(has no name)") {
            break;
        }
        let geo: Vec<&str> = line.split_whitespace().rev().take(2).collect();
        let [abs, size] = geo[..] else { continue };
        let nums = |s: &str| -> Vec<u32> {
            s.split(['x', '+'])
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.parse().ok())
                .collect()
        };
        let (a, s) = (nums(abs), nums(size));
        if a.len() == 2 && s.len() >= 2 && best.is_none_or(|b| a[1] > b.1) {
            best = Some((a[0], a[1], s[0], s[1]));
        }
    }
    let (x, y, w, h) = best.expect("no xmessage button in xwininfo -tree");
    let shot = d.path("shot.png");
    d.x.screenshot(&shot);
    let img = image::open(&shot).unwrap().to_rgb8();
    let button = image::imageops::crop_imm(&img, x, y, w, h).to_image();
    let path = d.path("ok.png");
    button.save(&path).unwrap();
    let _ = first.kill();
    let _ = first.wait();
    Some(path)
}

#[test]
fn click_it_event_clicks_an_xmessage_button() {
    let Some(_) = common::tool("xmessage") else {
        return;
    };
    let Some(_) = common::tool("xwininfo") else {
        return;
    };
    let Some(_) = common::tool("convert") else {
        return;
    };
    let Some(d) = Desk::new("kb-click", false) else {
        return;
    };
    button_template(&d).unwrap();
    let mut msg = d
        .x_command("xmessage")
        .args(["-buttons", "ok:0", "-center", "hello"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(
        d.path("click.kb"),
        "0:WaitForIt,10s,ok.png\n100ms:ClickItEvent,5s,ok.png\n",
    )
    .unwrap();
    let out = d.rfbplay(&["play", &d.x.target(), "click.kb"]);
    ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("click.kb:2: found at"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = msg.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "xmessage was not clicked");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "xmessage exits 0 when its ok button is clicked"
    );

    // Nothing like it on screen now: a timeout naming the line.
    std::fs::write(
        d.path("gone.kb"),
        "# waits in vain\n0:WaitForIt,700ms,ok.png\n",
    )
    .unwrap();
    let out = d.rfbplay(&["play", &d.x.target(), "gone.kb"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gone.kb:2: WaitForIt for") && err.contains("not found within"),
        "{err}"
    );
}

#[test]
fn recording_and_playbacks_run_side_by_side() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(a) = Desk::new("kb-side-a", true) else {
        return;
    };
    let Some(b) = Desk::new("kb-side-b", true) else {
        return;
    };
    // On A: a pointer walk inside the xterm (so focus stays) played on its
    // own connection while a viewer types through the recorder.
    let mut walk = String::new();
    for i in 0..40u16 {
        walk += &format!(
            "40ms:PointerEvent,0,{},{}\n",
            300 + i * 5,
            200 + (i % 7) * 10
        );
    }
    std::fs::write(a.path("walk.kb"), walk).unwrap();
    // On B: the corpus file, at the same time.
    let echo = std::fs::read_to_string(corpus.join("xterm_echo_hello.kb")).unwrap();
    std::fs::write(b.path("echo.kb"), without_tmp_prefix(&echo)).unwrap();
    let spawn = |d: &Desk, file: &str| {
        Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(["play", &d.x.target(), file])
            .current_dir(d.dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut on_b = spawn(&b, "echo.kb");
    let mut on_a = spawn(&a, "walk.kb");
    let sent = record_through_proxy(&a, "echo side > s1\n");
    assert!(on_a.wait().unwrap().success());
    assert!(on_b.wait().unwrap().success());
    assert!(
        wait_contents(&a.path("s1"), "side\n"),
        "typing through the recorder failed"
    );
    assert!(
        wait_contents(&b.path("x"), "hello\n"),
        "the playback on B failed"
    );
    // The recording holds the viewer's events only, not the other playback's.
    let text = std::fs::read_to_string(a.path("rec.kb")).unwrap();
    let script = kb::parse_str(&text).unwrap();
    let events: Vec<String> = script
        .events()
        .map(|(_, e)| kb::write::format_event(e))
        .collect();
    assert_eq!(events, sent);
}

#[test]
fn vnc_authentication_for_play_and_through_the_recorder() {
    let dir = TempDir::new("kb-auth");
    let Some(pw) = xvnc::password_file(dir.path(), "s3cret") else {
        return;
    };
    let pw = pw.to_str().unwrap().to_string();
    let security = ["-SecurityTypes", "VncAuth", "-PasswordFile", &pw];
    let Some(d) = Desk::with_security(true, dir, &security) else {
        return;
    };
    let typed = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([
            "type",
            &d.x.target(),
            r"echo auth > a1\n",
            "--password-file",
            &pw,
        ])
        .current_dir(d.dir.path())
        .output()
        .unwrap();
    ok(&typed);
    assert!(wait_contents(&d.path("a1"), "auth\n"));
    let refused = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["type", &d.x.target(), "x"])
        .env("VNC_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    // The viewer's VNC Authentication passes through the recorder.
    let sent = record_through_proxy_with(&d, "echo rec > a2\n", Some("s3cret"));
    assert!(wait_contents(&d.path("a2"), "rec\n"));
    let text = std::fs::read_to_string(d.path("rec.kb")).unwrap();
    assert_eq!(kb::parse_str(&text).unwrap().events().count(), sent.len());
}

/// A viewer on `port` through the project's client core, retried until
/// the recorder listens.
fn viewer_on(port: u16) -> rfbplay::client::Client {
    use rfbplay::client::{Client, ConnectOptions, Target};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Client::connect(&Target::new("127.0.0.1", port), &ConnectOptions::default()) {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn record_kb_serves_viewers_in_turn_into_one_file() {
    let Some(d) = Desk::new("kb-rec-many", false) else {
        return;
    };
    let port = xvnc::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["record-kb", "--listen", &listen, &d.x.target(), "many.kb"])
        .current_dir(d.dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first viewer moves the pointer twice and leaves; before, the
    // recorder ended here.
    let mut first = viewer_on(port);
    first.pointer(0, 10, 10).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    first.pointer(0, 11, 11).unwrap();
    // Another viewer meanwhile is turned away with a reason.
    let busy = rfbplay::client::Client::connect(
        &rfbplay::client::Target::new("127.0.0.1", port),
        &rfbplay::client::ConnectOptions::default(),
    );
    let why = match busy {
        Ok(_) => panic!("a second viewer got in"),
        Err(e) => e.to_string(),
    };
    assert!(why.contains("one viewer at a time"), "{why}");
    std::thread::sleep(Duration::from_millis(100));
    first.shutdown();
    drop(first);
    let gap = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    let mut second = viewer_on(port);
    second.pointer(0, 20, 20).unwrap();
    let gap = gap.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    second.shutdown();
    drop(second);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        recorder.try_wait().unwrap().is_none(),
        "record-kb ended with its viewers"
    );
    let term = Command::new("kill")
        .args(["-TERM", &recorder.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = recorder.wait().unwrap();
    let mut log = String::new();
    std::io::Read::read_to_string(recorder.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("viewer 1 ("), "{log}");
    assert!(log.contains("1 other viewers turned away"), "{log}");
    assert!(log.contains("viewer 2 ("), "{log}");

    // One file: a comment per viewer, the events in order, and the gap
    // between viewers as the delay of the second viewer's first event.
    let text = std::fs::read_to_string(d.path("many.kb")).unwrap();
    let script = kb::parse_str(&text).unwrap();
    let items: Vec<String> = script
        .lines
        .iter()
        .map(|l| match &l.item {
            Item::Comment(c) => c.split(" from ").next().unwrap().to_string(),
            Item::Event { event, .. } => kb::write::format_event(event),
        })
        .collect();
    assert_eq!(
        items,
        [
            "#: viewer 1 connected",
            "PointerEvent,0,10,10",
            "PointerEvent,0,11,11",
            "#: viewer 2 connected",
            "PointerEvent,0,20,20",
        ],
        "{text}"
    );
    let delays: Vec<u64> = script.events().map(|(d, _)| d).collect();
    let gap_ns = gap.as_nanos() as u64;
    assert!(
        delays[2] >= gap_ns && delays[2] < gap_ns + 500_000_000,
        "gap {gap:?}, delays {delays:?}"
    );
    // It plays.
    ok(&d.rfbplay(&["play", "--check", "many.kb"]));
}
