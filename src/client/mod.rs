//! An RFB (VNC) client core, shared by the recorder and the keyboard/mouse
//! replayer: connect to a [`Target`], run the handshake (RFB 3.3, 3.7 and
//! 3.8; security None and VNC Authentication), then send client messages
//! and read the server's bytes.
//!
//! The client does not parse the server-to-client stream itself: callers
//! feed what [`Client::read_some`] returns to an [`rfb::Parser`](crate::rfb::Parser),
//! the same sans-IO parser that plays files, so recording and playing
//! share one code path.
//!
//! ```no_run
//! use rfbplay::client::{Client, ConnectOptions, Target};
//! use rfbplay::rfb::{Encoding, PixelFormat, Rect};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let target: Target = "10.0.0.5:1".parse()?; // display 1, port 5901
//! let mut c = Client::connect(&target, &ConnectOptions::default())?;
//! c.set_pixel_format(&PixelFormat::BGRX)?;
//! c.set_encodings(&[Encoding::RAW, Encoding::DESKTOP_SIZE])?;
//! let (w, h) = c.size();
//! c.request_update(false, Rect::new(0, 0, w, h))?;
//! let mut buf = [0u8; 4096];
//! let n = c.read_some(&mut buf)?; // feed &buf[..n] to an rfb::Parser
//! # let _ = n; Ok(()) }
//! ```

pub mod auth;
pub mod error;
pub mod handshake;
pub mod msg;
pub mod target;

pub use error::{is_timeout, Chain, ClientError, SecurityType, Stage};
pub use handshake::Version;
pub use msg::Writer;
pub use target::{Target, TargetError};

use crate::container::ServerInit;
use crate::rfb::{Encoding, PixelFormat, Rect};
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How to connect.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// For VNC Authentication; only the first 8 bytes count (RFC 6143
    /// section 7.2.2). Without one, a server offering None is entered
    /// with None, and one demanding a password is a
    /// [`ClientError::PasswordNeeded`].
    pub password: Option<String>,
    /// For the TCP connect and for each read and write of the handshake;
    /// it stays the socket's read and write timeout afterwards.
    pub timeout: Duration,
    /// ClientInit's shared flag: leave other viewers connected.
    pub shared: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            password: None,
            timeout: Duration::from_secs(10),
            shared: true,
        }
    }
}

/// A connected, initialised RFB session.
#[derive(Debug)]
pub struct Client {
    reader: TcpStream,
    writer: Writer,
    target: Target,
    version: Version,
    security: SecurityType,
    server_init: ServerInit,
}

impl Client {
    /// Connects to `target` and runs the handshake up to ServerInit.
    /// Every address the host name resolves to is tried in turn.
    pub fn connect(target: &Target, opts: &ConnectOptions) -> Result<Client, ClientError> {
        Client::connect_with_version(target, opts, Version::V3_8)
    }

