//! Guessing a lost deflate window from minimega's chunk grammar, for
//! salvage after gzip damage ([`super::salvage`]): the candidate's output
//! is known byte by byte, or known to copy one window byte; reading it as a
//! chain of `<delta> <len>\r\n` records tells the window bytes the
//! headers copy.

use super::access::WINDOW;
use crate::limits::Limits;

/// Records in a row whose headers a guessed window must make well formed.
const INFER_RECORDS: usize = 8;
/// Output positions tried as the first header when guessing: a record
/// starts within every record's length, and minimega's are 4 KiB.
const INFER_STARTS: usize = 8 << 10;
/// Digits of the longest delta and chunk length a guessed header may have.
const DELTA_DIGITS: usize = 14;
const LEN_DIGITS: usize = 8;
/// The chunk length minimega writes nearly always (a full socket read):
/// the one guessed when a length's digits all copy from the lost window.
const USUAL_LEN: &[u8] = b"4096";

/// Header readings tried per start before it is given up.
const INFER_BUDGET: u32 = 2_000;

/// One byte of a candidate's output, decoded without its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sym {
    Known(u8),
    /// A copy of this byte of the lost window.
    Window(u16),
}

/// The first place in `syms` (a candidate's output read without its
/// window) where [`INFER_RECORDS`] chunk records follow each other once
/// some lost window bytes are guessed, and the guess. Chunk headers copy
/// each other all through a recording (` 4096\r\n`), so after a lost
/// window every header may copy from it; but where headers must fall, and
/// what bytes they must hold, tells what those window bytes were. Readings
/// of starts that find no records are taken from `budget_left`.
pub fn guess(
    syms: &[Sym],
    done: bool,
    limits: &Limits,
    budget_left: &mut u64,
) -> Option<(usize, Guess)> {
    let mut guess = Guess::new();
    let mut used = 0u64;
    for start in 0..syms.len().min(INFER_STARTS) {
        let could = |i: usize, v: u8| matches!(syms[i], Sym::Window(_)) || syms[i] == Sym::Known(v);
        // A record follows the CRLF that ends the one before it.
        if start == 1 || (start >= 2 && !(could(start - 2, b'\r') && could(start - 1, b'\n'))) {
            continue;
        }
        if !could(start, b'1') && !matches!(syms[start], Sym::Known(b'0'..=b'9')) {
            continue;
        }
        guess.undo(Mark::default());
        if start >= 2 && !(guess.is(syms[start - 2], b'\r') && guess.is(syms[start - 1], b'\n')) {
            continue;
        }
        let left = budget_left.saturating_sub(used);
        let given = left.min(u64::from(INFER_BUDGET)) as u32;
        if given == 0 {
            break;
        }
        let mut budget = given;
        let mut read = Reading {
            syms,
            guess: &mut guess,
            budget: &mut budget,
            done,
            limits,
        };
        let chained = read.records(start, INFER_RECORDS);
        used += u64::from(given - budget);
        if chained && guess.supported() {
            return Some((start, guess));
        }
    }
    *budget_left = budget_left.saturating_sub(used);
    None
}

/// Lost window bytes guessed from chunk headers: a byte a header's space,
/// CRLF or length copies gets that character's value; a byte a delta copies
/// is only known to be a digit, and gets `1` (its header then reads, and
/// its time is uncertain).
pub struct Guess {
    value: Vec<Option<u8>>,
    digit: Vec<bool>,
    /// What was set, for [`Guess::undo`]: a window byte, and whether it
    /// was only marked a digit.
    trail: Vec<(u16, bool)>,
    /// Header bytes checked, and how many of those a known byte or an
    /// earlier guess already held.
    checks: u32,
    held: u32,
}

/// How far a [`Guess`] had come, to go back to.
#[derive(Clone, Copy, Default)]
struct Mark {
    trail: usize,
    checks: u32,
    held: u32,
}

impl Guess {
    fn new() -> Guess {
        Guess {
            value: vec![None; WINDOW],
            digit: vec![false; WINDOW],
            trail: Vec::new(),
            checks: 0,
            held: 0,
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            trail: self.trail.len(),
            checks: self.checks,
            held: self.held,
        }
    }

    fn undo(&mut self, to: Mark) {
        for (w, only_digit) in self.trail.drain(to.trail..) {
            if only_digit {
                self.digit[usize::from(w)] = false;
            } else {
                self.value[usize::from(w)] = None;
            }
        }
        (self.checks, self.held) = (to.checks, to.held);
    }

    /// Whether window byte `w` was guessed (a digit alone is not).
    pub fn knows(&self, w: u16) -> bool {
        self.value[usize::from(w)].is_some()
    }

    fn get(&self, s: Sym) -> Option<u8> {
        match s {
            Sym::Known(v) => Some(v),
            Sym::Window(w) => self.value[usize::from(w)],
        }
    }

