//! A registrar driven as softphones drive it: raw SIP text in, a simulated clock.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::auth::digest::{self, Algorithm};
use crate::auth::LockoutScope;
use crate::endpoint::{Endpoint, EndpointConfig, Event, Output};
use crate::message::{Message, Method};
use crate::registrar::UnregisterReason;
use crate::transaction::TimerConfig;
use crate::transport::{ConnectionId, Flow, Transport};

const URI: &str = "sip:127.0.0.1";

fn endpoint() -> Endpoint {
    let mut ep = Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-test".into(),
            advertised: "127.0.0.1".parse().unwrap(),
            advertised_other: None,
            port: 5060,
        },
        9,
    );
    ep.set_users([("1001", "secret-1001"), ("1002", "pw2")]);
    ep
}

fn udp(addr: &str) -> Flow {
    Flow::udp(addr.parse().unwrap())
}

fn drain(ep: &mut Endpoint) -> (Vec<(Flow, Message)>, Vec<Event>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit(t) => {
                let m = Message::parse(&t.data).expect("we send valid SIP");
                sent.push((t.flow, m));
            }
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

fn only_response(ep: &mut Endpoint) -> (Message, Vec<Event>) {
    let (mut sent, events) = drain(ep);
    assert_eq!(sent.len(), 1, "one response: {sent:?}");
    (sent.remove(0).1, events)
}

/// The nonce of the challenge for `alg` in a 401.
fn nonce(resp: &Message, alg: Algorithm) -> String {
    let wanted = format!("algorithm={}", alg.as_str());
    let ch = resp
        .headers_named("WWW-Authenticate")
        .find(|h| h.contains(&wanted))
        .expect("a challenge for the algorithm");
    let start = ch.find("nonce=\"").unwrap() + 7;
    let end = start + ch[start..].find('"').unwrap();
    ch[start..end].to_string()
}

/// A softphone: user, password, address, Call-ID and counters.
struct Phone {
    user: &'static str,
    password: &'static str,
    flow: Flow,
    call_id: &'static str,
    cseq: u32,
    nc: u32,
    alg: Algorithm,
}

impl Phone {
    fn new(user: &'static str, password: &'static str, addr: &str) -> Phone {
        Phone {
            user,
            password,
            flow: udp(addr),
            call_id: "reg-call-1",
            cseq: 0,
            nc: 0,
            alg: Algorithm::Sha256,
        }
    }

    fn authorization(&mut self, method: &str, nonce: &str) -> String {
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        let ha1 = digest::ha1(self.alg, self.user, "ura", self.password);
        let resp = digest::response(
            self.alg,
            &ha1,
            nonce,
            Some((&nc, "0a4f113b", "auth")),
            method,
            URI,
        );
        format!(
            "Authorization: Digest username=\"{}\",realm=\"ura\",nonce=\"{nonce}\",uri=\"{URI}\",\
response=\"{resp}\",algorithm={},cnonce=\"0a4f113b\",qop=auth,nc={nc}\r\n",
            self.user,
            self.alg.as_str()
        )
    }

    fn register_raw(&mut self, extra: &str) -> String {
        self.cseq += 1;
        format!(
            "REGISTER {URI} SIP/2.0\r\n\
Via: SIP/2.0/{} {};branch=z9hG4bK-{}-{};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{}@127.0.0.1>;tag=ft-{}\r\n\
To: <sip:{}@127.0.0.1>\r\n\
Call-ID: {}\r\n\
CSeq: {} REGISTER\r\n\
User-Agent: softphone\r\n\
{extra}Content-Length: 0\r\n\r\n",
            self.flow.transport.as_str(),
            self.flow.remote,
            self.call_id,
            self.cseq,
            self.user,
            self.call_id,
            self.user,
            self.call_id,
            self.cseq
        )
    }

    /// REGISTER with `headers`, answered with a challenge, then again with
    /// credentials for `alg`; returns the final answer and the events.
    fn register(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        headers: &str,
    ) -> (Message, Vec<Event>) {
        let raw = self.register_raw(headers);
        ep.handle_input(now, self.flow, raw.as_bytes());
        let (challenge, _) = only_response(ep);
        assert_eq!(challenge.status(), Some(401));
        let nonce = nonce(&challenge, self.alg);
        self.send_with_nonce(ep, now, headers, &nonce)
    }

    fn send_with_nonce(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        headers: &str,
        nonce: &str,
    ) -> (Message, Vec<Event>) {
        let auth = self.authorization("REGISTER", nonce);
        let raw = self.register_raw(&format!("{headers}{auth}"));
        ep.handle_input(now, self.flow, raw.as_bytes());
        only_response(ep)
    }

    fn challenge(&mut self, ep: &mut Endpoint, now: Instant) -> String {
        let raw = self.register_raw("");
        ep.handle_input(now, self.flow, raw.as_bytes());
        let (challenge, _) = only_response(ep);
        nonce(&challenge, self.alg)
    }
}

fn contacts(m: &Message) -> Vec<String> {
    m.headers_named("Contact").map(str::to_string).collect()
}

#[test]
fn a_softphone_registers_with_sha256_after_a_challenge() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let raw = phone.register_raw("Contact: <sip:1001@192.0.2.10:5060>;expires=600\r\n");
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (challenge, events) = only_response(&mut ep);
    assert!(events.is_empty());
    assert_eq!(challenge.status(), Some(401));
    assert!(challenge.to_tag().is_some());
    let www: Vec<&str> = challenge.headers_named("WWW-Authenticate").collect();
    assert_eq!(www.len(), 2);
    assert!(www[0].starts_with("Digest realm=\"ura\", nonce=\""));
    // MD5 first by default (old softphones answer only the first), SHA-256 second.
    assert!(
        www[0].ends_with("algorithm=MD5, qop=\"auth\""),
        "{}",
        www[0]
    );
    assert!(
        www[1].ends_with("algorithm=SHA-256, qop=\"auth\""),
        "{}",
        www[1]
    );
    let nonce = nonce(&challenge, Algorithm::Sha256);
    let (ok, events) = phone.send_with_nonce(
        &mut ep,
        t0,
        "Contact: <sip:1001@192.0.2.10:5060>;expires=600\r\n",
        &nonce,
    );
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        contacts(&ok),
        vec!["<sip:1001@192.0.2.10:5060>;expires=600"]
    );
    assert_eq!(
        events,
        vec![Event::Registered {
            user: "1001".into(),
            contact: "sip:1001@192.0.2.10:5060".into(),
            flow: phone.flow,
            expires_at: t0 + Duration::from_secs(600),
        }]
    );
    let b = ep.bindings("1001");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow, phone.flow);
}

