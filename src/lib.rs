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

pub mod client;
pub mod container;
pub mod decode;
pub mod export;
pub mod framebuffer;
#[doc(hidden)]
pub mod fuzzing;
pub mod info;
pub mod kb;
pub mod limits;
pub mod player;
pub mod progress;
pub mod record;
pub mod rfb;
pub mod synth;
pub mod time;
pub mod timeline;
pub mod wire;

pub use framebuffer::Framebuffer;
pub use time::Time;
