//! Fuzz target: the stream parser in any pixel format; split and whole feeding must agree.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::stream(data));