#[test]
fn md5_and_the_expires_header_work_too() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1002", "pw2", "192.0.2.11:5062");
    phone.alg = Algorithm::Md5;
    let (ok, _) = phone.register(
        &mut ep,
        t0,
        "Contact: <sip:1002@192.0.2.11:5062>\r\nExpires: 99999\r\n",
    );
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        contacts(&ok),
        vec!["<sip:1002@192.0.2.11:5062>;expires=7200"],
        "capped"
    );
    // No Expires at all: 3600.
    let mut other = Phone::new("1001", "secret-1001", "192.0.2.12:5060");
    let (ok, _) = other.register(&mut ep, t0, "Contact: <sip:1001@192.0.2.12>\r\n");
    assert_eq!(contacts(&ok), vec!["<sip:1001@192.0.2.12>;expires=3600"]);
}

#[test]
fn an_expired_nonce_gets_stale_true_and_the_retry_works() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let later = t0 + Duration::from_secs(301);
    let contact = "Contact: <sip:1001@192.0.2.10>\r\n";
    let (resp, events) = phone.send_with_nonce(&mut ep, later, contact, &nonce);
    assert_eq!(resp.status(), Some(401));
    assert!(events.is_empty());
    let www: Vec<&str> = resp.headers_named("WWW-Authenticate").collect();
    assert!(www.iter().all(|w| w.ends_with(", stale=true")), "{www:?}");
    let fresh = self::nonce(&resp, Algorithm::Sha256);
    let (ok, _) = phone.send_with_nonce(&mut ep, later, contact, &fresh);
    assert_eq!(ok.status(), Some(200));
    // A wrong password on an expired nonce is not told "stale".
    let mut wrong = Phone::new("1001", "guess", "192.0.2.99:5060");
    let old = wrong.challenge(&mut ep, later);
    let (resp, _) = wrong.send_with_nonce(&mut ep, later + Duration::from_secs(400), contact, &old);
    assert!(resp
        .headers_named("WWW-Authenticate")
        .all(|w| !w.contains("stale")));
}

