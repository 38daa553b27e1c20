//! The viewer-to-server half of an RFB connection, parsed without I/O, so
//! `record-kb` can log the viewer's keys and pointer while it forwards
//! every byte unchanged.
//!
//! Message boundaries are only known if the whole stream is followed from
//! its first byte: the ProtocolVersion (RFC 6143 7.1.1), the security
//! choice (7.1.2; 3.7 and later only) and the VNC Authentication response
//! (7.2.2), then ClientInit (7.3.1), then client messages (7.5) including
//! the extensions viewers commonly send (rfbproto "Client to Server
//! Messages"). A message type without a known length ends the parsing (the
//! bytes still flow), since guessing would log garbage.

/// What the viewer sent that a .kb file records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Key { down: bool, keysym: u32 },
    Pointer { mask: u8, x: u16, y: u16 },
}

/// Why the parser stopped following the stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Lost {
    #[error("the viewer's protocol version {0:?} is not RFB 3.x")]
    BadVersion(String),
    #[error("security type {0} is not one the recorder can follow (None or VNC Authentication)")]
    Security(u8),
    #[error("unknown client message type {kind} at stream byte {offset}")]
    UnknownMessage { kind: u8, offset: u64 },
    #[error("unknown QEMU client message subtype {sub} at stream byte {offset}")]
    UnknownQemu { sub: u8, offset: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Version,
    /// RFB 3.3: the server picks the security type, after the version.
    ServerChoice,
    Choice,
    AuthResponse,
    ClientInit,
    Messages,
    /// The rest of a ClientCutText (its text is not needed).
    Skip(u64),
    Lost(Lost),
}

/// How long the message at the front of a buffer is.
enum Len {
    /// At least this many bytes are needed to tell.
    Need(usize),
    Total(usize),
    /// A header, then this many bytes that can be skipped unbuffered.
    Skip {
        header: usize,
        then: u64,
    },
}

/// Follows the viewer's stream; see the module docs.
#[derive(Debug)]
pub struct ClientStream {
    state: State,
    pending: Vec<u8>,
    /// Bytes consumed so far, for error messages.
    offset: u64,
    minor: u16,
    /// For RFB 3.3 the server picks the security type; the proxy tells us.
    server_choice: Option<u8>,
    pub keys: u64,
    pub pointers: u64,
    pub others: u64,
}

impl Default for ClientStream {
    fn default() -> Self {
        ClientStream {
            state: State::Version,
            pending: Vec::new(),
            offset: 0,
            minor: 0,
            server_choice: None,
            keys: 0,
            pointers: 0,
            others: 0,
        }
    }
}

impl ClientStream {
    /// The minor version the viewer asked for, once known (3 for 3.3).
    pub fn minor(&self) -> Option<u16> {
        (!matches!(self.state, State::Version)).then_some(self.minor)
    }

    /// For RFB 3.3: the security type the server announced (7.1.2).
    pub fn set_server_choice(&mut self, kind: u8) {
        self.server_choice = Some(kind);
    }

    /// Why parsing stopped, if it has.
    pub fn lost(&self) -> Option<&Lost> {
        match &self.state {
            State::Lost(l) => Some(l),
            _ => None,
        }
    }

    /// Feeds bytes from the viewer; reports key and pointer events.
    pub fn feed(&mut self, mut input: &[u8], on: &mut dyn FnMut(Input)) {
        loop {
            if self.state == State::ServerChoice {
                // The viewer answers only after the server's choice went
                // through the proxy, which has told us by now.
                if input.is_empty() {
                    return;
                }
                self.state = self.after_security(self.server_choice);
            }
            if let State::Skip(left) = self.state {
                let take = left.min(input.len() as u64) as usize;
                input = &input[take..];
                self.offset += take as u64;
                self.state = if left == take as u64 {
                    State::Messages
                } else {
                    State::Skip(left - take as u64)
                };
                if input.is_empty() {
                    return;
                }
            }
            if matches!(self.state, State::Lost(_)) {
                return;
            }
            let len = match self.unit_len() {
                Ok(l) => l,
                Err(lost) => {
                    self.state = State::Lost(lost);
                    return;
                }
            };
            let (want, skip) = match len {
                Len::Need(n) | Len::Total(n) => (n, None),
                Len::Skip { header, then } => (header, Some(then)),
            };
            if self.pending.len() < want {
                let take = (want - self.pending.len()).min(input.len());
                self.pending.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.pending.len() < want {
                    return;
                }
                if matches!(len, Len::Need(_)) {
                    continue;
                }
            }
            let unit = std::mem::take(&mut self.pending);
            self.finish(&unit, on);
            self.offset += unit.len() as u64;
            if let Some(then) = skip {
                if !matches!(self.state, State::Lost(_)) {
                    self.state = State::Skip(then);
                }
            }
            if input.is_empty() && !matches!(self.state, State::Skip(0)) {
                return;
            }
        }
    }

