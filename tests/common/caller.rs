//! A SIP caller written for the tests: sends INVITE/ACK/BYE/INFO over UDP or
//! TCP, receives RTP into a list, and sends RFC 4733 digits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ura_sip::framing::StreamFramer;
use ura_sip::sdp::SessionDescription;
use ura_sip::Message;

/// One received RTP packet.
#[derive(Debug, Clone)]
pub struct Rtp {
    /// Arrival time.
    pub at: Instant,
    /// Marker bit.
    pub marker: bool,
    /// Payload type.
    pub pt: u8,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub ts: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

enum Signalling {
    Udp(UdpSocket),
    Tcp(TcpStream, StreamFramer),
}

/// Collects every RTP packet arriving on `sock` (for at most 120 s, or
/// until the returned list is dropped).
pub fn receive_rtp(sock: Arc<UdpSocket>) -> Arc<Mutex<Vec<Rtp>>> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let r = received.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n < 12 || Arc::strong_count(&r) == 1 {
                    continue;
                }
                let b = &buf[..n];
                r.lock().unwrap().push(Rtp {
                    at: Instant::now(),
                    marker: b[1] & 0x80 != 0,
                    pt: b[1] & 0x7f,
                    seq: u16::from_be_bytes([b[2], b[3]]),
                    ts: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
                    payload: b[12..].to_vec(),
                });
            } else if Arc::strong_count(&r) == 1 {
                return;
            }
        }
    });
    received
}

/// The test caller.
pub struct Caller {
    sig: Signalling,
    local_sip: SocketAddr,
    server: SocketAddr,
    /// RTP socket.
    pub rtp: Arc<UdpSocket>,
    /// Everything received on the RTP socket.
    pub received: Arc<Mutex<Vec<Rtp>>>,
    call_id: String,
    to_tag: Option<String>,
    cseq: u32,
    /// The remote RTP address from the answer.
    pub remote_rtp: Option<SocketAddr>,
    /// The telephone-event PT we offered.
    pub te_pt: u8,
    rtp_seq: u16,
    rtp_ts: u32,
    /// Requests ura sent us (BYE…), in order.
    pub requests: Vec<Message>,
    /// The `c=` value of our offer (`IN IP4 127.0.0.1`, or `IN IP6 ::1`
    /// when calling over IPv6); a test may name an address it cannot be
    /// reached at.
    pub sdp_connection: String,
}

impl Caller {
    /// A caller talking to `server` over UDP (`tcp == false`) or TCP, from
    /// the loopback address of `server`'s family (127.0.0.1 or ::1).
    pub fn new(server: SocketAddr, tcp: bool) -> Caller {
        let loopback: std::net::IpAddr = match server.is_ipv6() {
            true => std::net::Ipv6Addr::LOCALHOST.into(),
            false => std::net::Ipv4Addr::LOCALHOST.into(),
        };
        let (sig, local_sip) = if tcp {
            let s =
                TcpStream::connect_timeout(&server, Duration::from_secs(3)).expect("tcp connect");
            let local = s.local_addr().unwrap();
            (Signalling::Tcp(s, StreamFramer::new()), local)
        } else {
            let s = UdpSocket::bind((loopback, 0)).unwrap();
            let local = s.local_addr().unwrap();
            (Signalling::Udp(s), local)
        };
        let rtp = Arc::new(UdpSocket::bind((loopback, 0)).unwrap());
        let received = receive_rtp(rtp.clone());
        Caller {
            sig,
            local_sip,
            server,
            rtp,
            received,
            call_id: format!("test-{}@127.0.0.1", fastrand::u64(..)),
            to_tag: None,
            cseq: 1,
            remote_rtp: None,
            te_pt: 101,
            rtp_seq: fastrand::u16(..),
            rtp_ts: fastrand::u32(..),
            requests: Vec::new(),
            sdp_connection: match loopback {
                std::net::IpAddr::V6(ip) => format!("IN IP6 {ip}"),
                std::net::IpAddr::V4(ip) => format!("IN IP4 {ip}"),
            },
        }
    }