#[test]
fn a_replayed_nonce_count_is_refused() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let contact = "Contact: <sip:1001@192.0.2.10>\r\n";
    let (ok, _) = phone.send_with_nonce(&mut ep, t0, contact, &nonce);
    assert_eq!(ok.status(), Some(200));
    // Same nonce, same nc (a captured request replayed with a new branch).
    phone.nc = 0;
    let (resp, _) = phone.send_with_nonce(&mut ep, t0, contact, &nonce);
    assert_eq!(resp.status(), Some(401));
    assert!(resp
        .headers_named("WWW-Authenticate")
        .all(|w| !w.contains("stale")));
    // The next count is fine (RFC 7616 nonce reuse).
    phone.nc = 1;
    let (ok, _) = phone.send_with_nonce(&mut ep, t0, contact, &nonce);
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn wrong_passwords_lock_the_source_but_not_the_agent_elsewhere() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let attacker_ip: IpAddr = "203.0.113.5".parse().unwrap();
    let mut attacker = Phone::new("1001", "guess", "203.0.113.5:5060");
    let contact = "Contact: <sip:1001@203.0.113.5>\r\n";
    let mut lockouts = Vec::new();
    for i in 0..5 {
        let (resp, events) = attacker.register(&mut ep, t0 + Duration::from_millis(i), contact);
        assert_eq!(resp.status(), Some(401));
        lockouts.extend(events);
    }
    assert_eq!(
        lockouts,
        vec![Event::AuthLockout {
            scope: LockoutScope::Source,
            source: attacker_ip,
            user: Some("1001".into()),
            until: t0 + Duration::from_millis(4) + Duration::from_secs(30),
            failures: 5,
        }]
    );
    // Locked: even the right password from there is refused, the same way.
    let mut same_place = Phone::new("1001", "secret-1001", "203.0.113.5:5070");
    same_place.call_id = "other";
    let (resp, events) = same_place.register(&mut ep, t0 + Duration::from_secs(1), contact);
    assert_eq!(resp.status(), Some(401));
    assert!(events.is_empty());
    // The agent at the office registers.
    let mut agent = Phone::new("1001", "secret-1001", "198.51.100.7:5060");
    let (ok, _) = agent.register(
        &mut ep,
        t0 + Duration::from_secs(2),
        "Contact: <sip:1001@198.51.100.7>\r\n",
    );
    assert_eq!(ok.status(), Some(200));
    // More failures while locked do not extend the lock.
    for i in 0..20 {
        let (resp, events) = attacker.register(
            &mut ep,
            t0 + Duration::from_secs(3) + Duration::from_millis(i),
            contact,
        );
        assert_eq!(resp.status(), Some(401));
        assert!(events.is_empty());
    }
    // After the lock, the right password works from there again.
    let (ok, _) = same_place.register(&mut ep, t0 + Duration::from_secs(31), contact);
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn a_second_lockout_lasts_twice_as_long() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut attacker = Phone::new("1002", "guess", "203.0.113.9:5060");
    let mut until = Vec::new();
    let mut now = t0;
    for _ in 0..2 {
        for _ in 0..5 {
            let (_, events) = attacker.register(&mut ep, now, "");
            for e in events {
                if let Event::AuthLockout { until: u, .. } = e {
                    until.push(u.duration_since(now));
                }
            }
        }
        now += Duration::from_secs(31);
    }
    assert_eq!(
        until,
        vec![Duration::from_secs(30), Duration::from_secs(60)]
    );
}

