//! RTCP (RFC 3550 section 6): sender/receiver reports, compound packet
//! parsing and the receive statistics behind report blocks (appendix A.1,
//! A.3 and A.8).

use crate::MediaError;
use std::time::{SystemTime, UNIX_EPOCH};

/// RTCP packet type of a sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type of a receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type of source description items.
pub const PT_SDES: u8 = 202;

const REPORT_BLOCK_LEN: usize = 24;

/// One reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports about.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0 if none).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s (0 if none).
    pub dlsr: u32,
}

impl ReportBlock {
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        out[4..8].copy_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        out[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.lsr.to_be_bytes());
        out[20..24].copy_from_slice(&self.dlsr.to_be_bytes());
    }

    fn read(b: &[u8]) -> ReportBlock {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let w1 = word(4);
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((w1 << 8) as i32) >> 8;
        ReportBlock {
            ssrc: word(0),
            fraction_lost: (w1 >> 24) as u8,
            cumulative_lost,
            highest_seq: word(8),
            jitter: word(12),
            lsr: word(16),
            dlsr: word(20),
        }
    }
}

/// The sender-info section of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp of the report.
    pub ntp: u64,
    /// RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
}

/// The current wall-clock time as a 64-bit NTP timestamp.
pub fn ntp_now() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + 2_208_988_800;
    let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (the unit of LSR and DLSR: 1/65536 s).
pub const fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

fn too_small(needed: usize, available: usize) -> MediaError {
    MediaError::BufferTooSmall { needed, available }
}

fn write_header(out: &mut [u8], count: u8, pt: u8, len: usize) {
    out[0] = 0x80 | (count & 0x1F);
    out[1] = pt;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

/// Writes an SDES packet with a single CNAME item; returns its length.
fn write_sdes(buf: &mut [u8], ssrc: u32, cname: &str) -> Result<usize, MediaError> {
    let name = &cname.as_bytes()[..cname.len().min(255)];
    // header + ssrc + type + len + text + at least one null, padded to 4.
    let len = (8 + 2 + name.len() + 1).div_ceil(4) * 4;
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(too_small(len, available))?;
    out.fill(0);
    write_header(out, 1, PT_SDES, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8] = 1; // CNAME
    out[9] = name.len() as u8;
    out[10..10 + name.len()].copy_from_slice(name);
    Ok(len)
}

/// Writes a compound RTCP packet: an SR (with `block` as its only report
/// block when given) followed by SDES/CNAME. Returns the length written.
pub fn write_sr(
    buf: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    block: Option<&ReportBlock>,
    cname: &str,
) -> Result<usize, MediaError> {
    let len = 28 + block.map_or(0, |_| REPORT_BLOCK_LEN);
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(too_small(len, available))?;
    write_header(out, block.is_some() as u8, PT_SR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
    out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    if let Some(b) = block {
        b.write(&mut out[28..]);
    }
    Ok(len + write_sdes(&mut buf[len..], ssrc, cname)?)
}

/// Writes a compound RTCP packet: an RR (with `block` when given) followed
/// by SDES/CNAME. Returns the length written.
pub fn write_rr(
    buf: &mut [u8],
    ssrc: u32,
    block: Option<&ReportBlock>,
    cname: &str,
) -> Result<usize, MediaError> {
    let len = 8 + block.map_or(0, |_| REPORT_BLOCK_LEN);
    let available = buf.len();
    let out = buf.get_mut(..len).ok_or(too_small(len, available))?;
    write_header(out, block.is_some() as u8, PT_RR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    if let Some(b) = block {
        b.write(&mut out[8..]);
    }
    Ok(len + write_sdes(&mut buf[len..], ssrc, cname)?)
}

/// What a received compound RTCP packet tells us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcpSummary {
    /// SSRC and NTP timestamp of a sender report in the packet, if any.
    pub sender_report: Option<(u32, u64)>,
    /// The report block about our SSRC, if any.
    pub about_us: Option<ReportBlock>,
}

/// Parses a compound RTCP packet, looking for a sender report and a report
/// block about `our_ssrc`. Never panics.
pub fn parse_compound(data: &[u8], our_ssrc: u32) -> Result<RtcpSummary, MediaError> {
    let mut summary = RtcpSummary::default();
    let mut rest = data;
    if rest.len() < 4 {
        return Err(MediaError::Malformed("RTCP packet shorter than its header"));
    }
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(MediaError::Malformed("RTCP trailing bytes"));
        }
        if rest[0] >> 6 != 2 {
            return Err(MediaError::Malformed("RTCP version is not 2"));
        }
        let count = (rest[0] & 0x1F) as usize;
        let pt = rest[1];
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        let pkt = rest
            .get(..len)
            .ok_or(MediaError::Malformed("RTCP length exceeds the datagram"))?;
        rest = &rest[len..];
        let blocks_at = match pt {
            PT_SR if len >= 28 => {
                let ssrc = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
                let mut ntp = [0u8; 8];
                ntp.copy_from_slice(&pkt[8..16]);
                summary.sender_report = Some((ssrc, u64::from_be_bytes(ntp)));
                28
            }
            PT_RR if len >= 8 => 8,
            PT_SR | PT_RR => return Err(MediaError::Malformed("RTCP report too short")),
            _ => continue,
        };
        let blocks = pkt
            .get(blocks_at..blocks_at + count * REPORT_BLOCK_LEN)
            .ok_or(MediaError::Malformed("RTCP report blocks truncated"))?;
        for chunk in blocks.chunks_exact(REPORT_BLOCK_LEN) {
            let block = ReportBlock::read(chunk);
            if block.ssrc == our_ssrc {
                summary.about_us = Some(block);
            }
        }
    }
    Ok(summary)
}

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// Receive statistics for one remote source (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    initialized: bool,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i32>,
    jitter: f64,
}

