//! The admin API against a running `ura serve` over HTTP: an IVR and a
//! schedule changed through the API are what the next call hears, a call
//! in progress is not cut, the change survives a restart, and the CLI's
//! export/import and keys work on the same store.

mod common;

use std::process::Command;
use std::time::Duration;

use common::caller::{find_frames, Caller};
use common::Ura;
use serde_json::{json, Value};
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

fn wait(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn frames(caller: &Caller) -> Vec<Vec<u8>> {
    caller.audio().iter().map(|p| p.payload.clone()).collect()
}

/// An HTTP request with ura's key; (status, JSON body).
fn api(ura: &Ura, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("http://{}{path}", ura.http);
    let auth = format!("Bearer {}", ura.api_key());
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        ("PATCH", Some(b)) => agent
            .patch(&url)
            .header("Authorization", &auth)
            .send_json(b),
        ("PUT", Some(b)) => agent.put(&url).header("Authorization", &auth).send_json(b),
        other => panic!("{other:?}"),
    };
    let mut resp = resp.expect("ura answers HTTP");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_json().unwrap_or(Value::Null);
    (status, body)
}

/// Calls `number` and gathers about `ms` of what the caller hears.
fn listen(ura: &Ura, number: &str, ms: u64) -> (Caller, Vec<Vec<u8>>) {
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call(number).status(), Some(200), "{number} answered");
    // After ura has had the ACK (RTP before it is not counted).
    std::thread::sleep(Duration::from_millis(200));
    caller.silence(5);
    wait(ms);
    let heard = frames(&caller);
    (caller, heard)
}