/// Blanks nonces and tags so that two answers can be compared byte for byte.
fn masked(m: &Message, user: &str) -> String {
    let mut out = String::new();
    for (name, value) in &m.headers {
        let mut v = value.replace(user, "USER");
        if let Some(i) = v.find("nonce=\"") {
            let end = v[i + 7..].find('"').map_or(v.len(), |e| i + 7 + e);
            v.replace_range(i + 7..end, "N");
        }
        if let Some(i) = v.find(";tag=") {
            v.truncate(i + 5);
        }
        out.push_str(&format!("{name}: {v}\n"));
    }
    out
}

#[test]
fn unknown_user_and_wrong_password_get_the_same_answer() {
    let t0 = Instant::now();
    let answer = |user: &'static str, password: &'static str| {
        let mut ep = endpoint();
        let mut phone = Phone::new(user, password, "192.0.2.50:5060");
        let (resp, events) = phone.register(&mut ep, t0, "Contact: <sip:x@192.0.2.50>\r\n");
        assert!(events.is_empty());
        (masked(&resp, user), format!("{:?}", resp.start))
    };
    let wrong = answer("1001", "nope");
    let unknown = answer("7777", "nope");
    assert_eq!(wrong, unknown);
    assert!(wrong.1.contains("401"));
}

#[test]
fn too_brief_intervals_get_423() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let (resp, events) =
        phone.register(&mut ep, t0, "Contact: <sip:1001@192.0.2.10>;expires=30\r\n");
    assert_eq!(resp.status(), Some(423));
    assert_eq!(resp.header("Min-Expires"), Some("60"));
    assert!(events.is_empty());
    assert!(ep.bindings("1001").is_empty());
    let (resp, _) = phone.register(
        &mut ep,
        t0,
        "Contact: <sip:1001@192.0.2.10>\r\nExpires: 59\r\n",
    );
    assert_eq!(resp.status(), Some(423));
    let (resp, _) = phone.register(&mut ep, t0, "Contact: <sip:1001@192.0.2.10>;expires=60\r\n");
    assert_eq!(resp.status(), Some(200));
}

#[test]
fn several_contacts_then_removal_by_expires_0_and_star() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut desk = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let (ok, events) = desk.register(
        &mut ep,
        t0,
        "Contact: <sip:1001@192.0.2.10>;expires=600, <sip:1001@192.0.2.10;transport=tcp>;expires=300\r\n",
    );
    assert_eq!(ok.status(), Some(200));
    assert_eq!(events.len(), 2);
    let mut mobile = Phone::new("1001", "secret-1001", "192.0.2.20:5060");
    mobile.call_id = "mobile";
    let (ok, _) = mobile.register(
        &mut ep,
        t0 + Duration::from_secs(10),
        "Contact: <sip:1001@192.0.2.20>\r\n",
    );
    assert_eq!(
        contacts(&ok),
        vec![
            "<sip:1001@192.0.2.10>;expires=590",
            "<sip:1001@192.0.2.10;transport=tcp>;expires=290",
            "<sip:1001@192.0.2.20>;expires=3600",
        ]
    );
    assert_eq!(ep.bindings("1001").len(), 3);
    // Expires: 0 on one contact.
    let (ok, events) = desk.register(
        &mut ep,
        t0 + Duration::from_secs(20),
        "Contact: <sip:1001@192.0.2.10>\r\nExpires: 0\r\n",
    );
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        events,
        vec![Event::Unregistered {
            user: "1001".into(),
            contact: "sip:1001@192.0.2.10".into(),
            reason: UnregisterReason::Removed,
        }]
    );
    assert_eq!(contacts(&ok).len(), 2);
    // A query (no Contact) lists what is left.
    let (ok, events) = desk.register(&mut ep, t0 + Duration::from_secs(20), "");
    assert_eq!(contacts(&ok).len(), 2);
    assert!(events.is_empty());
    // `*` without Expires: 0 is refused; with it, everything goes.
    let (bad, _) = desk.register(&mut ep, t0 + Duration::from_secs(21), "Contact: *\r\n");
    assert_eq!(bad.status(), Some(400));
    let (ok, events) = desk.register(
        &mut ep,
        t0 + Duration::from_secs(21),
        "Contact: *\r\nExpires: 0\r\n",
    );
    assert_eq!(ok.status(), Some(200));
    assert!(contacts(&ok).is_empty());
    assert_eq!(events.len(), 2);
    assert!(ep.bindings("1001").is_empty());
}

