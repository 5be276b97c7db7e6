//! RFC 4475 ("SIP Torture Test Messages") §3: every message, fed to the
//! sans-I/O endpoint as a UDP datagram, with the outcome the RFC asks of a
//! user agent server.
//!
//! The messages are files under `tests/rfc4475/` (written out from the RFC
//! text, binary octets included), so a fuzz corpus can start from them.
//! Where the RFC leaves a choice ("reject, or be liberal"), the test says
//! which one ura makes. Messages about registrars are checked with the
//! registrar off (ura then answers REGISTER with 405), on without
//! credentials (401: digest comes first, nothing is bound), and answering
//! the challenge (what is bound is what the RFC says).

use std::time::Instant;

use ura_sip::message::{param, unescape, uri_user, Method, StartLine};
use ura_sip::{Endpoint, EndpointConfig, Event, Flow, IncomingCall, Message, Output, TimerConfig};

/// Every message of RFC 4475 §3, by the RFC's own names.
const VALID: [&str; 13] = [
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];
const INVALID: [&str; 19] = [
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "trws",
    "escruri",
    "baddate",
    "regbadct",
    "badaspec",
    "baddn",
    "badvers",
    "mismatch01",
    "mismatch02",
    "bigcode",
];
const TRANSACTION: [&str; 1] = ["badbranch"];
const APPLICATION: [&str; 15] = [
    "insuf", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "multi01", "mcl01",
    "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01",
];
const COMPAT: [&str; 1] = ["inv2543"];

const SOURCE: &str = "192.0.2.9:5060";

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/rfc4475/{name}.sip", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn all_names() -> Vec<&'static str> {
    [&VALID[..], &INVALID, &TRANSACTION, &APPLICATION, &COMPAT].concat()
}

fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            timers: TimerConfig::default(),
            user_agent: "ura-test".into(),
            advertised: "127.0.0.1".parse().unwrap(),
            advertised_other: None,
            port: 5060,
        },
        4475,
    )
}

fn flow() -> Flow {
    Flow::udp(SOURCE.parse().unwrap())
}

/// What one input made the endpoint do.
#[derive(Debug, Default)]
struct Outcome {
    sent: Vec<Message>,
    calls: Vec<IncomingCall>,
    other_events: Vec<Event>,
}

impl Outcome {
    fn codes(&self) -> Vec<u16> {
        self.sent.iter().filter_map(Message::status).collect()
    }

    /// The one response sent, which must be `code`.
    fn only(&self, code: u16) -> &Message {
        assert_eq!(self.codes(), vec![code], "{self:?}");
        assert!(self.calls.is_empty(), "no call may start: {self:?}");
        &self.sent[0]
    }

    /// The new call, after a 100 Trying.
    fn call(&self) -> &IncomingCall {
        assert_eq!(self.codes(), vec![100], "{self:?}");
        assert_eq!(self.calls.len(), 1, "{self:?}");
        &self.calls[0]
    }

    /// The first response sent (a 100 before a call).
    fn only_first(&self) -> &Message {
        &self.sent[0]
    }

    fn silent(&self) {
        assert!(
            self.sent.is_empty() && self.calls.is_empty() && self.other_events.is_empty(),
            "{self:?}"
        );
    }
}

fn drain(ep: &mut Endpoint) -> Outcome {
    let mut o = Outcome::default();
    while let Some(out) = ep.poll_output() {
        match out {
            Output::Transmit(t) => {
                assert_eq!(t.flow.remote.ip(), flow().remote.ip(), "answers go back");
                o.sent
                    .push(Message::parse(&t.data).expect("what ura sends parses"));
            }
            Output::Event(Event::IncomingCall(c)) => o.calls.push(c),
            Output::Event(e) => o.other_events.push(e),
        }
    }
    o
}

fn feed_to(ep: &mut Endpoint, name: &str) -> Outcome {
    ep.handle_input(Instant::now(), flow(), &load(name));
    drain(ep)
}

fn feed(name: &str) -> Outcome {
    feed_to(&mut endpoint(), name)
}

