//! rfbplay: decode, export, record and replay VNC framebuffer recordings.
//!
//! Data flows one way through the modules:
//!
//! ```text
//! .fb / .fbs file ─▶ container ─▶ rfb::Parser ─▶ decode ─▶ framebuffer ─▶ timeline ─▶ export
//! ```
//!
//! [`container`] yields timed pieces of the server-to-client stream;
//! [`rfb::Parser`] turns them into framebuffer changes, whatever the piece
//! boundaries; [`timeline`] samples the screen at a frame rate; [`export`]
//! writes PNG frames. [`player::Player`] ties them together for a file.

#![forbid(unsafe_code)]

pub mod batch;
pub mod client;
pub mod compare;
pub mod container;
pub mod decode;
pub mod export;
pub mod find;
pub mod framebuffer;
#[doc(hidden)]
pub mod fuzzing;
pub mod index;
pub mod info;
pub mod inspect;
pub mod kb;
pub mod limits;
pub mod output;
pub mod player;
pub mod progress;
pub mod record;
pub mod rfb;
pub mod salvage;
pub mod sampler;
pub mod search;
pub mod serve;
pub mod synth;
pub mod time;
pub mod timeline;
pub mod wire;

pub use framebuffer::Framebuffer;

/// An error and its causes joined by ": ", each said once. Layers add only
/// what they know, so a cause that repeats its wrapper's text word for word
/// (as `io::Error` wrappers may) is skipped rather than printed twice.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.ends_with(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}
pub use time::Time;
