//! Overload: past capacity ura answers 503 at once, keeps the calls it has,
//! loses no call record, and stops within bounded time.

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::caller::Caller;
use common::Ura;

/// Final status per Call-ID, as the blaster saw them.
type Finals = Arc<Mutex<HashMap<String, u16>>>;

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A raw INVITE with a fresh Call-ID, from `local`, offering RTP on `rtp`.
fn invite(server: SocketAddr, local: SocketAddr, rtp: u16, call_id: &str) -> String {
    let sdp = format!(
        "v=0\r\no=blast 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio {rtp} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    format!(
        "INVITE sip:9100@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:blaster@127.0.0.1>;tag=b1\r\nTo: <sip:9100@{server}>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:blaster@{local}>\r\n\
Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Sends `n` INVITEs (fresh Call-IDs, never ACKed) from one thread as fast
/// as it can, then retransmits the unanswered ones every 500 ms (as a UAC's
/// Timer A would) for up to 8 s. Returns the final status per Call-ID.
fn blast(server: SocketAddr, n: usize) -> HashMap<String, u16> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(8 << 20);
    let local = sock.local_addr().unwrap();
    // Where ura's RTP for answered calls goes (and is dropped).
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp = sink.local_addr().unwrap().port();
    let finals: Finals = Arc::default();
    let reader = sock.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let f = finals.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let rx = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_535];
        while !d.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(len) = reader.recv(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..len]);
            let Some(code) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|c| c.parse::<u16>().ok())
            else {
                continue;
            };
            if code >= 200 {
                if let Some(cid) = header(&text, "Call-ID") {
                    f.lock().unwrap().entry(cid.to_string()).or_insert(code);
                }
            }
        }
    });
    let ids: Vec<String> = (0..n)
        .map(|i| format!("blast-{i}-{}", fastrand::u64(..)))
        .collect();
    for id in &ids {
        let _ = sock.send_to(invite(server, local, rtp, id).as_bytes(), server);
    }
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let answered = finals.lock().unwrap().clone();
        if answered.len() == n {
            break;
        }
        for id in ids.iter().filter(|id| !answered.contains_key(*id)) {
            let _ = sock.send_to(invite(server, local, rtp, id).as_bytes(), server);
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    rx.join().unwrap();
    let out = finals.lock().unwrap().clone();
    out
}

