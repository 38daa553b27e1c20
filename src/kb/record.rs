//! `record-kb`: a transparent proxy between any VNC viewer and a server
//! that writes the viewer's key and pointer events as a .kb file.
//!
//! Bytes are forwarded as they come, both ways. The viewer's stream goes
//! through [`ClientStream`] to find the events; the server's is looked at
//! only during the handshake, to learn the RFB 3.3 security choice and to
//! drop security types the recorder could not follow from the server's
//! list (RFC 6143 7.1.2), so the viewer picks None or VNC Authentication.
//! Each event is written as its own line with the nanoseconds since the
//! previous one and reaches the file at once, so a killed recorder loses
//! nothing. Viewers are served one at a time, into one file (see
//! [`Recorder`]).

use super::proxy::{followable, ClientStream, Input, Lost};
use super::write::format_item;
use super::{Event, Item, Keysym};
use crate::client::Target;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("waiting for a viewer: {0}")]
    Accept(io::Error),
    #[error("{target}: cannot connect")]
    Connect {
        target: Target,
        #[source]
        source: io::Error,
    },
    #[error("writing the .kb file: {0}")]
    Write(io::Error),
}

/// What one viewer's session saw.
#[derive(Clone, Debug, Default)]
pub struct RecordSummary {
    /// 1 for the first viewer, then 2, 3...
    pub viewer: u32,
    /// The viewer's address.
    pub peer: String,
    pub keys: u64,
    pub pointers: u64,
    pub other_messages: u64,
    /// Set when the viewer's stream could not be followed to its end
    /// (events after that point are not in the file).
    pub lost: Option<Lost>,
    /// Security types the server offered that were hidden from the viewer.
    pub hidden_security: Vec<u8>,
    /// Viewers turned away while this one was connected.
    pub refused: u32,
}

fn lock(p: &Mutex<ClientStream>) -> MutexGuard<'_, ClientStream> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records viewers one after another into one .kb file.
///
/// The file is one timeline: each viewer's events follow the previous
/// viewer's, after a comment line naming the viewer, and the first event
/// of a viewer waits for the time since the last event before it (the
/// first viewer's, since it connected), so a replay keeps the gaps
/// between viewers too.
pub struct Recorder<'a> {
    out: &'a mut dyn Write,
    /// When the last event was written, or the first viewer connected.
    last: Option<Instant>,
    viewers: u32,
}

impl<'a> Recorder<'a> {
    pub fn new(out: &'a mut dyn Write) -> Recorder<'a> {
        Recorder {
            out,
            last: None,
            viewers: 0,
        }
    }

    /// Waits for the next viewer on `listener`, connects it to `target`
    /// and records until either side closes or `stop` is set. None when
    /// `stop` was set before a viewer came. Viewers that connect meanwhile
    /// are told the recorder is busy and closed.
    pub fn record_viewer(
        &mut self,
        listener: &TcpListener,
        target: &Target,
        stop: &AtomicBool,
    ) -> Result<Option<RecordSummary>, RecordError> {
        listener
            .set_nonblocking(true)
            .map_err(RecordError::Accept)?;
        let (viewer, peer) = loop {
            match listener.accept() {
                Ok(s) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecordError::Accept(e)),
            }
        };
        let now = Instant::now();
        self.viewers += 1;
        let mut summary = RecordSummary {
            viewer: self.viewers,
            peer: peer.to_string(),
            ..RecordSummary::default()
        };
        let last = *self.last.get_or_insert(now);
        viewer.set_nonblocking(false).map_err(RecordError::Accept)?;
        let server = connect(target)?;
        let comment = Item::Comment(format!("#: viewer {} connected from {peer}", self.viewers));
        self.write_line(&format_item(&comment))?;
        let _ = viewer.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let parser = Arc::new(Mutex::new(ClientStream::default()));
        let io_err = |source| RecordError::Connect {
            target: target.clone(),
            source,
        };
        let downstream = {
            let (from, to) = (
                server.try_clone().map_err(io_err)?,
                viewer.try_clone().map_err(io_err)?,
            );
            let parser = Arc::clone(&parser);
            std::thread::spawn(move || server_to_viewer(from, to, &parser))
        };
        let mut session = Session {
            viewer: &viewer,
            server: &server,
            listener,
            parser: &parser,
            last,
            refused: 0,
        };
        let result = session.run(self, stop);
        let (last, refused) = (session.last, session.refused);
        self.last = Some(last);
        let _ = server.shutdown(Shutdown::Both);
        let _ = viewer.shutdown(Shutdown::Both);
        if let Ok(hidden) = downstream.join() {
            summary.hidden_security = hidden;
        }
        result?;
        let p = lock(&parser);
        summary.keys = p.keys;
        summary.pointers = p.pointers;
        summary.other_messages = p.others;
        summary.lost = p.lost().cloned();
        summary.refused = refused;
        Ok(Some(summary))
    }

    /// One write per line: the line is in the file before the next event
    /// is read, whatever happens to this process.
    fn write_line(&mut self, line: &str) -> Result<(), RecordError> {
        self.out
            .write_all(format!("{line}\n").as_bytes())
            .map_err(RecordError::Write)?;
        self.out.flush().map_err(RecordError::Write)
    }
}

