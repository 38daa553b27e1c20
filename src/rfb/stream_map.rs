//! Maps RFB stream offsets back to where their bytes sit in the file.
//!
//! A container hands the stream over in pieces, each from some offset of
//! the (decompressed) file; chunk headers sit between them, so a stream
//! offset is not a file offset. A [`ParseError`](super::ParseError) names
//! stream offsets (the rectangle's start and the failing byte), which may lie
//! in pieces fed long before the one where the error surfaced. The player
//! records each piece here and prunes what lies before the message in
//! progress, so the map holds only the pieces of one message.

use std::collections::VecDeque;

/// Where the pieces of the message in progress came from.
#[derive(Debug, Default)]
pub struct StreamMap {
    /// (stream offset, file offset, length) of each piece, in order.
    pieces: VecDeque<(u64, u64, u64)>,
}

impl StreamMap {
    /// Notes that the stream bytes from `stream_offset` on, `len` of them,
    /// came from file offset `file_offset`. Call it before feeding the
    /// piece; `stream_offset` is the number of bytes fed before it (not
    /// [`Parser::offset`](super::Parser::offset), which lags by what the
    /// parser holds back).
    pub fn piece(&mut self, stream_offset: u64, file_offset: u64, len: usize) {
        if len > 0 {
            self.pieces
                .push_back((stream_offset, file_offset, len as u64));
        }
    }

    /// Forgets pieces that end before `stream_offset` (pass the parser's
    /// [`unit_offset`](super::Parser::unit_offset) after each feed).
    pub fn forget_before(&mut self, stream_offset: u64) {
        while let Some(&(start, _, len)) = self.pieces.front() {
            // Keep the last piece: the next message may start where it ends.
            if start + len > stream_offset || self.pieces.len() == 1 {
                break;
            }
            self.pieces.pop_front();
        }
    }

    /// The file offset of stream byte `stream_offset`, if a kept piece
    /// holds it.
    pub fn file_offset(&self, stream_offset: u64) -> Option<u64> {
        self.pieces
            .iter()
            .find(|&&(start, _, len)| (start..start + len).contains(&stream_offset))
            .map(|&(start, file, _)| file + (stream_offset - start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_through_the_piece_that_holds_them() {
        let mut m = StreamMap::default();
        // Pieces of 100 stream bytes, each after a 10-byte chunk header.
        for i in 0..5u64 {
            m.piece(i * 100, 10 + i * 110, 100);
        }
        assert_eq!(m.file_offset(0), Some(10));
        assert_eq!(m.file_offset(43), Some(53));
        assert_eq!(m.file_offset(250), Some(10 + 220 + 50));
        assert_eq!(m.file_offset(500), None);
        m.forget_before(230);
        assert_eq!(m.file_offset(43), None);
        assert_eq!(m.file_offset(230), Some(10 + 220 + 30));
        m.forget_before(10_000);
        assert_eq!(m.file_offset(499), Some(10 + 440 + 99));
    }
}
