//! Fuzz target: one extended_desktop_size rectangle and what follows it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::rect(rfbplay::rfb::Encoding::EXTENDED_DESKTOP_SIZE, data));
