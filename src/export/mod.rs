//! Exporters: where sampled frames go. One trait, one module per format.

pub mod png;
pub mod video;

use crate::framebuffer::Framebuffer;
use crate::time::Time;
use crate::timeline::Frame;
use std::path::PathBuf;

/// A failure to write output.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode {}", path.display())]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// The thread that compresses frames stopped without saying why.
    #[error("the frame writer thread stopped unexpectedly")]
    WorkerLost,
    /// No frame fell in the chosen time range before the recording's last
    /// complete update.
    #[error("no frame to write: no complete update in the chosen time range")]
    NoFrame,
    #[error(transparent)]
    Video(#[from] video::VideoError),
}

/// Receives frames in time order and writes them somewhere.
pub trait Exporter {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError>;
    /// [`Exporter::frame`] with a hint: frames given the same `content`
    /// show identical pixels, and a new `content` almost always means new
    /// pixels (it is [`Screen::generation`] plus one, 0 being the black
    /// screen before the first update), so an exporter may skip comparing
    /// or encoding frames again. The default ignores the hint.
    fn frame_with_content(&mut self, frame: &Frame<'_>, content: u64) -> Result<(), ExportError> {
        let _ = content;
        self.frame(frame)
    }
    /// The recording ended (was played to its end or to damage) with its
    /// last complete update at `last_update`, leaving `screen`, whose
    /// content is `content` (as in [`Exporter::frame_with_content`]).
    /// Called once before [`Exporter::finish`] when there was an update.
    /// Sampled frames stop at or before that time (the timeline holds back
    /// frames after the last complete update), so the final screen may be
    /// in none of them: a video shows it in its last frame. The default
    /// ignores this.
    fn recording_end(
        &mut self,
        last_update: Time,
        screen: &Framebuffer,
        content: u64,
    ) -> Result<(), ExportError> {
        let _ = (last_update, screen, content);
        Ok(())
    }
    /// Finishes the output; called once, after the last frame.
    /// The damaged stretches `--salvage` skipped, told before [`Exporter::finish`];
    /// a video marks them as chapters.
    fn damaged(&mut self, _spans: &[crate::salvage::Damage]) {}
    fn finish(&mut self) -> Result<(), ExportError>;
    /// Frames written so far.
    fn frames_written(&self) -> u64;
}

pub use crate::sampler::{run, screen_at, ExportReport};
