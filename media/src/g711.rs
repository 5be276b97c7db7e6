//! ITU-T G.711 µ-law (PCMU) and A-law (PCMA) codecs.
//!
//! Linear samples are 16-bit. G.711 itself works on 14-bit (µ-law) and
//! 13-bit (A-law) magnitudes; we scale by 4 and 8 respectively, so the
//! decoder output values are exactly the standard's values times that
//! scale, and the encoder's decision levels are the standard's decision
//! levels times that scale.

/// A G.711 law, as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The code word closest to silence: 0xFF (µ-law) or 0xD5 (A-law).
    pub const fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// The SDP encoding name: `"PCMU"` or `"PCMA"`.
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec with this static payload type, if it is 0 or 8.
    pub const fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }
}

/// Largest 14-bit µ-law magnitude the encoder distinguishes (8159 − 1).
const ULAW_CLIP: u32 = 8158;
/// The µ-law bias in 14-bit units.
const ULAW_BIAS: u32 = 33;

/// µ-law segment and step (before sign and inversion) of a 14-bit magnitude.
const fn ulaw_magnitude_code(mag14: u32) -> u8 {
    // Biased so that the segment is the position of the leading one
    // (33 ..= 8191 → bits 5 ..= 12).
    let clipped = if mag14 > ULAW_CLIP { ULAW_CLIP } else { mag14 };
    let biased = clipped + ULAW_BIAS;
    let exponent = 26 - biased.leading_zeros(); // leading bit index − 5
    let mantissa = (biased >> (exponent + 1)) & 0x0F;
    ((exponent as u8) << 4) | mantissa as u8
}

/// A-law segment and step (before sign and even-bit inversion) of a
/// 13-bit magnitude.
const fn alaw_magnitude_code(mag13: u32) -> u8 {
    let mag = if mag13 > 4095 { 4095 } else { mag13 };
    if mag < 32 {
        (mag >> 1) as u8
    } else {
        let exponent = 27 - mag.leading_zeros(); // 1 ..= 7
        let mantissa = (mag >> exponent) & 0x0F;
        ((exponent as u8) << 4) | mantissa as u8
    }
}

const fn build_encode_table<const N: usize>(alaw: bool) -> [u8; N] {
    let mut t = [0u8; N];
    let mut i = 0;
    while i < N {
        t[i] = if alaw {
            alaw_magnitude_code(i as u32)
        } else {
            ulaw_magnitude_code(i as u32)
        };
        i += 1;
    }
    t
}

/// Code (without sign) for every 14-bit µ-law magnitude, 0 ..= 8192.
static ULAW_ENCODE: [u8; 8193] = build_encode_table(false);
/// Code (without sign) for every 13-bit A-law magnitude, 0 ..= 4096.
static ALAW_ENCODE: [u8; 4097] = build_encode_table(true);

/// Encodes one 16-bit sample to µ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    let sign = if sample < 0 { 0x80 } else { 0x00 };
    let mag = (sample as i32).unsigned_abs() >> 2;
    !(sign | ULAW_ENCODE[mag as usize])
}

/// Decodes one µ-law code to a 16-bit sample (standard value × 4).
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// Encodes one 16-bit sample to A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let sign = if sample < 0 { 0x00 } else { 0x80 };
    let mag = (sample as i32).unsigned_abs() >> 3;
    (sign | ALAW_ENCODE[mag as usize]) ^ 0x55
}

/// Decodes one A-law code to a 16-bit sample (standard value × 8).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// Encodes `pcm` into `out` with `codec`; converts `min(pcm.len(), out.len())` samples.
pub fn encode(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    match codec {
        Codec::Pcmu => {
            for (o, &s) in out.iter_mut().zip(pcm) {
                *o = ulaw_encode(s);
            }
        }
        Codec::Pcma => {
            for (o, &s) in out.iter_mut().zip(pcm) {
                *o = alaw_encode(s);
            }
        }
    }
}

/// Decodes `g711` into `out` with `codec`; converts `min(g711.len(), out.len())` codes.
pub fn decode(codec: Codec, g711: &[u8], out: &mut [i16]) {
    let table = match codec {
        Codec::Pcmu => &ULAW_TABLE,
        Codec::Pcma => &ALAW_TABLE,
    };
    for (o, &c) in out.iter_mut().zip(g711) {
        *o = table[c as usize];
    }
}

