//! Starts `rfbplay serve` on a free loopback port for a test and stops it
//! (by its PID) when dropped; and a bare HTTP/1.1 GET over a TCP socket, so
//! the tests can send request paths exactly as written (no client
//! normalises `..` or `%2f` away).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// `rfbplay serve DIR --listen 127.0.0.1:0`, ready when it says where.
    pub fn start(dir: &Path) -> Server {
        Server::start_with(&["serve".as_ref(), dir.as_os_str()])
    }

    /// The server started with these arguments (plus `--listen 127.0.0.1:0`).
    pub fn start_with(args: &[&std::ffi::OsStr]) -> Server {
        Server::start_env(args, &[])
    }

    /// [`Server::start_with`] with these environment variables set.
    pub fn start_env(args: &[&std::ffi::OsStr], env: &[(&str, &Path)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rfbplay starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("rfbplay serve says where it listens")
            .unwrap();
        let addr = line
            .rsplit("http://")
            .next()
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        // Keep reading stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends `METHOD target` as written; returns (status, headers, body).
    pub fn request(&self, method: &str, target: &str) -> (u16, String, Vec<u8>) {
        self.request_with(method, target, &[])
    }

    /// [`Server::request`] with a body.
    pub fn request_with(&self, method: &str, target: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut s = self.send(method, target, body);
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = unchunk(&body);
        }
        (status, head, body)
    }

    /// Sends a request without reading the answer yet.
    pub fn send(&self, method: &str, target: &str, body: &[u8]) -> TcpStream {
        let mut s = TcpStream::connect(self.addr).unwrap();
        write!(
            s,
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        s
    }

    pub fn get(&self, target: &str) -> (u16, String, Vec<u8>) {
        self.request("GET", target)
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The screen `rfbplay frame --at T` writes: width, height, RGB bytes.
pub fn frame_at(file: &Path, t: &str) -> (u32, u32, Vec<u8>) {
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["-q", "frame"])
        .arg(file)
        .arg("-")
        .args(["--at", t])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::load_from_memory(&out.stdout).unwrap().to_rgb8();
    (img.width(), img.height(), img.into_raw())
}
