//! The TCP stream framer (`sip::framing::StreamFramer`): the input is cut
//! into reads of sizes taken from its first bytes; whatever the cuts, the
//! framer yields the same messages, each no larger than the bytes pushed,
//! and never panics. Each framed message goes through `Message::parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_sip::framing::StreamFramer;
use ura_sip::Message;

/// Feeds `data` in reads of the given sizes; the framed messages and
/// whether framing failed.
fn frame(data: &[u8], sizes: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut framer = StreamFramer::new();
    let mut out = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = match sizes.get(i) {
            Some(&s) => usize::from(s).max(1),
            None => data.len() - at,
        };
        i += 1;
        let end = (at + n).min(data.len());
        framer.push(&data[at..end]);
        at = end;
        loop {
            match framer.next_message() {
                Ok(Some(m)) => {
                    assert!(!m.is_empty(), "an empty message was framed");
                    out.push(m);
                }
                Ok(None) => break,
                Err(_) => {
                    let _ = framer.broken_head();
                    return (out, true);
                }
            }
        }
    }
    (out, false)
}

fuzz_target!(|input: &[u8]| {
    // First byte: how many of the next bytes are read sizes.
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(rest.len());
    let (sizes, data) = rest.split_at(k);
    let (cut, cut_failed) = frame(data, sizes);
    let (whole, whole_failed) = frame(data, &[]);
    let total: usize = cut.iter().map(Vec::len).sum();
    assert!(total <= data.len(), "framed more bytes than pushed");
    // One read or many: the same messages, as long as neither failed (a
    // failure may come earlier with one big read, which sees a too large
    // message at once).
    if !cut_failed && !whole_failed {
        assert_eq!(cut, whole, "framing depends on how the stream was cut");
    }
    for m in &cut {
        let _ = Message::parse(m);
    }
});
