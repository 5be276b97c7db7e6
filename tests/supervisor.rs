//! Supervisors at the desk against a real `ura serve`: a supervisor's desk
//! socket gets the `live` frame at once, then a waiting chat in its queue,
//! then the agent who took it (the queue empty again); nothing is pushed
//! while only the waits grow; an agent who is not a supervisor gets no
//! `live` frame at all.

mod common;

use std::time::Duration;

use common::chat::{next_frame, open_desk, send, Ws};
use serde_json::{json, Value};

const CONFIG: &str = r#"
[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"
queue = "vendas"

[ivrs.main.menu]
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
]

[queues.vendas]
ring_seconds = 20
wrapup_seconds = 1
announce_seconds = 0

[queues.suporte]

[agents.2001]
name = "Ana"
password = "senha-da-ana-123"
queues = { vendas = 1 }
logged_in = true

[agents.2002]
name = "Bia"
password = "senha-da-bia-123"
queues = { suporte = 1 }
logged_in = true

[agents.2009]
name = "Sofia"
password = "senha-da-sofia-123"
queues = { suporte = 1 }
supervisor = true

[channels.site]
type = "webchat"
description = "Chat do site"
ivr = "main"
"#;

const WAIT: Duration = Duration::from_secs(10);

/// Every frame that arrives within `d` (none is fine).
async fn frames_for(ws: &mut Ws, d: Duration) -> Vec<Value> {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + d;
    let mut out = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            out.push(serde_json::from_str(t.as_str()).expect("JSON frames"));
        }
    }
    out
}

fn queue<'a>(live: &'a Value, name: &str) -> &'a Value {
    live["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["name"] == name))
        .unwrap_or_else(|| panic!("queue {name} in {live}"))
}

