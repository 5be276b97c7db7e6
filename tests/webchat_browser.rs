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
//! the closing message; the site identifies its customer (a signed token
//! on the widget's tag), so when the visitor starts again the agent sees
//! the first conversation in the desk's history; the visitor rates the
//! conversation (the survey): the rating reaches `GET /api/v1/chats`. The
//! demo's agent is a supervisor: the desk's queue table shows the
//! conversation waiting, then taken.
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
    // The demo's channel takes identities; the site signs its customer's.
    let secret = "o-segredo-do-site-com-32-bytes-ou-mais";
    let status = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .patch(&format!("{url}/api/v1/channels/site"))
        .header("Authorization", &format!("Bearer {}", ura.api_key()))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({"identity_secret": secret}).to_string())
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let identity = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "cliente-7", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let out = common::run_node(
        &node,
        &dir,
        &[
            "webchat.mjs".as_ref(),
            url.as_ref(),
            "2001".as_ref(),
            passwords["2001"].as_ref(),
            identity.as_ref(),
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
        "queue table shows the waiting conversation",
        "one open chat in the agents table",
        "sees what was said before",
        "HTML shown as text",
        "both pages show its thumbnail",
        "the visitor downloaded it whole",
        "refused, said as text",
        "each once and in order",
        "the visitor saw the closing message",
        "the desk shows the earlier conversation",
        "the visitor rated the conversation 4",
        "the desk speaks English",
        "outside 127.0.0.1: 0, page errors: 0",
        "webchat: ok",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
    // The rating is in the conversation's record (written by a task of
    // its own: a short wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page: serde_json::Value = ureq::get(&format!("{url}/api/v1/chats?channel=site"))
            .header("Authorization", &format!("Bearer {}", ura.api_key()))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        if !rated(&page).is_null() || std::time::Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The rated conversation is the first one (the same customer's
    // second, ended later, is listed before it).
    let record = rated(&page);
    assert_eq!(record["messages"][2]["text"], "quero comprar", "{page}");
    assert_eq!(record["rating"], 4, "{page}");
    assert_eq!(record["rating_comment"], "Atendimento rápido.", "{page}");
}

/// The rated conversation's record in a page of `GET /api/v1/chats`
/// (`null` while none is).
fn rated(page: &serde_json::Value) -> &serde_json::Value {
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|r| !r["rating"].is_null()))
        .unwrap_or(&serde_json::Value::Null)
}
