//! RFC 4733 telephone-event receiver: one digit per key press.

use super::Digit;

/// How many recent key presses are remembered to drop retransmissions.
const HISTORY: usize = 8;

/// Turns a stream of telephone-event packets into key presses.
///
/// A key press is identified by its RTP timestamp (the event's start): the
/// start, continuation, three end packets and any retransmission of one
/// press share it, so the digit is reported once, on the first packet that
/// arrives (which may well be an end packet when the start was lost).
#[derive(Debug, Clone, Default)]
pub struct EventReceiver {
    recent: [Option<(u32, u8)>; HISTORY],
    next: usize,
    last_seq: Option<u16>,
}

impl EventReceiver {
    /// A receiver that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event packet; returns the digit on the first
    /// packet of a new key press. Payloads shorter than 4 bytes and events
    /// above 15 (not DTMF) are ignored.
    pub fn feed(&mut self, timestamp: u32, seq: u16, payload: &[u8]) -> Option<Digit> {
        let &[event, _flags, _, _, ..] = payload else {
            return None;
        };
        let digit = Digit::from_event_code(event)?;
        // A packet much older than the newest one is a stale retransmission.
        if let Some(last) = self.last_seq {
            let behind = last.wrapping_sub(seq);
            if behind != 0 && behind < 0x8000 && behind > 1000 {
                return None;
            }
            if seq.wrapping_sub(last) < 0x8000 {
                self.last_seq = Some(seq);
            }
        } else {
            self.last_seq = Some(seq);
        }
        let key = (timestamp, event);
        if self.recent.contains(&Some(key)) {
            return None;
        }
        self.recent[self.next] = Some(key);
        self.next = (self.next + 1) % HISTORY;
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x8A } else { 0x0A }, d[0], d[1]]
    }

    #[test]
    fn one_digit_per_press_with_end_retransmissions() {
        let mut r = EventReceiver::new();
        let mut got = Vec::new();
        let mut seq = 100u16;
        for (ts, ev) in [(8000u32, 5u8), (9600, 11)] {
            for dur in [160u16, 320, 480] {
                got.extend(r.feed(ts, seq, &pkt(ev, false, dur)));
                seq += 1;
            }
            for _ in 0..3 {
                got.extend(r.feed(ts, seq, &pkt(ev, true, 640)));
                seq += 1;
            }
        }
        assert_eq!(got, vec![Digit::D5, Digit::Hash]);
    }

    #[test]
    fn lost_start_still_yields_once() {
        let mut r = EventReceiver::new();
        assert_eq!(r.feed(1000, 1, &pkt(9, true, 800)), Some(Digit::D9));
        assert_eq!(r.feed(1000, 2, &pkt(9, true, 800)), None);
        assert_eq!(r.feed(1000, 3, &pkt(9, true, 800)), None);
    }

    #[test]
    fn same_digit_pressed_again_has_new_timestamp() {
        let mut r = EventReceiver::new();
        assert_eq!(r.feed(1000, 1, &pkt(1, false, 160)), Some(Digit::D1));
        assert_eq!(r.feed(1000, 2, &pkt(1, true, 800)), None);
        assert_eq!(r.feed(3000, 3, &pkt(1, false, 160)), Some(Digit::D1));
        // A late retransmission of the first press is still recognised.
        assert_eq!(r.feed(1000, 2, &pkt(1, true, 800)), None);
    }

    #[test]
    fn non_dtmf_and_short_payloads_ignored() {
        let mut r = EventReceiver::new();
        assert_eq!(r.feed(1, 1, &pkt(16, false, 160)), None);
        assert_eq!(r.feed(2, 2, &pkt(255, true, 160)), None);
        assert_eq!(r.feed(3, 3, &[5, 0, 0]), None);
        assert_eq!(r.feed(4, 4, &[]), None);
        assert_eq!(r.feed(5, 5, &pkt(15, false, 160)), Some(Digit::D));
    }

    #[test]
    fn stale_packet_far_behind_is_ignored() {
        let mut r = EventReceiver::new();
        assert_eq!(r.feed(50_000, 5000, &pkt(2, false, 160)), Some(Digit::D2));
        assert_eq!(r.feed(100, 10, &pkt(3, true, 160)), None);
        assert_eq!(r.feed(51_000, 5001, &pkt(3, false, 160)), Some(Digit::D3));
    }
}
