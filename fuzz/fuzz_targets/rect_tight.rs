//! Fuzz target: one tight rectangle and what follows it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::rect(rfbplay::rfb::Encoding::TIGHT, data));