#[test]
fn what_the_api_changes_is_what_the_next_call_hears() {
    let data = std::env::temp_dir().join(format!(
        "ura-api-calls-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let mut ura = Ura::start_in(data.clone(), &[]);
    let prompts = BuiltinPrompts::load().unwrap();
    let pcmu = |name: &str| prompts.get(name).unwrap().bytes(Codec::Pcmu).to_vec();
    let (welcome, no_answer, closed) = (
        pcmu("ivr-welcome"),
        pcmu("ivr-no-answer"),
        pcmu("ivr-closed"),
    );
    let (status, health) = api(&ura, "GET", "/health", None);
    assert_eq!((status, health["config"].as_str()), (200, Some("store")));

    // A call in progress before the change.
    let (mut before, heard) = listen(&ura, "1000", 1_500);
    assert!(find_frames(&heard, &welcome[..160 * 50], 0).is_some());
    // 1001's schedule is never open: the welcome, then the closed prompt.
    let ms = |audio: &[u8]| audio.len() as u64 / 8;
    let (_closed_call, heard) = listen(&ura, "1001", ms(&welcome) + 2_000);
    assert!(
        find_frames(&heard, &closed[..160 * 40], 0).is_some(),
        "1001 is closed"
    );

    // The admin changes the demo IVR's welcome and opens 1001's schedule.
    let (status, ivr) = api(
        &ura,
        "PATCH",
        "/api/v1/ivrs/demo",
        Some(json!({"welcome": "ivr-no-answer"})),
    );
    assert_eq!(status, 200, "{ivr}");
    assert_eq!(ivr["version"], 2);
    let (status, s) = api(
        &ura,
        "PATCH",
        "/api/v1/schedules/nunca",
        Some(json!({"always_open": true})),
    );
    assert_eq!(status, 200, "{s}");
    let (status, check) = api(&ura, "GET", "/api/v1/schedules/nunca/check", None);
    assert_eq!(
        (status, check["open"].as_bool()),
        (200, Some(true)),
        "{check}"
    );
    // The calls up now: written at their answer, `in-progress` until they end.
    let (status, open) = api(&ura, "GET", "/api/v1/calls?outcome=in-progress", None);
    assert_eq!(status, 200, "{open}");
    let open: Vec<&str> = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    // 1000's, and 1001's while its closed prompt still plays.
    assert!(
        open.contains(&"1000") && open.iter().all(|n| ["1000", "1001"].contains(n)),
        "the calls in progress: {open:?}"
    );
    // A change the engine refuses is refused and changes nothing.
    let (status, refused) = api(
        &ura,
        "PATCH",
        "/api/v1/numbers/1000",
        Some(json!({"ivr": "nosuch"})),
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["field"], "ivr");

    let menu = pcmu("menu-para");
    for number in ["1000", "1001"] {
        let (mut after, heard) = listen(&ura, number, ms(&no_answer) + 2_000);
        assert!(
            find_frames(&heard, &no_answer[..160 * 40], 0).is_some(),
            "{number}: the new welcome; logs: {:?}",
            ura.logs()
        );
        assert!(find_frames(&heard, &welcome[..160 * 20], 0).is_none());
        // Open now: the menu, not the closed prompt.
        assert!(
            find_frames(&heard, &menu[..160 * 20], 0).is_some(),
            "{number}: the menu"
        );
        assert!(find_frames(&heard, &closed[..160 * 20], 0).is_none());
        assert_eq!(after.bye(), Some(200));
    }
    // The call that began before is still up, and heard the old welcome.
    assert_eq!(before.bye(), Some(200), "the call in progress was not cut");

    // The store is the truth: a restart keeps the change.
    assert!(ura.terminate().success());
    let ura = Ura::start_in(data.clone(), &[]);
    let (status, ivr) = api(&ura, "GET", "/api/v1/ivrs/demo", None);
    assert_eq!(
        (status, ivr["welcome"].as_str()),
        (200, Some("ivr-no-answer"))
    );
    let (mut again, heard) = listen(&ura, "1000", 2_000);
    assert!(find_frames(&heard, &no_answer[..160 * 40], 0).is_some());
    assert_eq!(again.bye(), Some(200));

    // `ura config export` prints the store's configuration as TOML, which
    // `ura config import` takes back (and a running ura on SIGHUP).
    let ura_cmd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ura"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, toml, err) = ura_cmd(&["config", "export"]);
    assert!(ok, "{err}");
    assert!(toml.contains("welcome = \"ivr-no-answer\""), "{toml}");
    let file = data.join("exported.toml");
    std::fs::write(
        &file,
        toml.replace("welcome = \"ivr-no-answer\"", "welcome = \"ivr-welcome\""),
    )
    .unwrap();
    std::fs::write(data.join("broken.toml"), "[[numbers]]\nnumber = \"1\"\n").unwrap();
    let (ok, _, err) = ura_cmd(&[
        "config",
        "import",
        data.join("broken.toml").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("numbers"), "{err}");
    let (ok, out, err) = ura_cmd(&["config", "import", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("imported"), "{out}");
    let line = ura.reload();
    assert!(line.contains("configuration reloaded"), "{line}");
    let (mut restored, heard) = listen(&ura, "1000", 1_500);
    assert!(find_frames(&heard, &welcome[..160 * 50], 0).is_some());
    assert_eq!(restored.bye(), Some(200));

    // A prompt uploaded over the API (multipart) is the next call's
    // welcome: the caller hears its tone.
    let tone = {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..32_000 {
            let t = i as f32 / 16_000.0;
            w.write_sample((f32::sin(2.0 * std::f32::consts::PI * 600.0 * t) * 12_000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
        out.into_inner()
    };
    let boundary = "uraE2eBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ntom-600\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.wav\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&tone);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let status = ureq::post(format!("http://{}/api/v1/prompts", ura.http))
        .header("Authorization", format!("Bearer {}", ura.api_key()))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .send(&body[..])
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 201);
    let (status, ivr) = api(
        &ura,
        "PATCH",
        "/api/v1/ivrs/demo",
        Some(json!({"welcome": "tom-600"})),
    );
    assert_eq!(status, 200, "{ivr}");
    let (mut toned, heard) = listen(&ura, "1000", 1_500);
    let ulaw: Vec<u8> = heard.concat();
    let mut pcm = vec![0i16; ulaw.len()];
    ura_media::g711::decode(Codec::Pcmu, &ulaw, &mut pcm);
    // The first second: zero crossings of a 600 Hz tone.
    let first = &pcm[..pcm.len().min(8_000)];
    let crossings = first
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count() as f32;
    let hz = crossings / 2.0 / (first.len() as f32 / 8000.0);
    assert!(
        (570.0..630.0).contains(&hz),
        "the caller hears the uploaded 600 Hz prompt: {hz} Hz over {} samples",
        first.len()
    );
    assert_eq!(toned.bye(), Some(200));

    // /metrics (Prometheus text): what those calls did.
    let metrics = ura.metrics();
    let value = |line_start: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{metrics}"))
    };
    assert!(value("ura_calls_ended_total{outcome=\"caller-bye\"}") >= 2.0);
    assert!(value("ura_rtp_packets_total{direction=\"sent\"}") > 100.0);
    assert!(value("ura_rtp_packets_total{direction=\"received\"}") > 0.0);
    assert_eq!(value("ura_queue_waiting{queue=\"vendas\"}"), 0.0);
    assert_eq!(value("ura_agents{state=\"available\"}"), 2.0);
    assert!(value("ura_api_requests_total{status=\"200\"}") >= 1.0);
    assert!(value("ura_api_requests_total{status=\"201\"}") >= 1.0);
    assert_eq!(value("ura_calls_active"), 0.0);

    // Keys from the CLI: a company key sees its company only.
    let (ok, out, err) = ura_cmd(&["apikey", "create", "--company", "nosuch"]);
    assert!(!ok && err.contains("no such company"), "{out}{err}");
    let (ok, out, err) = ura_cmd(&["apikey", "create", "--company", "default", "--name", "t"]);
    assert!(ok, "{err}");
    let key = out.lines().next().unwrap().trim().to_string();
    let resp = ureq::get(format!("http://{}/api/v1/numbers", ura.http))
        .header("Authorization", format!("Bearer {key}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(resp["total"], 3, "{resp}");
    let (ok, list, _) = ura_cmd(&["apikey", "list"]);
    assert!(
        ok && list.contains(&key[..12]) && !list.contains(&key),
        "{list}"
    );
    let (ok, _, err) = ura_cmd(&["apikey", "revoke", &key[..12]]);
    assert!(ok, "{err}");
    let status = ureq::get(format!("http://{}/api/v1/numbers", ura.http))
        .header("Authorization", format!("Bearer {key}"))
        .call()
        .map_or_else(
            |e| match e {
                ureq::Error::StatusCode(s) => s,
                _ => 0,
            },
            |r| r.status().as_u16(),
        );
    assert_eq!(status, 401);
}
