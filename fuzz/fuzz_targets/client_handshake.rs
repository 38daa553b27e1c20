//! Fuzz target: the client's side of the RFB handshake, fed a server's bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::client_handshake(data));
