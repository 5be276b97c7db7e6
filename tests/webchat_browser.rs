//! The web chat and the agent desk in a real browser: Debian's Chromium,
//! driven by playwright-core (`tests/browser/webchat.mjs`, which never
//! downloads a browser), against `ura serve` on its demo (the `site` web
//! chat channel, agent 2001). A visitor on a page of another site opens
//! the widget from the activation snippet, fills the pre-chat form, picks
//! a service in the text menu and sees the position; the agent, logged in
//! at the desk in a second browser context, takes the ringing
//! conversation; they talk (HTML shown as text) and exchange files (a
//! picture both pages show as a thumbnail, a PDF the visitor downloads, a
//! file refused for its content), the visitor leaves and
//! comes back (every message once), the agent closes and the visitor sees
//! the closing message.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser`; fails
//! saying so when one is missing (the `no-peers` nextest profile leaves it
//! out on purpose).

mod common;

use std::time::Duration;

#[test]
fn webchat_browser_visitor_and_agent_talk_reconnect_and_close() {
    let (node, dir) = common::browser_peers();

    let ura = common::Ura::start(&[]);
    // The demo's agents get passwords at the first start.
    let passwords: std::collections::BTreeMap<String, String> = toml::from_str(
        &std::fs::read_to_string(ura.data_dir.join("agent-passwords.toml"))
            .expect("the demo's agent passwords"),
    )
    .unwrap();
    let url = format!("http://{}", ura.http);
    let out = common::run_node(
        &node,
        &dir,
        &[
            "webchat.mjs".as_ref(),
            url.as_ref(),
            "2001".as_ref(),
            passwords["2001"].as_ref(),
        ],
        Duration::from_secs(100),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "webchat.mjs failed ({}):\n{stdout}\n{stderr}\nura's log:\n{}",
        out.status,
        ura.logs().join("\n")
    );
    for step in [
        "the text menu is shown",
        "the position is shown",
        "sees what was said before",
        "HTML shown as text",
        "both pages show its thumbnail",
        "the visitor downloaded it whole",
        "refused, said as text",
        "each once and in order",
        "the visitor saw the closing message",
        "the desk speaks English",
        "outside 127.0.0.1: 0, page errors: 0",
        "webchat: ok",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
}