fn wait_for(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
fn a_burst_of_invites_gets_200_or_503_and_calls_up_keep_their_media() {
    // T1 = 50 ms: unacknowledged 200s end by Timer H/L after 3.2 s.
    let ura = Ura::start(&["--sip-t1-ms", "50"]);
    // 9100 loops its prompt: media flows for as long as the call is up (9000's
    // welcome ends after about 1.3 s, which a slow burst outlasts).
    let mut before = Caller::new(ura.sip, false);
    assert_eq!(before.call("9100").status(), Some(200));
    before.silence(5);
    std::thread::sleep(Duration::from_millis(300));
    let heard_before = before.audio().len();

    let n = 3_000;
    let server = ura.sip;
    let blaster = std::thread::spawn(move || blast(server, n));
    // A legitimate call placed while the burst runs gets a final answer too
    // (over TCP: this caller does not retransmit, and the burst overflows
    // ura's UDP receive buffer).
    std::thread::sleep(Duration::from_millis(50));
    let mut during = Caller::new(ura.sip, true);
    let during_status = during.call("9000").status();
    let finals = blaster.join().unwrap();
    let ok = finals.values().filter(|c| **c == 200).count();
    let refused = finals.values().filter(|c| **c == 503).count();
    eprintln!(
        "burst of {n}: {ok} answered 200, {refused} refused 503, {} unanswered; call during the burst: {during_status:?}",
        n - finals.len()
    );
    for line in ura.logs().iter().filter(|l| {
        l.contains("answered 503") || l.contains("refused with 503") || l.contains("dropped")
    }) {
        eprintln!("  ura: {line}");
    }
    assert_eq!(finals.len(), n, "every INVITE gets a final answer");
    assert_eq!(ok + refused, n, "only 200 or 503: {finals:?}");
    assert!(refused > 0, "the burst is past capacity");
    assert!(matches!(during_status, Some(200 | 503)));

    // The call up before the burst kept its media and ends properly. A
    // fast burst is over in under a second: wait so that at least 1.5 s
    // (75 frames) passed since the first count, whatever the burst took.
    before.silence(5);
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(
        before.audio().len() > heard_before + 50,
        "media kept flowing during the burst: {} frames before, {} after",
        heard_before,
        before.audio().len()
    );
    assert_eq!(before.bye(), Some(200), "BYE answered");
    if during_status == Some(200) {
        assert_eq!(during.bye(), Some(200));
    }
    // Calls whose caller never ACKed end by Timer H/L: /health says 0.
    assert!(
        wait_for(Duration::from_secs(20), || ura.active_calls() == Some(0)),
        "/health back to 0 active calls; it says {:?}",
        ura.active_calls()
    );
}

#[test]
fn out_of_file_descriptors_is_a_503_logged_once_and_recorded() {
    let mut ura = Ura::start_with_nofile(96, &[]);
    let limit_line = ura
        .logs()
        .into_iter()
        .find(|l| l.contains("admission"))
        .unwrap_or_default();
    eprintln!("{limit_line}");
    let mut answered = Vec::new();
    let mut refused = 0;
    for _ in 0..60 {
        let mut c = Caller::new(ura.sip, false);
        match c.call("9100").status() {
            Some(200) => answered.push(c),
            Some(503) => {
                refused += 1;
                if refused == 10 {
                    break;
                }
            }
            other => panic!("unexpected answer {other:?}; logs: {:?}", ura.logs()),
        }
    }
    assert_eq!(refused, 10, "refused once out of descriptors");
    assert!(!answered.is_empty(), "some calls fit: {limit_line}");
    let lines: Vec<String> = ura
        .logs()
        .into_iter()
        .filter(|l| l.contains("refused with 503") && l.contains("file descriptors"))
        .collect();
    assert!(
        (1..=2).contains(&lines.len()),
        "the cause is logged once a second, not per call: {lines:?}"
    );
    for c in &mut answered {
        assert_eq!(c.bye(), Some(200));
    }
    let status = ura.terminate();
    assert!(status.success(), "{status:?}");
    let rows = ura.calls_list();
    assert_eq!(rows.len(), answered.len() + refused, "{rows:?}");
    let refusals = rows
        .iter()
        .filter(|r| r.ending() == "refused-503/ura")
        .count();
    assert_eq!(refusals, refused, "{rows:?}");
}

#[test]
fn sigterm_with_calls_up_exits_quickly_and_keeps_every_record() {
    let mut ura = Ura::start(&[]);
    let mut callers: Vec<Caller> = (0..5)
        .map(|_| {
            let mut c = Caller::new(ura.sip, false);
            assert_eq!(c.call("9100").status(), Some(200));
            c.silence(3);
            c
        })
        .collect();
    let start = Instant::now();
    ura.signal(libc::SIGTERM);
    let status = ura
        .wait_exit(Duration::from_secs(10))
        .expect("exit within 10 s of SIGTERM");
    eprintln!("exited {:?} after SIGTERM", start.elapsed());
    assert!(status.success(), "{status:?}");
    for c in &mut callers {
        assert!(c.expect_request("BYE", Duration::from_secs(1)).is_some());
    }
    let rows = ura.calls_list();
    assert_eq!(rows.len(), 5, "{rows:?}");
}

#[test]
fn a_second_sigterm_exits_at_once() {
    let mut ura = Ura::start(&[]);
    // Answered, never ACKed: the first SIGTERM waits for it (its grace).
    let mut no_ack = Caller::new(ura.sip, false);
    let invite = no_ack.invite_bytes("9100", true);
    no_ack.send_raw(invite.as_bytes());
    assert_eq!(
        no_ack
            .recv_final(Duration::from_secs(5))
            .and_then(|m| m.status()),
        Some(200)
    );
    ura.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        ura.is_running(),
        "the first SIGTERM waits for the call; logs: {:#?}",
        ura.logs()
    );
    let start = Instant::now();
    ura.signal(libc::SIGTERM);
    let status = ura
        .wait_exit(Duration::from_secs(1))
        .expect("exit at once on the second SIGTERM");
    eprintln!("exited {:?} after the second SIGTERM", start.elapsed());
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.code() == Some(143) || status.signal() == Some(libc::SIGTERM),
        "{status:?}"
    );
}

#[test]
fn tcp_connections_past_the_cap_are_closed_at_once() {
    use std::io::Read;
    // 96 open files: a cap of 6 TCP connections (1/16 of the limit, at least 4).
    let ura = Ura::start_with_nofile(96, &[]);
    let connect = || {
        let s = std::net::TcpStream::connect_timeout(&ura.sip, Duration::from_secs(2)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s
    };
    let mut kept: Vec<_> = (0..6).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = connect();
    let mut buf = [0u8; 16];
    let r = extra.read(&mut buf);
    assert!(
        match &r {
            Ok(n) => *n == 0,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        },
        "the 7th connection is closed: {r:?}"
    );
    for s in &mut kept {
        let r = s.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
            "the first 6 stay open: {r:?}"
        );
    }
    assert!(
        ura.logs()
            .iter()
            .any(|l| l.contains("SIP TCP connections closed at once")),
        "logged"
    );
}
