//! An agent's softphone written for the tests: REGISTERs with digest
//! authentication, answers (or ignores, or refuses) the calls ura places,
//! sends and records RTP, hangs up, holds and transfers.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use ura_sip::sdp::SessionDescription;
use ura_sip::Message;

use super::caller::Rtp;

/// A test softphone registered as an agent.
pub struct Phone {
    /// The extension.
    pub ext: String,
    password: String,
    sip: UdpSocket,
    /// Our SIP address.
    pub local_sip: SocketAddr,
    server: SocketAddr,
    /// RTP socket.
    pub rtp: Arc<UdpSocket>,
    /// Everything received on the RTP socket.
    pub received: Arc<Mutex<Vec<Rtp>>>,
    reg_call_id: String,
    reg_cseq: u32,
    /// The call in progress: the INVITE we answered.
    pub invite: Option<Message>,
    /// Our tag in that call.
    tag: String,
    /// Where to send RTP (from the INVITE's offer).
    pub remote_rtp: Option<SocketAddr>,
    cseq: u32,
    rtp_seq: u16,
    rtp_ts: u32,
    /// Requests that arrived while we waited for something else.
    pub pending: Vec<Message>,
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Phone {
    /// A phone for agent `ext` talking to ura at `server` over UDP.
    pub fn new(server: SocketAddr, ext: &str, password: &str) -> Phone {
        Phone::new_at("127.0.0.1", server, ext, password)
    }

    /// The same, from another loopback address (e.g. `127.0.0.2`).
    pub fn new_at(ip: &str, server: SocketAddr, ext: &str, password: &str) -> Phone {
        let sip = UdpSocket::bind((ip, 0)).unwrap();
        let local_sip = sip.local_addr().unwrap();
        let rtp = Arc::new(UdpSocket::bind((ip, 0)).unwrap());
        let received = super::caller::receive_rtp(rtp.clone());
        Phone {
            ext: ext.into(),
            password: password.into(),
            sip,
            local_sip,
            server,
            rtp,
            received,
            reg_call_id: format!("reg-{}@127.0.0.1", fastrand::u64(..)),
            reg_cseq: 0,
            invite: None,
            tag: format!("ph{}", fastrand::u32(..)),
            remote_rtp: None,
            cseq: 1,
            rtp_seq: fastrand::u16(..),
            rtp_ts: fastrand::u32(..),
            pending: Vec::new(),
        }
    }

    /// Sends raw bytes to ura.
    pub fn send_raw(&self, data: &[u8]) {
        self.sip.send_to(data, self.server).unwrap();
    }

    /// The next SIP message within `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.sip
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            if let Ok((n, _)) = self.sip.recv_from(&mut buf) {
                if let Ok(m) = Message::parse(&buf[..n]) {
                    return Some(m);
                }
            }
        }
    }

    fn register_bytes(&mut self, expires: u32, auth: Option<String>) -> String {
        self.reg_cseq += 1;
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        format!(
            "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{ext}@{srv}>;tag=r{ext}\r\nTo: <sip:{ext}@{srv}>\r\n\
Call-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@{local}>\r\nExpires: {expires}\r\n\
{auth}User-Agent: ura-test-phone\r\nContent-Length: 0\r\n\r\n",
            srv = self.server,
            local = self.local_sip,
            b = fastrand::u64(..),
            ext = self.ext,
            cid = self.reg_call_id,
            cseq = self.reg_cseq,
        )
    }

    /// The Authorization header answering `challenge` for `method` `uri`.
    pub fn authorization(&self, challenge: &str, method: &str, uri: &str) -> String {
        authorization(&self.ext, &self.password, challenge, method, uri)
    }

    /// REGISTER with `expires`, answering the challenge; the final status.
    pub fn register(&mut self, expires: u32) -> Option<u16> {
        let req = self.register_bytes(expires, None);
        self.send_raw(req.as_bytes());
        let resp = self.final_response(Duration::from_secs(5))?;
        if resp.status() != Some(401) {
            return resp.status();
        }
        let challenge = resp
            .headers_named("WWW-Authenticate")
            .find(|c| !c.contains("SHA-256"))
            .expect("an MD5 challenge")
            .to_string();
        let uri = format!("sip:{}", self.server);
        let auth = self.authorization(&challenge, "REGISTER", &uri);
        let req = self.register_bytes(expires, Some(auth));
        self.send_raw(req.as_bytes());
        self.final_response(Duration::from_secs(5))
            .and_then(|m| m.status())
    }

    fn final_response(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.recv(deadline.checked_duration_since(Instant::now())?)?;
            match m.status() {
                Some(code) if code >= 200 => return Some(m),
                Some(_) => {}
                None => self.pending.push(m),
            }
        }
    }

    /// Waits for a request `method` (answering nothing).
    pub fn wait_request(&mut self, method: &str, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self
                .pending
                .iter()
                .position(|m| m.method().is_some_and(|x| x.as_str() == method))
            {
                return Some(self.pending.remove(i));
            }
            let m = self.recv(deadline.checked_duration_since(Instant::now())?)?;
            if m.is_request() {
                self.pending.push(m);
            }
        }
    }

    /// A response to `req` with `code`, our tag on To, and `extra` headers
    /// and body.
    pub fn response(&self, req: &Message, code: u16, reason: &str, body: &str) -> String {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for (n, v) in &req.headers {
            if n.eq_ignore_ascii_case("To") && !v.contains("tag=") && code > 100 {
                s.push_str(&format!("{n}: {v};tag={}\r\n", self.tag));
            } else if ["Via", "From", "To", "Call-ID", "CSeq", "Record-Route"]
                .iter()
                .any(|h| n.eq_ignore_ascii_case(h))
            {
                s.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        if (200..300).contains(&code) {
            s.push_str(&format!(
                "Contact: <sip:{}@{}>\r\n",
                self.ext, self.local_sip
            ));
        }
        if body.is_empty() {
            s.push_str("Content-Length: 0\r\n\r\n");
        } else {
            s.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        s
    }

    /// Our SDP answer: `codec` 0 (PCMU) or 8 (PCMA), telephone-event 101.
    pub fn answer_sdp(&self, codec: u8, direction: &str) -> String {
        let local = self.rtp.local_addr().unwrap();
        let (ip, port) = (local.ip(), local.port());
        let name = if codec == 8 { "PCMA" } else { "PCMU" };
        format!(
            "v=0\r\no=phone 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=audio {port} RTP/AVP {codec} 101\r\na=rtpmap:{codec} {name}/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={direction}\r\n"
        )
    }

    /// Waits for ura's INVITE and rings (180).
    pub fn ring(&mut self, timeout: Duration) -> Option<Message> {
        let invite = self.wait_request("INVITE", timeout)?;
        self.send_raw(self.response(&invite, 180, "Ringing", "").as_bytes());
        Some(invite)
    }

    /// Answers `invite` with 200 (codec 0 or 8) and waits for the ACK.
    pub fn answer(&mut self, invite: Message, codec: u8) -> bool {
        let offer = SessionDescription::parse(&invite.body).expect("SDP offer from ura");
        let m = &offer.media[0];
        let ip = m.connection_address(&offer).expect("c= in the offer");
        self.remote_rtp = Some(SocketAddr::new(ip, m.port));
        let sdp = self.answer_sdp(codec, "sendrecv");
        let ok = self.response(&invite, 200, "OK", &sdp);
        self.invite = Some(invite);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            self.send_raw(ok.as_bytes());
            if self
                .wait_request("ACK", Duration::from_millis(500))
                .is_some()
            {
                return true;
            }
        }
        false
    }

    /// Refuses `invite` with `code` and absorbs the ACK.
    pub fn refuse(&mut self, invite: &Message, code: u16, reason: &str) {
        self.send_raw(self.response(invite, code, reason, "").as_bytes());
        let _ = self.wait_request("ACK", Duration::from_secs(2));
    }

    /// Waits for ura's CANCEL of `invite` and answers it (200, then 487).
    pub fn expect_cancel(&mut self, invite: &Message, timeout: Duration) -> bool {
        let Some(cancel) = self.wait_request("CANCEL", timeout) else {
            return false;
        };
        self.send_raw(self.response(&cancel, 200, "OK", "").as_bytes());
        self.send_raw(
            self.response(invite, 487, "Request Terminated", "")
                .as_bytes(),
        );
        let _ = self.wait_request("ACK", Duration::from_secs(2));
        true
    }

    /// Waits for an in-dialog request (e.g. BYE) and answers it 200.
    pub fn expect_request(&mut self, method: &str, timeout: Duration) -> Option<Message> {
        let m = self.wait_request(method, timeout)?;
        self.send_raw(self.response(&m, 200, "OK", "").as_bytes());
        Some(m)
    }

    /// A request in the answered call, as bytes.
    fn in_dialog(&mut self, method: &str, extra: &str, body: &str) -> String {
        let invite = self.invite.as_ref().expect("a call in progress");
        self.cseq += 1;
        let from = invite.header("From").unwrap_or_default();
        let to = invite.header("To").unwrap_or_default();
        let contact = invite.header("Contact").unwrap_or_default();
        let target = ura_sip::message::name_addr_uri(contact).to_string();
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_string()
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{b};rport\r\n\
Max-Forwards: 70\r\nFrom: {to};tag={tag}\r\nTo: {from}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\n\
Contact: <sip:{ext}@{local}>\r\n{extra}{ctype}Content-Length: {len}\r\n\r\n{body}",
            local = self.local_sip,
            b = fastrand::u64(..),
            tag = self.tag,
            cid = invite.call_id().unwrap_or_default(),
            cseq = self.cseq,
            ext = self.ext,
            len = body.len(),
        )
    }

    /// Hangs up the answered call; the status of the BYE's response.
    pub fn bye(&mut self) -> Option<u16> {
        let bye = self.in_dialog("BYE", "", "");
        self.send_raw(bye.as_bytes());
        self.final_response(Duration::from_secs(5))
            .and_then(|m| m.status())
    }

    /// Puts the caller on hold (`sendonly`) or takes them back
    /// (`sendrecv`); the status of the re-INVITE's response (ACKed).
    pub fn reinvite(&mut self, direction: &str) -> Option<u16> {
        let sdp = self.answer_sdp(0, direction);
        let req = self.in_dialog("INVITE", "", &sdp);
        self.send_raw(req.as_bytes());
        let resp = self.final_response(Duration::from_secs(5))?;
        let ack = self.in_dialog("ACK", "", "");
        // The ACK keeps the INVITE's CSeq number.
        let ack = ack.replace(
            &format!("CSeq: {} ACK", self.cseq),
            &format!("CSeq: {} ACK", self.cseq - 1),
        );
        self.cseq -= 1;
        self.send_raw(ack.as_bytes());
        resp.status()
    }

    /// Blind transfer: REFER to `target` (an extension or a queue); the
    /// status of the REFER's response.
    pub fn refer(&mut self, target: &str) -> Option<u16> {
        let extra = format!(
            "Refer-To: <sip:{target}@{}>\r\nReferred-By: <sip:{}@{}>\r\n",
            self.server, self.ext, self.local_sip
        );
        let req = self.in_dialog("REFER", &extra, "");
        self.send_raw(req.as_bytes());
        self.final_response(Duration::from_secs(5))
            .and_then(|m| m.status())
    }

    fn send_rtp(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let Some(to) = self.remote_rtp else { return };
        let mut p = vec![0x80, pt];
        p.extend_from_slice(&self.rtp_seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0x0A6E_0001u32.to_be_bytes());
        p.extend_from_slice(payload);
        self.rtp_seq = self.rtp_seq.wrapping_add(1);
        let _ = self.rtp.send_to(&p, to);
    }

    /// Sends G.711 frames (payload type `pt`), paced at 20 ms.
    pub fn send_audio(&mut self, pt: u8, g711: &[u8]) {
        for frame in g711.chunks(160) {
            self.rtp_ts = self.rtp_ts.wrapping_add(160);
            let ts = self.rtp_ts;
            self.send_rtp(pt, ts, frame);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The received audio payloads (PT 0/8), in arrival order.
    pub fn audio(&self) -> Vec<Rtp> {
        super::caller::audio_of(&self.received)
    }
}

/// The Authorization header answering `challenge` for `method` `uri` as
/// `user` with `password` (MD5, qop=auth).
pub fn authorization(
    user: &str,
    password: &str,
    challenge: &str,
    method: &str,
    uri: &str,
) -> String {
    let realm = quoted(challenge, "realm").unwrap_or_default();
    let nonce = quoted(challenge, "nonce").unwrap_or_default();
    let cnonce = format!("{:08x}", fastrand::u32(..));
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
    let opaque = quoted(challenge, "opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"{opaque}"
    )
}

/// A `name="value"` (or `name=value`) parameter of a challenge.
fn quoted(header: &str, name: &str) -> Option<String> {
    let rest = header.trim_start_matches("Digest").trim();
    for part in ura_sip::message::split_commas(rest) {
        if let Some((k, v)) = part.trim().split_once('=') {
            if k.trim().eq_ignore_ascii_case(name) {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}
