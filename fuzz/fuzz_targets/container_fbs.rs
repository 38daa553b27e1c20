//! Fuzz target: the FBS container reader, its handshake parser and the stream.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::container_fbs(data));