fn parsed(name: &str) -> Message {
    Message::parse(&load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The response's reason phrase.
fn reason(m: &Message) -> &str {
    match &m.start {
        StartLine::Response { reason, .. } => reason,
        StartLine::Request { .. } => panic!("not a response"),
    }
}

/// A response answers the request it was made for (RFC 3261 §8.2.6.2).
fn answers(resp: &Message, name: &str) {
    let req = parsed(name);
    assert_eq!(resp.call_id(), req.call_id(), "{name}");
    assert_eq!(resp.header("CSeq"), req.header("CSeq"), "{name}");
    assert_eq!(resp.from_tag(), req.from_tag(), "{name}");
    let vias: Vec<_> = req.headers_named("Via").collect();
    assert_eq!(resp.headers_named("Via").count(), vias.len(), "{name}");
}

#[test]
fn the_corpus_holds_every_message_of_section_3() {
    let names = all_names();
    assert_eq!(names.len(), 49);
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut want: Vec<String> = names.iter().map(|n| format!("{n}.sip")).collect();
    want.sort();
    assert_eq!(files, want);
    // Where the RFC's Content-Length is right, the files agree with it
    // (a check on the transcription).
    for name in names {
        let wrong_on_purpose = ["clerr", "ncl", "mcl01", "dblreq", "inv2543", "bigcode"];
        if wrong_on_purpose.contains(&name) {
            continue;
        }
        let data = load(name);
        let head = ura_sip::message::head_end(&data).unwrap();
        let declared = ura_sip::message::content_length(&data[..head])
            .unwrap()
            .unwrap();
        assert_eq!(declared, data.len() - head, "{name}");
    }
}

// ---- 3.1.1 valid messages -------------------------------------------------

#[test]
fn wsinv_short_tortuous_invite() {
    let m = parsed("wsinv");
    assert_eq!(m.validate_request(), Ok(()));
    assert_eq!(m.cseq(), Some((9, Method::Invite)));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.to_tag(), Some("1918181833n"));
    assert_eq!(m.from_tag(), Some("98asjd8"));
    assert_eq!(m.header("Subject"), Some(""));
    assert_eq!(
        m.header("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(m.header("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    let vias: Vec<_> = m
        .headers_named("Via")
        .map(|v| ura_sip::message::parse_via(v).expect(v))
        .collect();
    let seen: Vec<_> = vias
        .iter()
        .map(|v| (v.transport.as_str(), v.host.as_str(), v.branch.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    let contact = m.header("Contact").unwrap();
    assert_eq!(param(contact, "q"), Some("0.33"));
    assert_eq!(param(contact, "newparam"), Some("newvalue"));
    assert_eq!(m.body.len(), 150);
    // Well formed; its To tag names a dialog we do not have: 481
    // (RFC 3261 §12.2.2).
    let out = feed("wsinv");
    answers(out.only(481), "wsinv");
    // The same request outside a dialog starts a call.
    let data = String::from_utf8(load("wsinv")).unwrap();
    let fresh = data.replace(" ;   tag    = 1918181833n", "");
    let mut ep = endpoint();
    ep.handle_input(Instant::now(), flow(), fresh.as_bytes());
    let out = drain(&mut ep);
    let call = out.call();
    assert_eq!(call.request_user.as_deref(), Some("vivekg"));
    assert_eq!(call.request_host.as_deref(), Some("chair-dnrc.example.com"));
    assert_eq!(call.body.len(), 150);
    answers(&out.sent[0], "wsinv");
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let m = parsed("intmeth");
    assert!(matches!(m.method(), Some(Method::Other(_))));
    assert_eq!(m.validate_request(), Ok(()));
    assert_eq!(
        m.call_id(),
        Some("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
    );
    assert_eq!(
        m.header("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}\u{5927}\u{505c}\u{96fb}")
    );
    assert!(m.header("To").unwrap().contains("NUL:\\\u{0} DEL:\\\u{7f}"));
    assert_eq!(
        param(m.header("From").unwrap(), "fromParam''~+*_!.-%"),
        Some("\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\"")
    );
    assert_eq!(
        uri_user(m.request_uri().unwrap()).as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    // An endpoint answers an unknown method with 501 and Allow.
    let out = feed("intmeth");
    let resp = out.only(501);
    assert!(resp.header("Allow").unwrap().contains("INVITE"));
    answers(resp, "intmeth");
}

#[test]
fn esc01_escapes_are_the_characters_they_encode() {
    let out = feed("esc01");
    let call = out.call();
    assert_eq!(call.request_user.as_deref(), Some("sips:user@example.com"));
    assert_eq!(call.request_host.as_deref(), Some("example.net"));
    assert_eq!(call.to_user.as_deref(), Some("user"));
    assert_eq!(
        uri_user("sip:I%20have%20spaces@example.net").as_deref(),
        Some("I have spaces")
    );
    // Unescaping is not recursive: %25%34%31 is "%41", not "A".
    assert_eq!(unescape("v%61lue%25%34%31"), "value%41");
    answers(&out.sent[0], "esc01");
}

#[test]
fn escnull_nulls_do_not_shorten_the_user() {
    let m = parsed("escnull");
    assert_eq!(m.validate_request(), Ok(()));
    assert_eq!(m.headers_named("Contact").count(), 2);
    let to = uri_user(m.header("To").unwrap()).unwrap();
    assert_eq!(to, "null-\u{0}-null");
    assert_eq!(uri_user("sip:%00%00@host5.example.com").unwrap().len(), 2);
    // Not a registrar unless agents are configured: 405 with Allow.
    let out = feed("escnull");
    assert!(out.only(405).header("Allow").is_some());
}

#[test]
fn esc02_percent_is_not_an_escape_in_methods_or_header_names() {
    let m = parsed("esc02");
    assert_eq!(m.method(), Some(&Method::Other("RE%47IST%45R".into())));
    assert_eq!(m.headers_named("Contact").count(), 2);
    assert_eq!(
        m.header("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
    let out = feed("esc02");
    answers(out.only(501), "esc02");
}

#[test]
fn lwsdisp_no_space_before_the_angle_bracket() {
    let out = feed("lwsdisp");
    answers(out.only(200), "lwsdisp");
}

#[test]
fn longreq_long_values_and_many_vias() {
    let m = parsed("longreq");
    assert_eq!(m.headers_named("Via").count(), 34);
    assert_eq!(m.call_id().unwrap().len(), 141);
    assert_eq!(m.from_tag().unwrap().len(), 155);
    let out = feed("longreq");
    let call = out.call();
    assert_eq!(call.request_user.as_deref(), Some("user"));
    assert_eq!(call.to_user.as_deref(), Some("user"));
    assert_eq!(call.body.len(), 150);
    answers(&out.sent[0], "longreq");
}

#[test]
fn dblreq_octets_after_the_body_are_ignored() {
    let m = parsed("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body.is_empty());
    // One answer, to the REGISTER; the INVITE-looking tail starts nothing.
    let out = feed("dblreq");
    answers(out.only(405), "dblreq");
}

#[test]
fn semiuri_semicolon_in_the_user_part() {
    let m = parsed("semiuri");
    assert_eq!(
        uri_user(m.request_uri().unwrap()).as_deref(),
        Some("user;par=u@example.net")
    );
    assert_eq!(m.headers_named("Accept").count(), 1);
    assert_eq!(m.header("Accept").unwrap().split(',').count(), 6);
    let out = feed("semiuri");
    answers(out.only(200), "semiuri");
}

#[test]
fn transports_every_via_transport_is_accepted() {
    let m = parsed("transports");
    let transports: Vec<_> = m
        .headers_named("Via")
        .map(|v| ura_sip::message::parse_via(v).unwrap().transport)
        .collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    let out = feed("transports");
    answers(out.only(200), "transports");
}

#[test]
fn mpart01_binary_body_is_framed_by_content_length() {
    let m = parsed("mpart01");
    assert_eq!(m.body.len(), 553);
    assert!(m.body.contains(&0), "the binary part carries NULs");
    assert!(m.body.ends_with(b"--7a9cbec02ceef655--\r\n"));
    // MESSAGE (RFC 3428) is a method ura knows of and does not serve.
    let out = feed("mpart01");
    let resp = out.only(405);
    assert!(resp.header("Allow").is_some());
    answers(resp, "mpart01");
}

#[test]
fn unreason_and_noreason_responses_parse_and_are_dropped() {
    let m = parsed("unreason");
    assert_eq!(m.status(), Some(200));
    assert_eq!(
        reason(&m),
        "= 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{43d}\u{43e}\u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{442}\u{44c} - \u{43f}\u{440}\u{43e}\u{441}\u{442}\u{43e}\u{435}"
    );
    assert_eq!(m.body.len(), 154);
    let m = parsed("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(reason(&m), "");
    // No client transaction of ours: nothing happens.
    feed("unreason").silent();
    feed("noreason").silent();
}

// ---- 3.1.2 invalid messages ----------------------------------------------

#[test]
fn invalid_requests_get_400_with_the_reason() {
    for (name, why) in [
        ("badinv01", "Missing or bad Via"),
        ("clerr", "Content-Length larger than body"),
        ("ncl", "bad Content-Length"),
        ("scalar02", "Missing or bad CSeq"),
        ("quotbal", "Bad To"),
        ("ltgtruri", "bad Request-URI"),
        ("lwsruri", "bad request line"),
        ("mismatch01", "CSeq method does not match"),
    ] {
        let out = feed(name);
        let resp = out.only(400);
        assert_eq!(reason(resp), why, "{name}");
        let req = load(name);
        let text = String::from_utf8_lossy(&req);
        let call_id = text
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID: "))
            .unwrap();
        assert_eq!(resp.call_id(), Some(call_id.trim()), "{name}");
    }
}

#[test]
fn mismatch02_unknown_method_gets_501_before_its_cseq_is_judged() {
    // RFC 4475 §3.1.2.18: 501 preferred, 400 acceptable.
    let out = feed("mismatch02");
    let resp = out.only(501);
    assert!(resp.header("Allow").unwrap().contains("INVITE"));
    answers(resp, "mismatch02");
}

#[test]
fn invalid_responses_are_dropped() {
    assert!(Message::parse(&load("bigcode")).is_err());
    for name in ["scalarlg", "bigcode"] {
        feed(name).silent();
    }
}

#[test]
fn badvers_gets_505() {
    let out = feed("badvers");
    let resp = out.only(505);
    assert_eq!(reason(resp), "Version Not Supported");
    assert_eq!(resp.call_id(), Some("badvers.31417@c.example.com"));
}

#[test]
fn liberal_where_the_rfc_allows_it() {
    // Extra spaces in the start line (§3.1.2.9, §3.1.2.10).
    let out = feed("lwsstart");
    assert_eq!(out.call().request_user.as_deref(), Some("user"));
    answers(out.only_first(), "lwsstart");
    answers(feed("trws").only(200), "trws");
    // Escaped headers in the Request-URI are ignored (§3.1.2.11).
    let out = feed("escruri");
    let call = out.call();
    assert_eq!(call.request_user.as_deref(), Some("user"));
    assert_eq!(call.request_host.as_deref(), Some("example.com"));
    // A Date ura does not read (§3.1.2.12).
    assert_eq!(feed("baddate").call().request_user.as_deref(), Some("user"));
    // Spaces inside <> and unquoted display names with commas
    // (§3.1.2.14, §3.1.2.15): OPTIONS is answered.
    answers(feed("badaspec").only(200), "badaspec");
    answers(feed("baddn").only(200), "baddn");
}

#[test]
fn regbadct_is_not_registered() {
    // Registrar off: 405. On: digest comes first, so 401 and no binding.
    assert_eq!(feed("regbadct").codes(), vec![405]);
    let out = feed_to(&mut registrar(), "regbadct");
    assert_eq!(out.codes(), vec![401]);
    assert!(out.other_events.is_empty());
}

// ---- 3.2 transaction layer -----------------------------------------------

#[test]
fn badbranch_falls_back_on_the_rfc_2543_identity() {
    let mut ep = endpoint();
    let out = feed_to(&mut ep, "badbranch");
    answers(out.only(200), "badbranch");
    // Its retransmission matches the same transaction: the same answer.
    let again = feed_to(&mut ep, "badbranch");
    assert_eq!(again.codes(), vec![200]);
    assert_eq!(ep.transaction_count(), 1);
}

// ---- 3.3 application layer -----------------------------------------------

fn registrar() -> Endpoint {
    let mut ep = endpoint();
    ep.set_users([
        ("j.user", "secret"),
        ("watson", "secret"),
        ("user", "secret"),
    ]);
    ep
}

#[test]
fn insuf_missing_headers_get_400() {
    let out = feed("insuf");
    assert_eq!(reason(out.only(400)), "Missing Call-ID");
}

#[test]
fn unknown_request_uri_schemes_get_416() {
    for name in ["unkscm", "novelsc"] {
        let out = feed(name);
        let resp = out.only(416);
        assert_eq!(reason(resp), "Unsupported URI Scheme");
        answers(resp, name);
    }
}

#[test]
fn bext01_unsupported_require_gets_420_listing_them() {
    let out = feed("bext01");
    let resp = out.only(420);
    let unsupported = resp.header("Unsupported").unwrap();
    assert!(unsupported.contains("nothingSupportsThis"));
    assert!(unsupported.contains("nothingSupportsThisEither"));
    // Proxy-Require is for proxies; a UAS ignores it.
    assert!(!unsupported.contains("noProxiesSupportThis"));
}

#[test]
fn invut_unknown_body_type_gets_415_with_accept() {
    let out = feed("invut");
    let resp = out.only(415);
    assert_eq!(resp.header("Accept"), Some("application/sdp"));
    answers(resp, "invut");
}

#[test]
fn sdp01_accept_without_sdp_gets_406() {
    let out = feed("sdp01");
    let resp = out.only(406);
    assert_eq!(resp.header("Accept"), Some("application/sdp"));
    answers(resp, "sdp01");
}

#[test]
fn multiple_single_valued_headers_get_400() {
    assert_eq!(reason(feed("multi01").only(400)), "Duplicate Call-ID");
    assert_eq!(reason(feed("mcl01").only(400)), "Duplicate Content-Length");
}

#[test]
fn bcast_stray_response_is_dropped() {
    // No client transaction matches; above all nothing goes to the
    // broadcast address of its second Via.
    feed("bcast").silent();
}

#[test]
fn zeromf_options_with_max_forwards_zero_is_answered() {
    answers(feed("zeromf").only(200), "zeromf");
}

#[test]
fn registrations_without_credentials_are_challenged() {
    // The RFC's REGISTER cases (valid: cparam01, cparam02, regescrt,
    // escnull; unknown schemes: unksm2; unknown auth scheme: regaut01)
    // are refused as ura is configured: 405 without agents, otherwise a
    // digest challenge (an unknown Authorization scheme is no credential).
    for name in [
        "cparam01", "cparam02", "regescrt", "escnull", "unksm2", "regaut01",
    ] {
        assert_eq!(feed(name).codes(), vec![405], "{name}");
        let out = feed_to(&mut registrar(), name);
        let resp = out.only(401);
        assert!(resp.header("WWW-Authenticate").is_some(), "{name}");
        answers(resp, name);
    }
}

/// The value of `name="..."` or `name=token` in a challenge.
fn challenge_param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let at = challenge.find(&format!("{name}=")).unwrap() + name.len() + 1;
    let rest = &challenge[at..];
    match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"').unwrap()],
        None => rest.split([',', ' ']).next().unwrap(),
    }
}

/// Sends the RFC's REGISTER, answers the digest challenge as `user`
/// (password "secret", new branch, next CSeq) and returns what the second
/// REGISTER brought.
fn register_as(name: &str, user: &str) -> Outcome {
    use ura_sip::auth::digest;
    let mut ep = registrar();
    let first = feed_to(&mut ep, name);
    let challenge = first.only(401).header("WWW-Authenticate").unwrap();
    let alg = digest::Algorithm::from_token(Some(challenge_param(challenge, "algorithm"))).unwrap();
    let (realm, nonce) = (
        challenge_param(challenge, "realm"),
        challenge_param(challenge, "nonce"),
    );
    let ha1 = digest::ha1(alg, user, realm, "secret");
    let uri = "sip:example.com";
    let resp = digest::response(
        alg,
        &ha1,
        nonce,
        Some(("00000001", "4475c", "auth")),
        "REGISTER",
        uri,
    );
    let text = String::from_utf8(load(name)).unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    for l in lines.iter_mut() {
        if let Some(rest) = l.strip_prefix("CSeq: ") {
            let n: u32 = rest.split(' ').next().unwrap().parse().unwrap();
            *l = format!("CSeq: {} REGISTER", n + 1);
        }
        *l = l.replace("branch=z9hG4bK", "branch=z9hG4bKauth");
    }
    lines.insert(
        1,
        format!(
            "Authorization: Digest username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",\
uri=\"{uri}\",response=\"{resp}\",algorithm={},cnonce=\"4475c\",qop=auth,nc=00000001",
            alg.as_str()
        ),
    );
    ep.handle_input(Instant::now(), flow(), lines.join("\r\n").as_bytes());
    drain(&mut ep)
}

/// The contacts an outcome bound.
fn bound(out: &Outcome) -> Vec<(String, String)> {
    out.other_events
        .iter()
        .filter_map(|e| match e {
            Event::Registered { user, contact, .. } => Some((user.clone(), contact.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn authenticated_registrations_bind_what_the_rfc_says() {
    // §3.3.12: in addr-spec form ";unknownparam" is a Contact parameter,
    // not part of the URI.
    let out = register_as("cparam01", "watson");
    assert_eq!(out.codes(), vec![200], "{out:?}");
    assert_eq!(
        bound(&out),
        vec![("watson".into(), "sip:+19725552222@gw1.example.net".into())]
    );
    // §3.3.13: inside <> it is a URI parameter and is bound with it.
    let out = register_as("cparam02", "watson");
    assert_eq!(
        bound(&out),
        vec![(
            "watson".into(),
            "sip:+19725552222@gw1.example.net;unknownparam".into()
        )]
    );
    // §3.3.14: a Contact URI with an escaped header is a valid binding.
    let out = register_as("regescrt", "user");
    assert_eq!(
        bound(&out),
        vec![(
            "user".into(),
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E".into()
        )]
    );
    // §3.1.2.13: the same without <> is invalid; ura infers the brackets
    // (the RFC allows it: no ambiguity here).
    let out = register_as("regbadct", "user");
    assert_eq!(
        bound(&out),
        vec![(
            "user".into(),
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E".into()
        )]
    );
    // §3.3.4: a To that is no SIP URI is no address-of-record of the
    // authenticated user: refused (403), nothing bound.
    let out = register_as("unksm2", "user");
    assert_eq!(out.codes(), vec![403]);
    assert!(bound(&out).is_empty());
}

// ---- 3.4 backward compatibility ------------------------------------------

#[test]
fn inv2543_rfc_2543_invite_starts_a_call() {
    let out = feed("inv2543");
    let call = out.call();
    assert_eq!(call.request_user.as_deref(), Some("UserB"));
    assert_eq!(call.to_user.as_deref(), Some("+16505552222"));
    // No Content-Length over UDP: the body runs to the datagram's end.
    assert_eq!(call.body.len(), 105);
    answers(&out.sent[0], "inv2543");
}

// ---- all of them, then a normal call -------------------------------------

#[test]
fn no_panic_no_200_to_invalid_and_a_normal_call_afterwards() {
    let mut ep = endpoint();
    for name in all_names() {
        let out = feed_to(&mut ep, name);
        let rejected = [
            "badinv01",
            "clerr",
            "ncl",
            "scalar02",
            "quotbal",
            "ltgtruri",
            "lwsruri",
            "badvers",
            "mismatch01",
            "mismatch02",
            "insuf",
            "unkscm",
            "novelsc",
            "invut",
            "multi01",
            "mcl01",
            "sdp01",
            "regbadct",
        ];
        if rejected.contains(&name) {
            assert!(out.calls.is_empty(), "{name}");
            assert!(
                out.codes().iter().all(|c| (400..700).contains(c)),
                "{name}: {:?}",
                out.codes()
            );
        }
    }
    let t0 = Instant::now();
    let invite = "INVITE sip:9000@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-after;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@192.0.2.9>;tag=a1\r\nTo: <sip:9000@127.0.0.1>\r\n\
Call-ID: after-torture\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.9>\r\n\
Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n";
    ep.handle_input(t0, flow(), invite.as_bytes());
    let out = drain(&mut ep);
    let dialog = out.call().dialog;
    ep.answer(t0, dialog, b"v=0\r\n").unwrap();
    let out = drain(&mut ep);
    assert_eq!(out.codes(), vec![200]);
    let tag = out.sent[0].to_tag().unwrap().to_string();
    let ack = format!(
        "ACK sip:ura@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-ack;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@192.0.2.9>;tag=a1\r\nTo: <sip:9000@127.0.0.1>;tag={tag}\r\n\
Call-ID: after-torture\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_input(t0, flow(), ack.as_bytes());
    let out = drain(&mut ep);
    assert!(out.sent.is_empty());
    assert_eq!(
        out.other_events,
        vec![Event::Confirmed { dialog, body: None }]
    );
}
