//! Fuzz target: see `rfbplay::fuzzing::kb_text`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rfbplay::fuzzing::kb_text(data));