    /// The size of the unit at the front of `pending`.
    fn unit_len(&self) -> Result<Len, Lost> {
        let b = &self.pending;
        let offset = self.offset;
        Ok(match self.state {
            State::Version => Len::Total(12),
            State::Choice | State::ClientInit => Len::Total(1),
            State::AuthResponse => Len::Total(16),
            State::ServerChoice | State::Skip(_) | State::Lost(_) => Len::Need(0),
            State::Messages => {
                let Some(&kind) = b.first() else {
                    return Ok(Len::Need(1));
                };
                let need = |n: usize| b.len() < n;
                let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
                match kind {
                    0 => Len::Total(20), // SetPixelFormat
                    2 if need(4) => Len::Need(4),
                    2 => Len::Total(4 + 4 * usize::from(u16at(2))), // SetEncodings
                    3 => Len::Total(10),                            // FramebufferUpdateRequest
                    4 => Len::Total(8),                             // KeyEvent
                    5 => Len::Total(6),                             // PointerEvent
                    6 if need(8) => Len::Need(8),
                    6 => {
                        // ClientCutText; a negative length is the Extended
                        // Clipboard form, of |length| bytes.
                        let n = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                        Len::Skip {
                            header: 8,
                            then: u64::from(n.unsigned_abs()),
                        }
                    }
                    150 => Len::Total(10), // EnableContinuousUpdates
                    248 if need(9) => Len::Need(9),
                    248 => Len::Total(9 + usize::from(b[8])), // ClientFence
                    250 => Len::Total(4),                     // xvp
                    251 if need(8) => Len::Need(8),
                    251 => Len::Total(8 + 16 * usize::from(b[6])), // SetDesktopSize
                    253 if need(4) => Len::Need(4),
                    253 => {
                        // gii: bit 7 of byte 1 says big-endian.
                        let len = if b[1] & 0x80 != 0 {
                            u16at(2)
                        } else {
                            u16::from_le_bytes([b[2], b[3]])
                        };
                        Len::Total(4 + usize::from(len))
                    }
                    255 if need(2) => Len::Need(2),
                    255 => match b[1] {
                        0 => Len::Total(12), // QEMU Extended Key Event
                        1 if need(4) => Len::Need(4),
                        1 => match u16at(2) {
                            0 | 1 => Len::Total(4), // QEMU audio enable/disable
                            2 => Len::Total(10),    // QEMU audio set format
                            _ => return Err(Lost::UnknownQemu { sub: 1, offset }),
                        },
                        sub => return Err(Lost::UnknownQemu { sub, offset }),
                    },
                    kind => return Err(Lost::UnknownMessage { kind, offset }),
                }
            }
        })
    }

    /// Acts on a complete unit and moves to the next state.
    fn finish(&mut self, b: &[u8], on: &mut dyn FnMut(Input)) {
        let u32at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        self.state = match self.state {
            State::Version => {
                // "RFB xxx.yyy\n"; 3.5 and below behave as 3.3 (7.1.1).
                let text = String::from_utf8_lossy(b).to_string();
                let minor = text
                    .strip_prefix("RFB 003.")
                    .and_then(|r| r.strip_suffix('\n'))
                    .and_then(|m| m.parse::<u16>().ok());
                match minor {
                    Some(m) => {
                        self.minor = m;
                        if m >= 7 {
                            State::Choice
                        } else {
                            State::ServerChoice
                        }
                    }
                    None => State::Lost(Lost::BadVersion(text)),
                }
            }
            State::Choice => self.after_security(b.first().copied()),
            State::AuthResponse => State::ClientInit,
            State::ClientInit => State::Messages,
            State::Messages => {
                match b.first() {
                    Some(4) => {
                        self.keys += 1;
                        on(Input::Key {
                            down: b[1] != 0,
                            keysym: u32at(4),
                        });
                    }
                    Some(5) => {
                        self.pointers += 1;
                        on(Input::Pointer {
                            mask: b[1],
                            x: u16at(2),
                            y: u16at(4),
                        });
                    }
                    // QEMU Extended Key Event carries the keysym too; a
                    // keycode-only event (keysym 0) cannot be written.
                    Some(255) if b[1] == 0 && u32at(4) != 0 => {
                        self.keys += 1;
                        on(Input::Key {
                            down: u16at(2) != 0,
                            keysym: u32at(4),
                        });
                    }
                    _ => self.others += 1,
                }
                State::Messages
            }
            ref s => s.clone(),
        };
    }

