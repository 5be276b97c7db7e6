//! The admin commands: `ura schedule check` and refused configuration.

use std::process::Command;

fn ura(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(args)
        .output()
        .expect("run ura");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn schedule_check_prints_open_and_next_opening() {
    // Christmas Eve after hours: the 25th is a holiday, then a weekend.
    let (code, out, _) = ura(&[
        "schedule",
        "check",
        "--number",
        "1002",
        "--at",
        "2026-12-24T19:00:00-03:00",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("at 2026-12-24T19:00:00-03:00: closed"),
        "{out}"
    );
    assert!(
        out.contains("opens 2026-12-28T08:00:00-03:00 (segunda-feira às 8 horas)"),
        "{out}"
    );
    let (code, out, _) = ura(&[
        "schedule",
        "check",
        "--number",
        "1002",
        "--at",
        "2026-11-23T13:00:00Z",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(": open") && out.contains("closes 2026-11-23T18:00:00-03:00"),
        "{out}"
    );
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let (code, _, err) = ura(&["schedule", "check", "--number", "1002", "--at", "tomorrow"]);
    assert_eq!(code, 2);
    assert!(err.contains("--at \"tomorrow\""), "{err}");
    let (code, _, err) = ura(&["schedule", "check", "--number", "5555"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"5555\" is not configured"), "{err}");
    let dir = std::env::temp_dir().join(format!("ura-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[numbers]]\nnumber = \"3000\"\nname = \"x\"\nivr = \"nope\"\n",
    )
    .unwrap();
    let (code, _, err) = ura(&[
        "serve",
        "--config",
        bad.to_str().unwrap(),
        "--sip",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("numbers[0].ivr"), "{err}");
    assert!(
        err.contains(bad.to_str().unwrap()),
        "the error names the file: {err}"
    );
    // A prompt that is neither stored nor built in: refused at start,
    // naming the file and the place, once.
    let demo = include_str!("../src/demo.toml");
    let missing = dir.join("missing-prompt.toml");
    std::fs::write(
        &missing,
        demo.replace("welcome = \"ivr-welcome\"", "welcome = \"nao-existe\""),
    )
    .unwrap();
    let data = dir.join("data");
    let (code, out, err) = ura(&[
        "serve",
        "--config",
        missing.to_str().unwrap(),
        "--sip",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{}: ivrs.demo.welcome: no prompt named \"nao-existe\"",
            missing.display()
        )),
        "{err}"
    );
    assert_eq!(err.matches("nao-existe").count(), 1, "said once: {err}");
    assert!(!out.contains("ura listening"), "{out}");
}

#[test]
fn schedule_check_on_a_demo_number_says_it_has_no_schedule() {
    let (code, _, err) = ura(&["schedule", "check", "--number", "9000"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("built-in demo number with no schedule: always open"),
        "{err}"
    );
}

#[test]
fn a_prompt_name_outside_the_rule_is_refused_and_nothing_is_stored() {
    let dir = std::env::temp_dir().join(format!("ura-cli-name-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for n in 0..8000 {
        w.write_sample(((n as f64 * 0.3).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    for bad in ["../fora", "", "a/b"] {
        let (code, _, err) = ura(&[
            "prompt",
            "import",
            wav.to_str().unwrap(),
            "--name",
            bad,
            "--data-dir",
            data,
        ]);
        assert_eq!(code, 2, "{bad:?}");
        assert!(err.contains("1-64 letters"), "{bad:?}: {err}");
    }
    let (code, out, _) = ura(&["prompt", "list", "--data-dir", data]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    let (code, out, err) = ura(&[
        "prompt",
        "import",
        wav.to_str().unwrap(),
        "--name",
        "boas-vindas",
        "--data-dir",
        data,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported boas-vindas"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_http_port_stops_ura_before_it_says_it_is_up() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().to_string();
    let data = std::env::temp_dir().join(format!("ura-cli-http-{}", std::process::id()));
    let (code, out, err) = ura(&[
        "serve",
        "--sip",
        "127.0.0.1:0",
        "--http",
        &http,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("HTTP bind {http}")), "{err}");
    assert_eq!(err.matches("HTTP bind").count(), 1, "said once: {err}");
    assert!(!out.contains("ura listening"), "{out}");
    assert!(!err.contains("answering calls"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}
