//! Reader for FBS files (`.fbs`, `.rbs`: "FramebufferStream", written by
//! rfbproxy, TightVNC's recorder and vnc2video; docs/formats.md section 2): a
//! 12-byte `FBS 001.00x\n` header, then blocks of a big-endian u32 length,
//! the data padded to a multiple of 4, and a big-endian u32 timestamp in
//! milliseconds.
//!
//! The data is the whole server-to-client stream, handshake included, so
//! the reader consumes ProtocolVersion, the security exchange and
//! ServerInit (RFC 6143 7.1-7.3) itself and hands out only what follows,
//! with the screen size and the server's pixel format as [`ServerInit`].
//! The client's choice of security type is not recorded; the reader tries
//! each possibility the offer allows and keeps the one followed by a sane
//! ServerInit. The messages themselves are read by the parsers every
//! rfbplay part shares ([`crate::rfb::handshake`]).

use super::{
    Container, ContainerError, Counting, End, FbsProblem, Foreign, Piece, ServerInit, Truncation,
    TruncationCause,
};
use crate::rfb::handshake::{self, Parsed, SecurityOffer, SecurityType, Version};
use crate::rfb::PixelFormat;
use crate::time::Time;
use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Blocks longer than this are refused; recorders write socket reads.
const MAX_BLOCK: u32 = 64 << 20;
/// The handshake fits in this much data; a longer one is not a handshake.
const MAX_HANDSHAKE: usize = 64 << 10;

pub struct FbsReader {
    src: Counting<Box<dyn Read + Send>>,
    read: Arc<AtomicU64>,
    init: ServerInit,
    /// Stream bytes after the handshake that arrived with it.
    held: Vec<u8>,
    held_time: Time,
    block: Vec<u8>,
    /// File offset of the next block header.
    offset: u64,
    time: Time,
    finished: bool,
}

/// A block: its data and timestamp, or how the file ended.
enum Block {
    Data(Vec<u8>, Time),
    End(End),
}

impl FbsReader {
    /// Reads the header and the handshake. `src` starts at the file's first
    /// byte.
    pub fn open<R: Read + Send + 'static>(src: R) -> Result<FbsReader, ContainerError> {
        let read = Arc::new(AtomicU64::new(0));
        let src: Box<dyn Read + Send> = Box::new(src);
        let mut r = FbsReader {
            src: Counting {
                inner: src,
                count: read.clone(),
            },
            read,
            init: ServerInit::default(),
            held: Vec::new(),
            held_time: Time::ZERO,
            block: Vec::new(),
            offset: 12,
            time: Time::ZERO,
            finished: false,
        };
        let mut magic = [0u8; 12];
        if read_full(&mut r.src, &mut magic)? < 12 || !magic.starts_with(b"FBS 001.") {
            return Err(ContainerError::NotARecording(Foreign::NoFbsHeader));
        }
        // Gather blocks until the handshake parses.
        let mut stream = Vec::new();
        loop {
            match r.next_block()? {
                Block::Data(data, time) => {
                    stream.extend_from_slice(&data);
                    r.held_time = time;
                }
                Block::End(_) => {
                    return Err(ContainerError::BadFbs {
                        offset: r.offset,
                        time: r.time,
                        problem: FbsProblem::EndsInHandshake,
                    })
                }
            }
            match parse_handshake(&stream) {
                Ok(Some((init, used))) => {
                    r.init = init;
                    r.held = stream.split_off(used);
                    return Ok(r);
                }
                Ok(None) if stream.len() < MAX_HANDSHAKE => continue,
                Ok(None) => {
                    return Err(ContainerError::BadFbs {
                        offset: 12,
                        time: r.time,
                        problem: FbsProblem::NoServerInit,
                    })
                }
                Err(detail) => {
                    return Err(ContainerError::BadFbs {
                        offset: 12,
                        time: r.time,
                        problem: FbsProblem::Handshake(detail),
                    })
                }
            }
        }
    }

    fn next_block(&mut self) -> Result<Block, ContainerError> {
        let at = self.offset;
        let cut = |cause: TruncationCause, time| {
            Block::End(End::Truncated(Truncation {
                offset: at,
                time,
                cause,
            }))
        };
        let mut len = [0u8; 4];
        match read_full(&mut self.src, &mut len)? {
            0 => return Ok(Block::End(End::Complete)),
            4 => {}
            _ => return Ok(cut(TruncationCause::InFbsBlockHeader, self.time)),
        }
        let len = u32::from_be_bytes(len);
        if len > MAX_BLOCK {
            return Err(ContainerError::BadFbs {
                offset: at,
                time: self.time,
                problem: FbsProblem::BlockTooLong {
                    len,
                    max: MAX_BLOCK,
                },
            });
        }
        let padded = (len as usize).div_ceil(4) * 4;
        self.block.resize(padded + 4, 0);
        let got = read_full(&mut self.src, &mut self.block)?;
        if got < padded + 4 {
            return Ok(cut(
                TruncationCause::InsideFbsBlock {
                    got: got as u64,
                    len: padded as u64 + 4,
                },
                self.time,
            ));
        }
        let ts = u32::from_be_bytes([
            self.block[padded],
            self.block[padded + 1],
            self.block[padded + 2],
            self.block[padded + 3],
        ]);
        // Timestamps are milliseconds since the start; keep time monotonic.
        let ts = Time(u64::from(ts) * 1_000_000);
        if ts.0.saturating_sub(self.time.0) > crate::limits::Limits::default().max_gap_ns {
            return Err(ContainerError::BadFbs {
                offset: at,
                time: self.time,
                problem: FbsProblem::TimeJump {
                    from: self.time,
                    to: ts,
                },
            });
        }
        self.time = self.time.max(ts);
        self.offset += 4 + padded as u64 + 4;
        Ok(Block::Data(self.block[..len as usize].to_vec(), self.time))
    }
}