    /// The state after the security type is known.
    fn after_security(&self, kind: Option<u8>) -> State {
        match kind {
            Some(1) => State::ClientInit,
            Some(2) => State::AuthResponse,
            // 3.3 with the server's choice not passed in: cannot follow.
            Some(k) => State::Lost(Lost::Security(k)),
            None => State::Lost(Lost::Security(0)),
        }
    }
}

/// The security types the recorder can follow, out of a server's list.
pub fn followable(types: &[u8]) -> Vec<u8> {
    types
        .iter()
        .copied()
        .filter(|t| matches!(t, 1 | 2))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Vec<u8> {
        let mut s = b"RFB 003.008\n".to_vec();
        s.push(2); // VNC Authentication
        s.extend_from_slice(&[0xaa; 16]);
        s.push(1); // ClientInit, shared
        s.extend_from_slice(&[0; 20]); // SetPixelFormat
        s.extend_from_slice(&[2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21]);
        s.extend_from_slice(&[3, 0, 0, 0, 0, 0, 4, 0, 3, 0]);
        s.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0xff, 0x0d]); // Return down
        s.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c']);
        s.extend_from_slice(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe, 1, 2]); // extended, 2 bytes
        s.extend_from_slice(&[150, 1, 0, 0, 0, 0, 4, 0, 3, 0]);
        s.extend_from_slice(&[248, 0, 0, 0, 0, 0, 0, 3, 2, 7, 7]);
        s.extend_from_slice(&[250, 0, 1, 2]);
        s.extend_from_slice(&[251, 0, 4, 0, 3, 0, 1, 0]);
        s.extend_from_slice(&[0; 16]);
        s.extend_from_slice(&[253, 0x01, 3, 0, 9, 9, 9]); // gii, little-endian length 3
        s.extend_from_slice(&[255, 1, 0, 2, 0, 0, 0, 0, 0, 0]); // QEMU audio format
        s.extend_from_slice(&[255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30]); // QEMU key 'a'
        s.extend_from_slice(&[5, 1, 1, 44, 0, 2]); // pointer
        s.extend_from_slice(&[4, 0, 0, 0, 0, 0, 0xff, 0x0d]); // Return up
        s
    }

    fn run(pieces: &[&[u8]]) -> (Vec<Input>, ClientStream) {
        let mut p = ClientStream::default();
        let mut got = Vec::new();
        for piece in pieces {
            p.feed(piece, &mut |i| got.push(i));
        }
        (got, p)
    }

    #[test]
    fn follows_handshake_and_extensions() {
        let s = session();
        let (got, p) = run(&[&s]);
        assert_eq!(
            got,
            [
                Input::Key {
                    down: true,
                    keysym: 0xff0d
                },
                Input::Key {
                    down: true,
                    keysym: 0x61
                },
                Input::Pointer {
                    mask: 1,
                    x: 300,
                    y: 2
                },
                Input::Key {
                    down: false,
                    keysym: 0xff0d
                },
            ]
        );
        assert_eq!(p.lost(), None);
        assert_eq!(p.minor(), Some(8));
        assert_eq!(p.others, 11);
    }

    #[test]
    fn split_anywhere_gives_the_same_events() {
        let s = session();
        let (whole, _) = run(&[&s]);
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(run(&bytes).0, whole);
        for cut in 1..s.len() {
            assert_eq!(run(&[&s[..cut], &s[cut..]]).0, whole, "cut at {cut}");
        }
    }

    #[test]
    fn rfb_33_uses_the_server_choice() {
        let mut p = ClientStream::default();
        p.set_server_choice(1);
        let mut s = b"RFB 003.003\n".to_vec();
        s.push(0); // ClientInit, exclusive
        s.extend_from_slice(&[5, 0, 0, 1, 0, 1]);
        let mut got = Vec::new();
        p.feed(&s, &mut |i| got.push(i));
        assert_eq!(
            got,
            [Input::Pointer {
                mask: 0,
                x: 1,
                y: 1
            }]
        );
    }

    #[test]
    fn unknown_things_stop_the_logging() {
        let mut p = ClientStream::default();
        p.feed(b"RFB 003.008\n\x13", &mut |_| {});
        assert_eq!(p.lost(), Some(&Lost::Security(19)));
        let mut p = ClientStream::default();
        let mut n = 0;
        p.feed(
            b"RFB 003.008\n\x01\x01\x07\x00\x04\x01\x00\x00\x00\x00\x00\x61",
            &mut |_| n += 1,
        );
        assert_eq!(
            p.lost(),
            Some(&Lost::UnknownMessage {
                kind: 7,
                offset: 14
            })
        );
        assert_eq!(n, 0);
        assert_eq!(followable(&[19, 2, 16, 1]), [2, 1]);
    }
}
