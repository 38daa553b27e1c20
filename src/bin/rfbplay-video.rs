//! `rfbplay-video`: the rfbplay command with FFmpeg's encoders linked in.
//! `rfbplay` runs it for `export` (and `rfbplay FILE OUT`), so that every
//! other command starts without loading FFmpeg's shared libraries. It
//! takes the same command lines as `rfbplay`.

fn main() -> std::process::ExitCode {
    rfbplay::export::video::link_encoders();
    rfbplay_cli::run()
}

#[path = "../cli/mod.rs"]
mod rfbplay_cli;