fn read_full(src: &mut impl Read, buf: &mut [u8]) -> Result<usize, ContainerError> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

/// The longest desktop name a recorded ServerInit may have here: a
/// longer one means this reading of the security exchange is wrong.
const MAX_NAME: u32 = 4096;

/// Parses ProtocolVersion, security and ServerInit from the start of a
/// server-to-client stream, with the shared parsers of
/// [`rfb::handshake`](crate::rfb::handshake). Ok(None): more bytes are
/// needed.
pub fn parse_handshake(s: &[u8]) -> Result<Option<(ServerInit, usize)>, String> {
    let version = match handshake::protocol_version(s) {
        Ok(Parsed::Need(_)) => return Ok(None),
        Ok(Parsed::Done(v, _)) => v,
        Err(e) => return Err(format!("no RFB ProtocolVersion at the start: {e}")),
    };
    let rest = &s[12..];
    let (offer, used) = match handshake::security_offer(version, rest) {
        Ok(Parsed::Need(_)) if handshake::is_refusal(version, rest) => {
            return Err("the server refused the connection".into())
        }
        Ok(Parsed::Need(_)) => return Ok(None),
        Ok(Parsed::Done(offer, used)) => (offer, used),
        Err(e) => return Err(e.to_string()),
    };
    // Each possible server side of the rest of the security exchange (RFC
    // 6143 7.1.2, 7.1.3, 7.2.2; RFB 3.3 in its appendix): the offset where
    // ServerInit would start. The client's choice is not recorded.
    let challenge_and_result = handshake::CHALLENGE_LEN + 4;
    let mut candidates: Vec<usize> = Vec::new();
    match offer {
        SecurityOffer::Chosen(1) => candidates.push(used),
        SecurityOffer::Chosen(2) => candidates.push(used + challenge_and_result),
        SecurityOffer::Chosen(t) => {
            return Err(format!(
                "security type {t} is not recorded in a form rfbplay reads"
            ))
        }
        SecurityOffer::Offered(types) => {
            // 3.8 always sends SecurityResult; 3.7 only after authentication.
            let result = if version == Version::V3_8 { 4 } else { 0 };
            if types.contains(&SecurityType::NONE) {
                candidates.push(used + result);
            }
            if types.contains(&SecurityType::VNC_AUTH) {
                candidates.push(used + challenge_and_result);
            }
            if candidates.is_empty() {
                let numbers: Vec<u8> = types.iter().map(|t| t.0).collect();
                return Err(format!("security types {numbers:?} offered; rfbplay reads None (1) and VNC Authentication (2)"));
            }
        }
    }
    let mut waiting = false;
    for at in candidates {
        let Some(b) = rest.get(at..) else {
            waiting = true;
            continue;
        };
        match handshake::server_init(b, MAX_NAME) {
            Ok(Parsed::Need(_)) => waiting = true,
            Ok(Parsed::Done(init, n)) if sane(&init) => return Ok(Some((init, 12 + at + n))),
            Ok(Parsed::Done(..)) | Err(_) => {}
        }
    }
    if waiting {
        Ok(None)
    } else {
        Err("no sane ServerInit follows the security exchange".into())
    }
}

/// Whether a ServerInit read at a guessed offset looks like one.
fn sane(init: &ServerInit) -> bool {
    init.width > 0
        && init.height > 0
        && init
            .pixel_format
            .is_some_and(|pf| pf.unsupported_reason().is_none())
}

impl Container for FbsReader {
    fn format_name(&self) -> &'static str {
        "FBS (FramebufferStream)"
    }

    fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    fn server_init(&self) -> Option<&ServerInit> {
        Some(&self.init)
    }

    fn next_piece(&mut self) -> Result<Piece<'_>, ContainerError> {
        if !self.held.is_empty() {
            self.block = std::mem::take(&mut self.held);
            return Ok(Piece::Data {
                time: self.held_time,
                offset: self.offset,
                bytes: &self.block,
            });
        }
        if self.finished {
            return Ok(Piece::End(End::Complete));
        }
        loop {
            match self.next_block()? {
                Block::Data(data, time) if !data.is_empty() => {
                    self.block = data;
                    return Ok(Piece::Data {
                        time,
                        offset: self.offset,
                        bytes: &self.block,
                    });
                }
                Block::Data(..) => continue,
                Block::End(end) => {
                    self.finished = true;
                    return Ok(Piece::End(end));
                }
            }
        }
    }
}

/// Writes a FBS file: the header, then one block per chunk (for tests and
/// synthetic samples).
pub fn write_fbs(blocks: &[(u32, &[u8])]) -> Vec<u8> {
    let mut out = b"FBS 001.000\n".to_vec();
    for (ms, data) in blocks {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
        out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
        out.extend_from_slice(&ms.to_be_bytes());
    }
    out
}

/// The server side of an RFB 3.8 handshake with security None.
pub fn handshake_bytes(width: u16, height: u16, pf: &PixelFormat, name: &str) -> Vec<u8> {
    let mut b = b"RFB 003.008\n".to_vec();
    b.extend_from_slice(&[1, 1]);
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&pf.to_wire());
    b.extend_from_slice(&(name.len() as u32).to_be_bytes());
    b.extend_from_slice(name.as_bytes());
    b
}
