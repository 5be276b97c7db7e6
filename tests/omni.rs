//! The generic ("omni") channel against a real `ura serve`: an outside
//! system posts its customer's messages to `/omni/erp/messages` with the
//! channel's key; the text menu, the waiting status, the agent's replies
//! and the closing reach the system's webhook (a local receiver), signed
//! with the channel's secret; an agent takes the conversation at the desk.
//! A webhook that keeps failing puts the channel in `error` with the
//! reason; a restart sends what waited, and the channel is connected
//! again. Keys made by the API are shown once.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::chat::{http, next_frame, open_desk, send};
use common::receiver::{Received, Receiver};
use common::Ura;
use serde_json::{json, Value};

const KEY: &str = "chave-do-erp-0123456789";
const SECRET: &str = "segredo-do-erp-0123456789";

fn config(webhook: &str) -> String {
    format!(
        r#"
[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"
queue = "vendas"

[ivrs.main.menu]
items = [
  {{ digits = "1", label = "vendas", target = {{ service = "vendas" }} }},
  {{ digits = "2", label = "suporte", target = {{ service = "vendas" }} }},
]

[queues.vendas]
ring_seconds = 20
wrapup_seconds = 1
announce_seconds = 0

[agents.2001]
name = "Ana"
password = "senha-da-ana-123"
queues = {{ vendas = 1 }}
logged_in = true

[channels.erp]
type = "omni"
description = "Tickets do ERP"
ivr = "main"

[channels.erp.omni]
webhook_url = "{webhook}"
key = "{KEY}"
secret = "{SECRET}"
welcome = "Olá! Aqui é o atendimento."
"#
    )
}

const WAIT: Duration = Duration::from_secs(10);

/// POSTs to the channel's inbound URL with `key`: (status, body).
fn post(http_addr: SocketAddr, key: &str, body: &str) -> (u16, Value) {
    let mut r = http()
        .post(&format!("http://{http_addr}/omni/erp/messages"))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

async fn post_async(http_addr: SocketAddr, body: Value) -> (u16, Value) {
    tokio::task::spawn_blocking(move || post(http_addr, KEY, &body.to_string()))
        .await
        .unwrap()
}

/// The admin API with the data directory's key.
fn api(ura: &Ura, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", ura.http);
    let auth = format!("Bearer {}", ura.api_key());
    let h = http();
    let r = match (method, body) {
        ("GET", _) => h.get(&url).header("Authorization", &auth).call(),
        ("POST", Some(b)) => h.post(&url).header("Authorization", &auth).send_json(b),
        ("POST", None) => h.post(&url).header("Authorization", &auth).send_empty(),
        ("PUT", Some(b)) => h.put(&url).header("Authorization", &auth).send_json(b),
        ("DELETE", None) => h.delete(&url).header("Authorization", &auth).call(),
        other => panic!("{other:?}"),
    };
    let mut r = r.expect("ura answers HTTP");
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The events received for conversation `c`, each checked for the
/// channel's signature.
fn events(got: &[Received], c: &str) -> Vec<Value> {
    got.iter()
        .filter(|r| r.status == 204)
        .map(|r| {
            let sig = r.headers.get("ura-signature").expect("signed");
            ura_webhooks::verify(sig, SECRET, r.body.as_bytes(), now_s(), 300)
                .expect("signed with the channel's secret");
            r.json()
        })
        .filter(|v| v["conversation"] == c)
        .collect()
}

fn has_text(got: &[Received], c: &str, text: &str) -> bool {
    events(got, c)
        .iter()
        .any(|e| e["type"] == "conversation.message" && e["data"]["text"] == text)
}

fn has_phase(got: &[Received], c: &str, phase: &str) -> bool {
    events(got, c)
        .iter()
        .any(|e| e["type"] == "conversation.status" && e["data"]["phase"] == phase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_system_and_an_agent_talk_through_the_omni_channel() {
    let hook = Receiver::start(0);
    let ura = Ura::start_with_config(&config(&hook.url()), &[]);
    let h = ura.http;

    // Refusals: no key, a wrong key, not JSON, no conversation, no text.
    let (status, body) = tokio::task::spawn_blocking(move || {
        let checks = [
            post(h, "", r#"{"conversation":"T-1","text":"oi"}"#),
            post(
                h,
                "chave-errada-0123456789",
                r#"{"conversation":"T-1","text":"oi"}"#,
            ),
            post(h, KEY, "not json"),
            post(h, KEY, r#"{"text":"oi"}"#),
            post(h, KEY, r#"{"conversation":"T-1"}"#),
            post(h, KEY, r#"{"conversation":"T-1","text":"oi","extra":1}"#),
        ];
        let statuses: Vec<u16> = checks.iter().map(|c| c.0).collect();
        let bodies: Vec<Value> = checks.into_iter().map(|c| c.1).collect();
        (statuses, bodies)
    })
    .await
    .unwrap();
    assert_eq!(status, [401, 401, 400, 400, 400, 400], "{body:#?}");
    assert_eq!(body[0]["error"]["field"], "authorization");
    assert_eq!(body[3]["error"]["field"], "conversation");
    assert_eq!(body[4]["error"]["field"], "text");
    assert_eq!(body[5]["error"]["field"], "extra");

    // The customer writes: the conversation starts; the welcome and the
    // menu reach the webhook, signed.
    let first = json!({
        "conversation": "T-1", "message_id": "m1", "text": "Olá",
        "customer": {"id": "c-9", "name": "Maria", "email": "maria@example.com"},
    });
    let (status, taken) = post_async(h, first.clone()).await;
    assert_eq!(status, 202, "{taken}");
    let seq = taken["seq"].as_u64().unwrap();
    assert!(seq >= 1);
    assert_eq!(taken["duplicate"], false);
    let got = hook.wait(WAIT, |g| {
        has_text(g, "T-1", "Digite 1 para vendas, 2 para suporte.")
            && has_text(g, "T-1", "Olá! Aqui é o atendimento.")
    });
    assert!(
        has_text(&got, "T-1", "Olá! Aqui é o atendimento."),
        "{got:#?}"
    );
    assert!(
        has_text(&got, "T-1", "Digite 1 para vendas, 2 para suporte."),
        "{got:#?}"
    );
    let one = &got[0];
    assert_eq!(one.headers["ura-event"], "conversation.message");
    assert!(one.headers.contains_key("ura-delivery"));
    assert_eq!(one.json()["channel"], "erp");
    // The customer's own message is not sent back.
    assert!(!has_text(&got, "T-1", "Olá"));

    // The same message id again: taken once.
    let (status, again) = post_async(h, first).await;
    assert_eq!(status, 202);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["seq"].as_u64(), Some(seq));

    // Option 1: the conversation waits in the queue.
    let (status, _) = post_async(
        h,
        json!({"conversation": "T-1", "message_id": "m2", "text": "1"}),
    )
    .await;
    assert_eq!(status, 202);
    let got = hook.wait(WAIT, |g| has_phase(g, "T-1", "waiting"));
    assert!(has_phase(&got, "T-1", "waiting"), "{got:#?}");

    // The agent takes it at the desk: the customer's fields are shown.
    let (mut desk, mut seen) = open_desk(h, "2001", "senha-da-ana-123").await;
    let offer = next_frame(&mut desk, &mut seen, WAIT, |f| f["type"] == "offer").await;
    assert_eq!(offer["visitor"]["name"], "Maria");
    assert_eq!(offer["visitor"]["external_id"], "T-1");
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, &mut seen, WAIT, |f| f["type"] == "conversation").await;
    assert_eq!(conv["channel"], "erp");
    assert_eq!(conv["customer"], "erp:c-9");
    let id = conv["conversation"].clone();
    // (Deliveries go out side by side: the status may come after.)
    let got = hook.wait(WAIT, |g| {
        has_text(g, "T-1", "Você está sendo atendido por Ana.") && has_phase(g, "T-1", "connected")
    });
    assert!(
        has_text(&got, "T-1", "Você está sendo atendido por Ana."),
        "{got:#?}"
    );
    assert!(has_phase(&got, "T-1", "connected"), "{got:#?}");

    // They talk both ways.
    send(
        &mut desk,
        json!({"type": "text", "conversation": id, "text": "Bom dia, Maria!"}),
    )
    .await;
    let got = hook.wait(WAIT, |g| has_text(g, "T-1", "Bom dia, Maria!"));
    let reply = events(&got, "T-1")
        .into_iter()
        .find(|e| e["data"]["text"] == "Bom dia, Maria!")
        .expect("the agent's reply at the webhook");
    assert_eq!(reply["data"]["from"], "agent");
    assert_eq!(reply["data"]["name"], "Ana");
    let (status, _) = post_async(
        h,
        json!({"conversation": "T-1", "message_id": "m3", "text": "Quero um orçamento"}),
    )
    .await;
    assert_eq!(status, 202);
    next_frame(&mut desk, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Quero um orçamento"
    })
    .await;

    // Messages reach the webhook in order of their numbers, each once.
    let got = hook.got();
    let seqs: Vec<u64> = events(&got, "T-1")
        .iter()
        .filter(|e| e["type"] == "conversation.message")
        .map(|e| e["data"]["seq"].as_u64().unwrap())
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seqs.len(), sorted.len(), "each once: {seqs:?}");

    // The agent closes: the closing text and the end reach the webhook.
    send(&mut desk, json!({"type": "close", "conversation": id})).await;
    let got = hook.wait(WAIT, |g| has_phase(g, "T-1", "closed"));
    assert!(has_phase(&got, "T-1", "closed"), "{got:#?}");

    // A message after the end starts a new conversation.
    let (status, _) = post_async(
        h,
        json!({"conversation": "T-1", "message_id": "m4", "text": "Mais uma coisa"}),
    )
    .await;
    assert_eq!(status, 202);
    let welcomes = |g: &[Received]| {
        events(g, "T-1")
            .iter()
            .filter(|e| e["data"]["text"] == "Olá! Aqui é o atendimento.")
            .count()
    };
    let got = hook.wait(WAIT, |g| welcomes(g) == 2);
    assert_eq!(welcomes(&got), 2);
    // The customer leaves it.
    let (status, _) = post_async(h, json!({"conversation": "T-1", "type": "close"})).await;
    assert_eq!(status, 202);
    let (status, body) = post_async(h, json!({"conversation": "T-9", "type": "close"})).await;
    assert_eq!(status, 404, "{body}");
    // The second conversation's end reaches the webhook.
    let ended = |g: &[Received]| {
        events(g, "T-1")
            .iter()
            .filter(|e| e["type"] == "conversation.status" && e["data"]["phase"] == "closed")
            .count()
    };
    let got = hook.wait(WAIT, |g| ended(g) == 2);
    assert_eq!(ended(&got), 2);

    // The delivery log (every one delivered, once the last answers are
    // in) and the state, over the admin API.
    let ura = std::sync::Arc::new(ura);
    let u = ura.clone();
    let (log, channel) = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        let log = loop {
            let log = api(&u, "GET", "/api/v1/channels/erp/deliveries", None);
            let done = log.1["items"]
                .as_array()
                .is_some_and(|i| i.iter().all(|d| d["status"] == "delivered"));
            if done || std::time::Instant::now() > deadline {
                break log;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (log, api(&u, "GET", "/api/v1/channels/erp", None))
    })
    .await
    .unwrap();
    assert_eq!(log.0, 200, "{log:?}");
    let items = log.1["items"].as_array().unwrap();
    assert!(items.len() >= 8, "{items:#?}");
    assert!(
        items.iter().all(|d| d["status"] == "delivered"),
        "{items:#?}"
    );
    assert_eq!(channel.1["state"], "connected");
    assert_eq!(channel.1["omni"]["key_set"], true);
    assert!(channel.1["omni"].get("key").is_none());
    assert_eq!(channel.1["activation"]["inbound_url"], "/omni/erp/messages");
}

#[test]
fn a_failing_webhook_puts_the_channel_in_error_and_a_restart_recovers() {
    let hook = Receiver::start(0);
    hook.set_failing(true);
    let ura = Ura::start_with_config(&config(&hook.url()), &[]);
    let (status, body) = post(
        ura.http,
        KEY,
        &json!({"conversation": "T-2", "text": "Alô?"}).to_string(),
    );
    // Taken: the webhook being down is ura's to deal with.
    assert_eq!(status, 202, "{body}");
    // Three failed attempts in a row (the welcome, the menu and the status
    // are three deliveries, each tried at once): error.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let channel = loop {
        let (_, c) = api(&ura, "GET", "/api/v1/channels/erp", None);
        if c["state"] == "error" || std::time::Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(channel["state"], "error", "{channel:#}");
    let reason = channel["state_reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(hook.got().iter().all(|r| r.status == 503));
    let (_, log) = api(
        &ura,
        "GET",
        "/api/v1/channels/erp/deliveries?status=pending",
        None,
    );
    assert!(
        !log["items"].as_array().unwrap().is_empty(),
        "retries wait: {log:#}"
    );

    // The webhook is back; a restart sends what waited at once.
    hook.set_failing(false);
    let (status, restarted) = api(&ura, "POST", "/api/v1/channels/erp/restart", None);
    assert_eq!(status, 200, "{restarted}");
    assert!(restarted["retried"].as_u64().unwrap() >= 1, "{restarted}");
    assert_eq!(restarted["state"], "connected");
    let got = hook.wait(WAIT, |g| {
        has_text(g, "T-2", "Digite 1 para vendas, 2 para suporte.")
            && has_text(g, "T-2", "Olá! Aqui é o atendimento.")
    });
    assert!(
        has_text(&got, "T-2", "Olá! Aqui é o atendimento."),
        "{got:#?}"
    );
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, log) = api(&ura, "GET", "/api/v1/channels/erp/deliveries", None);
        let items = log["items"].as_array().unwrap().clone();
        if items.iter().all(|d| d["status"] == "delivered") {
            assert!(
                items.iter().all(|d| d["attempts"].as_i64().unwrap() >= 2),
                "{items:#?}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{items:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, c) = api(&ura, "GET", "/api/v1/channels/erp", None);
    assert_eq!(c["state"], "connected", "{c:#}");
}

#[test]
fn an_omni_channel_made_over_the_api_gets_keys_shown_once() {
    let hook = Receiver::start(0);
    let ura = Ura::start(&[]);
    let (status, made) = api(
        &ura,
        "POST",
        "/api/v1/channels",
        Some(json!({
            "id": "erp", "type": "omni", "description": "ERP", "service": "vendas",
            "omni": {"webhook_url": hook.url()},
        })),
    );
    assert_eq!(status, 201, "{made:#}");
    let key = made["omni"]["key"].as_str().unwrap().to_string();
    let secret = made["omni"]["secret"].as_str().unwrap().to_string();
    assert!(key.len() >= 16 && secret.len() >= 16 && key != secret);
    assert_eq!(made["activation"]["inbound_url"], "/omni/erp/messages");
    // Never shown again; a PUT without them keeps them.
    let (_, shown) = api(&ura, "GET", "/api/v1/channels/erp", None);
    assert!(shown["omni"].get("key").is_none() && shown["omni"].get("secret").is_none());
    assert_eq!(shown["omni"]["key_set"], true);
    assert_eq!(shown["omni"]["secret_set"], true);
    let mut again = shown.clone();
    again["description"] = json!("ERP (tickets)");
    let (status, put) = api(&ura, "PUT", "/api/v1/channels/erp", Some(again));
    assert_eq!(status, 200, "{put:#}");
    assert!(put["omni"].get("key").is_none());
    // A bad webhook URL is refused naming the field.
    let (status, bad) = api(
        &ura,
        "POST",
        "/api/v1/channels",
        Some(json!({
            "id": "erp2", "type": "omni", "description": "ERP", "service": "suporte",
            "omni": {"webhook_url": "ftp://x"},
        })),
    );
    assert_eq!(status, 422, "{bad:#}");
    assert!(
        bad["error"]["field"]
            .as_str()
            .unwrap()
            .ends_with("omni.webhook_url"),
        "{bad:#}"
    );
    // The key made works; the webhook gets the welcome and the queue's
    // waiting notice, signed with the secret made.
    let (status, body) = post(
        ura.http,
        &key,
        &json!({"conversation": "X-1", "text": "Preciso de ajuda"}).to_string(),
    );
    assert_eq!(status, 202, "{body}");
    let got = hook.wait(WAIT, |g| !g.is_empty());
    let sig = got[0].headers.get("ura-signature").expect("signed");
    ura_webhooks::verify(sig, &secret, got[0].body.as_bytes(), now_s(), 300)
        .expect("signed with the secret ura made");

    // Several channels deleted at once: none while one has an open
    // conversation (named), all once it ended.
    let (status, _) = api(
        &ura,
        "POST",
        "/api/v1/channels",
        Some(json!({
            "id": "erp3", "type": "omni", "description": "ERP 3", "service": "vendas",
            "omni": {"webhook_url": hook.url()},
        })),
    );
    assert_eq!(status, 201);
    let delete = |ids: &str| {
        let mut r = http()
            .delete(&format!("http://{}/api/v1/channels?ids={ids}", ura.http))
            .header("Authorization", &format!("Bearer {}", ura.api_key()))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            r.body_mut().read_json::<Value>().unwrap_or(Value::Null),
        )
    };
    let (status, refused) = delete("erp,erp3");
    assert_eq!(status, 409, "{refused:#}");
    let why = refused["error"]["message"].as_str().unwrap();
    assert!(why.contains("erp (") && !why.contains("erp3 ("), "{why}");
    assert_eq!(api(&ura, "GET", "/api/v1/channels/erp3", None).0, 200);
    let (status, _) = post(
        ura.http,
        &key,
        &json!({"conversation": "X-1", "type": "close"}).to_string(),
    );
    assert_eq!(status, 202);
    let deadline = std::time::Instant::now() + WAIT;
    let (status, deleted) = loop {
        let d = delete("erp,erp3");
        if d.0 != 409 || std::time::Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200, "{deleted:#}");
    assert_eq!(deleted["deleted"], json!(["erp", "erp3"]));
    assert_eq!(api(&ura, "GET", "/api/v1/channels/erp", None).0, 404);
    assert_eq!(delete("nope").0, 404);
    assert_eq!(delete(",").0, 422);
}

#[test]
fn a_channel_made_again_after_deleting_one_in_error_starts_connected() {
    let hook = Receiver::start(0);
    hook.set_failing(true);
    let ura = Ura::start(&[]);
    let make = || {
        api(
            &ura,
            "POST",
            "/api/v1/channels",
            Some(json!({
                "id": "erp", "type": "omni", "description": "ERP", "service": "vendas",
                "omni": {"webhook_url": hook.url(), "key": KEY, "secret": SECRET},
            })),
        )
    };
    let (status, made) = make();
    assert_eq!(status, 201, "{made:#}");
    let message = |text: &str| {
        post(
            ura.http,
            KEY,
            &json!({"conversation": "C-1", "text": text}).to_string(),
        )
    };
    // The channel is live once the engine has the new configuration.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = message("Oi");
        if status == 202 {
            break;
        }
        assert!(
            status == 404 && std::time::Instant::now() < deadline,
            "{status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, c) = api(&ura, "GET", "/api/v1/channels/erp", None);
        if c["state"] == "error" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never in error: {c:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Ended (404: it had already ended, e.g. out of hours).
    let close = json!({"conversation": "C-1", "type": "close"}).to_string();
    let (status, body) = post(ura.http, KEY, &close);
    assert!(status == 202 || status == 404, "{status} {body}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = api(&ura, "DELETE", "/api/v1/channels/erp", None);
        if status != 409 {
            assert!((200..300).contains(&status), "{status} {body:#}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Made again, its webhook answering: connected, not the old error.
    hook.set_failing(false);
    let (status, made) = make();
    assert_eq!(status, 201, "{made:#}");
    let (_, c) = api(&ura, "GET", "/api/v1/channels/erp", None);
    assert_eq!(c["state"], "connected", "{c:#}");
    assert!(c["state_reason"].is_null(), "{c:#}");
}

/// A blocking request with raw bytes: the status, the body and the
/// content type.
fn raw(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
) -> (u16, Vec<u8>, Option<String>) {
    let h = http();
    let mut r = match (method, body) {
        ("GET", _) => {
            let mut req = h.get(url);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.call()
        }
        (_, Some(b)) => {
            let mut req = h.post(url);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.send(&b[..])
        }
        other => panic!("{other:?}"),
    }
    .expect("ura answers HTTP");
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().unwrap_or_default();
    (status, body, kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_both_ways_through_the_omni_channel() {
    let hook = Receiver::start(0);
    let ura = Ura::start_with_config(&config(&hook.url()), &[]);
    let h = ura.http;
    let start = json!({
        "conversation": "F-1", "message_id": "f1", "text": "Olá",
        "customer": {"name": "João"},
    });
    assert_eq!(post_async(h, start).await.0, 202);
    let pick = json!({"conversation": "F-1", "message_id": "f2", "text": "1"});
    assert_eq!(post_async(h, pick).await.0, 202);
    let (status, cookie, _) = tokio::task::spawn_blocking(move || {
        common::chat::desk_login(h, "2001", "senha-da-ana-123")
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    let cookie = cookie.expect("a desk session");
    let mut desk = common::chat::desk(h, &cookie, &format!("http://{h}"))
        .await
        .expect("the desk's socket");
    let mut seen = Vec::new();
    let offer = next_frame(&mut desk, &mut seen, WAIT, |f| f["type"] == "offer").await;
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, &mut seen, WAIT, |f| f["type"] == "conversation").await;
    let id = conv["conversation"]
        .as_u64()
        .expect("the conversation's id");

    // The customer's picture, from the outside system.
    let mut picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    picture.extend(std::iter::repeat_n(7u8, 40_000));
    let up = format!("http://{h}/omni/erp/attachments?conversation=F-1");
    let auth = ("Authorization", format!("Bearer {KEY}"));
    let png = ("Content-Type", "image/png".to_string());
    let (pic, url) = (picture.clone(), up.clone());
    let (a2, p2) = (auth.clone(), png.clone());
    let (status, body, _) = tokio::task::spawn_blocking(move || {
        raw(
            "POST",
            &url,
            &[a2, p2, ("X-Ura-Name", "foto%20do%20produto.png".into())],
            Some(pic),
        )
    })
    .await
    .unwrap();
    let made: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!(status, 201, "{made}");
    let m = next_frame(&mut desk, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["attachment"].is_object()
    })
    .await;
    assert_eq!(m["from"], "visitor");
    assert_eq!(m["attachment"]["name"], "foto do produto.png");
    assert_eq!(m["attachment"]["type"], "image/png");
    let file = m["attachment"]["id"].as_str().unwrap().to_string();
    let (c2, f2) = (cookie.clone(), file.clone());
    let (status, got, _) = tokio::task::spawn_blocking(move || {
        raw(
            "GET",
            &format!("http://{h}/desk/attachments/{f2}"),
            &[("Cookie", c2)],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(
        (status, got == picture),
        (200, true),
        "the agent gets the bytes"
    );

    // Refused, each naming why: no key, no such conversation, no
    // conversation named, content that is not its declared type.
    let (pic, a3, p3) = (picture.clone(), auth.clone(), png.clone());
    let refusals = tokio::task::spawn_blocking(move || {
        let post = |url: String, headers: Vec<(&str, String)>, body: Vec<u8>| {
            let (status, body, _) = raw("POST", &url, &headers, Some(body));
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        };
        vec![
            post(
                format!("http://{h}/omni/erp/attachments?conversation=F-1"),
                vec![p3.clone()],
                pic.clone(),
            ),
            post(
                format!("http://{h}/omni/erp/attachments?conversation=nope"),
                vec![a3.clone(), p3.clone()],
                pic.clone(),
            ),
            post(
                format!("http://{h}/omni/erp/attachments"),
                vec![a3.clone(), p3.clone()],
                pic.clone(),
            ),
            post(
                format!("http://{h}/omni/erp/attachments?conversation=F-1"),
                vec![a3.clone(), ("Content-Type", "application/pdf".into())],
                pic,
            ),
        ]
    })
    .await
    .unwrap();
    let statuses: Vec<u16> = refusals.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [401, 404, 400, 422], "{refusals:#?}");
    assert_eq!(refusals[0].1["error"]["field"], "authorization");
    assert_eq!(refusals[1].1["error"]["field"], "conversation");
    assert_eq!(refusals[2].1["error"]["field"], "conversation");
    assert_eq!(refusals[3].1["error"]["field"], "content-type");

    // The agent's document reaches the webhook with a URL the outside
    // system fetches with the channel's key.
    let mut doc = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    doc.extend(std::iter::repeat_n(b'x', 20_000));
    let (c3, d3) = (cookie.clone(), doc.clone());
    let (status, body, _) = tokio::task::spawn_blocking(move || {
        raw(
            "POST",
            &format!("http://{h}/desk/conversations/{id}/attachments"),
            &[
                ("Cookie", c3),
                ("X-Ura-Desk", "1".into()),
                ("Content-Type", "application/pdf".into()),
                ("X-Ura-Name", "orcamento.pdf".into()),
            ],
            Some(d3),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let got = hook.wait(WAIT, |g| {
        events(g, "F-1")
            .iter()
            .any(|e| e["data"]["attachment"]["name"] == "orcamento.pdf")
    });
    let event = events(&got, "F-1")
        .into_iter()
        .find(|e| e["data"]["attachment"]["name"] == "orcamento.pdf")
        .expect("the agent's file at the webhook");
    assert_eq!(event["data"]["from"], "agent");
    assert_eq!(event["data"]["attachment"]["type"], "application/pdf");
    let url = event["data"]["attachment"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("/omni/erp/attachments/") && url.ends_with("?conversation=F-1"),
        "{url}"
    );
    let (u2, a4) = (url.clone(), auth.clone());
    let (status, fetched, kind) =
        tokio::task::spawn_blocking(move || raw("GET", &format!("http://{h}{u2}"), &[a4], None))
            .await
            .unwrap();
    assert_eq!((status, fetched == doc), (200, true));
    assert_eq!(kind.as_deref(), Some("application/pdf"));
    let (status, _, _) = tokio::task::spawn_blocking(move || {
        raw(
            "GET",
            &format!("http://{h}{url}"),
            &[("Authorization", "Bearer chave-errada-0123456789".into())],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 401);
}