#[test]
fn out_of_order_cseq_is_refused_and_refresh_moves_expiry() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let contact = "Contact: <sip:1001@192.0.2.10>;expires=120\r\n";
    phone.cseq = 10;
    let (ok, _) = phone.register(&mut ep, t0, contact);
    assert_eq!(ok.status(), Some(200));
    // A delayed REGISTER of the same Call-ID with a lower CSeq.
    phone.cseq = 3;
    let (resp, events) =
        phone.register(&mut ep, t0, "Contact: <sip:1001@192.0.2.10>;expires=0\r\n");
    assert_eq!(resp.status(), Some(500));
    assert!(events.is_empty());
    assert_eq!(ep.bindings("1001").len(), 1);
    // A refresh at 100 s moves the expiry; the old timer does nothing.
    phone.cseq = 20;
    let (ok, _) = phone.register(&mut ep, t0 + Duration::from_secs(100), contact);
    assert_eq!(contacts(&ok), vec!["<sip:1001@192.0.2.10>;expires=120"]);
    ep.handle_timeout(t0 + Duration::from_secs(120));
    let (_, events) = drain(&mut ep);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(
        ep.bindings("1001")[0].expires_at,
        t0 + Duration::from_secs(220)
    );
}

#[test]
fn bindings_expire_by_timer_at_exactly_their_time() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let (ok, _) = phone.register(&mut ep, t0, "Contact: <sip:1001@192.0.2.10>;expires=60\r\n");
    assert_eq!(ok.status(), Some(200));
    let end = t0 + Duration::from_secs(60);
    // Transaction timers (Timer J at 32 s) come first; run them all.
    while let Some(t) = ep.poll_timeout() {
        if t >= end {
            break;
        }
        ep.handle_timeout(t);
    }
    assert_eq!(ep.poll_timeout(), Some(end));
    ep.handle_timeout(end - Duration::from_millis(1));
    assert!(drain(&mut ep).1.is_empty());
    ep.handle_timeout(end);
    let (_, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Unregistered {
            user: "1001".into(),
            contact: "sip:1001@192.0.2.10".into(),
            reason: UnregisterReason::Expired,
        }]
    );
    assert!(ep.bindings("1001").is_empty());
    assert_eq!(ep.poll_timeout(), None);
}

#[test]
fn register_over_tcp_keeps_the_connection_in_the_binding() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:40123");
    phone.flow = Flow {
        transport: Transport::Tcp,
        remote: "192.0.2.10:40123".parse().unwrap(),
        connection: Some(ConnectionId(42)),
    };
    let raw = phone.register_raw("Contact: <sip:1001@192.0.2.10:40123;transport=tcp>\r\n");
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].0, phone.flow, "the 401 goes back on the connection");
    let nonce = nonce(&sent[0].1, Algorithm::Sha256);
    let (ok, events) = phone.send_with_nonce(
        &mut ep,
        t0,
        "Contact: <sip:1001@192.0.2.10:40123;transport=tcp>\r\n",
        &nonce,
    );
    assert_eq!(ok.status(), Some(200));
    let Event::Registered { flow, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(flow.connection, Some(ConnectionId(42)));
    assert_eq!(ep.bindings("1001")[0].flow, phone.flow);
}

