//! Writer for the `.fb` container (docs/formats.md section 1): gzip over
//! `<delta_ns> <len>\r\n<payload>\r\n` records, readable by minimega's own
//! player. It flushes the gzip stream on request so a killed writer loses
//! only what came after the last flush, and closes the stream properly on
//! [`FbWriter::finish`], which minimega's recorder never does.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{self, Write};

/// Writes timed chunks of a server-to-client stream.
pub struct FbWriter<W: Write> {
    gz: GzEncoder<W>,
    /// Time of the previous chunk, in ns since the start.
    last_ns: u64,
    chunks: u64,
    payload_bytes: u64,
}

impl<W: Write> FbWriter<W> {
    /// Compression level 6 matches gzip's default; level 1 suits live
    /// recording, where the recorder's CPU matters more than the file.
    pub fn new(out: W, level: u32) -> FbWriter<W> {
        FbWriter {
            gz: GzEncoder::new(out, Compression::new(level.min(9))),
            last_ns: 0,
            chunks: 0,
            payload_bytes: 0,
        }
    }

    /// Appends a chunk that arrived `at_ns` after the start. Times must not
    /// go backwards; a smaller one is written as a zero delta.
    pub fn chunk(&mut self, at_ns: u64, payload: &[u8]) -> io::Result<()> {
        let delta = at_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(at_ns);
        write!(self.gz, "{delta} {}\r\n", payload.len())?;
        self.gz.write_all(payload)?;
        self.gz.write_all(b"\r\n")?;
        self.chunks += 1;
        self.payload_bytes += payload.len() as u64;
        Ok(())
    }

    /// Pushes everything written so far to the file as complete deflate
    /// blocks, so a reader sees it even if the writer dies next.
    pub fn flush(&mut self) -> io::Result<()> {
        self.gz.flush()
    }

    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Bytes of the underlying output written so far.
    pub fn get_ref(&self) -> &W {
        self.gz.get_ref()
    }

    /// Ends the gzip stream with its trailer and returns the output.
    pub fn finish(self) -> io::Result<W> {
        self.gz.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{Container, End, FbReader, Piece};

    #[test]
    fn written_chunks_read_back_with_their_times() {
        let mut w = FbWriter::new(Vec::new(), 6);
        w.chunk(5, b"abc").unwrap();
        w.chunk(12, b"").unwrap();
        w.chunk(20, b"de").unwrap();
        let bytes = w.finish().unwrap();
        let mut r = FbReader::gzip(std::io::Cursor::new(bytes));
        let mut got = vec![];
        loop {
            match r.next_piece().unwrap() {
                Piece::Data { time, bytes, .. } => got.push((time.0, bytes.to_vec())),
                Piece::Gap(g) => panic!("no gaps without salvage: {g:?}"),
                Piece::End(end) => {
                    assert_eq!(end, End::Complete);
                    break;
                }
            }
        }
        assert_eq!(got, vec![(5, b"abc".to_vec()), (20, b"de".to_vec())]);
    }

    #[test]
    fn flushed_but_unfinished_stream_reads_as_truncated() {
        let mut w = FbWriter::new(Vec::new(), 6);
        w.chunk(1, b"xyz").unwrap();
        w.flush().unwrap();
        let bytes = w.get_ref().clone();
        let mut r = FbReader::gzip(std::io::Cursor::new(bytes));
        assert!(matches!(
            r.next_piece().unwrap(),
            Piece::Data { bytes: b"xyz", .. }
        ));
        assert!(matches!(
            r.next_piece().unwrap(),
            Piece::End(End::Truncated(_))
        ));
    }
}