fn agent<'a>(live: &'a Value, ext: &str) -> &'a Value {
    live["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["ext"] == ext))
        .unwrap_or_else(|| panic!("agent {ext} in {live}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_a_waiting_chat_then_its_agent_and_others_see_nothing() {
    let ura = common::Ura::start_with_config(CONFIG, &[]);
    let http = ura.http;

    // Sofia, a supervisor, opens her desk: the view at once.
    let (mut sup, mut sup_seen) = open_desk(http, "2009", "senha-da-sofia-123").await;
    let hello = next_frame(&mut sup, &mut sup_seen, WAIT, |f| f["type"] == "hello").await;
    assert_eq!(hello["supervisor"], true, "{hello}");
    let first = next_frame(&mut sup, &mut sup_seen, WAIT, |f| f["type"] == "live").await;
    assert_eq!(queue(&first, "vendas")["waiting"], json!([]), "{first}");
    assert_eq!(agent(&first, "2001")["name"], "Ana", "{first}");
    assert_eq!(agent(&first, "2001")["state"], "available", "{first}");
    assert_eq!(agent(&first, "2009")["state"], "logged-out", "{first}");

    // Bia is no supervisor: her desk says so.
    let (mut bia, mut bia_seen) = open_desk(http, "2002", "senha-da-bia-123").await;
    let hello = next_frame(&mut bia, &mut bia_seen, WAIT, |f| f["type"] == "hello").await;
    assert_eq!(hello["supervisor"], false, "{hello}");

    // A visitor waits in vendas (Ana has no desk open: nobody takes it).
    let (mut v, _) = tokio_tungstenite::connect_async(format!("ws://{http}/chat/site/ws"))
        .await
        .expect("the visitor's socket opens");
    let mut v_seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    send(&mut v, json!({"type": "text", "text": "1"})).await;
    next_frame(&mut v, &mut v_seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "waiting"
    })
    .await;
    let waiting = next_frame(&mut sup, &mut sup_seen, WAIT, |f| {
        f["type"] == "live" && !queue(f, "vendas")["waiting"].as_array().unwrap().is_empty()
    })
    .await;
    let vendas = queue(&waiting, "vendas");
    let w = &vendas["waiting"][0];
    assert_eq!(w["channel"], "chat", "{waiting}");
    assert_eq!(w["position"], 1, "{waiting}");
    let conversation = w["conversation"].as_u64().expect("the conversation's id");
    assert!(vendas["longest_wait_s"].is_u64(), "{waiting}");

    // Only the wait grows: nothing pushed (the page counts the seconds).
    let quiet = frames_for(&mut sup, Duration::from_millis(2_500)).await;
    assert!(
        quiet.iter().all(|f| f["type"] != "live"),
        "pushed with no change: {quiet:#?}"
    );

    // Ana opens her desk and takes it: the queue is empty, the chat hers.
    let (mut ana, mut ana_seen) = open_desk(http, "2001", "senha-da-ana-123").await;
    let offer = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "offer").await;
    assert_eq!(offer["conversation"].as_u64(), Some(conversation));
    send(&mut ana, json!({"type": "accept", "offer": offer["offer"]})).await;
    next_frame(&mut ana, &mut ana_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    let taken = next_frame(&mut sup, &mut sup_seen, WAIT, |f| {
        f["type"] == "live" && agent(f, "2001")["chats_open"] == 1
    })
    .await;
    assert_eq!(queue(&taken, "vendas")["waiting"], json!([]), "{taken}");
    assert_ne!(agent(&taken, "2001")["state"], "logged-out", "{taken}");
    // At most one push a second: the frames since the first, over the
    // time they took.
    let pushes = sup_seen.iter().filter(|f| f["type"] == "live").count();
    assert!(pushes <= 8, "{pushes} pushes: {sup_seen:#?}");

    // Bia saw none of it: no live frame on her desk, ever.
    bia_seen.extend(frames_for(&mut bia, Duration::from_millis(1_500)).await);
    assert!(
        bia_seen.iter().all(|f| f["type"] != "live"),
        "a non-supervisor got the live view: {bia_seen:#?}"
    );
    // Ana, no supervisor either.
    ana_seen.extend(frames_for(&mut ana, Duration::from_millis(200)).await);
    assert!(
        ana_seen.iter().all(|f| f["type"] != "live"),
        "{ana_seen:#?}"
    );
}

/// A JSON request to the admin API with `key`: the status.
fn api(http_addr: std::net::SocketAddr, key: &str, method: &str, path: &str, body: Value) -> u16 {
    let url = format!("http://{http_addr}{path}");
    let auth = format!("Bearer {key}");
    let req = match method {
        "POST" => common::chat::http().post(&url),
        "PATCH" => common::chat::http().patch(&url),
        _ => common::chat::http().put(&url),
    };
    let mut r = req
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = r.status().as_u16();
    assert!(
        status < 300,
        "{method} {path}: {status} {}",
        r.body_mut().read_to_string().unwrap_or_default()
    );
    status
}

fn names_of(live: &Value, list: &str, field: &str) -> Vec<String> {
    live[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {live}"))
        .iter()
        .map(|v| v[field].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_only_their_companys_queues_and_agents() {
    // The demo in store mode (its objects are the default company's; its
    // 2001 is a supervisor), and a second company with a queue and a
    // supervisor of its own, made over the API.
    let ura = common::Ura::start(&[]);
    let http = ura.http;
    let key = ura.api_key();
    let passwords: std::collections::BTreeMap<String, String> = toml::from_str(
        &std::fs::read_to_string(ura.data_dir.join("agent-passwords.toml"))
            .expect("the demo's agent passwords"),
    )
    .unwrap();
    tokio::task::spawn_blocking(move || {
        api(
            http,
            &key,
            "POST",
            "/api/v1/companies",
            json!({"id": "globex", "name": "Globex"}),
        );
        api(
            http,
            &key,
            "PUT",
            "/api/v1/queues/g-q",
            json!({"company": "globex", "ring_seconds": 15}),
        );
        api(
            http,
            &key,
            "PUT",
            "/api/v1/agents/3201",
            json!({"company": "globex", "name": "Gil", "password": "senha-do-gil-123",
                   "queues": {"g-q": 1}, "supervisor": true}),
        );
    })
    .await
    .unwrap();

    let (mut gil, mut gil_seen) = open_desk(http, "3201", "senha-do-gil-123").await;
    let live = next_frame(&mut gil, &mut gil_seen, WAIT, |f| f["type"] == "live").await;
    assert_eq!(names_of(&live, "queues", "name"), ["g-q"], "{live}");
    assert_eq!(names_of(&live, "agents", "ext"), ["3201"], "{live}");

    let password: &'static str = Box::leak(passwords["2001"].clone().into_boxed_str());
    let (mut demo, mut demo_seen) = open_desk(http, "2001", password).await;
    let live = next_frame(&mut demo, &mut demo_seen, WAIT, |f| f["type"] == "live").await;
    let queues = names_of(&live, "queues", "name");
    assert!(queues.contains(&"vendas".to_string()), "{live}");
    assert!(!queues.contains(&"g-q".to_string()), "{live}");
    let agents = names_of(&live, "agents", "ext");
    assert!(agents.contains(&"2002".to_string()), "{live}");
    assert!(!agents.contains(&"3201".to_string()), "{live}");

    // Gil's pushes stay his company's when the demo's side changes (2001
    // opened a desk: reachable for chats; 2002 logs out).
    let key = ura.api_key();
    tokio::task::spawn_blocking(move || {
        api(http, &key, "POST", "/api/v1/agents/2002/logout", json!({}));
    })
    .await
    .unwrap();
    let later = next_frame(&mut demo, &mut demo_seen, WAIT, |f| {
        f["type"] == "live"
            && f["agents"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|a| a["ext"] == "2002" && a["state"] == "logged-out")
            })
    })
    .await;
    assert!(!names_of(&later, "agents", "ext").contains(&"3201".to_string()));
    gil_seen.extend(frames_for(&mut gil, Duration::from_millis(1_500)).await);
    for f in gil_seen.iter().filter(|f| f["type"] == "live") {
        assert_eq!(names_of(f, "agents", "ext"), ["3201"], "{f}");
        assert_eq!(names_of(f, "queues", "name"), ["g-q"], "{f}");
    }

    // Gil is a supervisor no more: his desk is told, and gets no more.
    let key = ura.api_key();
    tokio::task::spawn_blocking(move || {
        api(
            http,
            &key,
            "PATCH",
            "/api/v1/agents/3201",
            json!({"supervisor": false}),
        );
    })
    .await
    .unwrap();
    next_frame(&mut gil, &mut gil_seen, WAIT, |f| {
        f["type"] == "supervisor" && f["on"] == false
    })
    .await;
    let key = ura.api_key();
    tokio::task::spawn_blocking(move || {
        api(http, &key, "POST", "/api/v1/agents/3201/login", json!({}));
    })
    .await
    .unwrap();
    let after = frames_for(&mut gil, Duration::from_millis(1_500)).await;
    assert!(after.iter().all(|f| f["type"] != "live"), "{after:#?}");
    assert!(
        after.iter().any(|f| f["type"] == "state"),
        "his own desk still works: {after:#?}"
    );
}