#[test]
fn restored_bindings_and_removed_users() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let flow = udp("192.0.2.30:5060");
    ep.restore_binding(
        t0,
        "1002",
        "sip:1002@192.0.2.30",
        flow,
        Duration::from_secs(90),
    );
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::Registered { .. }]));
    assert_eq!(
        ep.bindings("1002")[0].expires_at,
        t0 + Duration::from_secs(90)
    );
    assert_eq!(ep.poll_timeout(), Some(t0 + Duration::from_secs(90)));
    // A reload without 1002 drops its binding.
    ep.set_users([("1001", "secret-1001")]);
    let (_, events) = drain(&mut ep);
    assert_eq!(
        events,
        vec![Event::Unregistered {
            user: "1002".into(),
            contact: "sip:1002@192.0.2.30".into(),
            reason: UnregisterReason::Removed,
        }]
    );
    assert!(ep.bindings("1002").is_empty());
}

#[test]
fn registering_someone_elses_extension_is_forbidden() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let auth = phone.authorization("REGISTER", &nonce);
    let raw = phone
        .register_raw(&format!("Contact: <sip:1002@192.0.2.10>\r\n{auth}"))
        .replace("To: <sip:1001@", "To: <sip:1002@");
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (resp, _) = only_response(&mut ep);
    assert_eq!(resp.status(), Some(403));
    assert!(ep.bindings("1002").is_empty());
}

