//! RFC 4733 telephone events: a sequence of RTP packets carrying events
//! (each 10 bytes: timestamp, sequence number, 4 payload bytes) fed to
//! one `EventReceiver`. A digit is reported only for a packet whose event
//! is a DTMF key, and once per key press among the recent ones.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_media::dtmf::rfc4733::EventReceiver;
use ura_media::Digit;

fuzz_target!(|data: &[u8]| {
    let mut r = EventReceiver::new();
    let mut reported: Vec<(u32, u8)> = Vec::new();
    for chunk in data.chunks(10) {
        let (ts, rest) = chunk.split_at(chunk.len().min(4));
        let ts = u32::from_be_bytes(pad(ts));
        let (seq, payload) = rest.split_at(rest.len().min(2));
        let seq = u16::from_be_bytes(pad(seq));
        if let Some(d) = r.feed(ts, seq, payload) {
            let event = payload[0];
            assert_eq!(Digit::from_event_code(event), Some(d));
            // Not reported again while the press is among the last few.
            let recent = &reported[reported.len().saturating_sub(7)..];
            assert!(
                !recent.contains(&(ts, event)),
                "reported twice: {ts} {event}"
            );
            reported.push((ts, event));
        }
    }
});

/// The bytes left-padded with zeros to N.
fn pad<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out[N - b.len()..].copy_from_slice(b);
    out
}
