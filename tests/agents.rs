//! A caller reaches a human: agents register test softphones (digest
//! auth), a caller dials 1000 and presses 1, the router picks the agent,
//! ura rings the agent's phone and bridges the two, audio flows both ways
//! (transcoded when the agent answers in A-law), and hang-ups, misses,
//! positions, hold and transfers behave as a contact center expects.

mod common;

use std::time::{Duration, Instant};

use common::agent::Phone;
use common::caller::Caller;
use common::Ura;
use serde_json::Value;
use ura_media::g711;

/// Two agents in the vendas queue of 1000; 2001 logged in at start, 2002
/// not. Short timers so the tests stay short.
fn config(extra_queue: &str) -> String {
    format!(
        r#"
[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"
queue = "vendas"

[services.suporte]
name = "suporte"
queue = "suporte"

[queues.vendas]
ring_seconds = 3
retry_seconds = 1
wrapup_seconds = 2
{extra_queue}

[queues.suporte]
ring_seconds = 3
wrapup_seconds = 1
announce_seconds = 0
join_empty = true

[agents.2001]
name = "Ana"
password = "senha-2001"
queues = {{ vendas = 1 }}
logged_in = true

[agents.2002]
name = "Bia"
password = "senha-2002"
queues = {{ vendas = 1, suporte = 1 }}

[ivrs.main.menu]
items = [
  {{ digits = "1", label = "vendas", target = {{ service = "vendas" }} }},
  {{ digits = "2", label = "suporte", target = {{ service = "suporte" }} }},
]
"#
    )
}

/// Agent `ext`'s test phone, registered with the test password.
fn registered(ura: &Ura, ext: &str) -> Phone {
    let mut phone = Phone::new(ura.sip, ext, &format!("senha-{ext}"));
    assert_eq!(phone.register(600), Some(200), "{ext} registers");
    phone
}

fn http(ura: &Ura) -> ureq::Agent {
    let _ = ura;
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn agent_action(ura: &Ura, ext: &str, action: &str) -> u16 {
    http(ura)
        .post(format!("http://{}/api/v1/agents/{ext}/{action}", ura.http))
        .header("Authorization", format!("Bearer {}", ura.api_key()))
        .send_json(serde_json::json!({}))
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn agent_state(ura: &Ura, ext: &str) -> String {
    let v: Value = http(ura)
        .get(format!("http://{}/api/v1/live", ura.http))
        .header("Authorization", format!("Bearer {}", ura.api_key()))
        .call()
        .expect("GET /api/v1/live")
        .body_mut()
        .read_json()
        .expect("JSON");
    v["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["agent"] == ext)
        .and_then(|a| a["state"].as_str())
        .unwrap_or("?")
        .to_string()
}

/// Polls the agent's state until it is `want`, for at most `secs`.
fn wait_state(ura: &Ura, ext: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = agent_state(ura, ext);
        if s == want || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A caller on 1000 who pressed `key` (during the welcome: type-ahead).
fn caller_in_queue(ura: &Ura, key: char) -> Caller {
    let mut caller = Caller::new(ura.sip, false);
    let resp = caller.call("1000");
    assert_eq!(resp.status(), Some(200));
    caller.silence(5);
    caller.rfc4733_digit(key);
    caller
}

/// 400 ms of a 1 kHz-ish µ-law pattern, different for each `seed`.
fn pattern(seed: u8) -> Vec<u8> {
    (0..20 * 160)
        .map(|i| {
            let s = ((i as f64 * (0.7 + seed as f64 * 0.1)).sin() * 8000.0) as i16;
            g711::ulaw_encode(s)
        })
        .collect()
}

fn alaw_of_ulaw(u: u8) -> u8 {
    g711::alaw_encode(g711::ulaw_decode(u))
}

fn ulaw_of_alaw(a: u8) -> u8 {
    g711::ulaw_encode(g711::alaw_decode(a))
}

/// Whether `sent` (160-byte frames) arrives, in order, in `got`.
fn arrived(got: &[Vec<u8>], sent: &[u8]) -> bool {
    common::caller::find_frames(got, sent, 0).is_some()
}

#[test]
fn the_longest_idle_agent_answers_and_audio_flows_both_ways() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut ana = registered(&ura, "2001");
    let bia = registered(&ura, "2002");
    // Bia logs in after Ana: Ana has been idle longest.
    assert_eq!(agent_action(&ura, "2002", "login"), 200);
    assert_eq!(agent_state(&ura, "2002"), "available");

    let mut caller = caller_in_queue(&ura, '1');
    let invite = ana
        .ring(Duration::from_secs(10))
        .expect("Ana's phone rings");
    assert!(
        invite
            .header("From")
            .is_some_and(|f| f.contains("sip:caller@")),
        "caller ID is the caller's: {:?}",
        invite.header("From")
    );
    assert_eq!(invite.header("X-Ura-Queue"), Some("vendas"));
    assert_eq!(wait_state(&ura, "2001", "ringing", 3), "ringing");
    // Ana answers in A-law; the caller speaks µ-law: ura transcodes.
    assert!(ana.answer(invite, 8), "ACK for Ana's 200");
    assert_eq!(wait_state(&ura, "2001", "on-call", 3), "on-call");
    std::thread::sleep(Duration::from_millis(300));
    let from_caller = pattern(1);
    caller.send_audio(&from_caller);
    let from_ana: Vec<u8> = pattern(2).iter().map(|u| alaw_of_ulaw(*u)).collect();
    ana.send_audio(8, &from_ana);
    std::thread::sleep(Duration::from_millis(300));

    let heard_by_ana: Vec<Vec<u8>> = ana.audio().into_iter().map(|p| p.payload).collect();
    let want: Vec<u8> = from_caller.iter().map(|u| alaw_of_ulaw(*u)).collect();
    assert!(
        arrived(&heard_by_ana, &want),
        "Ana hears the caller, transcoded to A-law ({} packets)",
        heard_by_ana.len()
    );
    assert!(ana.audio().iter().all(|p| p.pt == 8), "A-law to Ana");
    let heard_by_caller: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
    let want: Vec<u8> = from_ana.iter().map(|a| ulaw_of_alaw(*a)).collect();
    assert!(
        arrived(&heard_by_caller, &want),
        "the caller hears Ana, transcoded to µ-law"
    );
    // One clean stream to the caller: its SSRC never changes.
    let ssrcs: std::collections::BTreeSet<u32> = caller.audio().iter().map(|p| p.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one SSRC towards the caller");

    // The caller hangs up: Ana's phone gets BYE, Ana wraps up, then is available.
    assert_eq!(caller.bye(), Some(200));
    assert!(ana.expect_request("BYE", Duration::from_secs(5)).is_some());
    assert_eq!(wait_state(&ura, "2001", "wrap-up", 2), "wrap-up");
    assert_eq!(wait_state(&ura, "2001", "available", 5), "available");
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas 2001 answered");
    assert_eq!(rows[0].ending(), "caller-bye/caller");
    assert!(bia
        .pending
        .iter()
        .all(|m| m.method().is_none_or(|x| x.as_str() != "INVITE")));
}

#[test]
fn an_agent_who_does_not_answer_is_skipped_and_three_misses_pause_them() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut ana = registered(&ura, "2001");
    let mut bia = registered(&ura, "2002");
    assert_eq!(agent_action(&ura, "2002", "login"), 200);

    // Ana rings and does not answer: after 3 s ura cancels, and Bia gets
    // the call after the 1 s retry delay.
    let mut caller = caller_in_queue(&ura, '1');
    let invite = ana.ring(Duration::from_secs(10)).expect("Ana rings first");
    let rang = Instant::now();
    assert!(
        ana.expect_cancel(&invite, Duration::from_secs(6)),
        "CANCEL to Ana"
    );
    let waited = rang.elapsed();
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(6),
        "rang for the ring time: {waited:?}"
    );
    let invite = bia.ring(Duration::from_secs(5)).expect("then Bia rings");
    assert!(bia.answer(invite, 0));
    std::thread::sleep(Duration::from_millis(200));
    let from_bia = pattern(3);
    bia.send_audio(0, &from_bia);
    std::thread::sleep(Duration::from_millis(200));
    let heard: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
    assert!(
        arrived(&heard, &from_bia),
        "the caller hears Bia byte for byte"
    );
    // Bia hangs up: the caller's leg ends too.
    assert_eq!(bia.bye(), Some(200));
    assert!(caller
        .expect_request("BYE", Duration::from_secs(5))
        .is_some());
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas 2002 answered");
    assert_eq!(rows[0].ending(), "agent-bye/agent");

    // Two more misses in a row pause Ana ("missed calls").
    assert_eq!(agent_action(&ura, "2002", "logout"), 200);
    for _ in 0..2 {
        let _caller = caller_in_queue(&ura, '1');
        let invite = ana.ring(Duration::from_secs(10)).expect("Ana rings");
        assert!(ana.expect_cancel(&invite, Duration::from_secs(6)));
    }
    assert_eq!(
        wait_state(&ura, "2001", "paused (missed calls)", 3),
        "paused (missed calls)"
    );
}

#[test]
fn a_second_caller_hears_the_position_and_takes_the_next_free_agent() {
    let ura = Ura::start_with_config(&config("announce_seconds = 30"), &[]);
    let mut ana = registered(&ura, "2001");
    let mut first = caller_in_queue(&ura, '1');
    let invite = ana.ring(Duration::from_secs(10)).expect("Ana rings");
    assert!(ana.answer(invite, 0));
    // A second caller waits: it hears "você é o primeiro da fila".
    let second = caller_in_queue(&ura, '1');
    let prompts = ura_prompts::BuiltinPrompts::load().unwrap();
    let position = prompts
        .get("queue-position-1")
        .expect("built-in position prompt")
        .bytes(ura_media::Codec::Pcmu)
        .to_vec();
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut heard = false;
    while Instant::now() < deadline && !heard {
        std::thread::sleep(Duration::from_millis(200));
        let got: Vec<Vec<u8>> = second.audio().into_iter().map(|p| p.payload).collect();
        heard = arrived(&got, &position[..position.len().min(160 * 25)]);
    }
    assert!(heard, "the second caller heard its position");
    // The first call ends; after Ana's wrap-up the second caller gets her.
    assert_eq!(first.bye(), Some(200));
    assert!(ana.expect_request("BYE", Duration::from_secs(5)).is_some());
    let started = Instant::now();
    let invite = ana
        .ring(Duration::from_secs(10))
        .expect("Ana rings for the second caller");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "after the wrap-up time ({:?})",
        started.elapsed()
    );
    assert!(ana.answer(invite, 0));
}

#[test]
fn hold_plays_music_and_refer_hands_the_caller_to_another_agent() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut ana = registered(&ura, "2001");
    let mut bia = registered(&ura, "2002");
    let mut caller = caller_in_queue(&ura, '1');
    let invite = ana.ring(Duration::from_secs(10)).expect("Ana rings");
    assert!(ana.answer(invite, 0));
    std::thread::sleep(Duration::from_millis(300));

    // Ana holds: the caller hears hold music, not Ana.
    let before = caller.audio().len();
    assert_eq!(ana.reinvite("sendonly"), Some(200));
    std::thread::sleep(Duration::from_millis(1500));
    let prompts = ura_prompts::BuiltinPrompts::load().unwrap();
    let music = prompts
        .get("hold-music")
        .unwrap()
        .bytes(ura_media::Codec::Pcmu)
        .to_vec();
    let got: Vec<Vec<u8>> = caller.audio()[before..]
        .iter()
        .map(|p| p.payload.clone())
        .collect();
    assert!(
        arrived(&got, &music[..160 * 20]),
        "the held caller hears hold music"
    );
    assert_eq!(ana.reinvite("sendrecv"), Some(200));
    std::thread::sleep(Duration::from_millis(200));
    let from_ana = pattern(4);
    ana.send_audio(0, &from_ana);
    std::thread::sleep(Duration::from_millis(200));
    let got: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
    assert!(arrived(&got, &from_ana), "back from hold, Ana is heard");

    // Ana transfers the caller to Bia (blind REFER); Ana's leg ends.
    assert_eq!(agent_action(&ura, "2002", "login"), 200);
    assert_eq!(ana.refer("2002"), Some(202));
    let notify = ana
        .expect_request("NOTIFY", Duration::from_secs(5))
        .expect("NOTIFY sipfrag");
    assert!(String::from_utf8_lossy(&notify.body).contains("SIP/2.0"));
    let invite = bia.ring(Duration::from_secs(5)).expect("Bia rings");
    assert!(ana.expect_request("BYE", Duration::from_secs(5)).is_some());
    assert!(bia.answer(invite, 0));
    std::thread::sleep(Duration::from_millis(200));
    let from_bia = pattern(5);
    bia.send_audio(0, &from_bia);
    std::thread::sleep(Duration::from_millis(200));
    let got: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
    assert!(
        arrived(&got, &from_bia),
        "the caller now hears Bia\n{}",
        ura.logs().join("\n")
    );
    assert_eq!(caller.bye(), Some(200));
    assert!(bia.expect_request("BYE", Duration::from_secs(5)).is_some());
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas 2002 answered");
}

#[test]
fn feature_codes_log_an_agent_in_and_out_and_need_the_password() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let _bia = registered(&ura, "2002");
    assert_eq!(agent_state(&ura, "2002"), "logged-out");
    // Bia's phone dials *40: challenged like the REGISTER, then answered.
    let mut caller = Caller::new(ura.sip, false);
    let status = caller.call_as("*40", "2002", "senha-2002");
    assert_eq!(status, Some(200));
    assert_eq!(wait_state(&ura, "2002", "available", 3), "available");
    assert!(caller
        .expect_request("BYE", Duration::from_secs(8))
        .is_some());
    // *42 pauses, *43 resumes, *41 logs out.
    for (code, state) in [
        ("*42", "paused (pause)"),
        ("*43", "available"),
        ("*41", "logged-out"),
    ] {
        let mut c = Caller::new(ura.sip, false);
        assert_eq!(c.call_as(code, "2002", "senha-2002"), Some(200));
        assert_eq!(wait_state(&ura, "2002", state, 3), state, "{code}");
        assert!(c.expect_request("BYE", Duration::from_secs(8)).is_some());
    }
    // A wrong password gets no further than the challenge.
    let mut c = Caller::new(ura.sip, false);
    assert_eq!(c.call_as("*40", "2002", "errada"), Some(401));
    assert_eq!(agent_state(&ura, "2002"), "logged-out");
}

