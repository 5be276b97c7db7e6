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
}