    /// Whether `s` can be `v`, guessing it is when it copies an unguessed
    /// window byte.
    fn is(&mut self, s: Sym, v: u8) -> bool {
        self.checks += 1;
        let w = match s {
            Sym::Known(x) => {
                self.held += u32::from(x == v);
                return x == v;
            }
            Sym::Window(w) => usize::from(w),
        };
        match self.value[w] {
            Some(x) => {
                self.held += u32::from(x == v);
                x == v
            }
            None if self.digit[w] && !v.is_ascii_digit() => false,
            None => {
                self.value[w] = Some(v);
                self.trail.push((w as u16, false));
                true
            }
        }
    }

    /// Whether `s` can be a digit, marking it one when it copies an
    /// unguessed window byte.
    fn is_digit(&mut self, s: Sym) -> bool {
        match s {
            Sym::Known(x) => x.is_ascii_digit(),
            Sym::Window(w) => {
                let w = usize::from(w);
                match self.value[w] {
                    Some(x) => x.is_ascii_digit(),
                    None => {
                        if !self.digit[w] {
                            self.digit[w] = true;
                            self.trail.push((w as u16, true));
                        }
                        true
                    }
                }
            }
        }
    }

    /// Whether most header bytes checked were held by known bytes or by
    /// guesses made for earlier headers: true of a recording's headers,
    /// which copy each other, and not of window copies that merely fail to
    /// contradict a header anywhere.
    fn supported(&self) -> bool {
        self.held * 2 >= self.checks
    }

    /// The window to decode with: guessed bytes, `1` for digits, zeros
    /// elsewhere.
    pub fn window(&self) -> Vec<u8> {
        (0..WINDOW)
            .map(|w| match self.value[w] {
                Some(v) => v,
                None if self.digit[w] => b'1',
                None => 0,
            })
            .collect()
    }
}

/// Reads chunk records over a candidate's output while guessing.
struct Reading<'a> {
    syms: &'a [Sym],
    guess: &'a mut Guess,
    budget: &'a mut u32,
    done: bool,
    limits: &'a Limits,
}

impl Reading<'_> {
    fn at(&self, i: usize) -> Option<Sym> {
        self.syms.get(i).copied()
    }

    /// Whether `left` records follow each other from `h` under some
    /// guess, which is kept when they do.
    fn records(&mut self, h: usize, left: usize) -> bool {
        if left == 0 || (h == self.syms.len() && self.done && left < INFER_RECORDS) {
            return true;
        }
        if *self.budget == 0 {
            return false;
        }
        *self.budget -= 1;
        self.digits_then(h, DELTA_DIGITS, |r, k| {
            matches!(r.at(h + k), Some(space) if r.guess.is(space, b' '))
                && r.length(h + k + 1, left)
        })
    }

    /// Whether a chunk length, CRLF, its payload and CRLF follow at `l`,
    /// then `left - 1` more records.
    fn length(&mut self, l: usize, left: usize) -> bool {
        self.digits_then(l, LEN_DIGITS, |r, m| {
            let digits: Option<Vec<u8>> = (l..l + m).map(|i| r.guess.get(r.syms[i])).collect();
            let spelled = match digits {
                Some(d) => d,
                None if m == USUAL_LEN.len() => USUAL_LEN.to_vec(),
                None => return false,
            };
            r.payload(l, &spelled, left)
        })
    }

    /// Whether `then(m)` holds for some run of 1 to `most` digits at `at`
    /// (shortest first; each longer run holds the shorter one's digits
    /// too). The guesses `then` made are kept when it holds, and every
    /// guess made here is undone when none does.
    fn digits_then(
        &mut self,
        at: usize,
        most: usize,
        mut then: impl FnMut(&mut Self, usize) -> bool,
    ) -> bool {
        let before = self.guess.mark();
        for m in 1..=most {
            let Some(last) = self.at(at + m - 1) else {
                break;
            };
            if !self.guess.is_digit(last) {
                break;
            }
            let mark = self.guess.mark();
            if then(self, m) {
                return true;
            }
            self.guess.undo(mark);
        }
        self.guess.undo(before);
        false
    }

    /// [`Reading::length`] for one spelling of the length.
    fn payload(&mut self, l: usize, spelled: &[u8], left: usize) -> bool {
        if spelled.len() > 1 && spelled[0] == b'0' {
            return false;
        }
        let Some(len) = std::str::from_utf8(spelled)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return false;
        };
        if len > self.limits.max_chunk {
            return false;
        }
        for (i, &v) in spelled.iter().enumerate() {
            if !self.guess.is(self.syms[l + i], v) {
                return false;
            }
        }
        let crlf = l + spelled.len();
        let end = crlf + 2 + len as usize;
        let fits = |r: &mut Reading, at: usize| matches!((r.at(at), r.at(at + 1)), (Some(a), Some(b)) if r.guess.is(a, b'\r') && r.guess.is(b, b'\n'));
        if !fits(self, crlf) {
            return false;
        }
        end + 2 <= self.syms.len() && fits(self, end) && self.records(end + 2, left - 1)
    }
}
