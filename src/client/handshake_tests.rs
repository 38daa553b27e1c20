//! Handshake tests against scripted servers: each script is the bytes the
//! server sends, and the test checks what the client wrote back.

use super::*;
use crate::rfb::PixelFormat;
use std::io::Cursor;

/// A fake connection: reads come from `input`, writes go to `output`.
struct Fake {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Fake {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.input.read(b)
    }
}

impl Write for Fake {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn server_init(w: u16, h: u16, name: &str) -> Vec<u8> {
    let mut v = vec![];
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&PixelFormat::BGRX.to_wire());
    v.extend_from_slice(&(name.len() as u32).to_be_bytes());
    v.extend_from_slice(name.as_bytes());
    v
}

fn text(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

fn run(script: Vec<u8>, password: Option<&[u8]>) -> (Result<Handshake, ClientError>, Vec<u8>) {
    run_max(script, password, Version::V3_8)
}

fn run_max(
    script: Vec<u8>,
    password: Option<&[u8]>,
    max: Version,
) -> (Result<Handshake, ClientError>, Vec<u8>) {
    let mut f = Fake {
        input: Cursor::new(script),
        output: vec![],
    };
    let t = Target::new("test", 5901);
    let r = handshake(&mut f, &t, password, true, Duration::from_secs(1), max);
    (r, f.output)
}

#[test]
fn version_negotiation() {
    let v = |s: &[u8; 12]| Version::negotiate(s);
    assert_eq!(v(b"RFB 003.003\n"), Some(Version::V3_3));
    assert_eq!(v(b"RFB 003.005\n"), Some(Version::V3_3));
    assert_eq!(v(b"RFB 003.007\n"), Some(Version::V3_7));
    assert_eq!(v(b"RFB 003.008\n"), Some(Version::V3_8));
    assert_eq!(v(b"RFB 003.889\n"), Some(Version::V3_8));
    assert_eq!(v(b"RFB 004.001\n"), Some(Version::V3_8));
    assert_eq!(v(b"RFB 003.002\n"), None);
    assert_eq!(v(b"SSH-2.0-Open"), None);
    assert_eq!(v(b"RFB 00x.008\n"), None);
}

#[test]
fn v38_none() {
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[2, 1, 2]); // None and VncAuth offered
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&server_init(1024, 768, "x:1"));
    let (r, out) = run(s, None);
    let h = r.unwrap();
    assert_eq!(h.version, Version::V3_8);
    assert_eq!(h.security, SecurityType::NONE);
    assert_eq!((h.server_init.width, h.server_init.height), (1024, 768));
    assert_eq!(h.server_init.name, "x:1");
    assert_eq!(h.server_init.pixel_format, Some(PixelFormat::BGRX));
    assert_eq!(out, b"RFB 003.008\n\x01\x01");
}

#[test]
fn v38_vnc_auth_right_and_wrong() {
    let challenge = [7u8; 16];
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[1, 2]);
    s.extend_from_slice(&challenge);
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&server_init(640, 480, "q"));
    let (r, out) = run(s.clone(), Some(b"secret"));
    assert_eq!(r.unwrap().security, SecurityType::VNC_AUTH);
    let mut want = b"RFB 003.008\n\x02".to_vec();
    want.extend_from_slice(&auth::respond(&challenge, b"secret"));
    want.push(1);
    assert_eq!(out, want);

    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[1, 2]);
    s.extend_from_slice(&challenge);
    s.extend_from_slice(&1u32.to_be_bytes());
    s.extend_from_slice(&text("Authentication failure"));
    let (r, _) = run(s.clone(), Some(b"wrong"));
    match r {
        Err(ClientError::AuthFailed { reason, .. }) => {
            assert_eq!(reason.as_deref(), Some("Authentication failure"))
        }
        other => panic!("{other:?}"),
    }
    let (r, _) = run(s, None);
    assert!(
        matches!(r, Err(ClientError::PasswordNeeded { .. })),
        "{r:?}"
    );
}

#[test]
fn v37_none_has_no_security_result() {
    let mut s = b"RFB 003.007\n".to_vec();
    s.extend_from_slice(&[1, 1]);
    s.extend_from_slice(&server_init(800, 600, ""));
    let (r, out) = run(s, None);
    assert_eq!(r.unwrap().version, Version::V3_7);
    assert_eq!(out, b"RFB 003.007\n\x01\x01");
}

#[test]
fn v37_auth_failure_has_no_reason() {
    let mut s = b"RFB 003.007\n".to_vec();
    s.extend_from_slice(&[1, 2]);
    s.extend_from_slice(&[0; 16]);
    s.extend_from_slice(&1u32.to_be_bytes());
    let (r, _) = run(s, Some(b"pw"));
    assert!(
        matches!(r, Err(ClientError::AuthFailed { reason: None, .. })),
        "{r:?}"
    );
}

