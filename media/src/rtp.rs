//! RTP packets (RFC 3550 section 5.1): header parsing and writing.

use crate::MediaError;

/// Length of an RTP header without CSRCs or extension.
pub const HEADER_LEN: usize = 12;

/// The fixed part of an RTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// Padding bit: the payload is followed by padding whose length is the last byte.
    pub padding: bool,
    /// Extension bit: a header extension follows the CSRC list.
    pub extension: bool,
    /// Number of CSRC identifiers (0-15).
    pub csrc_count: u8,
    /// Marker bit (start of a talkspurt for audio).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes a 12-byte header (no CSRCs, no extension, no padding) into `buf`.
    ///
    /// Returns the number of bytes written.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, MediaError> {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(MediaError::BufferTooSmall {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        };
        out[0] = 0x80;
        out[1] = (self.payload_type & 0x7F) | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Ok(HEADER_LEN)
    }
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header.
    pub header: RtpHeader,
    /// The payload, after CSRCs and extension and without padding.
    pub payload: &'a [u8],
}

/// Parses an RTP datagram. Never panics; rejects anything that is not a
/// well-formed version-2 packet.
pub fn parse(data: &[u8]) -> Result<RtpPacket<'_>, MediaError> {
    if data.len() < HEADER_LEN {
        return Err(MediaError::Malformed("RTP packet shorter than its header"));
    }
    let b0 = data[0];
    if b0 >> 6 != 2 {
        return Err(MediaError::Malformed("RTP version is not 2"));
    }
    let header = RtpHeader {
        padding: b0 & 0x20 != 0,
        extension: b0 & 0x10 != 0,
        csrc_count: b0 & 0x0F,
        marker: data[1] & 0x80 != 0,
        payload_type: data[1] & 0x7F,
        sequence: u16::from_be_bytes([data[2], data[3]]),
        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
    };
    let mut start = HEADER_LEN + 4 * header.csrc_count as usize;
    if header.extension {
        let ext = data
            .get(start..start + 4)
            .ok_or(MediaError::Malformed("RTP extension header truncated"))?;
        let words = u16::from_be_bytes([ext[2], ext[3]]) as usize;
        start += 4 + 4 * words;
    }
    let mut end = data.len();
    if header.padding {
        let pad = data[end - 1] as usize;
        if pad == 0 {
            return Err(MediaError::Malformed("RTP padding length is zero"));
        }
        end = end.saturating_sub(pad);
    }
    if start > end {
        return Err(MediaError::Malformed("RTP header longer than the packet"));
    }
    Ok(RtpPacket {
        header,
        payload: &data[start..end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 0xFFFE,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x0102_0304,
            ..RtpHeader::default()
        }
    }

    #[test]
    fn write_then_parse() {
        let mut buf = [0u8; 32];
        let n = sample_header().write(&mut buf).unwrap();
        assert_eq!(n, 12);
        assert_eq!(&buf[..4], &[0x80, 0x88, 0xFF, 0xFE]);
        buf[12..16].copy_from_slice(b"abcd");
        let p = parse(&buf[..16]).unwrap();
        assert_eq!(p.header, sample_header());
        assert_eq!(p.payload, b"abcd");
    }

    #[test]
    fn write_into_short_buffer_fails() {
        let mut buf = [0u8; 11];
        assert!(matches!(
            sample_header().write(&mut buf),
            Err(MediaError::BufferTooSmall {
                needed: 12,
                available: 11
            })
        ));
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let mut pkt = vec![0xB2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        pkt.extend_from_slice(&[1, 1, 1, 1, 2, 2, 2, 2]); // two CSRCs
        pkt.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // one-word extension
        pkt.extend_from_slice(b"xyz");
        pkt.extend_from_slice(&[0, 0, 3]); // three padding bytes
        let p = parse(&pkt).unwrap();
        assert!(p.header.padding && p.header.extension);
        assert_eq!(p.header.csrc_count, 2);
        assert_eq!(p.header.sequence, 1);
        assert_eq!(p.header.timestamp, 2);
        assert_eq!(p.header.ssrc, 3);
        assert_eq!(p.payload, b"xyz");
    }

    #[test]
    fn rejects_bad_packets() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x80; 11]).is_err());
        let mut v1 = [0u8; 12];
        v1[0] = 0x40;
        assert!(parse(&v1).is_err(), "version 1");
        let mut csrc = [0u8; 16];
        csrc[0] = 0x82; // two CSRCs but room for one
        assert!(parse(&csrc).is_err());
        let mut pad = [0u8; 13];
        pad[0] = 0xA0;
        pad[12] = 5; // more padding than payload
        assert!(parse(&pad).is_err());
        pad[12] = 0;
        assert!(parse(&pad).is_err(), "zero padding length");
        let mut ext = [0u8; 16];
        ext[0] = 0x90;
        ext[15] = 2; // extension claims two words, none present
        assert!(parse(&ext).is_err());
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut accepted = 0;
        for _ in 0..200_000 {
            let len = rng.usize(0..64);
            let mut buf: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            if rng.bool() && !buf.is_empty() {
                buf[0] = (buf[0] & 0x3F) | 0x80; // make it look like version 2
            }
            if let Ok(p) = parse(&buf) {
                accepted += 1;
                assert!(p.payload.len() <= buf.len() - HEADER_LEN);
            }
        }
        // A well-formed packet truncated at every length.
        let mut full = [0u8; 40];
        full[0] = 0xB1;
        full[14] = 0;
        full[15] = 1;
        full[39] = 4;
        for n in 0..=full.len() {
            let _ = parse(&full[..n]);
        }
        assert!(
            accepted > 1000,
            "the generator should also produce valid packets"
        );
    }
}
