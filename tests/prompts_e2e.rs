//! Prompts end to end: recording one by phone (*97), and an uploaded file
//! played by an IVR. What the caller hears is judged as sound (a tone's
//! frequency, length and level; a recording's waveform), never against
//! bytes made by ura's own pipeline.

mod common;

use std::process::Command;
use std::time::Duration;

use common::audio::{assert_tone, best_ncc, decode};
use common::caller::{find_frames, Caller};
use common::Ura;
use ura_media::Codec;
use ura_prompts::BuiltinPrompts;

fn wait(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn prompt_list(data: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(["prompt", "list", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn frames(caller: &Caller) -> Vec<Vec<u8>> {
    caller.audio().iter().map(|p| p.payload.clone()).collect()
}

#[test]
fn record_a_prompt_by_phone_listen_and_save() {
    let ura = Ura::start(&["--recording-pin", "1234"]);
    let prompts = BuiltinPrompts::load().unwrap();
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("*97").status(), Some(200));
    caller.silence(5);
    wait(500);
    for d in "1234#".chars() {
        caller.rfc4733_digit(d);
    }
    // Instructions (about 4 s) and the beep, then speak: the welcome of 9000.
    wait(5_500);
    let speech = prompts.get("echo-welcome").unwrap().bytes(Codec::Pcmu)[..160 * 100].to_vec();
    caller.send_audio(&speech);
    caller.rfc4733_digit('#');
    wait(4_500);
    // 1: hear it back, byte for byte.
    caller.rfc4733_digit('1');
    wait(2_600);
    let heard = frames(&caller);
    let menu = prompts.get("rec-menu").unwrap().bytes(Codec::Pcmu);
    // (The 1 may cut the menu short: look for its first second.)
    let at = find_frames(&heard, &menu[..160 * 50], 0).expect("the 1/2/3 menu");
    // Recording decodes and playback encodes again: µ-law 0x7F (−0) comes back
    // as 0xFF (+0), the one code G.711 does not round-trip.
    let canon = |b: &[u8]| {
        b.iter()
            .map(|&c| if c == 0x7F { 0xFF } else { c })
            .collect::<Vec<u8>>()
    };
    let heard_canon: Vec<Vec<u8>> = heard.iter().map(|f| canon(f)).collect();
    assert!(
        find_frames(&heard_canon, &canon(&speech[..160 * 90]), at).is_some(),
        "the recording played back"
    );
    // 2: save it as 42.
    caller.rfc4733_digit('2');
    wait(3_000);
    for d in "42#".chars() {
        caller.rfc4733_digit(d);
    }
    let bye = caller.expect_request("BYE", Duration::from_secs(8));
    assert!(
        bye.is_some(),
        "hangs up after 'saved'; logs: {:?}",
        ura.logs()
    );
    let heard = frames(&caller);
    let saved = prompts.get("rec-saved").unwrap().bytes(Codec::Pcmu);
    assert!(
        find_frames(&heard, saved, at).is_some(),
        "heard 'mensagem salva'"
    );
    wait(500);
    let list = prompt_list(&ura.data_dir);
    let line = list
        .lines()
        .find(|l| l.starts_with("42 "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("recording"), "{line}");
    // What was saved is what the caller said: about its length once
    // silence is trimmed, and the same waveform (normalising changes only
    // the gain, which the correlation ignores).
    let saved = render(&ura.data_dir, "42", &ura.data_dir);
    let secs = saved.len() as f64 / 8000.0;
    assert!(
        (1.6..=2.3).contains(&secs),
        "saved recording lasts {secs:.2} s"
    );
    let said = decode(&speech[160 * 10..160 * 80]);
    let (ncc, at) = best_ncc(&saved, &said);
    assert!(
        ncc > 0.95,
        "the saved recording is not what was said: correlation {ncc:.3} at {at}"
    );
}

#[test]
fn wrong_pin_three_times_is_hung_up() {
    let ura = Ura::start(&["--recording-pin", "1234"]);
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("*97").status(), Some(200));
    caller.silence(5);
    for d in "1#2#3#".chars() {
        caller.rfc4733_digit(d);
    }
    assert!(caller
        .expect_request("BYE", Duration::from_secs(10))
        .is_some());
    // Without a PIN configured, *97 is an unknown number, and the log says
    // how to turn recording by phone on.
    let off = Ura::start(&[]);
    let mut caller = Caller::new(off.sip, false);
    assert_eq!(caller.call("*97").status(), Some(404));
    assert!(
        off.wait_log(&["recording by phone is off", "--recording-pin"])
            .is_some(),
        "{:?}",
        off.logs()
    );
}

/// `ura prompt import FILE --name NAME`.
fn import(data: &std::path::Path, file: &std::path::Path, name: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(["prompt", "import"])
        .arg(file)
        .args(["--name", name, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ura prompt render NAME`: the prompt as samples in `[-1, 1]` (read with
/// hound), checked to be 8 kHz mono.
fn render(data: &std::path::Path, name: &str, dir: &std::path::Path) -> Vec<f64> {
    let rendered = dir.join(format!("{name}.rendered.wav"));
    let out = Command::new(env!("CARGO_BIN_EXE_ura"))
        .args(["prompt", "render", name, "--to"])
        .arg(&rendered)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = hound::WavReader::open(&rendered).unwrap();
    assert_eq!(
        (reader.spec().sample_rate, reader.spec().channels),
        (8000, 1)
    );
    reader
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap()) / 32768.0)
        .collect()
}

/// An imported upload is trimmed and normalised to a −3 dBFS peak: a sine
/// then sits at −6 dBFS RMS.
const UPLOAD_RMS_DBFS: f64 = -6.0;

#[test]
fn an_uploaded_mp3_is_the_ivr_welcome() {
    // An mp3 made by lame, imported with the CLI before ura starts.
    common::peer("sox", "sox");
    common::peer("lame", "lame");
    let dir = std::env::temp_dir().join(format!("ura-upload-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let wav = dir.join("tone.wav");
    let mp3 = dir.join("tone.mp3");
    assert!(Command::new("sox")
        .args(["-n", "-r", "44100", "-c", "2"])
        .arg(&wav)
        .args(["synth", "1.2", "sine", "600", "gain", "-8"])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("lame")
        .arg("--quiet")
        .arg(&wav)
        .arg(&mp3)
        .status()
        .unwrap()
        .success());
    import(&data, &mp3, "boas-vindas");
    let config = include_str!("../src/demo.toml")
        .replace("welcome = \"ivr-welcome\"", "welcome = \"boas-vindas\"");
    let cfg = dir.join("ura.toml");
    std::fs::write(&cfg, config).unwrap();
    let ura = Ura::start_in(data, &["--config", cfg.to_str().unwrap()]);
    let mut caller = Caller::new(ura.sip, false);
    assert_eq!(caller.call("1000").status(), Some(200));
    caller.silence(5);
    wait(2_000);
    let heard = frames(&caller);
    // The welcome is the uploaded 1.2 s of 600 Hz, normalised, then the menu.
    let at = assert_tone(&heard, 600.0, 1.2, UPLOAD_RMS_DBFS, "the welcome");
    let menu = BuiltinPrompts::load().unwrap();
    let menu_at = find_frames(&heard, menu.get("menu-para").unwrap().bytes(Codec::Pcmu), 0);
    assert!(
        menu_at.is_some_and(|m| m > at),
        "the menu after the welcome (tone at frame {at}, menu at {menu_at:?})"
    );
}

#[test]
fn sighup_takes_a_prompt_imported_while_running_and_the_new_config() {
    common::peer("sox", "sox");
    let dir = std::env::temp_dir().join(format!("ura-reload-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let wav = dir.join("tone.wav");
    assert!(Command::new("sox")
        .args(["-n", "-r", "16000", "-c", "1"])
        .arg(&wav)
        .args(["synth", "1.2", "sine", "700", "gain", "-8"])
        .status()
        .unwrap()
        .success());
    let demo = include_str!("../src/demo.toml");
    let cfg = dir.join("ura.toml");
    std::fs::write(&cfg, demo).unwrap();
    let ura = Ura::start_in(data.clone(), &["--config", cfg.to_str().unwrap()]);
    let prompts = BuiltinPrompts::load().unwrap();
    let welcome = prompts.get("ivr-welcome").unwrap().bytes(Codec::Pcmu);

    // A call in progress across the reloads.
    let mut before = Caller::new(ura.sip, false);
    assert_eq!(before.call("1000").status(), Some(200));
    before.silence(5);

    // The admin imports a prompt while ura runs...
    import(&data, &wav, "boas-vindas");
    // ...a broken file is refused and changes nothing...
    std::fs::write(&cfg, "numbers = 1\n").unwrap();
    let line = ura.reload();
    assert!(line.contains("reload refused"), "{line}");
    // ...so is a welcome that names no prompt, saying the file and the place...
    std::fs::write(
        &cfg,
        demo.replace("welcome = \"ivr-welcome\"", "welcome = \"nao-existe\""),
    )
    .unwrap();
    let line = ura.reload();
    assert!(
        line.contains("reload refused")
            && line.contains(&format!(
                "{}: ivrs.demo.welcome: no prompt named",
                cfg.display()
            ))
            && line.contains("nao-existe"),
        "{line}"
    );
    let mut same = Caller::new(ura.sip, false);
    assert_eq!(same.call("1000").status(), Some(200));
    same.silence(5);
    wait(1_500);
    assert!(
        find_frames(&frames(&same), &welcome[..160 * 50], 0).is_some(),
        "the old welcome after a refused reload"
    );
    assert_eq!(same.bye(), Some(200));
    // ...then the prompt becomes the welcome of 1000.
    std::fs::write(
        &cfg,
        demo.replace("welcome = \"ivr-welcome\"", "welcome = \"boas-vindas\""),
    )
    .unwrap();
    let line = ura.reload();
    assert!(
        line.contains("configuration reloaded") && line.contains("prompts=1"),
        "{line}"
    );
    let mut after = Caller::new(ura.sip, false);
    assert_eq!(after.call("1000").status(), Some(200));
    after.silence(5);
    wait(2_000);
    // The imported prompt is the welcome after SIGHUP: 1.2 s of 700 Hz.
    assert_tone(
        &frames(&after),
        700.0,
        1.2,
        UPLOAD_RMS_DBFS,
        "the welcome after SIGHUP",
    );
    assert_eq!(after.bye(), Some(200));
    // The call that began before the reloads heard the old welcome and is
    // still up.
    assert!(find_frames(&frames(&before), &welcome[..160 * 50], 0).is_some());
    assert_eq!(before.bye(), Some(200));
}