fn invite(from_user: &str, branch: &str, auth: &str) -> String {
    format!(
        "INVITE {URI} SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{from_user}@127.0.0.1>;tag=inv1\r\n\
To: <sip:5000@127.0.0.1>\r\n\
Call-ID: inv-{branch}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:{from_user}@192.0.2.10:5060>\r\n\
{auth}Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn invites_from_agents_are_challenged_and_others_are_not() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let flow = udp("192.0.2.10:5060");
    ep.handle_input(t0, flow, invite("1001", "z9hG4bK-i1", "").as_bytes());
    let (resp, events) = only_response(&mut ep);
    assert_eq!(resp.status(), Some(401));
    assert!(events.is_empty());
    assert_eq!(resp.headers_named("WWW-Authenticate").count(), 2);
    // The ACK for the 401 is absorbed by the INVITE transaction.
    let tag = resp.to_tag().unwrap().to_string();
    let ack = format!(
        "ACK {URI} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-i1;rport\r\n\
From: <sip:1001@127.0.0.1>;tag=inv1\r\nTo: <sip:5000@127.0.0.1>;tag={tag}\r\n\
Call-ID: inv-z9hG4bK-i1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_input(t0, flow, ack.as_bytes());
    ep.handle_timeout(t0 + Duration::from_secs(1));
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty(), "{sent:?}");
    ep.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(ep.transaction_count(), 0, "Timer I ended it");
    // With credentials: a call from an authenticated agent.
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let auth = phone.authorization("INVITE", &nonce(&resp, Algorithm::Sha256));
    ep.handle_input(t0, flow, invite("1001", "z9hG4bK-i2", &auth).as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].1.status(), Some(100));
    let [Event::IncomingCall(call)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(call.authenticated_user.as_deref(), Some("1001"));
    // A caller who is not an agent is not challenged.
    ep.handle_input(t0, flow, invite("+15551234", "z9hG4bK-i3", "").as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(sent[0].1.status(), Some(100));
    let [Event::IncomingCall(call)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(call.authenticated_user, None);
    assert_eq!(sent[0].1.method(), None::<&Method>);
}

#[test]
fn malformed_authorization_headers_get_400_or_401() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let good = phone.authorization("REGISTER", &nonce);
    let cases = [
        "Authorization: Digest\r\n".to_string(),
        "Authorization: Basic MTAwMTpzZWNyZXQ=\r\n".to_string(),
        "Authorization: Digest username=\"1001\r\n".to_string(),
        "Authorization: Digest username=1001, username=1002\r\n".to_string(),
        "Authorization: Digest ,,,,\r\n".to_string(),
        "Authorization: Digest a=\"\\\"\r\n".to_string(),
        good.replace("nc=00000001", "nc=zz"),
        good.replace("nc=00000001", "nc=000000001"),
        good.replace("uri=\"sip:127.0.0.1\"", "uri=\"sip:other\""),
        good.replace("algorithm=SHA-256", "algorithm=SHA-512-256"),
        good.replace("qop=auth", "qop=auth-int"),
        good.replace(&nonce, "00"),
        good.replace(",cnonce=\"0a4f113b\"", ""),
        format!("Authorization: Digest {}\r\n", "x=y,".repeat(2000)),
    ];
    for case in cases {
        assert_ne!(case, good, "each case changes something");
        let raw = phone.register_raw(&case);
        ep.handle_input(t0, phone.flow, raw.as_bytes());
        let (resp, _) = only_response(&mut ep);
        let code = resp.status().unwrap();
        assert!(code == 400 || code == 401, "{case:?} gave {code}");
    }
}

#[test]
fn mutated_registers_never_panic() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let auth = phone.authorization("REGISTER", &nonce);
    let base = phone.register_raw(&format!(
        "Contact: <sip:1001@192.0.2.10>;expires=600, <sip:1001@h;transport=tcp>\r\nExpires: 60\r\n{auth}"
    ));
    let invite_auth = phone.authorization("INVITE", &nonce);
    let invite = invite("1001", "z9hG4bK-fz", &invite_auth);
    let bases = [base, invite];
    let mut rng = fastrand::Rng::with_seed(11);
    const ALPHABET: &[u8] = b"\",;=\\<>*: \r\n0aZ";
    for i in 0..3000u64 {
        let mut buf = bases[(i % 2) as usize].as_bytes().to_vec();
        for _ in 0..rng.usize(1..6) {
            let at = rng.usize(..buf.len());
            match rng.u8(..4) {
                0 => buf[at] = rng.u8(..),
                1 => buf[at] = ALPHABET[rng.usize(..ALPHABET.len())],
                2 => {
                    buf.remove(at);
                }
                _ => buf.insert(at, ALPHABET[rng.usize(..ALPHABET.len())]),
            }
        }
        let now = t0 + Duration::from_millis(i * 37);
        ep.handle_input(now, phone.flow, &buf);
        ep.handle_timeout(now);
        let _ = drain(&mut ep);
    }
}

#[test]
fn a_user_attacked_from_many_addresses_is_locked_except_where_the_agent_is() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    // The agent registered from the office earlier.
    let mut agent = Phone::new("1001", "secret-1001", "198.51.100.7:5060");
    let (ok, _) = agent.register(&mut ep, t0, "Contact: <sip:1001@198.51.100.7>\r\n");
    assert_eq!(ok.status(), Some(200));
    // 20 guesses, one from each of 20 addresses: no address is locked.
    let mut lockouts = Vec::new();
    for i in 0..20 {
        let mut bot = Phone::new("1001", "guess", &format!("203.0.113.{}:5060", i + 1));
        let (resp, events) = bot.register(&mut ep, t0 + Duration::from_secs(1), "");
        assert_eq!(resp.status(), Some(401));
        lockouts.extend(events);
    }
    let [Event::AuthLockout {
        scope: LockoutScope::User,
        user,
        failures: 20,
        ..
    }] = &lockouts[..]
    else {
        panic!("{lockouts:?}")
    };
    assert_eq!(user.as_deref(), Some("1001"));
    // A new address with the right password waits the lock out…
    let mut roaming = Phone::new("1001", "secret-1001", "192.0.2.77:5060");
    let (resp, _) = roaming.register(&mut ep, t0 + Duration::from_secs(2), "");
    assert_eq!(resp.status(), Some(401));
    // …the office address does not.
    let (ok, _) = agent.register(&mut ep, t0 + Duration::from_secs(2), "");
    assert_eq!(ok.status(), Some(200));
    // Another extension is not affected.
    let mut other = Phone::new("1002", "pw2", "192.0.2.78:5060");
    let (ok, _) = other.register(&mut ep, t0 + Duration::from_secs(2), "");
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn a_nonce_only_counts_from_the_address_it_was_sent_to() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut attacker = Phone::new("1001", "guess", "203.0.113.5:5060");
    let nonce = attacker.challenge(&mut ep, t0);
    // Forged UDP sources using that nonce: fresh challenges, no lockout.
    let mut events = Vec::new();
    for i in 0..10 {
        attacker.flow = udp("198.51.100.7:5060");
        let (resp, ev) =
            attacker.send_with_nonce(&mut ep, t0 + Duration::from_millis(i), "", &nonce);
        assert_eq!(resp.status(), Some(401));
        events.extend(ev);
    }
    assert!(events.is_empty(), "{events:?}");
    let mut agent = Phone::new("1001", "secret-1001", "198.51.100.7:5060");
    agent.call_id = "agent";
    let (ok, _) = agent.register(&mut ep, t0 + Duration::from_secs(1), "");
    assert_eq!(ok.status(), Some(200));
}