    /// Like [`connect`](Self::connect), speaking at most `max` (the
    /// recorder's minimega mode speaks 3.3, as minimega does).
    pub fn connect_with_version(
        target: &Target,
        opts: &ConnectOptions,
        max: Version,
    ) -> Result<Client, ClientError> {
        let mut stream = tcp_connect(target, opts.timeout)?;
        let io_err = |source| ClientError::Io {
            target: target.clone(),
            stage: Stage::Connect,
            source,
        };
        stream
            .set_read_timeout(Some(opts.timeout))
            .map_err(io_err)?;
        stream
            .set_write_timeout(Some(opts.timeout))
            .map_err(io_err)?;
        // Update requests and input events are tiny and latency-bound.
        stream.set_nodelay(true).map_err(io_err)?;
        let h = handshake::handshake(
            &mut stream,
            target,
            opts.password.as_deref().map(str::as_bytes),
            opts.shared,
            opts.timeout,
            max,
        )?;
        let writer = Writer::new(stream.try_clone().map_err(io_err)?, target.clone());
        Ok(Client {
            reader: stream,
            writer,
            target: target.clone(),
            version: h.version,
            security: h.security,
            server_init: h.server_init,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The protocol version agreed.
    pub fn version(&self) -> Version {
        self.version
    }

    pub fn security(&self) -> SecurityType {
        self.security
    }

    /// Screen size, the server's pixel format and the desktop name, as
    /// ServerInit gave them.
    pub fn server_init(&self) -> &ServerInit {
        &self.server_init
    }

    /// The ServerInit screen size as the protocol's u16s.
    pub fn size(&self) -> (u16, u16) {
        let w = u16::try_from(self.server_init.width).unwrap_or(u16::MAX);
        let h = u16::try_from(self.server_init.height).unwrap_or(u16::MAX);
        (w, h)
    }

    /// Reads whatever server bytes are available, up to `buf.len()`.
    /// `Ok(0)` means the server closed the connection. A read that waits
    /// longer than the read timeout fails with an error for which
    /// [`is_timeout`] is true; that is normal for an idle screen.
    pub fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.reader.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// How long [`read_some`](Self::read_some) waits (None: for ever).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        // A zero duration is an error for the socket API; round it up.
        let t = t.map(|d| d.max(Duration::from_millis(1)));
        self.reader.set_read_timeout(t)
    }

    /// Turns a failed read into an error naming the target.
    pub fn session_error(&self, e: io::Error) -> ClientError {
        error::session_io_error(&self.target, e, self.reader.read_timeout().ok().flatten())
    }

    /// The sending half, for all client messages.
    pub fn writer(&mut self) -> &mut Writer {
        &mut self.writer
    }

    /// A second sending half for another thread (a cloned socket).
    pub fn try_clone_writer(&self) -> io::Result<Writer> {
        Ok(Writer::new(self.reader.try_clone()?, self.target.clone()))
    }

    /// Closes both directions; a thread blocked in a read returns.
    pub fn shutdown(&self) {
        let _ = self.reader.shutdown(Shutdown::Both);
    }

    /// See [`Writer::set_pixel_format`].
    pub fn set_pixel_format(&mut self, pf: &PixelFormat) -> Result<(), ClientError> {
        self.writer.set_pixel_format(pf)
    }

    /// See [`Writer::set_encodings`].
    pub fn set_encodings(&mut self, encodings: &[Encoding]) -> Result<(), ClientError> {
        self.writer.set_encodings(encodings)
    }

    /// See [`Writer::request_update`].
    pub fn request_update(&mut self, incremental: bool, rect: Rect) -> Result<(), ClientError> {
        self.writer.request_update(incremental, rect)
    }

    /// See [`Writer::key`].
    pub fn key(&mut self, down: bool, keysym: u32) -> Result<(), ClientError> {
        self.writer.key(down, keysym)
    }

    /// See [`Writer::pointer`].
    pub fn pointer(&mut self, mask: u8, x: u16, y: u16) -> Result<(), ClientError> {
        self.writer.pointer(mask, x, y)
    }

    /// See [`Writer::cut_text`].
    pub fn cut_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.writer.cut_text(text)
    }
}

/// TCP connect with a timeout, trying each resolved address.
fn tcp_connect(target: &Target, timeout: Duration) -> Result<TcpStream, ClientError> {
    let addrs: Vec<_> = target
        .socket_addr_string()
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            target: target.clone(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let target = target.clone();
    Err(match last {
        None => ClientError::Resolve {
            target,
            source: io::Error::new(io::ErrorKind::NotFound, "no address"),
        },
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => ClientError::Refused { target },
        Some(e) if is_timeout(&e) => ClientError::Timeout {
            target,
            stage: Stage::Connect,
            secs: timeout.as_secs_f64(),
        },
        Some(e) => ClientError::Connect { target, source: e },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn refused_connection_names_the_target() {
        // Bind then drop to find a port nothing listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Target::new("127.0.0.1", port);
        let e = Client::connect(&t, &ConnectOptions::default()).unwrap_err();
        assert!(matches!(e, ClientError::Refused { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&format!("127.0.0.1::{port}")),
            "{e}"
        );
        assert!(e.is_transient());
    }

    #[test]
    fn silent_server_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            drop(s);
        });
        let opts = ConnectOptions {
            timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let e = Client::connect(&Target::new("127.0.0.1", port), &opts).unwrap_err();
        match &e {
            ClientError::Timeout { stage, .. } => assert_eq!(*stage, Stage::ProtocolVersion),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("stopped answering"), "{e}");
        hold.join().unwrap();
    }

    #[test]
    fn session_over_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"RFB 003.008\n\x01\x01").unwrap();
            let mut got = [0u8; 13];
            s.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"RFB 003.008\n\x01");
            s.write_all(&0u32.to_be_bytes()).unwrap();
            let mut shared = [0u8; 1];
            s.read_exact(&mut shared).unwrap();
            assert_eq!(shared, [1]);
            let mut init = vec![0, 64, 0, 48];
            init.extend_from_slice(&PixelFormat::BGRX.to_wire());
            init.extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
            s.write_all(&init).unwrap();
            let mut req = [0u8; 10];
            s.read_exact(&mut req).unwrap();
            s.write_all(&[2]).unwrap(); // a Bell
            req
        });
        let mut c =
            Client::connect(&Target::new("127.0.0.1", port), &ConnectOptions::default()).unwrap();
        assert_eq!(c.size(), (64, 48));
        assert_eq!(c.server_init().name, "hi");
        c.request_update(false, Rect::new(0, 0, 64, 48)).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(c.read_some(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], 2);
        assert_eq!(
            server.join().unwrap(),
            msg::update_request(false, Rect::new(0, 0, 64, 48))
        );
        assert_eq!(c.read_some(&mut buf).unwrap(), 0, "closed");
    }
}
