//! The playback scheduler against a minimal RFB server on loopback (no
//! external tools): events arrive in order, on the absolute clock, faster
//! with --speed and at once with --no-delays; pause, step, get step,
//! inject and stop act through the control channel.

use rfbplay::client::{ConnectOptions, Target};
use rfbplay::kb::live::Session;
use rfbplay::kb::play::{play, Control, PlayOptions, Quiet};
use rfbplay::kb::{Action, Keysym, LoadOptions, Program, Step};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Key and pointer messages as the server got them: (arrival, bytes).
type Arrivals = Vec<(Instant, Vec<u8>)>;

/// A server that accepts one viewer with security None and records the
/// key and pointer events it gets: (arrival, message bytes).
fn server() -> (Target, JoinHandle<Arrivals>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"RFB 003.008\n\x01\x01").unwrap();
        let mut b = [0u8; 13];
        s.read_exact(&mut b).unwrap();
        s.write_all(&0u32.to_be_bytes()).unwrap();
        s.read_exact(&mut b[..1]).unwrap();
        let mut init = vec![0, 64, 0, 48];
        init.extend_from_slice(&rfbplay::rfb::PixelFormat::BGRX.to_wire());
        init.extend_from_slice(&[0, 0, 0, 1, b'x']);
        s.write_all(&init).unwrap();
        let mut got = Vec::new();
        let mut kind = [0u8; 1];
        while s.read_exact(&mut kind).is_ok() {
            let len = match kind[0] {
                0 => 19,
                2 => {
                    let mut h = [0u8; 3];
                    s.read_exact(&mut h).unwrap();
                    4 * usize::from(u16::from_be_bytes([h[1], h[2]]))
                }
                3 => 9,
                4 => 7,
                5 => 5,
                k => panic!("unexpected message {k}"),
            };
            let mut m = vec![0u8; len];
            s.read_exact(&mut m).unwrap();
            if matches!(kind[0], 4 | 5) {
                m.insert(0, kind[0]);
                got.push((Instant::now(), m));
            }
        }
        got
    });
    (Target::new("127.0.0.1", port), h)
}

fn program(delays_ms: &[u64]) -> Program {
    Program {
        files: vec![PathBuf::from("t.kb")],
        steps: delays_ms
            .iter()
            .enumerate()
            .map(|(i, &d)| Step {
                file: 0,
                line: i as u32 + 1,
                delay_ns: d * 1_000_000,
                action: Action::Pointer {
                    mask: 0,
                    x: i as u16,
                    y: 7,
                },
            })
            .collect(),
    }
}

fn run(
    p: &Program,
    opts: &PlayOptions,
    control: impl FnOnce(mpsc::Sender<Control>) + Send + 'static,
) -> (Instant, Arrivals) {
    let (target, srv) = server();
    let mut session = Session::connect(&target, &ConnectOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let driver = std::thread::spawn(move || control(tx));
    play(&mut session, p, opts, &rx, &mut Quiet).unwrap();
    driver.join().unwrap();
    drop(session);
    (start, srv.join().unwrap())
}

fn xs(got: &[(Instant, Vec<u8>)]) -> Vec<u8> {
    got.iter().map(|(_, m)| m[3]).collect()
}

#[test]
fn events_arrive_in_order_on_the_absolute_clock() {
    let p = program(&[50; 20]);
    let (start, got) = run(&p, &PlayOptions::default(), |_| {});
    assert_eq!(xs(&got), (0..20).collect::<Vec<u8>>());
    // The last event is due at 1 s whatever the per-event overheads were.
    let last = got.last().unwrap().0 - start;
    assert!(
        last >= Duration::from_millis(1000) && last < Duration::from_millis(1300),
        "{last:?}"
    );
}

#[test]
fn speed_and_no_delays() {
    let p = program(&[100; 6]);
    let opts = PlayOptions {
        speed: 2.0,
        ..PlayOptions::default()
    };
    let (start, got) = run(&p, &opts, |_| {});
    let last = got.last().unwrap().0 - start;
    assert!(
        last >= Duration::from_millis(300) && last < Duration::from_millis(650),
        "{last:?}"
    );
    let p = program(&[10_000; 6]);
    let opts = PlayOptions {
        no_delays: true,
        ..PlayOptions::default()
    };
    let (start, got) = run(&p, &opts, |_| {});
    assert_eq!(got.len(), 6);
    assert!(got.last().unwrap().0 - start < Duration::from_secs(1));
}

#[test]
fn pause_step_getstep_inject_and_stop() {
    let p = program(&[100; 10]);
    let (start, got) = run(&p, &PlayOptions::default(), |tx| {
        let ask = |make: fn(mpsc::Sender<String>) -> Control| {
            let (rtx, rrx) = mpsc::channel();
            tx.send(make(rtx)).unwrap();
            rrx.recv().unwrap()
        };
        std::thread::sleep(Duration::from_millis(250)); // two events out
        tx.send(Control::Pause).unwrap();
        let at = ask(Control::GetStep);
        assert!(at.starts_with("3/10 t.kb:3: PointerEvent,0,2,7"), "{at}");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(ask(Control::GetStep), at, "moved while paused");
        tx.send(Control::Step).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(ask(Control::GetStep).starts_with("4/10"));
        let inject = rfbplay::kb::load::parse_inject(
            "KeyEvent,true,Return",
            Path::new("/"),
            &LoadOptions::default(),
        )
        .unwrap();
        let (rtx, rrx) = mpsc::channel();
        tx.send(Control::Inject(inject, rtx)).unwrap();
        assert_eq!(rrx.recv().unwrap(), "ok");
        tx.send(Control::Continue).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        tx.send(Control::Stop).unwrap();
    });
    // 2 before the pause, the stepped one, the injected key, then about
    // two more before the stop: never all 10.
    let keys: Vec<_> = got.iter().filter(|(_, m)| m[0] == 4).collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(&keys[0].1[4..8], &Keysym::RETURN.0.to_be_bytes());
    let pointers: Vec<u8> = got
        .iter()
        .filter(|(_, m)| m[0] == 5)
        .map(|(_, m)| m[3])
        .collect();
    assert!(pointers.len() >= 4 && pointers.len() < 10, "{pointers:?}");
    assert_eq!(pointers, (0..pointers.len() as u8).collect::<Vec<_>>());
    // The step was sent at once, well before its own time would have come
    // had the pause not been there... and the events after the pause keep
    // their 100 ms spacing from the stepped one.
    let t = |i: usize| got.iter().filter(|(_, m)| m[0] == 5).nth(i).unwrap().0 - start;
    assert!(
        t(2) > Duration::from_millis(700),
        "step came before the pause ended: {:?}",
        t(2)
    );
    let gap = t(3) - t(2);
    assert!(gap >= Duration::from_millis(95), "{gap:?}");
}