#[test]
fn v33_server_chooses() {
    let mut s = b"RFB 003.003\n".to_vec();
    s.extend_from_slice(&1u32.to_be_bytes());
    s.extend_from_slice(&server_init(1024, 768, "mm"));
    let (r, out) = run(s, None);
    let h = r.unwrap();
    assert_eq!((h.version, h.security), (Version::V3_3, SecurityType::NONE));
    assert_eq!(out, b"RFB 003.003\n\x01");

    let mut s = b"RFB 003.003\n".to_vec();
    s.extend_from_slice(&2u32.to_be_bytes());
    s.extend_from_slice(&[3; 16]);
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&server_init(1, 1, ""));
    let (r, out) = run(s, Some(b"pw"));
    assert_eq!(r.unwrap().security, SecurityType::VNC_AUTH);
    assert_eq!(out.len(), 12 + 16 + 1);

    let mut s = b"RFB 003.003\n".to_vec();
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&text("Too many security failures"));
    let (r, _) = run(s, None);
    match r {
        Err(ClientError::ServerRefused { reason, .. }) => {
            assert_eq!(reason, "Too many security failures")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_types_are_listed() {
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[2, 19, 18]);
    let (r, _) = run(s, Some(b"pw"));
    match r {
        Err(e @ ClientError::UnsupportedSecurity { .. }) => {
            let m = e.to_string();
            assert!(m.contains("VeNCrypt (19), TLS (18)"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_version_and_early_close() {
    let (r, _) = run(b"SSH-2.0-OpenSSH_9\r\n".to_vec(), None);
    assert!(matches!(r, Err(ClientError::BadVersion { .. })), "{r:?}");
    let (r, _) = run(b"RFB 003.008\n".to_vec(), None);
    match r {
        Err(ClientError::Closed { stage, .. }) => assert_eq!(stage, Stage::Security),
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_texts_are_refused_before_allocating() {
    let mut s = b"RFB 003.008\n".to_vec();
    s.push(0);
    s.extend_from_slice(&u32::MAX.to_be_bytes());
    let (r, _) = run(s, None);
    assert!(matches!(r, Err(ClientError::Malformed { .. })), "{r:?}");
}

#[test]
fn capped_at_3_3_like_minimega() {
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&1u32.to_be_bytes());
    s.extend_from_slice(&server_init(8, 8, ""));
    let (r, out) = run_max(s, None, Version::V3_3);
    assert_eq!(r.unwrap().version, Version::V3_3);
    assert_eq!(out, b"RFB 003.003\n\x01");
}

/// The machine alone, fed the whole script at once and one byte at a
/// time: the same replies, the same ServerInit, and the session's first
/// byte after ServerInit is left to the caller.
#[test]
fn split_anywhere_same_replies_and_nothing_past_server_init() {
    let mut s = b"RFB 003.008\n".to_vec();
    s.extend_from_slice(&[2, 1, 2]);
    s.extend_from_slice(&[7; 16]);
    s.extend_from_slice(&0u32.to_be_bytes());
    s.extend_from_slice(&server_init(640, 480, "split"));
    let hs_len = s.len();
    s.push(2); // a Bell: the session's

    let mut whole = ClientHandshake::new(Some(b"pw"), true, Version::V3_8);
    assert_eq!(whole.feed(&s).unwrap(), hs_len);
    let h = whole.done().expect("done").clone();
    assert_eq!(
        (h.server_init.width, h.server_init.name.as_str()),
        (640, "split")
    );
    assert_eq!(whole.wants(), 0);
    let sent = whole.take_output();

    let mut bytes = ClientHandshake::new(Some(b"pw"), true, Version::V3_8);
    let mut used = 0;
    let mut sent_split = vec![];
    for b in &s {
        used += bytes.feed(std::slice::from_ref(b)).unwrap();
        sent_split.extend(bytes.take_output());
    }
    assert_eq!(used, hs_len);
    assert_eq!(sent_split, sent);
    assert_eq!(
        sent,
        [
            &b"RFB 003.008\n"[..],
            &[2],
            &auth::respond(&[7; 16], b"pw"),
            &[1]
        ]
        .concat()
    );
}

/// What the machine holds is bounded by the limit, whatever the server
/// claims.
#[test]
fn the_machine_never_waits_for_an_oversized_name() {
    let mut s = b"RFB 003.008\n\x01\x01".to_vec();
    s.extend_from_slice(&0u32.to_be_bytes());
    let mut init = server_init(8, 8, "");
    init[20..24].copy_from_slice(&(MAX_TEXT + 1).to_be_bytes());
    s.extend_from_slice(&init);
    let mut m = ClientHandshake::new(None, true, Version::V3_8);
    let e = m.feed(&s).unwrap_err();
    assert!(
        matches!(e, HandshakeError::TooLong { len, .. } if len == MAX_TEXT + 1),
        "{e}"
    );
}
