//! Pixel formats moved to [`crate::wire::pixel`], with the rest of the wire
//! vocabulary; this path stays so that code written against it compiles.

pub use crate::wire::pixel::*;