fn connect(target: &Target) -> Result<TcpStream, RecordError> {
    let err = |source| RecordError::Connect {
        target: target.clone(),
        source,
    };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in target.socket_addr_string().to_socket_addrs().map_err(err)? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(err(last))
}

/// One viewer's connection, viewer to server.
struct Session<'s> {
    viewer: &'s TcpStream,
    server: &'s TcpStream,
    listener: &'s TcpListener,
    parser: &'s Mutex<ClientStream>,
    /// When the last event was written.
    last: Instant,
    refused: u32,
}

impl Session<'_> {
    fn run(&mut self, rec: &mut Recorder<'_>, stop: &AtomicBool) -> Result<(), RecordError> {
        let (mut viewer, mut server) = (self.viewer, self.server);
        viewer
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(RecordError::Accept)?;
        let mut buf = vec![0u8; 64 << 10];
        let mut inputs = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            // One viewer at a time: the others hear why, at once.
            while let Ok((extra, _)) = self.listener.accept() {
                self.refused += 1;
                // A few at once hear why; past that they are just closed,
                // so a flood of connections cannot pile up threads.
                if REFUSING.fetch_add(1, Ordering::SeqCst) < MAX_REFUSING {
                    std::thread::spawn(move || {
                        refuse(extra);
                        REFUSING.fetch_sub(1, Ordering::SeqCst);
                    });
                } else {
                    REFUSING.fetch_sub(1, Ordering::SeqCst);
                }
            }
            let n = match viewer.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(_) => break,
            };
            let now = Instant::now();
            lock(self.parser).feed(&buf[..n], &mut |i| inputs.push(i));
            if server.write_all(&buf[..n]).is_err() {
                break;
            }
            for input in inputs.drain(..) {
                let delay_ns = now.saturating_duration_since(self.last).as_nanos() as u64;
                self.last = now;
                let event = match input {
                    Input::Key { down, keysym } => Event::Key {
                        down,
                        keysym: Keysym(keysym),
                    },
                    Input::Pointer { mask, x, y } => Event::Pointer { mask, x, y },
                };
                rec.write_line(&format_item(&Item::Event { delay_ns, event }))?;
            }
        }
        Ok(())
    }
}

/// Viewers being told why they cannot connect, at most MAX_REFUSING.
static REFUSING: AtomicUsize = AtomicUsize::new(0);
const MAX_REFUSING: usize = 8;

/// Tells a viewer that came while another is recorded why it cannot
/// connect: an RFB 3.3 handshake whose security type 0 carries the reason
/// (RFC 6143 7.1.2), which viewers show to their user.
fn refuse(mut s: TcpStream) {
    let _ = (|| -> io::Result<()> {
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.set_write_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"RFB 003.003\n")?;
        let mut version = [0u8; 12];
        s.read_exact(&mut version)?;
        let reason = b"rfbplay record-kb records one viewer at a time; another is connected";
        let mut msg = 0u32.to_be_bytes().to_vec();
        msg.extend_from_slice(&(reason.len() as u32).to_be_bytes());
        msg.extend_from_slice(reason);
        s.write_all(&msg)
    })();
    let _ = s.shutdown(Shutdown::Both);
}

/// Forwards the server's bytes, editing only the security type list;
/// returns the types hidden from the viewer.
fn server_to_viewer(
    mut from: TcpStream,
    mut to: TcpStream,
    parser: &Mutex<ClientStream>,
) -> Vec<u8> {
    let mut hidden = Vec::new();
    let _ = (|| -> io::Result<()> {
        let mut version = [0u8; 12];
        from.read_exact(&mut version)?;
        to.write_all(&version)?;
        // The server speaks again only after the viewer's version, which
        // is parsed before it is forwarded: once a byte is here, the
        // version the two agreed on is known.
        let mut first = [0u8; 1];
        from.read_exact(&mut first)?;
        let minor = lock(parser).minor().unwrap_or(3);
        if minor >= 7 {
            let count = first;
            let mut types = vec![0u8; usize::from(count[0])];
            from.read_exact(&mut types)?;
            let keep = followable(&types);
            if keep.is_empty() {
                // Nothing to follow: pass the list on; the viewer's choice
                // will stop the logging with a clear reason.
                to.write_all(&count)?;
                to.write_all(&types)?;
            } else {
                hidden = types
                    .iter()
                    .copied()
                    .filter(|t| !keep.contains(t))
                    .collect();
                to.write_all(&[keep.len() as u8])?;
                to.write_all(&keep)?;
            }
        } else {
            let mut kind = [first[0], 0, 0, 0];
            from.read_exact(&mut kind[1..])?;
            let k = u32::from_be_bytes(kind);
            lock(parser).set_server_choice(u8::try_from(k).unwrap_or(u8::MAX));
            to.write_all(&kind)?;
        }
        io::copy(&mut from, &mut to)?;
        Ok(())
    })();
    let _ = to.shutdown(Shutdown::Write);
    hidden
}
