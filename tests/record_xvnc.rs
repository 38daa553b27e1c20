//! The recorder against a real TigerVNC Xvnc on loopback: what it records
//! decodes to the server's own screenshot, follows a resize, survives
//! `kill -9` and a dying server, and speaks VNC Authentication.
//!
//! Most recordings use the default encodings (TigerVNC then sends ZRLE);
//! one asks for Raw and CopyRect only, the encodings every decoder reads,
//! through the hidden `--encodings` option.

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use rfbplay::container::End;
use rfbplay::framebuffer::Framebuffer;
use rfbplay::player::{PlayOptions, Player, Summary};
use rfbplay::progress::NoProgress;
use rfbplay::record::{self, ConnEnd, Job, RecordError, RecordOptions, Silent};
use rfbplay::rfb::Encoding;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{sleep, JoinHandle};
use std::time::{Duration, Instant};
use xvnc::{password_file, Xvnc};

/// Raw and CopyRect with the pseudo-encodings, as `--encodings` can ask.
const CORE: &[Encoding] = &[
    Encoding::COPY_RECT,
    Encoding::RAW,
    Encoding::DESKTOP_SIZE,
    Encoding::EXTENDED_DESKTOP_SIZE,
    Encoding::LAST_RECT,
    Encoding::CURSOR,
];

/// An in-process recording on its own thread.
struct Rec {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<record::Summary, RecordError>>>,
}

impl Rec {
    fn start(x: &Xvnc, out: &Path) -> Rec {
        Rec::start_with(x, out, record::DEFAULT_ENCODINGS)
    }

