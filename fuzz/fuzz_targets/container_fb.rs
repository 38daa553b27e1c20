//! Fuzz target: the .fb container reader (plain and gzip) and the stream behind it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::container_fb(data));