    fn transport(&self) -> &'static str {
        match self.sig {
            Signalling::Udp(_) => "UDP",
            Signalling::Tcp(..) => "TCP",
        }
    }

    /// Sends raw bytes on the signalling socket.
    pub fn send_raw(&mut self, data: &[u8]) {
        match &mut self.sig {
            Signalling::Udp(s) => {
                s.send_to(data, self.server).unwrap();
            }
            Signalling::Tcp(s, _) => s.write_all(data).unwrap(),
        }
    }

    /// Receives the next SIP message within `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match &mut self.sig {
                Signalling::Udp(s) => {
                    s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                        .unwrap();
                    if let Ok((n, _)) = s.recv_from(&mut buf) {
                        return Message::parse(&buf[..n]).ok();
                    }
                }
                Signalling::Tcp(s, framer) => {
                    if let Ok(Some(m)) = framer.next_message() {
                        return Message::parse(&m).ok();
                    }
                    s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                        .unwrap();
                    match s.read(&mut buf) {
                        Ok(0) => return None,
                        Ok(n) => framer.push(&buf[..n]),
                        Err(_) => {}
                    }
                }
            }
        }
    }

    /// Receives until a response with a final status for `method`.
    pub fn recv_final(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.recv(deadline.checked_duration_since(Instant::now())?)?;
            match m.status() {
                Some(code) if code >= 200 => return Some(m),
                Some(_) => {}
                None => self.requests.push(m),
            }
        }
    }

    fn via(&self) -> String {
        format!(
            "Via: SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.transport(),
            self.local_sip,
            fastrand::u64(..)
        )
    }

    /// The SDP offer we send: PCMU and telephone-event.
    pub fn offer(&self) -> String {
        let port = self.rtp.local_addr().unwrap().port();
        format!(
            "v=0\r\no=test 1 1 {c}\r\ns=-\r\nc={c}\r\nt=0 0\r\n\
m=audio {port} RTP/AVP 0 {te}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:{te} telephone-event/8000\r\n\
a=fmtp:{te} 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
            te = self.te_pt,
            c = self.sdp_connection
        )
    }

    /// The INVITE as bytes (with or without SDP).
    pub fn invite_bytes(&self, number: &str, with_sdp: bool) -> String {
        let body = if with_sdp {
            self.offer()
        } else {
            String::new()
        };
        format!(
            "INVITE sip:{number}@{srv} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
From: <sip:caller@127.0.0.1>;tag=caller1\r\nTo: <sip:{number}@{srv}>\r\nCall-ID: {cid}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:caller@{local};transport={t}>\r\n\
Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
            srv = self.server,
            via = self.via(),
            cid = self.call_id,
            local = self.local_sip,
            t = self.transport().to_lowercase(),
            len = body.len()
        )
    }

    /// INVITE → final response; on 200 sends the ACK. Returns the final.
    pub fn call(&mut self, number: &str) -> Message {
        let invite = self.invite_bytes(number, true);
        self.send_raw(invite.as_bytes());
        let resp = self
            .recv_final(Duration::from_secs(10))
            .expect("a final response to the INVITE");
        if resp.status() == Some(200) {
            self.to_tag = resp.to_tag().map(str::to_string);
            let answer = SessionDescription::parse(&resp.body).expect("SDP in the 200");
            let m = &answer.media[0];
            let ip = m.connection_address(&answer).expect("c= in the answer");
            self.remote_rtp = Some(SocketAddr::new(ip, m.port));
            self.ack(1);
        }
        resp
    }

    /// INVITE from `user` (an agent's phone) to `number`, answering a
    /// digest challenge with `password`; on 200 sends the ACK. Returns the
    /// final status (401 when the password is refused).
    pub fn call_as(&mut self, number: &str, user: &str, password: &str) -> Option<u16> {
        let invite = self.invite_bytes(number, true).replace(
            "sip:caller@127.0.0.1>;tag=caller1",
            &format!("sip:{user}@127.0.0.1>;tag=caller1"),
        );
        self.send_raw(invite.as_bytes());
        let mut resp = self.recv_final(Duration::from_secs(10))?;
        if resp.status() == Some(401) {
            let challenge = resp
                .headers_named("WWW-Authenticate")
                .find(|c| !c.contains("SHA-256"))?
                .to_string();
            let uri = format!("sip:{number}@{}", self.server);
            let auth = super::agent::authorization(user, password, &challenge, "INVITE", &uri);
            self.cseq += 1;
            let again = invite
                .replace("CSeq: 1 INVITE", &format!("CSeq: {} INVITE", self.cseq))
                .replace(
                    "Max-Forwards: 70\r\n",
                    &format!("Max-Forwards: 70\r\nAuthorization: {auth}\r\n"),
                );
            let again = again.replacen(
                ";branch=z9hG4bK",
                &format!(";branch=z9hG4bK{}", fastrand::u32(..)),
                1,
            );
            self.send_raw(again.as_bytes());
            resp = self.recv_final(Duration::from_secs(10))?;
            if resp.status() == Some(401) {
                return Some(401);
            }
        }
        if resp.status() == Some(200) {
            self.to_tag = resp.to_tag().map(str::to_string);
            if let Ok(answer) = SessionDescription::parse(&resp.body) {
                let m = &answer.media[0];
                if let Some(ip) = m.connection_address(&answer) {
                    self.remote_rtp = Some(SocketAddr::new(ip, m.port));
                }
            }
            let cseq = self.cseq;
            self.ack(cseq);
        }
        resp.status()
    }

    /// Sends the ACK for the INVITE's 2xx.
    pub fn ack(&mut self, cseq: u32) {
        let ack = self.in_dialog("ACK", cseq, "", "");
        self.send_raw(ack.as_bytes());
    }

    /// A request in the dialog, as bytes.
    pub fn in_dialog(&self, method: &str, cseq: u32, ctype: &str, body: &str) -> String {
        let ctype = if ctype.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {ctype}\r\n")
        };
        format!(
            "{method} sip:ura@{srv} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
From: <sip:caller@127.0.0.1>;tag=caller1\r\nTo: <sip:9000@{srv}>;tag={tag}\r\nCall-ID: {cid}\r\n\
CSeq: {cseq} {method}\r\n{ctype}Content-Length: {len}\r\n\r\n{body}",
            srv = self.server,
            via = self.via(),
            tag = self.to_tag.as_deref().unwrap_or(""),
            cid = self.call_id,
            len = body.len()
        )
    }

    /// Sends BYE and waits for its 200.
    pub fn bye(&mut self) -> Option<u16> {
        self.cseq += 1;
        let bye = self.in_dialog("BYE", self.cseq, "", "");
        self.send_raw(bye.as_bytes());
        self.recv_final(Duration::from_secs(5))
            .and_then(|m| m.status())
    }

    /// Sends a digit with SIP INFO (dtmf-relay) and waits for the response.
    pub fn info_digit(&mut self, d: char) -> Option<u16> {
        self.cseq += 1;
        let body = format!("Signal={d}\r\nDuration=160\r\n");
        let info = self.in_dialog("INFO", self.cseq, "application/dtmf-relay", &body);
        self.send_raw(info.as_bytes());
        self.recv_final(Duration::from_secs(5))
            .and_then(|m| m.status())
    }

    /// Waits for a request from ura (e.g. BYE) and answers it 200.
    pub fn expect_request(&mut self, method: &str, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self
                .requests
                .iter()
                .position(|m| m.method().is_some_and(|x| x.as_str() == method))
            {
                let m = self.requests.remove(i);
                self.reply_ok(&m);
                return Some(m);
            }
            let m = self.recv(deadline.checked_duration_since(Instant::now())?)?;
            if m.is_request() {
                self.requests.push(m);
            }
        }
    }

    fn reply_ok(&mut self, req: &Message) {
        let mut s = String::from("SIP/2.0 200 OK\r\n");
        for (n, v) in &req.headers {
            if ["Via", "From", "To", "Call-ID", "CSeq"]
                .iter()
                .any(|h| n.eq_ignore_ascii_case(h))
            {
                s.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        self.send_raw(s.as_bytes());
    }

    fn send_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let Some(to) = self.remote_rtp else { return };
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&self.rtp_seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(payload);
        self.rtp_seq = self.rtp_seq.wrapping_add(1);
        self.rtp.send_to(&p, to).unwrap();
    }

    /// Sends one key press as RFC 4733 events: start, two updates, three ends.
    pub fn rfc4733_digit(&mut self, d: char) {
        let event = match d {
            '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => d as u8 - b'A' + 12,
            _ => panic!("not a DTMF key: {d}"),
        };
        self.rtp_ts = self.rtp_ts.wrapping_add(8000);
        let ts = self.rtp_ts;
        for (i, dur) in [160u16, 320, 480].iter().enumerate() {
            let payload = [event, 10, (dur >> 8) as u8, *dur as u8];
            self.send_rtp(self.te_pt, i == 0, ts, &payload);
            std::thread::sleep(Duration::from_millis(20));
        }
        for _ in 0..3 {
            let dur = 640u16;
            let payload = [event, 0x80 | 10, (dur >> 8) as u8, dur as u8];
            self.send_rtp(self.te_pt, false, ts, &payload);
        }
    }

    /// Sends `n` frames of µ-law silence (keeps the stream latched).
    pub fn silence(&mut self, n: usize) {
        for _ in 0..n {
            self.rtp_ts = self.rtp_ts.wrapping_add(160);
            let ts = self.rtp_ts;
            self.send_rtp(0, false, ts, &[0xFF; 160]);
        }
    }

    /// The received audio payloads (PT 0/8), in arrival order.
    pub fn audio(&self) -> Vec<Rtp> {
        audio_of(&self.received)
    }
}

