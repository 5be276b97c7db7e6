//! A SIP scanner learns nothing about which numbers and agents exist
//! beyond what a normal call reveals: SIPVicious `svwar` (PyPI
//! `sipvicious`) guessing extensions by REGISTER, OPTIONS and INVITE.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Ura;

/// The version `.ci/run` installs.
const SIPVICIOUS: &str = "sipvicious==0.3.4";

/// `sipvicious_svwar`: on PATH, or in the venv `.ci/run` makes
/// (`target/ci-venv`).
fn svwar() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin");
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([venv])
        .map(|d| d.join("sipvicious_svwar"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "sipvicious_svwar not found: `pip install {SIPVICIOUS}` (or \
                 `python3 -m venv target/ci-venv && target/ci-venv/bin/pip install {SIPVICIOUS}`), \
                 or leave out the tests that need peers: \
                 `cargo nextest run --workspace --profile no-peers`"
            )
        })
}

/// The extensions svwar reports, with how it classified each.
fn scan(ura: &Ura, method: &str) -> (BTreeMap<String, String>, String) {
    let local = common::sipp::free_port().to_string();
    let mut child = Command::new(svwar())
        .args(["--force", "-m", method, "-p", &ura.sip.port().to_string()])
        .args(["-P", &local, "-b", "127.0.0.1", "--maximumtime", "60"])
        .args(["-e", "995-1003,1998-2003,9000,9100", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run svwar");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("svwar output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Rows of its table: `| 1000 | weird |`.
    let found = text
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            match cols.as_slice() {
                ["", ext, how, ""]
                    if ext.bytes().all(|b| b.is_ascii_digit()) && !ext.is_empty() =>
                {
                    Some((ext.to_string(), how.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    (found, text)
}

#[test]
fn svwar_tells_agents_and_numbers_from_nothing_only_as_a_call_would() {
    // The demo: numbers 1000-1002 and 9000/9100, agents 2001 and 2002.
    let ura = Ura::start(&[]);
    // REGISTER: every extension gets the same challenge, agent or not.
    let (found, out) = scan(&ura, "REGISTER");
    assert!(found.is_empty(), "REGISTER revealed {found:?}\n{out}");
    // OPTIONS: one answer for all; whatever svwar makes of it, an agent or
    // a number looks like an extension that does not exist.
    let (found, out) = scan(&ura, "OPTIONS");
    for (known, unknown) in [("2001", "1999"), ("2002", "2003"), ("1000", "995")] {
        assert_eq!(
            found.get(known),
            found.get(unknown),
            "OPTIONS tells {known} from {unknown}: {found:?}\n{out}"
        );
    }
    // INVITE: only numbers a caller reaches anyway (they answer); agents'
    // extensions answer a stranger like nothing at all.
    let (found, out) = scan(&ura, "INVITE");
    let callable = ["1000", "1001", "1002", "9000", "9100"];
    assert!(
        found.keys().all(|e| callable.contains(&e.as_str())),
        "INVITE revealed {found:?}\n{out}"
    );
    assert!(!found.contains_key("2001") && !found.contains_key("2002"));
    // The scanner works and is read right: it finds what a call finds.
    assert!(found.contains_key("1000"), "svwar found no number\n{out}");
}
