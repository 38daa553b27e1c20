//! Fuzz target: one copyrect rectangle and what follows it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::rect(rfbplay::rfb::Encoding::COPY_RECT, data));