/// The G.711 packets (PT 0/8) of `received`, in arrival order.
pub fn audio_of(received: &Mutex<Vec<Rtp>>) -> Vec<Rtp> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.pt == 0 || p.pt == 8)
        .cloned()
        .collect()
}

/// Audio payloads placed by sequence number: a packet that never arrived
/// (the receiving test thread fell behind on a loaded machine) is `None`.
/// Gaps longer than 50 packets are not filled (a new stream or a jump).
pub fn by_sequence(packets: &[Rtp]) -> Vec<Option<Vec<u8>>> {
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(packets.len());
    let mut last: Option<u16> = None;
    for p in packets {
        if let Some(prev) = last {
            let gap = p.seq.wrapping_sub(prev);
            if gap == 0 || gap > 0x8000 {
                continue; // a duplicate or a late, reordered packet
            }
            if gap <= 50 {
                out.extend(std::iter::repeat_n(None, gap as usize - 1));
            }
        }
        last = Some(p.seq);
        out.push(Some(p.payload.clone()));
    }
    out
}

/// Where `needle` (whole frames) starts in `hay` (from [`by_sequence`]),
/// searching from `from`: every frame that arrived must match, and at most
/// one in ten may be missing.
pub fn find_frames_lossy(hay: &[Option<Vec<u8>>], needle: &[u8], from: usize) -> Option<usize> {
    let frames: Vec<&[u8]> = needle.chunks(160).collect();
    if frames.is_empty() || hay.len() < frames.len() {
        return None;
    }
    let allowed = frames.len() / 10;
    (from..=hay.len() - frames.len()).find(|&i| {
        let mut missing = 0;
        frames.iter().enumerate().all(|(k, f)| match &hay[i + k] {
            Some(got) => got == f,
            None => {
                missing += 1;
                missing <= allowed
            }
        })
    })
}