#[test]
fn a_wrong_password_does_not_register_and_says_nothing_about_the_extension() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut wrong = Phone::new(ura.sip, "2001", "errada-errada");
    let mut nobody = Phone::new(ura.sip, "7777", "errada-errada");
    assert_eq!(wrong.register(600), Some(401));
    assert_eq!(nobody.register(600), Some(401));
    // Without a registered phone Ana is never rung: the caller waits,
    // and when Ana registers she gets the call.
    let _caller = caller_in_queue(&ura, '1');
    let mut ana = Phone::new(ura.sip, "2001", "senha-2001");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ana.register(600), Some(200));
    assert!(
        ana.ring(Duration::from_secs(8)).is_some(),
        "rings once registered"
    );
}

fn ura_cli(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(args)
        .output()
        .expect("run ura");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn registrations_survive_a_restart_and_the_command_line_moves_agents() {
    let data = std::env::temp_dir().join(format!(
        "ura-restart-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let config = config("announce_seconds = 0");
    let mut ura = Ura::start_with_config_in(&config, data.clone());
    let mut ana = registered(&ura, "2001");
    let sip_port = ura.sip.port();
    assert!(ura.terminate().success());
    // The same SIP port again, so Ana's phone (which does not register
    // again) still reaches ura.
    let ura = Ura::start_in(
        data.clone(),
        &[
            "--config",
            data.with_extension("toml").to_str().unwrap(),
            "--sip",
            &format!("127.0.0.1:{sip_port}"),
        ],
    );
    let http = ura.http.to_string();
    let key = ura.api_key();
    let (ok, out) = ura_cli(&[
        "agent",
        "logout",
        "2001",
        "--http",
        &http,
        "--api-key",
        &key,
    ]);
    assert!(ok, "{out}");
    assert_eq!(agent_state(&ura, "2001"), "logged-out");
    let (ok, out) = ura_cli(&[
        "agent",
        "pause",
        "2001",
        "--reason",
        "almoço",
        "--http",
        &http,
        "--api-key",
        &key,
    ]);
    assert!(
        !ok && out.contains("not logged in"),
        "pause while logged out: {out}"
    );
    let (ok, out) = ura_cli(&["agent", "login", "2001", "--http", &http, "--api-key", &key]);
    assert!(ok, "{out}");
    let (ok, out) = ura_cli(&["agent", "list", "--http", &http, "--api-key", &key]);
    assert!(
        ok && out.contains("2001") && out.contains("available"),
        "{out}"
    );
    let (ok, out) = ura_cli(&["agent", "login", "9999", "--http", &http, "--api-key", &key]);
    assert!(!ok && out.contains("no agent 9999"), "{out}");
    // Ana's phone rings without registering again.
    let _caller = caller_in_queue(&ura, '1');
    assert!(
        ana.ring(Duration::from_secs(8)).is_some(),
        "the restored registration reaches Ana\n{}",
        ura.logs().join("\n")
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_register_flood_with_wrong_passwords_locks_the_source_not_the_agent() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut attacker = Phone::new_at("127.0.0.2", ura.sip, "2001", "adivinha-1");
    for _ in 0..8 {
        assert_eq!(attacker.register(600), Some(401));
    }
    // Locked: even the right password from that address is refused, with
    // the same answer.
    let mut locked = Phone::new_at("127.0.0.2", ura.sip, "2001", "senha-2001");
    assert_eq!(locked.register(600), Some(401));
    assert!(
        ura.logs()
            .iter()
            .any(|l| l.contains("SIP authentication lockout") && l.contains("127.0.0.2")),
        "the lockout is logged with the source"
    );
    // Ana, from her own address, registers and takes calls.
    let mut ana = registered(&ura, "2001");
    let _caller = caller_in_queue(&ura, '1');
    assert!(ana.ring(Duration::from_secs(8)).is_some());
}

#[test]
fn an_unreachable_agent_is_skipped_and_the_caller_hears_hold_music_meanwhile() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut gone = Phone::new(ura.sip, "2001", "senha-2001");
    assert_eq!(gone.register(600), Some(200));
    drop(gone); // its sockets close: ura's INVITE meets ICMP port unreachable
    let mut bia = registered(&ura, "2002");
    assert_eq!(agent_action(&ura, "2002", "login"), 200);
    let caller = caller_in_queue(&ura, '1');
    let invite = bia
        .ring(Duration::from_secs(10))
        .expect("Bia gets the call after Ana's phone does not answer");
    let prompts = ura_prompts::BuiltinPrompts::load().unwrap();
    let music = prompts
        .get("hold-music")
        .unwrap()
        .bytes(ura_media::Codec::Pcmu)
        .to_vec();
    let got: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
    assert!(
        arrived(&got, &music[..160 * 25]),
        "the caller heard hold music while Ana's phone was tried"
    );
    assert!(bia.answer(invite, 0));
}

#[test]
fn an_agent_transfers_to_a_queue_and_calls_are_recorded_in_stereo() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0\nrecord = \"stereo\""), &[]);
    let mut ana = registered(&ura, "2001");
    let mut bia = registered(&ura, "2002");
    assert_eq!(agent_action(&ura, "2002", "login"), 200);
    assert_eq!(agent_action(&ura, "2002", "pause"), 200);
    let mut caller = caller_in_queue(&ura, '1');
    let invite = ana.ring(Duration::from_secs(10)).expect("Ana rings");
    assert!(ana.answer(invite, 0));
    std::thread::sleep(Duration::from_millis(200));
    // Both talk at once: the caller 1 kHz-ish, Ana another pattern.
    let from_caller = pattern(1);
    let from_ana = pattern(6);
    std::thread::scope(|s| {
        s.spawn(|| caller.send_audio(&from_caller));
        ana.send_audio(0, &from_ana);
    });
    std::thread::sleep(Duration::from_millis(200));
    // Bia is paused: her queue suporte still takes the transfer (it
    // accepts callers when nobody is free) and she rings once resumed.
    assert_eq!(ana.refer("suporte"), Some(202));
    assert!(ana
        .expect_request("NOTIFY", Duration::from_secs(5))
        .is_some());
    assert!(ana.expect_request("BYE", Duration::from_secs(5)).is_some());
    assert_eq!(agent_action(&ura, "2002", "resume"), 200);
    let invite = bia
        .ring(Duration::from_secs(8))
        .expect("Bia rings from suporte");
    assert!(bia.answer(invite, 0));
    assert_eq!(caller.bye(), Some(200));
    assert!(bia.expect_request("BYE", Duration::from_secs(5)).is_some());
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "suporte 2002 answered");

    // The recording of Ana's part: caller left, agent right.
    let dir = ura.data_dir.join("recordings");
    let deadline = Instant::now() + Duration::from_secs(5);
    let files = loop {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        if files.len() >= 2 || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!files.is_empty(), "a recording in {}", dir.display());
    let mut first = files.clone();
    first.sort();
    let mut reader = hound::WavReader::open(&first[0]).expect("a WAV file");
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.spec().sample_rate, 8000);
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let caller_pcm: Vec<i16> = from_caller.iter().map(|u| g711::ulaw_decode(*u)).collect();
    let ana_pcm: Vec<i16> = from_ana.iter().map(|u| g711::ulaw_decode(*u)).collect();
    let contains = |hay: &[i16], needle: &[i16]| hay.windows(160).any(|w| w == &needle[800..960]);
    assert!(
        contains(&left, &caller_pcm),
        "the caller on the left channel"
    );
    assert!(contains(&right, &ana_pcm), "the agent on the right channel");
}