impl ReceiveStats {
    fn init_seq(&mut self, seq: u16) {
        self.initialized = true;
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = u32::MAX;
        self.cycles = 0;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
    }

    /// Accounts for a packet with sequence number `seq`.
    ///
    /// Returns `false` when the packet is a wild jump that should be
    /// discarded (a second such packet in sequence restarts the statistics,
    /// as the source was probably restarted).
    pub fn on_sequence(&mut self, seq: u16) -> bool {
        if !self.initialized {
            self.init_seq(seq);
            self.received = 1;
            return true;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER {
            if seq as u32 == self.bad_seq {
                self.init_seq(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & 0xFFFF;
                return false;
            }
        }
        // else: duplicate or reordered packet, counted below.
        self.received += 1;
        true
    }

    /// Updates the interarrival jitter (A.8) with a packet's RTP timestamp
    /// and its arrival time expressed in the same clock (8 kHz units).
    pub fn on_timing(&mut self, rtp_timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp) as i32;
        if let Some(prev) = self.transit {
            let d = transit.wrapping_sub(prev).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Packets expected so far (A.3).
    pub fn expected(&self) -> u64 {
        if !self.initialized {
            return 0;
        }
        (self.extended_max() as u64 + 1).saturating_sub(self.base_seq as u64)
    }

    /// Packets received so far (including duplicates).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost: expected − received (negative with duplicates).
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Whether any packet has been accounted for.
    pub fn has_data(&self) -> bool {
        self.initialized
    }

    /// Builds a report block about `ssrc` and starts a new reporting interval.
    pub fn report_block(&mut self, ssrc: u32, lsr: u32, dlsr: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter as u32,
            lsr,
            dlsr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xAABB_CCDD,
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_seq: 0x0001_0005,
            jitter: 77,
            lsr: 0x1234_5678,
            dlsr: 0x0001_8000,
        }
    }

    #[test]
    fn sr_round_trip_with_block() {
        let mut buf = [0u8; 128];
        let info = SenderInfo {
            ntp: 0x1122_3344_5566_7788,
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let n = write_sr(&mut buf, 42, &info, Some(&block()), "ura@test").unwrap();
        assert_eq!(n % 4, 0);
        assert_eq!(buf[0], 0x81);
        assert_eq!(buf[1], PT_SR);
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 12); // 52 bytes
        let s = parse_compound(&buf[..n], 0xAABB_CCDD).unwrap();
        assert_eq!(s.sender_report, Some((42, info.ntp)));
        assert_eq!(s.about_us, Some(block()));
        // A block about somebody else is not reported as about us.
        assert_eq!(parse_compound(&buf[..n], 1).unwrap().about_us, None);
    }

    #[test]
    fn rr_round_trip() {
        let mut buf = [0u8; 128];
        let n = write_rr(&mut buf, 7, Some(&block()), "x").unwrap();
        let s = parse_compound(&buf[..n], 0xAABB_CCDD).unwrap();
        assert_eq!(s.sender_report, None);
        assert_eq!(s.about_us.unwrap().cumulative_lost, -3);
        let n = write_rr(&mut buf, 7, None, "x").unwrap();
        assert_eq!(buf[0], 0x80);
        assert_eq!(
            parse_compound(&buf[..n], 7).unwrap(),
            RtcpSummary::default()
        );
    }

    /// `write_sr` against the bytes of RFC 3550 section 6.4.1 written out
    /// field by field (not read back with this module's parser).
    #[test]
    fn sr_bytes_follow_rfc3550() {
        let mut buf = [0u8; 128];
        let info = SenderInfo {
            ntp: 0x1122_3344_5566_7788,
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let n = write_sr(&mut buf, 42, &info, Some(&block()), "ura@test").unwrap();
        #[rustfmt::skip]
        let expected: [u8; 72] = [
            // SR: V=2 P=0 RC=1 | PT=200 | length = 52 bytes / 4 - 1 = 12
            0x81, 0xC8, 0x00, 0x0C,
            // SSRC of sender = 42
            0x00, 0x00, 0x00, 0x2A,
            // NTP timestamp, most and least significant words
            0x11, 0x22, 0x33, 0x44,
            0x55, 0x66, 0x77, 0x88,
            // RTP timestamp = 160
            0x00, 0x00, 0x00, 0xA0,
            // sender's packet count = 10
            0x00, 0x00, 0x00, 0x0A,
            // sender's octet count = 1600
            0x00, 0x00, 0x06, 0x40,
            // report block 1: SSRC_1
            0xAA, 0xBB, 0xCC, 0xDD,
            // fraction lost = 64/256 | cumulative lost = -3 (24-bit two's complement)
            0x40, 0xFF, 0xFF, 0xFD,
            // extended highest sequence number: cycles 1, seq 5
            0x00, 0x01, 0x00, 0x05,
            // interarrival jitter = 77
            0x00, 0x00, 0x00, 0x4D,
            // last SR (LSR)
            0x12, 0x34, 0x56, 0x78,
            // delay since last SR (DLSR) = 1.5 s in 1/65536 s
            0x00, 0x01, 0x80, 0x00,
            // SDES (section 6.5): V=2 P=0 SC=1 | PT=202 | length = 20 / 4 - 1 = 4
            0x81, 0xCA, 0x00, 0x04,
            // chunk: SSRC = 42
            0x00, 0x00, 0x00, 0x2A,
            // CNAME=1 | length 8 | "ur"
            0x01, 0x08, b'u', b'r',
            // "a@te"
            b'a', b'@', b't', b'e',
            // "st" | end of list (null) | padding to 32 bits
            b's', b't', 0x00, 0x00,
        ];
        assert_eq!(&buf[..n], &expected[..]);
    }

    /// `write_rr` against the bytes of RFC 3550 section 6.4.2.
    #[test]
    fn rr_bytes_follow_rfc3550() {
        let mut buf = [0u8; 128];
        let n = write_rr(&mut buf, 7, Some(&block()), "x").unwrap();
        #[rustfmt::skip]
        let expected: [u8; 44] = [
            // RR: V=2 P=0 RC=1 | PT=201 | length = 32 / 4 - 1 = 7
            0x81, 0xC9, 0x00, 0x07,
            // SSRC of packet sender = 7
            0x00, 0x00, 0x00, 0x07,
            // report block: SSRC_1, loss, highest seq, jitter, LSR, DLSR
            0xAA, 0xBB, 0xCC, 0xDD,
            0x40, 0xFF, 0xFF, 0xFD,
            0x00, 0x01, 0x00, 0x05,
            0x00, 0x00, 0x00, 0x4D,
            0x12, 0x34, 0x56, 0x78,
            0x00, 0x01, 0x80, 0x00,
            // SDES: SC=1 | PT=202 | length = 12 / 4 - 1 = 2
            0x81, 0xCA, 0x00, 0x02,
            // chunk SSRC = 7; CNAME, length 1, "x", end of list
            0x00, 0x00, 0x00, 0x07,
            0x01, 0x01, b'x', 0x00,
        ];
        assert_eq!(&buf[..n], &expected[..]);
        // Without a block: RC=0 and an 8-byte RR.
        let n = write_rr(&mut buf, 7, None, "x").unwrap();
        assert_eq!(&buf[..8], &[0x80, 0xC9, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07]);
        assert_eq!(n, 8 + 12);
    }

    /// A compound packet as another implementation sends it, written by
    /// hand: an RR with two report blocks (ours second), SDES with CNAME
    /// and TOOL items, then a BYE.
    #[test]
    fn parses_a_hand_written_compound_rr() {
        #[rustfmt::skip]
        let packet: [u8; 84] = [
            // RR: V=2 P=0 RC=2 | PT=201 | length = 56 / 4 - 1 = 13
            0x82, 0xC9, 0x00, 0x0D,
            // SSRC of packet sender
            0x01, 0x02, 0x03, 0x04,
            // block 1, about 0x11111111: fraction 0, cumulative lost -1
            0x11, 0x11, 0x11, 0x11,
            0x00, 0xFF, 0xFF, 0xFF,
            0x00, 0x00, 0x00, 0x10,
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
            // block 2, about 0x0000BEEF: fraction 25/256, cumulative lost 258
            0x00, 0x00, 0xBE, 0xEF,
            0x19, 0x00, 0x01, 0x02,
            // extended highest sequence: cycles 2, seq 0xFFFF
            0x00, 0x02, 0xFF, 0xFF,
            // jitter 0x123, LSR, DLSR = 2.25 s
            0x00, 0x00, 0x01, 0x23,
            0x89, 0xAB, 0xCD, 0xEF,
            0x00, 0x02, 0x40, 0x00,
            // SDES: SC=1 | PT=202 | length = 20 / 4 - 1 = 4
            0x81, 0xCA, 0x00, 0x04,
            0x01, 0x02, 0x03, 0x04,
            // CNAME "ab", TOOL(6) "xyz", end of list, padding
            0x01, 0x02, b'a', b'b',
            0x06, 0x03, b'x', b'y',
            b'z', 0x00, 0x00, 0x00,
            // BYE: SC=1 | PT=203 | length 1 | SSRC
            0x81, 0xCB, 0x00, 0x01,
            0x01, 0x02, 0x03, 0x04,
        ];
        let s = parse_compound(&packet, 0xBEEF).unwrap();
        assert_eq!(s.sender_report, None);
        assert_eq!(
            s.about_us,
            Some(ReportBlock {
                ssrc: 0xBEEF,
                fraction_lost: 25,
                cumulative_lost: 258,
                highest_seq: 0x0002_FFFF,
                jitter: 0x123,
                lsr: 0x89AB_CDEF,
                dlsr: 0x0002_4000,
            })
        );
        let other = parse_compound(&packet, 0x1111_1111).unwrap().about_us;
        assert_eq!(
            other.map(|b| (b.cumulative_lost, b.highest_seq)),
            Some((-1, 16))
        );
    }

    #[test]
    fn malformed_rtcp_is_rejected() {
        let mut buf = [0u8; 128];
        let n = write_rr(&mut buf, 7, Some(&block()), "x").unwrap();
        for cut in 0..n {
            if cut == 32 {
                continue; // exactly the RR without SDES is a valid packet
            }
            assert!(parse_compound(&buf[..cut], 7).is_err(), "cut at {cut}");
        }
        let mut bad = buf;
        bad[0] = 0x41;
        assert!(parse_compound(&bad[..n], 7).is_err());
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..50_000 {
            let len = rng.usize(0..80);
            let v: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let _ = parse_compound(&v, 7);
        }
    }

    #[test]
    fn sequence_loss_and_wrap() {
        let mut s = ReceiveStats::default();
        for seq in (65530u16..=65535).chain(0..10) {
            if seq == 3 || seq == 4 {
                continue;
            }
            assert!(s.on_sequence(seq));
        }
        assert_eq!(s.extended_max(), 65536 + 9);
        assert_eq!(s.expected(), 16);
        assert_eq!(s.received(), 14);
        assert_eq!(s.lost(), 2);
        let b = s.report_block(9, 0, 0);
        assert_eq!(b.fraction_lost, (2 * 256 / 16) as u8);
        assert_eq!(b.cumulative_lost, 2);
        // Next interval without loss reports fraction 0, cumulative still 2.
        for seq in 10..20 {
            s.on_sequence(seq);
        }
        let b = s.report_block(9, 0, 0);
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 2));
    }

    #[test]
    fn wild_jump_needs_two_packets_to_restart() {
        let mut s = ReceiveStats::default();
        s.on_sequence(100);
        s.on_sequence(101);
        assert!(!s.on_sequence(30_000));
        assert_eq!(s.extended_max(), 101);
        assert!(s.on_sequence(30_001));
        assert_eq!(s.extended_max(), 30_001);
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn jitter_estimator() {
        let mut s = ReceiveStats::default();
        // Perfectly paced: zero jitter.
        for i in 0..50u32 {
            s.on_timing(i * 160, 1000 + i * 160);
        }
        assert_eq!(s.jitter(), 0.0);
        // Delay alternating between 0 and 40 samples: D = 40 every packet.
        for i in 50..400u32 {
            let wobble = if i % 2 == 0 { 40 } else { 0 };
            s.on_timing(i * 160, 1000 + i * 160 + wobble);
        }
        assert!((s.jitter() - 40.0).abs() < 1.0, "{}", s.jitter());
    }

    #[test]
    fn ntp_now_is_after_2020() {
        let secs = ntp_now() >> 32;
        assert!(secs > 3_786_825_600, "{secs}"); // 2020-01-01 in NTP seconds
        assert_eq!(ntp_middle(0x1122_3344_5566_7788), 0x3344_5566);
    }
}
