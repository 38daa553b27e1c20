//! The recorder against scripted servers on loopback: what it asks for on
//! the wire, and what the file holds, when it is stopped, when the server
//! closes, and when it cannot follow the stream.

use super::*;
use crate::container::{self, End, Piece};
use crate::rfb::encode::UpdateBuilder;
use crate::rfb::Rect;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{sleep, JoinHandle};

const W: u16 = 4;
const H: u16 = 2;

/// A server that completes the handshake (3.8, None, a 4x2 screen), runs
/// `script` and returns every byte the client sent after ClientInit.
fn fake_server(script: impl FnOnce(&mut TcpStream) + Send + 'static) -> (u16, JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"RFB 003.008\n\x01\x01").unwrap();
        let mut b = [0u8; 13];
        s.read_exact(&mut b).unwrap();
        s.write_all(&0u32.to_be_bytes()).unwrap();
        s.read_exact(&mut b[..1]).unwrap();
        let mut init = vec![0, W as u8, 0, H as u8];
        init.extend_from_slice(&PixelFormat::BGRX.to_wire());
        init.extend_from_slice(&[0, 0, 0, 1, b'f']);
        s.write_all(&init).unwrap();
        let mut r = s.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = vec![];
            let _ = r.read_to_end(&mut got);
            got
        });
        script(&mut s);
        reader.join().unwrap()
    });
    (port, h)
}

fn raw_update() -> Vec<u8> {
    let mut u = UpdateBuilder::new();
    u.raw(
        Rect::new(0, 0, W, H),
        &[0x40; (W as usize) * (H as usize) * 4],
    );
    u.finish()
}

/// The FramebufferUpdateRequests in what the client sent, after its
/// SetPixelFormat and SetEncodings.
fn requests(sent: &[u8]) -> Vec<(bool, Rect)> {
    assert_eq!(sent[0], 0, "SetPixelFormat first");
    assert_eq!(sent[20], 2, "then SetEncodings");
    let n = usize::from(u16::from_be_bytes([sent[22], sent[23]]));
    let mut rest = &sent[24 + 4 * n..];
    let mut out = vec![];
    while rest.len() >= 10 {
        assert_eq!(rest[0], 3, "only update requests follow");
        let u = |i: usize| u16::from_be_bytes([rest[i], rest[i + 1]]);
        out.push((rest[1] == 1, Rect::new(u(2), u(4), u(6), u(8))));
        rest = &rest[10..];
    }
    out
}

fn job(port: u16, dir: &Path) -> Job {
    Job {
        name: "fake".into(),
        target: Target::new("127.0.0.1", port),
        out: dir.join("fake.fb"),
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rfbplay-rec-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (pieces' total bytes, how the file ends)
fn read_file(path: &Path) -> (Vec<u8>, End) {
    let mut c = container::open(path).unwrap();
    let mut all = vec![];
    loop {
        match c.next_piece().unwrap() {
            Piece::Data { bytes, .. } => all.extend_from_slice(bytes),
            Piece::End(end) => return (all, end),
            Piece::Gap(g) => panic!("no gaps without salvage: {g:?}"),
        }
    }
}

#[test]
fn stopped_recording_asks_full_then_one_incremental_and_ends_with_the_mark() {
    let (port, server) = fake_server(|s| {
        s.write_all(&raw_update()).unwrap();
        // Hold the connection past the recorder's stop.
        sleep(Duration::from_millis(1200));
    });
    let dir = tempdir("stop");
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let j = job(port, &dir);
    let rec = std::thread::spawn(move || record(&j, &RecordOptions::default(), &s2, &Silent));
    sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let summary = rec.join().unwrap().unwrap();
    assert!(matches!(summary.end, ConnEnd::Stopped), "{:?}", summary.end);
    let counts = &summary.files[0].counts;
    assert_eq!(counts.updates, 2, "the server's and the end mark");
    assert!(counts.end_mark);
    assert!(counts.lost_tracking.is_none());
    let length = counts.length.as_secs_f64();
    assert!((0.4..0.6).contains(&length), "ends at the stop: {length}");

    let full = Rect::new(0, 0, W, H);
    assert_eq!(
        requests(&server.join().unwrap()),
        [(false, full), (true, full)],
        "one outstanding incremental request, never repeated while unanswered"
    );
    let (bytes, end) = read_file(&summary.files[0].path);
    assert_eq!(end, End::Complete);
    assert_eq!(bytes, [&raw_update()[..], &session::END_MARK].concat());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn server_closing_ends_a_complete_file() {
    let (port, server) = fake_server(|s| {
        s.write_all(&raw_update()).unwrap();
        sleep(Duration::from_millis(200));
        s.shutdown(Shutdown::Write).unwrap();
    });
    let dir = tempdir("close");
    let stop = AtomicBool::new(false);
    let summary = record(&job(port, &dir), &RecordOptions::default(), &stop, &Silent).unwrap();
    assert!(
        matches!(summary.end, ConnEnd::ServerGone(None)),
        "{:?}",
        summary.end
    );
    server.join().unwrap();
    let (bytes, end) = read_file(&summary.files[0].path);
    assert_eq!(end, End::Complete);
    assert_eq!(bytes, [&raw_update()[..], &session::END_MARK].concat());
    let c = &summary.files[0].counts;
    assert_eq!(
        (c.updates, c.chunks, c.payload_bytes),
        (2, 2, bytes.len() as u64)
    );
    let length = c.length.as_secs_f64();
    assert!(
        (0.15..0.4).contains(&length),
        "ends when the server left: {length}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_undecodable_stream_is_still_recorded_with_requests_on_a_clock() {
    let mut odd = UpdateBuilder::new();
    odd.header(Rect::new(0, 0, W, H), Encoding(1000))
        .extend_from_slice(b"opaque");
    let odd = odd.finish();
    let odd2 = odd.clone();
    let (port, server) = fake_server(move |s| {
        s.write_all(&raw_update()).unwrap();
        sleep(Duration::from_millis(50));
        s.write_all(&odd2).unwrap();
        sleep(Duration::from_millis(450));
        s.shutdown(Shutdown::Write).unwrap();
    });
    let dir = tempdir("blind");
    let stop = AtomicBool::new(false);
    let summary = record(&job(port, &dir), &RecordOptions::default(), &stop, &Silent).unwrap();
    let counts = &summary.files[0].counts;
    let why = counts.lost_tracking.as_deref().unwrap_or("");
    assert!(why.contains("1000"), "{why}");
    let reqs = requests(&server.join().unwrap());
    let incremental = reqs.iter().filter(|r| r.0).count();
    assert!(
        incremental >= 3,
        "unanswered requests repeat at 10/s once blind: {reqs:?}"
    );
    let (bytes, end) = read_file(&summary.files[0].path);
    assert_eq!(end, End::Complete);
    assert_eq!(bytes, [raw_update(), odd].concat(), "every byte is kept");
    assert!(!counts.end_mark, "no mark after a stream it cannot follow");
    std::fs::remove_dir_all(dir).unwrap();
}
