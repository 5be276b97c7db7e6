//! DTMF digits and their two detectors: RFC 4733 telephone events and the
//! in-band Goertzel detector.

pub mod inband;
pub mod rfc4733;

use std::fmt;

/// A DTMF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digit {
    /// Key 0.
    D0,
    /// Key 1.
    D1,
    /// Key 2.
    D2,
    /// Key 3.
    D3,
    /// Key 4.
    D4,
    /// Key 5.
    D5,
    /// Key 6.
    D6,
    /// Key 7.
    D7,
    /// Key 8.
    D8,
    /// Key 9.
    D9,
    /// Key `*`.
    Star,
    /// Key `#`.
    Hash,
    /// Key A.
    A,
    /// Key B.
    B,
    /// Key C.
    C,
    /// Key D.
    D,
}

const ALL: [Digit; 16] = [
    Digit::D0,
    Digit::D1,
    Digit::D2,
    Digit::D3,
    Digit::D4,
    Digit::D5,
    Digit::D6,
    Digit::D7,
    Digit::D8,
    Digit::D9,
    Digit::Star,
    Digit::Hash,
    Digit::A,
    Digit::B,
    Digit::C,
    Digit::D,
];

const CHARS: &[u8; 16] = b"0123456789*#ABCD";

impl Digit {
    /// All sixteen keys, in RFC 4733 event-code order.
    pub const ALL: [Digit; 16] = ALL;

    /// The key's character: `'0'..='9'`, `'*'`, `'#'`, `'A'..='D'`.
    pub fn to_char(self) -> char {
        CHARS[self.event_code() as usize] as char
    }

    /// The key for a character (`'a'..='d'` are accepted too).
    pub fn from_char(c: char) -> Option<Digit> {
        let c = c.to_ascii_uppercase();
        CHARS.iter().position(|&x| x as char == c).map(|i| ALL[i])
    }

    /// The RFC 4733 event code: 0-9, `*` = 10, `#` = 11, A-D = 12-15.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The key for an RFC 4733 event code, if it is a DTMF event (0-15).
    pub fn from_event_code(code: u8) -> Option<Digit> {
        ALL.get(code as usize).copied()
    }

    /// The (low group, high group) frequencies in Hz.
    pub fn frequencies(self) -> (f32, f32) {
        let i = KEYPAD.iter().position(|&d| d == self).unwrap_or(0);
        (LOW_GROUP[i / 4], HIGH_GROUP[i % 4])
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

/// Low-group (row) frequencies in Hz.
pub const LOW_GROUP: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz.
pub const HIGH_GROUP: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The keypad, row by row: row i uses `LOW_GROUP[i]`, column j `HIGH_GROUP[j]`.
pub(crate) const KEYPAD: [Digit; 16] = [
    Digit::D1,
    Digit::D2,
    Digit::D3,
    Digit::A,
    Digit::D4,
    Digit::D5,
    Digit::D6,
    Digit::B,
    Digit::D7,
    Digit::D8,
    Digit::D9,
    Digit::C,
    Digit::Star,
    Digit::D0,
    Digit::Hash,
    Digit::D,
];

/// How a digit reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfSource {
    /// RTP telephone-event packets (RFC 4733).
    Rfc4733,
    /// SIP INFO (detected by the signalling layer, not by this crate).
    SipInfo,
    /// Tones in the audio, found by the in-band detector.
    Inband,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chars_and_codes() {
        let s: String = Digit::ALL.iter().map(|d| d.to_char()).collect();
        assert_eq!(s, "0123456789*#ABCD");
        for (i, d) in Digit::ALL.iter().enumerate() {
            assert_eq!(d.event_code() as usize, i);
            assert_eq!(Digit::from_event_code(i as u8), Some(*d));
            assert_eq!(Digit::from_char(d.to_char()), Some(*d));
        }
        assert_eq!(Digit::from_event_code(16), None);
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_char('b'), Some(Digit::B));
        assert_eq!(Digit::Hash.event_code(), 11);
        assert_eq!(Digit::Star.to_string(), "*");
    }

    #[test]
    fn keypad_frequencies() {
        assert_eq!(Digit::D1.frequencies(), (697.0, 1209.0));
        assert_eq!(Digit::D5.frequencies(), (770.0, 1336.0));
        assert_eq!(Digit::D0.frequencies(), (941.0, 1336.0));
        assert_eq!(Digit::Hash.frequencies(), (941.0, 1477.0));
        assert_eq!(Digit::D.frequencies(), (941.0, 1633.0));
        assert_eq!(Digit::C.frequencies(), (852.0, 1633.0));
    }
}
