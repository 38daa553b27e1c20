//! The client core against a real TigerVNC Xvnc: security None, VNC
//! Authentication with the right and a wrong password, and a first update.

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use rfbplay::client::{Client, ClientError, ConnectOptions, SecurityType, Target, Version};
use rfbplay::rfb::{Encoding, PixelFormat, Rect};
use std::time::Duration;
use xvnc::{password_file, Xvnc};

fn opts(password: Option<&str>) -> ConnectOptions {
    ConnectOptions {
        password: password.map(String::from),
        timeout: Duration::from_secs(5),
        shared: true,
    }
}

/// Reads until at least `n` bytes arrived or the server went quiet.
fn read_at_least(c: &mut Client, n: usize) -> Vec<u8> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while got.len() < n {
        match c.read_some(&mut buf) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) => panic!("{}", c.session_error(e)),
        }
    }
    got
}

#[test]
fn security_none_and_a_raw_frame() {
    let Some(x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let t: Target = x.target().parse().unwrap();
    let mut c = Client::connect(&t, &opts(None)).unwrap();
    assert_eq!(c.version(), Version::V3_8);
    assert_eq!(c.security(), SecurityType::NONE);
    assert_eq!(c.size(), (1024, 768));
    c.set_pixel_format(&PixelFormat::BGRX).unwrap();
    c.set_encodings(&[Encoding::RAW]).unwrap();
    c.request_update(false, Rect::new(0, 0, 16, 16)).unwrap();
    // FramebufferUpdate header (4) + rect header (12) + 16x16x4 pixels.
    let got = read_at_least(&mut c, 4 + 12 + 16 * 16 * 4);
    assert_eq!(got[0], 0, "FramebufferUpdate");
    assert_eq!(&got[8..16], &[0, 16, 0, 16, 0, 0, 0, 0], "16x16 Raw");
}

#[test]
fn vnc_auth_right_and_wrong_password() {
    let dir = common::TempDir::new("client-auth");
    let Some(pw) = password_file(dir.path(), "s3cret!") else {
        return;
    };
    let pw = pw.to_str().unwrap().to_string();
    let Some(x) = Xvnc::start(&["-SecurityTypes", "VncAuth", "-PasswordFile", &pw]) else {
        return;
    };
    let t: Target = x.target().parse().unwrap();

    let c = Client::connect(&t, &opts(Some("s3cret!"))).unwrap();
    assert_eq!(c.security(), SecurityType::VNC_AUTH);
    assert_eq!(c.size(), (1024, 768));
    drop(c);

    match Client::connect(&t, &opts(Some("wrong"))) {
        Err(e @ ClientError::AuthFailed { .. }) => {
            let m = e.to_string();
            assert!(m.contains("authentication failed"), "{m}");
            assert!(m.contains(&t.to_string()), "{m}");
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }

    match Client::connect(&t, &opts(None)) {
        Err(ClientError::PasswordNeeded { .. }) => {}
        other => panic!("expected PasswordNeeded, got {other:?}"),
    }
}
