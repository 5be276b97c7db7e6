//! The web chat and the agent desk against a real `ura serve`, over real
//! WebSockets: a visitor starts from the pre-chat form, picks a service in
//! the text menu, waits, an agent logged in at the desk takes the
//! conversation, they talk, the visitor's socket drops and resumes (no
//! message lost or repeated), the agent closes; and the refusals (bad
//! frames, no session, another origin, wrong password, bad settings).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::chat::{desk, desk_login, http as agent, next_frame, open_desk, send, Ws};
use serde_json::{json, Value};

/// The shared chat configuration and the channel's welcome.
static CONFIG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}{}",
        common::chat::CONFIG,
        "[channels.site.webchat]\nwelcome = \"Olá! Bem-vindo.\"\n"
    )
});

/// A bounded wait for frames (the whole test is bounded by nextest too).
const WAIT: Duration = Duration::from_secs(10);

async fn visitor(http: SocketAddr) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/chat/site/ws"))
        .await
        .expect("the visitor's socket opens");
    ws
}

fn texts(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_agent_talk_and_a_reconnect_loses_nothing() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let http = ura.http;
    let (status, cookie, body) =
        tokio::task::spawn_blocking(move || desk_login(http, "2001", "senha-da-ana-123"))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Ana");
    let cookie = cookie.expect("a session cookie");
    let mut desk = desk(http, &cookie, &format!("http://{http}"))
        .await
        .unwrap();
    let mut desk_seen = Vec::new();
    let hello = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "hello").await;
    assert_eq!(hello["state"], "available", "{hello}");

    // The visitor: pre-chat form, welcome and the menu.
    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria", "email": "maria@example.com"}}),
    )
    .await;
    let started = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "started").await;
    let token = started["conversation"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Digite 1 para vendas, 2 para suporte."
    })
    .await;
    assert_eq!(texts(&seen)[0], "Olá! Bem-vindo.");
    // A frame that is not JSON: a clear error, the socket stays.
    v.send_text("{not json").await;
    let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(err["code"], "bad_frame", "{err}");
    // The option: waiting, then the desk rings.
    send(
        &mut v,
        json!({"type": "text", "text": "1", "client_id": "v1"}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "waiting"
    })
    .await;
    let offer = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "offer").await;
    assert_eq!(offer["visitor"]["name"], "Maria");
    assert_eq!(offer["queue"], "vendas");
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    let id = conv["conversation"].clone();
    // The agent sees what was said before (the menu, the option).
    assert!(texts(conv["messages"].as_array().unwrap()).contains(&"1".to_string()));
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Você está sendo atendido por Ana."
    })
    .await;
    // On hold and back: the visitor is told.
    send(
        &mut desk,
        json!({"type": "hold", "conversation": id, "on": true}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Você foi colocado em espera. Aguarde, por favor."
    })
    .await;
    let hold = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "hold").await;
    assert_eq!(hold["on"], true);
    send(
        &mut desk,
        json!({"type": "hold", "conversation": id, "on": false}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "O atendente retomou a conversa."
    })
    .await;
    // Typing shows on the other side (and is not a message).
    send(&mut desk, json!({"type": "typing", "conversation": id})).await;
    let typing = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "typing").await;
    assert_eq!(typing["name"], "Ana");
    send(&mut v, json!({"type": "typing"})).await;
    let typing = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "typing").await;
    assert_eq!(typing["conversation"], id);
    send(
        &mut desk,
        json!({"type": "text", "conversation": id, "text": "Olá Maria, <b>tudo bem</b>?"}),
    )
    .await;
    let hi = next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["from"] == "agent"
    })
    .await;
    assert_eq!(hi["text"], "Olá Maria, <b>tudo bem</b>?");
    assert_eq!(hi["name"], "Ana");
    let last_seen = hi["seq"].as_u64().unwrap();
    // Read marks both ways.
    send(&mut v, json!({"type": "read", "seq": last_seen})).await;
    let read = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "read").await;
    assert_eq!(
        (read["conversation"].clone(), read["seq"].as_u64()),
        (id.clone(), Some(last_seen))
    );
    send(
        &mut desk,
        json!({"type": "read", "conversation": id, "seq": 1_000_000}),
    )
    .await;
    let read = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "read").await;
    assert_eq!(
        read["seq"].as_u64(),
        Some(last_seen),
        "capped at the last message"
    );

    // The visitor's socket drops; the agent writes meanwhile.
    drop(v);
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(
        &mut desk,
        json!({"type": "text", "conversation": id, "text": "Ainda está aí?"}),
    )
    .await;
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Ainda está aí?"
    })
    .await;
    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "resume", "conversation": token, "last_seq": last_seen}),
    )
    .await;
    let resumed = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "resumed").await;
    let missed = resumed["messages"].as_array().unwrap();
    assert_eq!(texts(missed), ["Ainda está aí?"], "{resumed}");
    assert_eq!(missed[0]["seq"].as_u64(), Some(last_seen + 1));
    // A resend of the same message is taken once.
    for _ in 0..2 {
        send(
            &mut v,
            json!({"type": "text", "text": "Sim!", "client_id": "v2"}),
        )
        .await;
    }
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Sim!"
    })
    .await;
    // The agent closes: the closing message, the end.
    send(&mut desk, json!({"type": "close", "conversation": id})).await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "closed"
    })
    .await;
    assert!(
        texts(&seen)
            .iter()
            .any(|t| t.starts_with("Este atendimento foi finalizado")),
        "{seen:#?}"
    );
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "closed").await;
    let metrics = tokio::task::spawn_blocking(move || {
        agent()
            .get(&format!("http://{http}/metrics"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(metrics.contains("ura_chats_open 0\n"), "{metrics}");
    // The ended conversation is on record, with its transcript.
    let key = ura.api_key();
    let record = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let page: Value = agent()
                .get(&format!("http://{http}/api/v1/chats?channel=site"))
                .header("Authorization", &format!("Bearer {key}"))
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            if let Some(r) = page["items"].as_array().and_then(|i| i.first()) {
                return r.clone();
            }
            assert!(std::time::Instant::now() < deadline, "no record: {page}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert_eq!(record["agent"], "2001", "{record}");
    assert_eq!(record["outcome"], "agent");
    assert_eq!(record["queue"], "vendas");
    assert_eq!(record["visitor"]["name"], "Maria");
    let said: Vec<&str> = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(said.iter().filter(|t| **t == "Sim!").count(), 1, "{said:?}");
    assert!(said
        .last()
        .unwrap()
        .starts_with("Este atendimento foi finalizado"));
    assert!(metrics.contains("ura_chats_started_total 1\n"), "{metrics}");
    assert_eq!(
        texts(&desk_seen).iter().filter(|t| *t == "Sim!").count(),
        1,
        "the resend shown once: {desk_seen:#?}"
    );
    // Every message the visitor saw, across both sockets, once and in order.
    let mut all: Vec<u64> = Vec::new();
    let first: Vec<u64> = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    all.extend(first);
    all.extend(
        desk_seen
            .iter()
            .filter(|f| f["type"] == "message")
            .filter_map(|f| f["seq"].as_u64()),
    );
    let mut sorted = all.clone();
    sorted.dedup();
    assert_eq!(all, sorted, "the desk saw every message once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_a_conversation_to_another_agent() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let http = ura.http;
    let (mut ana, mut ana_seen) = open_desk(http, "2001", "senha-da-ana-123").await;
    let hello = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "hello").await;
    assert_eq!(hello["queues"], json!(["vendas"]));
    assert_eq!(hello["agents"][0]["ext"], "2002");

    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Joana"}}),
    )
    .await;
    send(&mut v, json!({"type": "text", "text": "vendas"})).await;
    let offer = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "offer").await;
    send(&mut ana, json!({"type": "accept", "offer": offer["offer"]})).await;
    let conv = next_frame(&mut ana, &mut ana_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    let id = conv["conversation"].clone();
    send(
        &mut ana,
        json!({"type": "text", "conversation": id, "text": "Vou transferir."}),
    )
    .await;

    // Bia opens her desk; Ana transfers to her.
    let (mut bia, mut bia_seen) = open_desk(http, "2002", "senha-da-bia-123").await;
    next_frame(&mut bia, &mut bia_seen, WAIT, |f| f["type"] == "hello").await;
    send(
        &mut ana,
        json!({"type": "transfer", "conversation": id, "to": "9999"}),
    )
    .await;
    let e = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(e["code"], "unknown_target");
    send(
        &mut ana,
        json!({"type": "transfer", "conversation": id, "to": "2002"}),
    )
    .await;
    let gone = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "closed").await;
    assert_eq!(gone["reason"], "transferred");
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Você está sendo transferido. Aguarde um momento."
    })
    .await;
    let offer = next_frame(&mut bia, &mut bia_seen, WAIT, |f| f["type"] == "offer").await;
    assert_eq!(offer["conversation"], id);
    send(&mut bia, json!({"type": "accept", "offer": offer["offer"]})).await;
    let conv = next_frame(&mut bia, &mut bia_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    assert!(texts(conv["messages"].as_array().unwrap()).contains(&"Vou transferir.".to_string()));
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Você está sendo atendido por Bia."
    })
    .await;
    // Ana no longer writes in it; Bia does.
    send(
        &mut ana,
        json!({"type": "text", "conversation": id, "text": "ainda eu"}),
    )
    .await;
    let e = next_frame(&mut ana, &mut ana_seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(e["code"], "not_yours");
    send(
        &mut bia,
        json!({"type": "text", "conversation": id, "text": "Olá, sou a Bia."}),
    )
    .await;
    let m = next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["from"] == "agent"
    })
    .await;
    assert_eq!(
        (m["name"].as_str(), m["text"].as_str()),
        (Some("Bia"), Some("Olá, sou a Bia."))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let http = ura.http;
    let (status, cookie, body) =
        tokio::task::spawn_blocking(move || desk_login(http, "2001", "errada"))
            .await
            .unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(cookie.is_none());
    assert_eq!(body["error"]["field"], "password");
    // Without the desk's header (what a form of another site sends).
    let forged = tokio::task::spawn_blocking(move || {
        agent()
            .post(&format!("http://{http}/desk/login"))
            .header("Content-Type", "application/json")
            .send(json!({"ext": "2001", "password": "senha-da-ana-123"}).to_string())
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap();
    assert_eq!(forged, 403);
    let (_, cookie, _) =
        tokio::task::spawn_blocking(move || desk_login(http, "2001", "senha-da-ana-123"))
            .await
            .unwrap();
    let cookie = cookie.unwrap();
    assert_eq!(
        desk(http, "ura_desk=nada", &format!("http://{http}"))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        desk(http, &cookie, "http://evil.example").await.err(),
        Some(403)
    );

    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(&mut v, json!({"type": "text", "text": "oi"})).await;
    let e = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(e["code"], "no_conversation");
    send(&mut v, json!({"type": "shout"})).await;
    let e = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(e["code"], "bad_frame");
    send(&mut v, json!({"type": "start", "fields": {"email": "x@y"}})).await;
    let e = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(
        (e["code"].as_str(), e["field"].as_str()),
        (Some("invalid_field"), Some("name"))
    );
    let mut v = visitor(http).await;
    send(
        &mut v,
        json!({"type": "resume", "conversation": "0".repeat(32), "last_seq": 0}),
    )
    .await;
    let e = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(e["code"], "unknown_conversation");

    let (page, missing, settings) = tokio::task::spawn_blocking(move || {
        let a = agent();
        let page = a.get(&format!("http://{http}/chat/site")).call().unwrap();
        let csp = page
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let missing = a
            .get(&format!("http://{http}/chat/nada"))
            .call()
            .unwrap()
            .status()
            .as_u16();
        let settings: Value = a
            .get(&format!("http://{http}/chat/site/settings"))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
        ((page.status().as_u16(), csp), missing, settings)
    })
    .await
    .unwrap();
    assert_eq!(page.0, 200);
    assert!(page.1.contains("script-src 'self'"), "{}", page.1);
    assert_eq!(missing, 404);
    assert_eq!(settings["fields"]["name"], "required");
    assert_eq!(settings["language"], "pt-BR");
}

#[test]
fn channels_are_configuration_documents() {
    let ura = common::Ura::start(&[]);
    let key = ura.api_key();
    let a = agent();
    let url = |p: &str| format!("http://{}{p}", ura.http);
    let auth = format!("Bearer {key}");
    // The demo has a web chat channel, with its activation.
    let mut r = a
        .get(&url("/api/v1/channels/site"))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let site: Value = r.body_mut().read_json().unwrap();
    assert_eq!(site["type"], "webchat");
    assert_eq!(site["activation"]["test_url"], "/chat/site");
    assert!(site["activation"]["snippet"]
        .as_str()
        .unwrap()
        .contains("data-ura-channel=\"site\""));
    // A bad colour is refused, naming the field.
    let mut r = a
        .post(&url("/api/v1/channels"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(
            json!({"id": "loja", "type": "webchat", "description": "Loja", "service": "vendas",
                   "webchat": {"colors": {"button": "red; x"}}})
            .to_string(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let e: Value = r.body_mut().read_json().unwrap();
    assert_eq!(e["error"]["field"], "webchat.colors.button", "{e}");
    // A channel naming an IVR that does not exist.
    let mut r = a
        .post(&url("/api/v1/channels"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(
            json!({"id": "loja", "type": "webchat", "description": "Loja", "ivr": "nada"})
                .to_string(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let e: Value = r.body_mut().read_json().unwrap();
    assert_eq!(e["error"]["field"], "ivr", "{e}");
    // A good one: created, served at once, in the export.
    let r = a
        .post(&url("/api/v1/channels"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(
            json!({"id": "loja", "type": "webchat", "description": "Loja", "service": "vendas",
                   "webchat": {"title": "Loja", "language": "en"}})
            .to_string(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let mut r = a.get(&url("/chat/loja/settings")).call().unwrap();
    let s: Value = r.body_mut().read_json().unwrap();
    assert_eq!(
        (s["title"].as_str(), s["language"].as_str()),
        (Some("Loja"), Some("en"))
    );
    let mut r = a
        .get(&url("/api/v1/config"))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    let config: Value = r.body_mut().read_json().unwrap();
    assert_eq!(config["channels"]["loja"]["service"], "vendas");
    assert!(config["channels"]["loja"].get("activation").is_none());
    let mut r = a.get(&url("/openapi.json")).call().unwrap();
    let doc: Value = r.body_mut().read_json().unwrap();
    assert!(
        doc["paths"].get("/api/v1/channels/{id}").is_some(),
        "channels in the OpenAPI document"
    );

    // A channel with an open conversation is not deleted (409 naming it);
    // once the visitor leaves, it is.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = ura.http;
    let mut v = rt.block_on(async move {
        let (mut v, _) = tokio_tungstenite::connect_async(format!("ws://{http}/chat/loja/ws"))
            .await
            .unwrap();
        send(&mut v, json!({"type": "start", "fields": {"name": "Zé"}})).await;
        let mut seen = Vec::new();
        next_frame(&mut v, &mut seen, WAIT, |f| {
            f["type"] == "status" && f["phase"] == "waiting"
        })
        .await;
        v
    });
    let delete = |a: &ureq::Agent| {
        let mut r = a
            .delete(&url("/api/v1/channels/loja"))
            .header("Authorization", &auth)
            .call()
            .unwrap();
        let status = r.status().as_u16();
        (
            status,
            r.body_mut().read_json::<Value>().unwrap_or(Value::Null),
        )
    };
    let (status, body) = delete(&a);
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("conv-"),
        "{body}"
    );
    rt.block_on(async {
        send(&mut v, json!({"type": "close"})).await;
        let mut seen = Vec::new();
        next_frame(&mut v, &mut seen, WAIT, |f| {
            f["type"] == "status" && f["phase"] == "closed"
        })
        .await;
    });
    assert_eq!(delete(&a).0, 204);
}

trait SendText {
    async fn send_text(&mut self, text: &str);
}

impl SendText for Ws {
    async fn send_text(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.send(tokio_tungstenite::tungstenite::Message::Text(
            text.to_string().into(),
        ))
        .await
        .unwrap();
    }
}

/// `GET /api/v1/live` with the admin key.
fn live(http: SocketAddr, key: &str) -> Value {
    agent()
        .get(&format!("http://{http}/api/v1/live"))
        .header("Authorization", &format!("Bearer {key}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// The configuration with the web chat's hours: every day from `opens`
/// (a whole minute, read once from the clock) for ten minutes, in São
/// Paulo's time. The same window on every weekday, so a test that runs
/// across midnight there still has it on the right day.
fn config_opening_at(opens: chrono::DateTime<chrono::Utc>) -> String {
    let tz = ura_ivr::Tz::America__Sao_Paulo;
    let from = opens.with_timezone(&tz).format("%H:%M").to_string();
    let to = (opens + chrono::Duration::minutes(10))
        .with_timezone(&tz)
        .format("%H:%M")
        .to_string();
    let window = format!("[\"{from}-{to}\"]");
    let days: Vec<String> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| format!("{d} = {window}"))
        .collect();
    let config = CONFIG.replace(
        "description = \"Chat do site\"\n",
        "description = \"Chat do site\"\nschedule = \"turno\"\n",
    );
    format!(
        "{config}\n[schedules.turno]\ntimezone = \"America/Sao_Paulo\"\nweekly = {{ {} }}\n",
        days.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_out_of_hours_is_kept_and_queued_when_the_channel_opens() {
    // One clock reading: the next whole minute at least 5 s away opens.
    let now = chrono::Utc::now();
    let minute = now.timestamp() - now.timestamp().rem_euclid(60) + 60;
    let opens_s = if minute - now.timestamp() < 5 {
        minute + 60
    } else {
        minute
    };
    let opens = chrono::DateTime::from_timestamp(opens_s, 0).unwrap();
    let config = config_opening_at(opens);
    assert!(
        config.contains("description = \"Chat do site\"\nschedule = \"turno\"\n"),
        "{config}"
    );
    let ura = common::Ura::start_with_config(&config, &[]);
    let http = ura.http;
    let key = ura.api_key();
    let (mut desk, mut desk_seen) = open_desk(http, "2001", "senha-da-ana-123").await;
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "hello").await;

    // Maria writes while closed: the hours, the menu, her choice is kept.
    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    let started = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "started").await;
    let maria_token = started["conversation"].as_str().unwrap().to_string();
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Digite 1 para vendas, 2 para suporte."
    })
    .await;
    let said = texts(&seen);
    assert_eq!(said[0], "Olá! Bem-vindo.", "{said:?}");
    assert_eq!(
        said[1],
        "No momento estamos fora do horário de atendimento."
    );
    assert!(
        said[2].starts_with("Atendimento a partir de "),
        "the next opening, in the IVR's words: {said:?}"
    );
    send(
        &mut v,
        json!({"type": "text", "text": "1", "client_id": "m1"}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "after_hours"
    })
    .await;
    send(
        &mut v,
        json!({"type": "text", "text": "Meu pedido 123 não chegou.", "client_id": "m2"}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Meu pedido 123 não chegou."
    })
    .await;

    // João writes while closed too, then leaves the page: still kept.
    let mut j = visitor(http).await;
    let mut j_seen = Vec::new();
    send(&mut j, json!({"type": "start", "fields": {"name": "João"}})).await;
    next_frame(&mut j, &mut j_seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Digite 1 para vendas, 2 para suporte."
    })
    .await;
    send(&mut j, json!({"type": "text", "text": "vendas"})).await;
    next_frame(&mut j, &mut j_seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "after_hours"
    })
    .await;
    send(
        &mut j,
        json!({"type": "text", "text": "Quero um orçamento."}),
    )
    .await;
    next_frame(&mut j, &mut j_seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Quero um orçamento."
    })
    .await;
    drop(j);

    // The supervisor sees both kept for the queue; nothing waits yet.
    let view = tokio::task::spawn_blocking({
        let key = key.clone();
        move || live(http, &key)
    })
    .await
    .unwrap();
    let vendas = &view["queues"]["vendas"];
    assert_eq!(
        vendas["after_hours"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
    assert_eq!(
        vendas["waiting"].as_array().map(Vec::len),
        Some(0),
        "{view}"
    );
    assert_eq!(
        vendas["after_hours"][0]["opens_at_ms"].as_i64(),
        Some(opens_s * 1000),
        "{view}"
    );

    // It opens: both are offered to Ana (no earlier), Maria is told.
    let until_open = Duration::from_secs(u64::try_from(opens_s - now.timestamp()).unwrap());
    let mut offers = Vec::new();
    for _ in 0..2 {
        let offer = next_frame(&mut desk, &mut desk_seen, until_open + WAIT, |f| {
            f["type"] == "offer"
        })
        .await;
        assert!(
            chrono::Utc::now() >= opens,
            "offered before the opening: {offer}"
        );
        offers.push(offer);
    }
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Aguarde um momento: você será atendido em breve."
    })
    .await;
    assert!(
        seen.iter()
            .any(|f| f["type"] == "status" && f["phase"] == "waiting"),
        "{seen:#?}"
    );
    // Ana takes them: the whole log, what was written while closed too.
    let mut logs = Vec::new();
    for offer in &offers {
        send(
            &mut desk,
            json!({"type": "accept", "offer": offer["offer"]}),
        )
        .await;
        let conv = next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
            f["type"] == "conversation" && f["conversation"] == offer["conversation"]
        })
        .await;
        logs.push(texts(conv["messages"].as_array().unwrap()));
    }
    let all: Vec<&String> = logs.iter().flatten().collect();
    for wrote in ["Meu pedido 123 não chegou.", "Quero um orçamento."] {
        assert!(all.iter().any(|t| *t == wrote), "{wrote:?} not in {logs:?}");
    }
    assert!(logs
        .iter()
        .all(|l| l.contains(&"No momento estamos fora do horário de atendimento.".into())));
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "message" && f["text"] == "Você está sendo atendido por Ana."
    })
    .await;
    let _ = maria_token;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_chat_shows_in_the_live_view_then_under_its_agent() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let http = ura.http;
    let key = ura.api_key();
    let get_live = |key: String| tokio::task::spawn_blocking(move || live(http, &key));

    // No desk open: nobody takes chats, the conversation waits.
    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    send(&mut v, json!({"type": "text", "text": "1"})).await;
    next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "waiting"
    })
    .await;
    let view = get_live(key.clone()).await.unwrap();
    let waiting = &view["queues"]["vendas"]["waiting"];
    assert_eq!(waiting.as_array().map(Vec::len), Some(1), "{view}");
    let w = &waiting[0];
    assert_eq!(w["channel"], "chat", "{view}");
    assert_eq!(w["chat_channel"], "site", "{view}");
    assert_eq!(w["position"], 1, "{view}");
    assert!(w["waited_s"].is_u64(), "{view}");
    let conversation = w["conversation"].as_u64().expect("the conversation's id");
    // The waiting chat counts in /metrics as a call would.
    let text = tokio::task::spawn_blocking(move || metrics(http))
        .await
        .unwrap();
    assert!(
        text.contains("ura_queue_waiting{queue=\"vendas\"} 1\n"),
        "{text}"
    );
    for a in view["agents"].as_array().unwrap() {
        assert_eq!(a["chats_open"], 0, "{view}");
        assert_eq!(a["chats"], json!([]), "{view}");
        assert!(a["state"].is_string(), "the call state stays: {view}");
    }

    // Ana opens her desk and takes it: it is hers in the live view.
    let (mut desk, mut desk_seen) = open_desk(http, "2001", "senha-da-ana-123").await;
    let offer = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "offer").await;
    assert_eq!(offer["conversation"].as_u64(), Some(conversation));
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    let view = get_live(key.clone()).await.unwrap();
    assert_eq!(
        view["queues"]["vendas"]["waiting"].as_array().map(Vec::len),
        Some(0),
        "{view}"
    );
    let ana = view["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "2001")
        .unwrap_or_else(|| panic!("Ana in {view}"));
    assert_eq!(ana["chats_open"], 1, "{view}");
    assert_eq!(ana["chats"], json!([conversation]), "{view}");
    let bia = view["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "2002")
        .unwrap();
    assert_eq!(bia["chats_open"], 0, "{view}");
    // /metrics counts it no longer waiting.
    let metrics = tokio::task::spawn_blocking(move || metrics(http))
        .await
        .unwrap();
    assert!(
        metrics.contains("ura_queue_waiting{queue=\"vendas\"} 0\n"),
        "{metrics}"
    );
}

fn metrics(http: SocketAddr) -> String {
    agent()
        .get(&format!("http://{http}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The first record of `channel` once `ready` says it is complete.
async fn chat_record(
    http: SocketAddr,
    key: String,
    ready: impl Fn(&Value) -> bool + Send + 'static,
) -> Value {
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let page: Value = agent()
                .get(&format!("http://{http}/api/v1/chats?channel=site"))
                .header("Authorization", &format!("Bearer {key}"))
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            if let Some(r) = page["items"].as_array().and_then(|i| i.first()) {
                if ready(r) {
                    return r.clone();
                }
            }
            assert!(std::time::Instant::now() < deadline, "no record: {page}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_closes_and_the_visitor_rates_once() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let http = ura.http;
    let (mut desk, mut desk_seen) = open_desk(http, "2001", "senha-da-ana-123").await;
    next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "hello").await;
    let mut v = visitor(http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "started").await;
    // Not over yet: nothing to rate.
    send(&mut v, json!({"type": "rate", "score": 5})).await;
    let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(err["code"], "no_survey", "{err}");
    send(
        &mut v,
        json!({"type": "text", "text": "1", "client_id": "v1"}),
    )
    .await;
    let offer = next_frame(&mut desk, &mut desk_seen, WAIT, |f| f["type"] == "offer").await;
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, &mut desk_seen, WAIT, |f| {
        f["type"] == "conversation"
    })
    .await;
    send(
        &mut desk,
        json!({"type": "close", "conversation": conv["conversation"]}),
    )
    .await;
    let closed = next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "closed"
    })
    .await;
    assert_eq!(closed["survey"], true, "the survey is offered: {closed}");
    // Bad values are refused naming the field; the survey stays open.
    for bad in [json!(0), json!(6), json!("5"), json!(4.5), json!(null)] {
        send(&mut v, json!({"type": "rate", "score": bad})).await;
        let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
        assert_eq!(err["code"], "invalid_field", "{bad}: {err}");
        assert_eq!(err["field"], "score", "{bad}: {err}");
    }
    send(
        &mut v,
        json!({"type": "rate", "score": 3, "comment": "x".repeat(1001)}),
    )
    .await;
    let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(err["field"], "comment", "{err}");
    send(
        &mut v,
        json!({"type": "rate", "score": 4, "comment": " Rápido e educado. "}),
    )
    .await;
    let rated = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "rated").await;
    assert_eq!(rated["score"], 4);
    let after = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "status").await;
    assert_eq!(after["survey"], false, "{after}");
    // Once per conversation.
    send(&mut v, json!({"type": "rate", "score": 1})).await;
    let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(err["code"], "already_rated", "{err}");
    // Kept in the conversation's record (written before the rating came).
    let record = chat_record(http, ura.api_key(), |r| !r["rating"].is_null()).await;
    assert_eq!(record["rating"], 4, "{record}");
    assert_eq!(record["rating_comment"], "Rápido e educado.");
    assert!(record["rated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(record["outcome"], "agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_without_the_survey_asks_nothing() {
    let config = CONFIG.replace(
        "welcome = \"Olá! Bem-vindo.\"",
        "welcome = \"Olá! Bem-vindo.\"\nsurvey = false",
    );
    let ura = common::Ura::start_with_config(&config, &[]);
    let mut v = visitor(ura.http).await;
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "started").await;
    send(&mut v, json!({"type": "close"})).await;
    let closed = next_frame(&mut v, &mut seen, WAIT, |f| {
        f["type"] == "status" && f["phase"] == "closed"
    })
    .await;
    assert_eq!(closed["survey"], false, "{closed}");
    send(&mut v, json!({"type": "rate", "score": 5})).await;
    let err = next_frame(&mut v, &mut seen, WAIT, |f| f["type"] == "error").await;
    assert_eq!(err["code"], "no_survey", "{err}");
    let record = chat_record(ura.http, ura.api_key(), |_| true).await;
    assert!(record["rating"].is_null(), "{record}");
    assert_eq!(record["outcome"], "visitor");
}
