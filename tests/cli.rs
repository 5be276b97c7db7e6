//! The admin commands: `ura schedule check`, `ura prompt …`, `ura calls
//! list`, and refused input.

mod common;

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
    let (code, out, err) = ura(&["schedule", "check", "--number", "9000"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("built-in demo number with no schedule: always open")
            && out.contains(": open\n")
            && out.contains("never closes"),
        "{out}"
    );
    // A number that is neither configured nor a demo is an error.
    let (code, _, err) = ura(&["schedule", "check", "--number", "5550"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"5550\" is not configured"), "{err}");
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

/// A fresh directory for one test (removed by the caller when done).
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ura-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One second of a 8 kHz tone as a WAV file.
fn tone_wav(path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..8000 {
        w.write_sample(((n as f64 * 0.3).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn prompt_help_lists_every_subcommand() {
    let (code, out, _) = ura(&["prompt", "--help"]);
    assert_eq!(code, 0);
    for sub in ["import", "say", "record", "list", "voices", "render"] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "{sub} missing from:\n{out}"
        );
    }
}

/// `ura prompt voices` lists what `say --voice` takes: every language with
/// its variants, the same list as `GET /api/v1/voices`.
#[test]
fn prompt_voices_lists_the_voices() {
    let (code, out, err) = ura(&["prompt", "voices"]);
    assert_eq!(code, 0, "{err}");
    let voices: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for v in ["pt-BR", "pt-BR+f3", "en-US", "es", "pt-PT+m1"] {
        assert!(voices.contains(&v), "{v} missing from:\n{out}");
    }
    let api: Vec<String> = ura::config_api::voices()
        .iter()
        .map(|v| v["voice"].as_str().unwrap().to_string())
        .collect();
    assert!(api.iter().all(|v| voices.contains(&v.as_str())), "{out}");
}

#[test]
fn a_missing_data_dir_is_named_and_not_created() {
    let missing = std::env::temp_dir().join(format!("ura-cli-missing-{}", std::process::id()));
    let path = missing.to_str().unwrap();
    for args in [
        &["prompt", "list", "--data-dir", path][..],
        &["calls", "list", "--data-dir", path][..],
    ] {
        let (code, out, err) = ura(args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            err.contains(&format!("no data directory {path}")),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created {path}");
    }
}

#[test]
fn render_of_an_unknown_prompt_says_so_and_a_built_in_needs_no_data_dir() {
    let dir = temp_dir("render");
    let data = dir.join("data");
    let to = dir.join("out.wav");
    let (code, _, err) = ura(&[
        "prompt",
        "render",
        "nosuch",
        "--to",
        to.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no prompt named \"nosuch\""), "{err}");
    assert!(!to.exists());
    // A built-in prompt renders with no data directory at all.
    let (code, out, err) = ura(&[
        "prompt",
        "render",
        "goodbye",
        "--to",
        to.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote"), "{out}");
    let reader = hound::WavReader::open(&to).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    assert!(
        reader.duration() > 8000 / 2,
        "{} samples",
        reader.duration()
    );
    assert!(!data.exists(), "render created the data directory");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_over_a_stored_name_needs_replace_and_languages_are_bcp47() {
    let dir = temp_dir("replace");
    let wav = dir.join("tone.wav");
    tone_wav(&wav);
    let data = dir.join("data");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "prompt",
            "import",
            wav.to_str().unwrap(),
            "--name",
            "aviso",
            "--data-dir",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ura(&args)
    };
    let (code, _, err) = import(&["--language", "en-us"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = import(&[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("a prompt named \"aviso\" exists") && err.contains("--replace"),
        "{err}"
    );
    let (code, _, err) = import(&["--language", "klingon!"]);
    assert_eq!(code, 2);
    assert!(err.contains("BCP 47"), "{err}");
    let (code, out, err) = import(&["--replace", "--language", "pt_br"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported aviso"), "{out}");
    let (_, list, _) = ura(&["prompt", "list", "--data-dir", data.to_str().unwrap()]);
    let line = list.lines().find(|l| l.starts_with("aviso ")).unwrap();
    assert_eq!(
        line.split_whitespace().nth(1),
        Some("pt-BR"),
        "stored as BCP 47: {list}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn say_refuses_an_unknown_voice_with_the_list() {
    let dir = temp_dir("voice");
    let (code, _, err) = ura(&[
        "prompt",
        "say",
        "nuqneH",
        "--voice",
        "klingon",
        "--name",
        "k",
        "--data-dir",
        dir.join("data").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no voice \"klingon\""), "{err}");
    for voice in ["pt-BR", "pt-PT", "en-US", "es"] {
        assert!(err.contains(voice), "{voice} not offered: {err}");
    }
    assert!(!dir.join("data").exists(), "nothing stored");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn calls_list_prints_csv_and_json() {
    let dir = temp_dir("calls");
    let data = dir.to_str().unwrap();
    let (code, out, err) = ura(&["calls", "list", "--format", "json", "--data-dir", data]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "[]");
    let (code, out, _) = ura(&["calls", "list", "--format", "csv", "--data-dir", data]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "id,started,number,answer,sched,digits,service,cause,side,queue,agent,wait,queue-outcome,caller\r\n"
    );
    let (code, _, err) = ura(&["calls", "list", "--format", "xml", "--data-dir", data]);
    assert_eq!(code, 2);
    assert!(err.contains("csv") && err.contains("json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Needs espeak-ng (left out by the `no-peers` profile).
#[test]
fn say_stores_the_voice_language_as_bcp47_and_needs_replace_to_say_again() {
    common::peer("espeak-ng", "espeak-ng");
    let dir = temp_dir("say");
    let data = dir.join("data");
    let say = |voice: &str, extra: &[&str]| {
        let mut args = vec![
            "prompt",
            "say",
            "bom dia",
            "--voice",
            voice,
            "--name",
            "bom-dia",
            "--data-dir",
            data.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ura(&args)
    };
    let (code, _, err) = say("pt-br", &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = say("pt-br", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--replace"), "{err}");
    let (_, list, _) = ura(&["prompt", "list", "--data-dir", data.to_str().unwrap()]);
    let line = list.lines().find(|l| l.starts_with("bom-dia ")).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some("pt-BR"), "{list}");
    // An espeak-ng variant of a listed language speaks that language.
    let (code, _, err) = say("en-gb+f3", &["--replace"]);
    assert_eq!(code, 0, "{err}");
    let (_, list, _) = ura(&["prompt", "list", "--data-dir", data.to_str().unwrap()]);
    let line = list.lines().find(|l| l.starts_with("bom-dia ")).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some("en-GB"), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The install line a test names when a peer is missing is the one
/// README.md gives (and `.ci/run` checks that it uses the same).
#[test]
fn the_install_hint_is_the_readme_line() {
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(common::INSTALL_PEERS),
        "README.md does not give: {}",
        common::INSTALL_PEERS
    );
    assert!(readme.contains("cargo nextest run --workspace --profile no-peers"));
}
