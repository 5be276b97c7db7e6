//! baresip, a third-party softphone, as the agent: it REGISTERs with ura
//! (digest), auto-answers the call ura places when a caller reaches the
//! queue, and talks. Its microphone plays a 440 Hz tone; the caller sends
//! 1 kHz. Checks: baresip's recording of what it heard holds the caller's
//! 1 kHz, the caller hears baresip's 440 Hz, and the caller's BYE closes
//! baresip's call. baresip 1.0 (Debian 12) gives up when any challenge
//! names SHA-256, so ura offers MD5 alone here (`sip_digest = "md5"`).
//! Without baresip the test fails, saying what to install (the `no-peers`
//! nextest profile leaves it out, reported as skipped).

mod common;

use std::time::Duration;

use common::baresip::{Baresip, RATE};
use common::caller::Caller;
use common::Ura;
use ura_media::g711;

const CONFIG: &str = r#"
sip_digest = "md5"

[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"

[queues.vendas]
ring_seconds = 10
announce_seconds = 0

[agents.2001]
name = "Ana"
password = "senha-2001"
queues = { vendas = 1 }
logged_in = true

[ivrs.main.menu]
items = [{ digits = "1", label = "vendas", target = { service = "vendas" } }, { digits = "2", label = "vendas", target = { service = "vendas" } }]
"#;

fn tone(freq: f64, seconds: f64, amplitude: f64) -> Vec<i16> {
    (0..(seconds * RATE as f64) as usize)
        .map(|n| {
            (amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / RATE as f64).sin()) as i16
        })
        .collect()
}

/// The share of the signal's energy at `freq` (Goertzel over the whole
/// slice, normalised by its energy): near 1 for a pure tone.
fn share_at(x: &[f32], freq: f64) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / RATE as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = x.iter().map(|v| (*v as f64) * (*v as f64)).sum();
    (2.0 * power / (x.len() as f64 * energy.max(1e-12))).min(1.0)
}

#[test]
fn baresip_registers_as_an_agent_answers_and_both_sides_hear_each_other() {
    let program = common::peer("baresip", "baresip");
    let ura = Ura::start_with_config(CONFIG, &[]);
    let account = format!(
        "<sip:2001@127.0.0.1:{port};transport=udp>;auth_pass=senha-2001;regint=600;\
answermode=auto;audio_codecs=PCMU",
        port = ura.sip.port()
    );
    let mut phone = Baresip::start_with(&program, &account, &tone(440.0, 30.0, 8000.0));
    // baresip registers as it starts, before its control connection is up:
    // ura's log says when the binding is in.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ura
        .logs()
        .iter()
        .any(|l| l.contains("agent registered") && l.contains("user=2001"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "baresip did not register\n{}",
            phone.report(&ura)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    caller.silence(5);
    caller.rfc4733_digit('1');
    assert!(
        phone
            .event("CALL_ESTABLISHED", Duration::from_secs(10))
            .is_some(),
        "baresip did not answer\n{}",
        phone.report(&ura)
    );
    let bridged_at = caller.audio().len();
    let thousand: Vec<u8> = tone(1000.0, 3.0, 8000.0)
        .into_iter()
        .map(g711::ulaw_encode)
        .collect();
    caller.send_audio(&thousand);
    let heard: Vec<f32> = caller.audio()[bridged_at..]
        .iter()
        .flat_map(|p| {
            p.payload
                .iter()
                .map(|b| g711::ulaw_decode(*b) as f32 / 32768.0)
        })
        .collect();
    assert_eq!(caller.bye(), Some(200));
    let closed = phone.event("CALL_CLOSED", Duration::from_secs(5));
    phone.quit();
    assert!(
        closed.is_some(),
        "baresip's call not closed\n{}",
        phone.report(&ura)
    );

    // The caller heard baresip's 440 Hz (the last 2 s, after jitter buffers settled).
    let tail = &heard[heard.len().saturating_sub(2 * RATE)..];
    let s440 = share_at(tail, 440.0);
    eprintln!(
        "caller heard {:.2} s; 440 Hz share {s440:.2}",
        heard.len() as f32 / RATE as f32
    );
    assert!(
        s440 > 0.5,
        "the caller did not hear the agent (440 Hz share {s440:.2})\n{}",
        phone.report(&ura)
    );

    // baresip heard the caller's 1 kHz.
    let rec = phone
        .recording()
        .unwrap_or_else(|| panic!("no sndfile recording\n{}", phone.report(&ura)));
    let best = rec
        .chunks(RATE / 2)
        .map(|c| share_at(c, 1000.0))
        .fold(0.0, f64::max);
    eprintln!(
        "baresip recorded {:.2} s; best 1 kHz share {best:.2}",
        rec.len() as f32 / RATE as f32
    );
    assert!(
        best > 0.5,
        "the agent did not hear the caller (1 kHz share {best:.2})\n{}",
        phone.report(&ura)
    );
    let rows = ura.records(1);
    assert_eq!(rows[0].queue(), "vendas 2001 answered");
    let _ = std::fs::remove_dir_all(&phone.dir);
}
