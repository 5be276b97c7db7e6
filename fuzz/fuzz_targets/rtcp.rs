//! RTCP: `rtcp::parse_compound` on any datagram (our SSRC from the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ura_media::rtcp;

fuzz_target!(|data: &[u8]| {
    let Some((ssrc, packet)) = data.split_first_chunk::<4>() else {
        return;
    };
    let _ = rtcp::parse_compound(packet, u32::from_be_bytes(*ssrc));
});