    fn start_with(x: &Xvnc, out: &Path, encodings: &[Encoding]) -> Rec {
        let job = Job {
            name: "test".into(),
            target: x.target().parse().unwrap(),
            out: out.to_path_buf(),
        };
        let opts = RecordOptions {
            encodings: encodings.to_vec(),
            ..RecordOptions::default()
        };
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || record::record(&job, &opts, &s, &Silent));
        Rec {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> record::Summary {
        self.stop.store(true, Ordering::Relaxed);
        let h = self.handle.take().unwrap();
        h.join().unwrap().unwrap()
    }

    /// Waits for the recording to end by itself (server gone).
    fn join(mut self) -> record::Summary {
        let h = self.handle.take().unwrap();
        h.join().unwrap().unwrap()
    }
}

impl Drop for Rec {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn decode(path: &Path) -> (Option<Framebuffer>, Summary) {
    let mut p = Player::open(path, PlayOptions::default()).unwrap();
    rfbplay::export::screen_at(&mut p, None, &NoProgress)
}

/// Asserts the decoded screen equals the PNG pixel for pixel.
fn assert_same(fb: &Framebuffer, png: &Path) {
    let (w, h, rgb) = common::read_rgb(png);
    assert_eq!((fb.width(), fb.height()), (w, h), "screen size");
    let ours = fb.to_rgb();
    let diff = ours
        .chunks_exact(3)
        .zip(rgb.chunks_exact(3))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| (i as u32 % w, i as u32 / w))
        .collect::<Vec<_>>();
    assert!(
        diff.is_empty(),
        "{} pixels differ from the server's screenshot, first at {:?}",
        diff.len(),
        diff.first()
    );
}

fn tools(names: &[&str]) -> bool {
    names.iter().all(|n| common::tool(n).is_some())
}

/// An xterm at the top left, with the pointer over it so it has focus
/// (there is no window manager).
fn xterm(x: &mut Xvnc, geometry: &str, at: (u32, u32)) {
    x.spawn("xterm", &["-geometry", geometry]);
    sleep(Duration::from_millis(800));
    assert!(x.run(
        "xdotool",
        &["mousemove", &at.0.to_string(), &at.1.to_string()]
    ));
}

#[test]
fn typed_text_decodes_to_the_server_screenshot() {
    typed_text(record::DEFAULT_ENCODINGS, "ZRLE");
}

#[test]
fn typed_text_in_raw_and_copyrect_decodes_to_the_server_screenshot() {
    typed_text(CORE, "Raw");
}

/// Records typing with `encodings`; the decoded end equals the server's
/// screenshot, and the server used `expect` for the pixels.
fn typed_text(encodings: &[Encoding], expect: &str) {
    if !tools(&["xterm", "xdotool", "xwd", "convert"]) {
        return;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("rec-typed");
    let out = dir.path().join("typed.fb");
    xterm(&mut x, "80x24+0+0", (100, 100));
    let rec = Rec::start_with(&x, &out, encodings);
    sleep(Duration::from_millis(500));
    assert!(x.run(
        "xdotool",
        &["type", "--delay", "30", "echo recorded by rfbplay; ls /"]
    ));
    assert!(x.run("xdotool", &["key", "Return"]));
    sleep(Duration::from_millis(1500));
    let shot = dir.path().join("server.png");
    x.screenshot(&shot);
    let summary = rec.finish();
    assert!(matches!(summary.end, ConnEnd::Stopped), "{:?}", summary.end);
    assert_eq!(summary.files.len(), 1);
    assert!(
        summary.files[0].counts.updates > 3,
        "{:?}",
        summary.files[0].counts
    );
    assert!(summary.files[0].counts.lost_tracking.is_none());

    let mut p = Player::open(&out, PlayOptions::default()).unwrap();
    let (fb, s) = rfbplay::export::screen_at(&mut p, None, &NoProgress);
    assert_eq!(s.end, End::Complete, "the gzip stream is closed properly");
    assert!(s.error.is_none(), "{:?}", s.error);
    let used = &p.parser().context().stats().rects;
    assert!(used.contains_key(expect), "{used:?}");
    assert_same(&fb.expect("a screen"), &shot);
}

#[test]
fn resize_grows_the_recorded_screen() {
    if !tools(&["xterm", "xdotool", "xwd", "convert", "xrandr"]) {
        return;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("rec-resize");
    let out = dir.path().join("resize.fb");
    let rec = Rec::start(&x, &out);
    sleep(Duration::from_millis(500));
    assert!(x.run("xrandr", &["-s", "1280x1024"]));
    sleep(Duration::from_millis(500));
    // Something in the grown area, right and below the old 1024x768.
    xterm(&mut x, "40x10+1050+850", (1100, 900));
    assert!(x.run("xdotool", &["type", "--delay", "30", "grown area"]));
    sleep(Duration::from_millis(1500));
    let shot = dir.path().join("server.png");
    x.screenshot(&shot);
    let summary = rec.finish();
    assert!(summary.files[0].counts.lost_tracking.is_none());

    let (fb, s) = decode(&out);
    assert!(s.error.is_none(), "{:?}", s.error);
    let fb = fb.expect("a screen");
    assert_eq!((fb.width(), fb.height()), (1280, 1024));
    assert_same(&fb, &shot);
}

#[test]
fn server_killed_mid_recording_leaves_a_complete_file() {
    if !tools(&["xterm", "xdotool"]) {
        return;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("rec-server-dies");
    let out = dir.path().join("dies.fb");
    xterm(&mut x, "80x24+0+0", (100, 100));
    let rec = Rec::start(&x, &out);
    sleep(Duration::from_millis(300));
    assert!(x.run("xdotool", &["type", "--delay", "20", "about to die"]));
    sleep(Duration::from_millis(500));
    x.kill();
    let summary = rec.join();
    assert!(
        matches!(summary.end, ConnEnd::ServerGone(_)),
        "{:?}",
        summary.end
    );
    let (fb, s) = decode(&out);
    assert_eq!(s.end, End::Complete, "the file is closed, not truncated");
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(s.last_update.is_some());
    assert_eq!(fb.map(|f| (f.width(), f.height())), Some((1024, 768)));
}

/// The built binary, with a child guard that kills it by PID.
struct Bin(std::process::Child);

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rfbplay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rfbplay"));
    c.env_remove("VNC_PASSWORD");
    c
}

#[test]
fn kill_9_loses_at_most_the_last_second() {
    if !tools(&["xterm"]) {
        return;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    // A screen that changes all the time: a clock with milliseconds.
    x.spawn(
        "xterm",
        &[
            "-geometry",
            "40x5+0+0",
            "-e",
            "sh",
            "-c",
            "while :; do date +%T.%N; sleep 0.05; done",
        ],
    );
    sleep(Duration::from_millis(800));
    let dir = common::TempDir::new("rec-kill9");
    let out = dir.path().join("killed.fb");
    let spawned = Instant::now();
    let mut bin = Bin(rfbplay()
        .args(["record", &x.target()])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    sleep(Duration::from_millis(3500));
    // SIGKILL: no handler runs, the gzip stream is never closed.
    bin.0.kill().unwrap();
    let wall = spawned.elapsed();
    let _ = bin.0.wait();

    let (fb, s) = decode(&out);
    assert!(matches!(s.end, End::Truncated(_)), "{:?}", s.end);
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(fb.is_some());
    let last = s
        .last_update
        .expect("updates before the kill")
        .as_secs_f64();
    // File time starts after the binary started and connected, so it
    // trails wall time; the flush interval (0.5 s) bounds what is lost.
    assert!(
        last >= wall.as_secs_f64() - 1.0,
        "decoded up to {last:.3} s of {:.3} s",
        wall.as_secs_f64()
    );
}

#[test]
fn vnc_auth_right_and_wrong_password_and_sigterm() {
    let dir = common::TempDir::new("rec-auth");
    let Some(pw) = password_file(dir.path(), "s3cret!") else {
        return;
    };
    let Some(x) = Xvnc::start(&[
        "-SecurityTypes",
        "VncAuth",
        "-PasswordFile",
        pw.to_str().unwrap(),
    ]) else {
        return;
    };
    // Right password, from the vncpasswd file; ended by SIGTERM.
    let out = dir.path().join("auth.fb");
    let mut bin = Bin(rfbplay()
        .args(["record", &x.target()])
        .arg(&out)
        .arg("--password-file")
        .arg(&pw)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    sleep(Duration::from_millis(1500));
    assert!(Command::new("kill")
        .args(["-TERM", &bin.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = bin.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let (fb, s) = decode(&out);
    assert_eq!(s.end, End::Complete, "SIGTERM closes the gzip stream");
    assert_eq!(fb.map(|f| f.width()), Some(1024));

    // Right password from VNC_PASSWORD, with --duration.
    let out2 = dir.path().join("env.fb");
    let o = rfbplay()
        .args(["record", &x.target()])
        .arg(&out2)
        .args(["--duration", "1s"])
        .env("VNC_PASSWORD", "s3cret!")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(decode(&out2).1.end, End::Complete);

    // Wrong password: a clear error, exit status 1, no file.
    let out3 = dir.path().join("wrong.fb");
    let o = rfbplay()
        .args(["record", &x.target()])
        .arg(&out3)
        .args(["--duration", "1s"])
        .env("VNC_PASSWORD", "wrong")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("authentication failed"), "{err}");
    assert!(err.contains(&x.target()), "{err}");
    assert!(!out3.exists());
}

#[test]
fn several_servers_in_one_process() {
    let (Some(a), Some(b)) = (
        Xvnc::start(&["-SecurityTypes", "None"]),
        Xvnc::start_with(&["-SecurityTypes", "None"], "800x600"),
    ) else {
        return;
    };
    let dir = common::TempDir::new("rec-multi");
    let recs: PathBuf = dir.path().join("recordings");
    let o = rfbplay()
        .arg("record")
        .arg(format!("vm1={}", a.target()))
        .arg(format!("vm2={}", b.target()))
        .arg("--dir")
        .arg(&recs)
        .args(["--duration", "1500ms"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (name, w) in [("vm1", 1024), ("vm2", 800)] {
        let (fb, s) = decode(&recs.join(format!("{name}.fb")));
        assert_eq!(s.end, End::Complete);
        assert_eq!(fb.map(|f| f.width()), Some(w), "{name}");
        // Idle screens: the end mark says when recording stopped.
        let last = s.last_update.unwrap().as_secs_f64();
        assert!((1.3..2.0).contains(&last), "{name} ends at {last} s");
    }
}

#[test]
fn no_target_prints_what_it_can_do() {
    let o = rfbplay().arg("record").output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "--duration",
        "--compat",
        "--reconnect",
        "VNC_PASSWORD",
        "--dir",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn reconnect_continues_into_a_numbered_file() {
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let port = x.port;
    let dir = common::TempDir::new("rec-reconnect");
    let out = dir.path().join("lin1.fb");
    let job = Job {
        name: "test".into(),
        target: x.target().parse().unwrap(),
        out: out.clone(),
    };
    let opts = RecordOptions {
        reconnect: true,
        duration: Some(Duration::from_secs(4)),
        ..RecordOptions::default()
    };
    let stop = AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let rec = s.spawn(|| record::record(&job, &opts, &stop, &Silent));
        sleep(Duration::from_millis(700));
        x.kill();
        sleep(Duration::from_millis(300));
        // The same port again, as a restarted VM's VNC server would be.
        let y = Xvnc::start_on(&["-SecurityTypes", "None"], "800x600", Some(port));
        let summary = rec.join().unwrap().unwrap();
        drop(y);
        summary
    });
    assert!(
        matches!(summary.end, ConnEnd::Duration),
        "{:?}",
        summary.end
    );
    let paths: Vec<_> = summary.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, [out.clone(), dir.path().join("lin1.1.fb")]);
    for (path, w) in [(&paths[0], 1024), (&paths[1], 800)] {
        let (fb, s) = decode(path);
        assert_eq!(s.end, End::Complete, "{}", path.display());
        assert!(s.error.is_none(), "{:?}", s.error);
        assert_eq!(fb.map(|f| f.width()), Some(w), "{}", path.display());
    }
}

#[test]
fn compat_minimega_asks_full_raw_frames_at_the_first_size() {
    if !tools(&["xrandr"]) {
        return;
    }
    let Some(x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("rec-minimega");
    let out = dir.path().join("mm.fb");
    let target = x.target();
    let resize = std::thread::scope(|s| {
        let rec = s.spawn(|| {
            rfbplay()
                .args(["record", &target])
                .arg(&out)
                .args(["--compat", "minimega", "--duration", "2s"])
                .output()
                .unwrap()
        });
        sleep(Duration::from_millis(1000));
        let ok = x.run("xrandr", &["-s", "1280x1024"]);
        let o = rec.join().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ok
    });
    assert!(resize);

    // Every update holds Raw rectangles (and DesktopSize), and the ones
    // after the resize still cover only the old 1024x768, as minimega's do.
    struct Updates(u64);
    impl rfbplay::player::Watcher for Updates {
        fn event(
            &mut self,
            e: &rfbplay::rfb::Event,
            _: &rfbplay::framebuffer::Screen,
        ) -> std::ops::ControlFlow<()> {
            if let rfbplay::rfb::Event::Update { .. } = e {
                self.0 += 1;
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut updates = Updates(0);
    let mut p = Player::open(&out, PlayOptions::default()).unwrap();
    let s = p.run(&mut updates, &NoProgress);
    assert!(s.error.is_none(), "{:?}", s.error);
    let updates = updates.0;
    let stats = p.parser().context().stats();
    let names: Vec<&str> = stats.rects.keys().map(String::as_str).collect();
    assert!(
        names.iter().all(|n| matches!(*n, "Raw" | "DesktopSize")),
        "{names:?}"
    );
    // 2 s at 10 full frames a second.
    assert!((12..=22).contains(&updates), "{updates} updates");
    let pixels = stats.bytes.get("Raw").copied().unwrap_or(0) / 4;
    let frame = 1024 * 768;
    assert!(
        pixels >= frame * (updates - 2),
        "full frames: {pixels} pixels in {updates} updates"
    );
    assert!(
        pixels <= (frame + 100) * updates,
        "never more than the first size: {pixels} pixels in {updates} updates"
    );
}