fn clip(name: &str) -> Vec<u8> {
    ura_prompts::BuiltinPrompts::load()
        .unwrap()
        .get(name)
        .unwrap_or_else(|| panic!("built-in {name}"))
        .bytes(ura_media::Codec::Pcmu)
        .to_vec()
}

/// Waits until the caller has heard the start of `name`.
fn hears(caller: &Caller, name: &str, secs: u64) -> bool {
    let want = clip(name);
    let want = &want[..want.len().min(160 * 20)];
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let got: Vec<Vec<u8>> = caller.audio().into_iter().map(|p| p.payload).collect();
        if arrived(&got, want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn the_exit_key_leaves_a_callback_request() {
    // Ana is logged in but her phone is not registered: callers wait.
    let ura = Ura::start_with_config(
        &config("announce_seconds = 0\nexit_key = \"*\"\nexit = \"callback\"\nperiodic_prompt = \"queue-please-hold\"\nperiodic_seconds = 5"),
        &[],
    );
    let mut caller = caller_in_queue(&ura, '1');
    assert!(
        hears(&caller, "queue-offer-callback", 5),
        "the exit key is offered"
    );
    assert!(
        hears(&caller, "queue-please-hold", 8),
        "the periodic message plays"
    );
    caller.rfc4733_digit('*');
    assert!(
        hears(&caller, "queue-callback", 5),
        "the callback is confirmed"
    );
    assert!(caller
        .expect_request("BYE", Duration::from_secs(10))
        .is_some());
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas - callback");
}

#[test]
fn the_exit_key_records_a_message() {
    let ura = Ura::start_with_config(
        &config("announce_seconds = 0\nexit_key = \"*\"\nexit = \"message\""),
        &[],
    );
    let mut caller = caller_in_queue(&ura, '1');
    assert!(hears(&caller, "queue-offer-message", 5));
    caller.rfc4733_digit('*');
    assert!(hears(&caller, "beep", 10), "instructions, then the beep");
    std::thread::sleep(Duration::from_millis(300));
    let said = pattern(7);
    caller.send_audio(&said);
    caller.rfc4733_digit('#');
    assert!(hears(&caller, "queue-message-saved", 5));
    assert!(caller
        .expect_request("BYE", Duration::from_secs(10))
        .is_some());
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas - message");
    let dir = ura.data_dir.join("messages");
    let file = std::fs::read_dir(&dir)
        .expect("a messages directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .expect("a message file");
    let mut reader = hound::WavReader::open(&file).unwrap();
    let pcm: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let sent: Vec<i16> = said.iter().map(|u| g711::ulaw_decode(*u)).collect();
    assert!(
        pcm.windows(160).any(|w| w == &sent[1600..1760]),
        "the message holds what the caller said ({} samples)",
        pcm.len()
    );
}

#[test]
fn an_agent_calls_another_agents_extension_and_takes_no_queue_call_meanwhile() {
    let ura = Ura::start_with_config(&config("announce_seconds = 0"), &[]);
    let mut ana = registered(&ura, "2001");
    // An extension without a registered phone: a notice, then BYE.
    let mut lone = Caller::new(ura.sip, false);
    assert_eq!(lone.call_as("2002", "2001", "senha-2001"), Some(200));
    lone.silence(2);
    assert!(
        hears(&lone, "internal-unavailable", 5),
        "the caller is told"
    );
    assert!(lone.expect_request("BYE", Duration::from_secs(8)).is_some());

    let mut bia = registered(&ura, "2002");
    // Ana's phone dials 2002: challenged, then Bia's phone rings.
    let mut call = Caller::new(ura.sip, false);
    assert_eq!(call.call_as("2002", "2001", "senha-2001"), Some(200));
    call.silence(3);
    let invite = bia.ring(Duration::from_secs(5)).expect("Bia's phone rings");
    assert!(
        invite
            .header("From")
            .is_some_and(|f| f.contains("sip:2001@")),
        "caller ID is Ana's extension: {:?}",
        invite.header("From")
    );
    assert!(hears(&call, "ringback", 3), "Ana hears ringback meanwhile");
    assert!(bia.answer(invite, 0));
    std::thread::sleep(Duration::from_millis(200));
    let from_bia = pattern(8);
    bia.send_audio(0, &from_bia);
    let from_ana = pattern(9);
    call.send_audio(&from_ana);
    std::thread::sleep(Duration::from_millis(200));
    let got: Vec<Vec<u8>> = call.audio().into_iter().map(|p| p.payload).collect();
    assert!(arrived(&got, &from_bia), "Ana hears Bia");
    let got: Vec<Vec<u8>> = bia.audio().into_iter().map(|p| p.payload).collect();
    assert!(arrived(&got, &from_ana), "Bia hears Ana");

    // A queue caller meanwhile is not offered to Ana (she is on a call).
    let _queued = caller_in_queue(&ura, '1');
    assert!(
        ana.ring(Duration::from_secs(2)).is_none(),
        "no queue call during an internal call"
    );
    // Bia hangs up: Ana's leg ends, and the queue caller reaches Ana.
    assert_eq!(bia.bye(), Some(200));
    assert!(call.expect_request("BYE", Duration::from_secs(5)).is_some());
    assert!(
        ana.ring(Duration::from_secs(5)).is_some(),
        "then the queue call rings Ana"
    );
}

#[test]
fn a_flood_from_one_address_is_limited_and_others_still_get_through() {
    let ura = Ura::start_with_config(
        &format!(
            "source_rate = 5\nsource_burst = 5\n{}",
            config("announce_seconds = 0")
        ),
        &[],
    );
    // A scanner on 127.0.0.2 sends 200 INVITEs to numbers that exist and
    // do not, as fast as it can.
    let scanner = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    scanner
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let local = scanner.local_addr().unwrap();
    for i in 0..200 {
        let number = if i % 2 == 0 { "1000" } else { "5555" };
        let invite = format!(
            "INVITE sip:{number}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKscan{i}\r\n\
Max-Forwards: 70\r\nFrom: <sip:scan@{local}>;tag=s{i}\r\nTo: <sip:{number}@{srv}>\r\n\
Call-ID: scan-{i}@127.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:scan@{local}>\r\nContent-Length: 0\r\n\r\n",
            srv = ura.sip
        );
        scanner.send_to(invite.as_bytes(), ura.sip).unwrap();
    }
    // Meanwhile callers from 127.0.0.1 (trusted by default) get through.
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    assert_eq!(caller.bye(), Some(200));
    // What the scanner got: mostly 503, whatever the number.
    let mut finals = std::collections::BTreeMap::<u16, usize>::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let Ok((n, _)) = scanner.recv_from(&mut buf) else {
            break;
        };
        if let Ok(m) = ura_sip::Message::parse(&buf[..n]) {
            if let Some(code) = m.status().filter(|c| *c >= 200) {
                *finals.entry(code).or_default() += 1;
            }
        }
    }
    let refused = finals.get(&503).copied().unwrap_or(0);
    // (A loaded machine may drop some datagrams either way.)
    assert!(refused >= 150, "the flood is answered 503: {finals:?}");
    assert!(
        ura.logs()
            .iter()
            .any(|l| l.contains("over its rate") && l.contains("127.0.0.2")),
        "one clear log line names the source"
    );
    // Answers past the limit say nothing about which numbers exist: the
    // 404s and 200s are only within the first burst.
    let told = finals.get(&404).copied().unwrap_or(0) + finals.get(&200).copied().unwrap_or(0);
    assert!(told <= 10, "{finals:?}");
    // The refusals are counted in /metrics by reason, and none of them is
    // a call record: a flood's requests would fill the store.
    let metrics = ura.metrics();
    let shed: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ura_sip_shed_total{reason=\"source_rate\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no source_rate count in:\n{metrics}"));
    assert!(shed >= refused as f64, "{shed} < {refused}");
    assert!(
        metrics.contains("ura_sip_sources_tracked 1\n"),
        "only the scanner's address is tracked (127.0.0.1 is trusted):\n{metrics}"
    );
    let rows = ura.calls_list();
    let shed_rows = rows
        .iter()
        .filter(|r| r.ending().starts_with("shed"))
        .count();
    assert_eq!(shed_rows, 0, "{} records", rows.len());
    assert!(
        rows.len() <= 12,
        "only the calls within the rate: {}",
        rows.len()
    );
}
