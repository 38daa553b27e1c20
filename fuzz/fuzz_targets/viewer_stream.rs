//! Fuzz target: see `rfbplay::fuzzing::viewer_stream`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::viewer_stream(data));