const fn ulaw_decode_formula(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    // G.711 µ-law output value in 14-bit units: (2m + 33)·2^e − 33.
    let mag = (((2 * mantissa + 33) << exponent) - 33) * 4;
    if u & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

const fn alaw_decode_formula(code: u8) -> i16 {
    let u = code ^ 0x55;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    // G.711 A-law output value in 13-bit units: 2m + 1 in segment 0,
    // (2m + 33)·2^(e−1) above.
    let mag = if exponent == 0 {
        2 * mantissa + 1
    } else {
        (2 * mantissa + 33) << (exponent - 1)
    } * 8;
    if u & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_formula(i as u8)
        } else {
            ulaw_decode_formula(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_TABLE: [i16; 256] = build_table(false);
static ALAW_TABLE: [i16; 256] = build_table(true);

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent restatement of G.711 Table 2a (µ-law): for segment `s`
    /// (0..=7) and step `q` (0..=15) the decoder output (14-bit units).
    fn ulaw_standard_output(s: i32, q: i32) -> i32 {
        // Segment s has 16 intervals of 2^(s+1) starting at 2^(s+5) − 33;
        // the output is the interval midpoint. Segment 0 starts at −1, so
        // its first interval is really [0, 1) with output 0.
        let width = 1 << (s + 1);
        let start = (1 << (s + 5)) - 33;
        if s == 0 && q == 0 {
            0
        } else {
            start + q * width + width / 2
        }
    }

    #[test]
    fn ulaw_known_codes() {
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8); // 2 in 14-bit units
        assert_eq!(ulaw_decode(0xEF), 33 * 4); // first step of segment 1
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
    }

    #[test]
    fn ulaw_all_codes_match_standard_table() {
        for code in 0..=255u8 {
            let u = !code;
            let s = ((u >> 4) & 7) as i32;
            let q = (u & 15) as i32;
            let mag = ulaw_standard_output(s, q) * 4;
            let expect = if u & 0x80 != 0 { -mag } else { mag };
            assert_eq!(ulaw_decode(code) as i32, expect, "code {code:#04x}");
        }
    }

    #[test]
    fn alaw_known_codes() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn alaw_all_codes_match_standard_table() {
        // G.711 Table 1a: segment 0 and 1 have intervals of 2 starting at 0
        // and 32; segment s ≥ 1 starts at 2^(s+4) with intervals of 2^s.
        for code in 0..=255u8 {
            let u = code ^ 0x55;
            let s = ((u >> 4) & 7) as i32;
            let q = (u & 15) as i32;
            let (start, width) = if s == 0 {
                (0, 2)
            } else {
                (1 << (s + 4), 1 << s)
            };
            let mag = (start + q * width + width / 2) * 8;
            let expect = if u & 0x80 != 0 { mag } else { -mag };
            assert_eq!(alaw_decode(code) as i32, expect, "code {code:#04x}");
        }
    }

    #[test]
    fn ulaw_decision_levels() {
        // Decision values (14-bit) between consecutive steps; just below
        // the boundary stays in the lower step, at the boundary moves up.
        for s in 0..8 {
            for q in 0..16 {
                if s == 0 && q == 0 {
                    continue;
                }
                let width = 1 << (s + 1);
                let start = (1 << (s + 5)) - 33;
                let lower = start + q * width;
                let at = (lower * 4) as i16;
                let below = (lower * 4 - 1) as i16;
                let code_at = !((s << 4) as u8 | q as u8);
                assert_eq!(ulaw_encode(at), code_at, "s{s} q{q} at {at}");
                assert_ne!(ulaw_encode(below), code_at, "s{s} q{q} below {below}");
                assert_eq!(ulaw_encode(-at), code_at & 0x7F, "negative s{s} q{q}");
            }
        }
    }

    #[test]
    fn alaw_decision_levels() {
        for s in 0..8 {
            for q in 0..16 {
                if s == 0 && q == 0 {
                    continue;
                }
                let (start, width) = if s == 0 {
                    (0, 2)
                } else {
                    (1 << (s + 4), 1 << s)
                };
                let lower = start + q * width;
                let at = (lower * 8) as i16;
                let code_at = (0x80 | (s << 4) as u8 | q as u8) ^ 0x55;
                assert_eq!(alaw_encode(at), code_at, "s{s} q{q}");
                assert_ne!(alaw_encode(at - 1), code_at, "s{s} q{q} below");
                assert_eq!(alaw_encode(-at), code_at ^ 0x80, "negative s{s} q{q}");
            }
        }
    }

    #[test]
    fn round_trip_all_codes() {
        for code in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF, "negative zero aliases to positive zero");
            } else {
                assert_eq!(back, code, "µ-law {code:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn slice_versions_match_scalar() {
        let pcm: Vec<i16> = (0..400)
            .map(|i| ((i * 977) % 65536 - 32768) as i16)
            .collect();
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut enc = vec![0u8; pcm.len()];
            encode(codec, &pcm, &mut enc);
            let mut dec = vec![0i16; pcm.len()];
            decode(codec, &enc, &mut dec);
            for (i, &s) in pcm.iter().enumerate() {
                let (e, d) = match codec {
                    Codec::Pcmu => (ulaw_encode(s), ulaw_decode(ulaw_encode(s))),
                    Codec::Pcma => (alaw_encode(s), alaw_decode(alaw_encode(s))),
                };
                assert_eq!(enc[i], e);
                assert_eq!(dec[i], d);
                // Quantisation error is bounded by half a step (≤ 1/32 of
                // the magnitude plus the smallest step).
                let err = (d as i32 - s as i32).abs();
                assert!(
                    err <= (s as i32).abs() / 16 + 16 || (s as i32).abs() > 32000,
                    "{s} → {d}"
                );
            }
        }
    }

    #[test]
    fn codec_metadata() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcmu.silence_byte(), 0xFF);
        assert_eq!(Codec::Pcma.silence_byte(), 0xD5);
        assert_eq!(Codec::Pcmu.encoding_name(), "PCMU");
        assert_eq!(Codec::Pcma.encoding_name(), "PCMA");
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(3), None);
    }
}