#[test]
fn a_retransmitted_register_gets_the_same_200() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let nonce = phone.challenge(&mut ep, t0);
    let auth = phone.authorization("REGISTER", &nonce);
    let raw = phone.register_raw(&format!("Contact: <sip:1001@192.0.2.10>\r\n{auth}"));
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (first, events) = only_response(&mut ep);
    assert_eq!(first.status(), Some(200));
    assert_eq!(events.len(), 1);
    ep.handle_input(t0 + Duration::from_millis(500), phone.flow, raw.as_bytes());
    let (again, events) = only_response(&mut ep);
    assert_eq!(
        again.status(),
        Some(200),
        "not a replay: the transaction answers"
    );
    assert_eq!(again.to_tag(), first.to_tag());
    assert!(events.is_empty());
}

#[test]
fn sha256_can_be_offered_first() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    ep.set_auth_policy(crate::AuthPolicy {
        offer: crate::DigestOffer::Sha256ThenMd5,
        ..crate::AuthPolicy::default()
    });
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let raw = phone.register_raw("Contact: <sip:1001@192.0.2.10:5060>;expires=600\r\n");
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (challenge, _) = only_response(&mut ep);
    let www: Vec<&str> = challenge.headers_named("WWW-Authenticate").collect();
    assert!(
        www[0].ends_with("algorithm=SHA-256, qop=\"auth\""),
        "{}",
        www[0]
    );
    assert!(
        www[1].ends_with("algorithm=MD5, qop=\"auth\""),
        "{}",
        www[1]
    );
}

#[test]
fn md5_alone_can_be_offered() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    ep.set_auth_policy(crate::AuthPolicy {
        offer: crate::DigestOffer::Md5,
        ..crate::AuthPolicy::default()
    });
    let mut phone = Phone::new("1001", "secret-1001", "192.0.2.10:5060");
    let raw = phone.register_raw("Contact: <sip:1001@192.0.2.10:5060>;expires=600\r\n");
    ep.handle_input(t0, phone.flow, raw.as_bytes());
    let (challenge, _) = only_response(&mut ep);
    let www: Vec<&str> = challenge.headers_named("WWW-Authenticate").collect();
    assert_eq!(www.len(), 1);
    assert!(
        www[0].ends_with("algorithm=MD5, qop=\"auth\""),
        "{}",
        www[0]
    );
}
