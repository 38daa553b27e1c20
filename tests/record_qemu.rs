//! The recorder against QEMU's VNC server: a VM with no disk, started
//! paused so the recording sees the firmware's first mode (640x480) and
//! the BIOS text mode (720x400) that follows. The resolution change must
//! decode.

mod common;

use rfbplay::container::End;
use rfbplay::framebuffer::Screen;
use rfbplay::player::{PlayOptions, Player, Watcher};
use rfbplay::progress::NoProgress;
use rfbplay::record::{self, Job, RecordOptions, Silent};
use rfbplay::rfb::Event;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// QEMU, killed by PID on drop.
struct Qemu {
    child: Child,
    port: u16,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Qemu {
    fn start() -> Option<Qemu> {
        let qemu = common::tool("qemu-system-x86_64")?;
        for attempt in 0..20u32 {
            let display = 3000 + (std::process::id() * 13 + attempt * 97) % 2000;
            let port = 5900 + display as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let mut child = Command::new(&qemu)
                .args(["-display", "none", "-nodefaults", "-vga", "std", "-S"])
                .args(["-monitor", "stdio", "-m", "64"])
                .arg("-vnc")
                .arg(format!("127.0.0.1:{display}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn qemu");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Qemu { child, port });
                }
                sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start QEMU on a free VNC port");
    }

    fn monitor(&mut self, command: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }
}

#[test]
fn qemu_bios_mode_changes_decode() {
    let Some(mut q) = Qemu::start() else {
        return;
    };
    let dir = common::TempDir::new("rec-qemu");
    let out = dir.path().join("qemu.fb");
    let job = Job {
        name: "qemu".into(),
        target: format!("127.0.0.1::{}", q.port).parse().unwrap(),
        out: out.clone(),
    };
    let opts = RecordOptions {
        duration: Some(Duration::from_secs(8)),
        ..RecordOptions::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let rec = std::thread::spawn(move || record::record(&job, &opts, &s, &Silent));
    sleep(Duration::from_millis(500));
    q.monitor("cont");
    let summary = rec.join().unwrap().unwrap();
    stop.store(true, Ordering::Relaxed);
    let counts = &summary.files[0].counts;
    assert!(counts.lost_tracking.is_none(), "{counts:?}");

    struct Sizes(Vec<(u32, u32)>, u64);
    impl Watcher for Sizes {
        fn event(&mut self, e: &Event, _: &Screen) -> ControlFlow<()> {
            match *e {
                Event::Resize { width, height, .. } => self.0.push((width, height)),
                Event::Update { .. } => self.1 += 1,
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut sizes = Sizes(vec![], 0);
    let mut p = Player::open(&out, PlayOptions::default()).unwrap();
    let s = p.run(&mut sizes, &NoProgress);
    assert_eq!(s.end, End::Complete);
    assert!(s.error.is_none(), "{:?}", s.error);
    assert_eq!(
        sizes.1, counts.updates,
        "player and recorder see the same updates"
    );
    assert_eq!(sizes.0.first(), Some(&(640, 480)), "{:?}", sizes.0);
    assert_eq!(sizes.0.last(), Some(&(720, 400)), "{:?}", sizes.0);
    let shown = p.parser().screen().shown();
    assert_eq!((shown.width(), shown.height()), (720, 400));
    assert!(
        shown.data().chunks_exact(4).any(|px| px[..3] != [0, 0, 0]),
        "the BIOS text is on the screen"
    );
}
