//! RTP: `rtp::parse` on any datagram; an accepted packet's header written
//! back and parsed again gives the same header fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_media::rtp;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = rtp::parse(data) else {
        return;
    };
    assert!(p.payload.len() <= data.len());
    let mut h = p.header;
    // Written back without CSRCs, extension or padding (what ura sends).
    h.csrc_count = 0;
    h.extension = false;
    h.padding = false;
    let mut buf = [0u8; 64];
    let n = h
        .write(&mut buf)
        .expect("a 12-byte header fits in 64 bytes");
    let again = rtp::parse(&buf[..n]).expect("a header we wrote parses");
    assert_eq!(again.header, h);
});