/// Where `needle` (whole frames) starts in `hay`, searching from `from`.
pub fn find_frames(hay: &[Vec<u8>], needle: &[u8], from: usize) -> Option<usize> {
    let frames: Vec<&[u8]> = needle.chunks(160).collect();
    if frames.is_empty() || hay.len() < frames.len() {
        return None;
    }
    (from..=hay.len() - frames.len())
        .find(|&i| frames.iter().enumerate().all(|(k, f)| hay[i + k] == *f))
}

impl Caller {
    /// Sends a re-INVITE with our offer in `direction` (sendonly = hold) and
    /// ACKs its 200. Returns the answer's SDP text.
    pub fn reinvite(&mut self, direction: &str) -> Option<String> {
        self.cseq += 1;
        let sdp = self
            .offer()
            .replace("a=sendrecv", &format!("a={direction}"));
        let req = self.in_dialog("INVITE", self.cseq, "application/sdp", &sdp);
        let req = req.replacen(
            "Max-Forwards: 70\r\n",
            &format!(
                "Max-Forwards: 70\r\nContact: <sip:caller@{}>\r\n",
                self.local_sip
            ),
            1,
        );
        self.send_raw(req.as_bytes());
        let resp = self.recv_final(Duration::from_secs(5))?;
        if resp.status() != Some(200) {
            return None;
        }
        let cseq = self.cseq;
        self.ack(cseq);
        Some(String::from_utf8_lossy(&resp.body).into_owned())
    }
}

impl Caller {
    /// Sends a DTMF key as in-band tone audio (µ-law RTP): `ms` of tone,
    /// then 100 ms of silence, paced at 20 ms.
    pub fn inband_digit(&mut self, key: char, ms: usize) {
        let (lo, hi) = match key {
            '1' => (697.0, 1209.0),
            '2' => (697.0, 1336.0),
            '3' => (697.0, 1477.0),
            '4' => (770.0, 1209.0),
            '5' => (770.0, 1336.0),
            '6' => (770.0, 1477.0),
            '7' => (852.0, 1209.0),
            '8' => (852.0, 1336.0),
            '9' => (852.0, 1477.0),
            '*' => (941.0, 1209.0),
            '0' => (941.0, 1336.0),
            '#' => (941.0, 1477.0),
            _ => panic!("no tone for {key}"),
        };
        let samples: Vec<i16> = (0..ms * 8)
            .map(|n| {
                let t = n as f64 / 8000.0;
                let v = 6000.0
                    * ((2.0 * std::f64::consts::PI * lo * t).sin()
                        + (2.0 * std::f64::consts::PI * hi * t).sin());
                v as i16
            })
            .chain(std::iter::repeat_n(0, 800))
            .collect();
        for chunk in samples.chunks(160) {
            let mut frame = [0xFFu8; 160];
            for (o, s) in frame.iter_mut().zip(chunk) {
                *o = ura_media::g711::ulaw_encode(*s);
            }
            self.rtp_ts = self.rtp_ts.wrapping_add(160);
            let ts = self.rtp_ts;
            self.send_rtp(0, false, ts, &frame);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Caller {
    /// Sends G.711 µ-law frames as RTP audio, paced at 20 ms.
    pub fn send_audio(&mut self, ulaw: &[u8]) {
        for frame in ulaw.chunks(160) {
            self.rtp_ts = self.rtp_ts.wrapping_add(160);
            let ts = self.rtp_ts;
            self.send_rtp(0, false, ts, frame);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
