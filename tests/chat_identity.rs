//! Signed visitor identities and the customer's history at the desk,
//! against a real `ura serve` over real WebSockets: a token signed with
//! the channel's secret starts a conversation as that customer (its
//! fields fill the form); the customer's second conversation shows the
//! first at the desk of the agent who takes it (listed, then its
//! messages); forged, expired, too long-lived and garbage tokens are
//! refused with their reason and start nothing; an anonymous visitor's
//! history is only its own conversation.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::chat::{desk, desk_login, http as agent, send, Ws};
use serde_json::{json, Value};

const SECRET: &str = "o-segredo-do-site-com-32-bytes-ou-mais";

const CONFIG: &str = r#"
[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"
queue = "vendas"

[ivrs.main.menu]
items = [{ digits = "1", label = "vendas", target = { service = "vendas" } }]

[queues.vendas]
ring_seconds = 20
wrapup_seconds = 1
announce_seconds = 0

[agents.2001]
name = "Ana"
password = "senha-da-ana-123"
queues = { vendas = 1 }
logged_in = true

[agents.2002]
name = "Bia"
password = "senha-da-bia-123"
queues = { vendas = 1 }
logged_in = true

[channels.site]
type = "webchat"
description = "Chat do site"
ivr = "main"
identity_secret = "o-segredo-do-site-com-32-bytes-ou-mais"

[channels.loja]
type = "webchat"
description = "Sem identidade"
ivr = "main"
"#;

/// A bounded wait for frames (the whole test is bounded by nextest too).
const WAIT: Duration = Duration::from_secs(10);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token as a site's backend signs it.
fn sign(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Reads frames until one matches `want` (every frame read goes to
/// `seen`); panics after [`WAIT`].
async fn next_frame(ws: &mut Ws, seen: &mut Vec<Value>, want: impl Fn(&Value) -> bool) -> Value {
    common::chat::next_frame(ws, seen, WAIT, want).await
}

async fn visitor(http: SocketAddr, channel: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/chat/{channel}/ws"))
        .await
        .expect("the visitor's socket opens");
    ws
}

/// An HTTP GET (off the test's runtime): the status and the JSON body.
async fn get(url: String, header: Option<(&'static str, String)>) -> (u16, Value) {
    tokio::task::spawn_blocking(move || {
        let mut req = agent().get(&url);
        if let Some((name, value)) = &header {
            req = req.header(*name, value);
        }
        let mut r = req.call().unwrap();
        let body = r.body_mut().read_json().unwrap_or(Value::Null);
        (r.status().as_u16(), body)
    })
    .await
    .unwrap()
}

/// An agent logged in at the desk: the session cookie and the open desk
/// socket (its hello read).
async fn open_desk(http: SocketAddr, ext: &str, password: &str) -> (String, Ws) {
    let (ext, password) = (ext.to_string(), password.to_string());
    let cookie = tokio::task::spawn_blocking(move || desk_login(http, &ext, &password).1)
        .await
        .unwrap()
        .expect("a session cookie");
    let mut ws = desk(http, &cookie, &format!("http://{http}"))
        .await
        .expect("the desk's socket opens");
    next_frame(&mut ws, &mut Vec::new(), |f| f["type"] == "hello").await;
    (cookie, ws)
}

/// The desk's history of the customer of `conversation`.
async fn history(http: SocketAddr, cookie: &str, conversation: &Value) -> (u16, Value) {
    get(
        format!("http://{http}/desk/history?conversation={conversation}"),
        Some(("Cookie", cookie.to_string())),
    )
    .await
}

/// The ended conversations of `customer` in the store, once there are
/// `n` (the writer works after the end): polls the admin API.
async fn records(http: SocketAddr, key: &str, customer: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = get(
            format!("http://{http}/api/v1/chats?customer={customer}"),
            Some(("Authorization", format!("Bearer {key}"))),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{customer}: {} records, waited for {n}",
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A visitor starts (with `start`), picks option 1, the agent at `desk`
/// takes the conversation: the visitor's socket and the desk's
/// conversation frame.
async fn start_and_take(http: SocketAddr, start: Value, desk: &mut Ws) -> (Ws, Value) {
    let mut v = visitor(http, "site").await;
    let mut seen = Vec::new();
    send(&mut v, start).await;
    next_frame(&mut v, &mut seen, |f| f["type"] == "started").await;
    send(
        &mut v,
        json!({"type": "text", "text": "1", "client_id": "v1"}),
    )
    .await;
    let mut desk_seen = Vec::new();
    let offer = next_frame(desk, &mut desk_seen, |f| f["type"] == "offer").await;
    send(desk, json!({"type": "accept", "offer": offer["offer"]})).await;
    let conv = next_frame(desk, &mut desk_seen, |f| f["type"] == "conversation").await;
    assert_eq!(conv["customer"], offer["customer"], "{offer}");
    (v, conv)
}

/// The agent closes the conversation; the desk says it closed.
async fn close(desk: &mut Ws, conversation: &Value) {
    send(desk, json!({"type": "close", "conversation": conversation})).await;
    next_frame(desk, &mut Vec::new(), |f| {
        f["type"] == "closed" && f["conversation"] == *conversation
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identified_customer_keeps_one_id_and_the_next_agent_sees_the_earlier_conversation() {
    let ura = common::Ura::start_with_config(CONFIG, &[]);
    let http = ura.http;
    let key = ura.api_key();
    let token = || {
        sign(
            json!({"sub": "c-42", "name": "Maria Silva", "email": "maria@example.com", "exp": now() + 600}),
            SECRET,
        )
    };

    // The first conversation: the token fills the form (the name is
    // required and the page sent none); Ana takes it and closes it.
    let (ana_cookie, mut ana) = open_desk(http, "2001", "senha-da-ana-123").await;
    let (_v1, first) = start_and_take(
        http,
        json!({"type": "start", "fields": {}, "identity": token()}),
        &mut ana,
    )
    .await;
    assert_eq!(first["customer"], "site:c-42", "{first}");
    assert_eq!(first["identified"], true);
    assert_eq!(first["visitor"]["name"], "Maria Silva");
    assert_eq!(first["visitor"]["email"], "maria@example.com");
    let c1 = first["conversation"].clone();
    send(
        &mut ana,
        json!({"type": "text", "conversation": c1, "text": "Seu pedido 123 saiu hoje."}),
    )
    .await;
    close(&mut ana, &c1).await;
    let stored = records(http, &key, "site:c-42", 1).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["customer"], "site:c-42");
    assert_eq!(stored[0]["agent"], "2001");
    // Ana leaves; Bia is the only desk open.
    drop(ana);
    let (bia_cookie, mut bia) = open_desk(http, "2002", "senha-da-bia-123").await;

    // The second conversation of the same customer (a new token, as the
    // site signs one per page): Bia takes it and sees the first.
    let (_v2, second) = start_and_take(
        http,
        json!({"type": "start", "fields": {"name": "Outro nome"}, "identity": token()}),
        &mut bia,
    )
    .await;
    assert_eq!(second["customer"], "site:c-42");
    assert_eq!(
        second["visitor"]["name"], "Maria Silva",
        "the identity's fields win over the form's"
    );
    let c2 = second["conversation"].clone();
    let (status, h) = history(http, &bia_cookie, &c2).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["customer"], "site:c-42");
    assert_eq!(h["identified"], true);
    let items = h["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{h}");
    assert_eq!(items[0]["id"], stored[0]["id"]);
    assert_eq!(items[0]["channel"], "site");
    assert_eq!(items[0]["agent"], "2001");
    assert_eq!(items[0]["agent_name"], "Ana");
    assert_eq!(items[0]["outcome"], "agent");
    assert!(
        items[0].get("messages").is_none(),
        "messages on demand only"
    );
    // Its messages, on demand.
    let record = items[0]["id"].as_str().unwrap();
    let (status, one) = get(
        format!("http://{http}/desk/history/{record}?conversation={c2}"),
        Some(("Cookie", bia_cookie.clone())),
    )
    .await;
    assert_eq!(status, 200, "{one}");
    let texts: Vec<&str> = one["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"Seu pedido 123 saiu hoje."), "{one}");
    assert!(texts.contains(&"1"), "{one}");

    // Not Ana's conversation: no history for her; none without a session;
    // a bad query names its field.
    let (status, _) = history(http, &ana_cookie, &c2).await;
    assert_eq!(status, 404);
    let (status, _) = get(
        format!("http://{http}/desk/history?conversation={c2}"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = get(
        format!("http://{http}/desk/history?conversation=abc"),
        Some(("Cookie", bia_cookie.clone())),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("conversation"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_garbage_tokens_are_refused_with_their_reason() {
    let ura = common::Ura::start_with_config(CONFIG, &[]);
    let http = ura.http;
    let mut v = visitor(http, "site").await;
    let mut seen = Vec::new();
    let claims = |exp: i64| json!({"sub": "c-42", "name": "Maria", "exp": exp});
    let cases = [
        (
            sign(claims(now() + 600), "a-forged-secret-that-is-32-bytes-long"),
            "bad_signature",
        ),
        (sign(claims(now() - 3600), SECRET), "expired"),
        (sign(claims(now() + 3 * 86_400), SECRET), "too_long_lived"),
        ("garbage".to_string(), "malformed"),
        (
            sign(json!({"name": "Maria", "exp": now() + 600}), SECRET),
            "bad_claim",
        ),
    ];
    for (token, reason) in cases {
        send(
            &mut v,
            json!({"type": "start", "fields": {"name": "Maria"}, "identity": token}),
        )
        .await;
        let e = next_frame(&mut v, &mut seen, |f| f["type"] == "error").await;
        assert_eq!(e["code"], "identity_refused", "{e}");
        assert_eq!(e["reason"], reason, "{e}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e}");
    }
    // Nothing was started as that customer (nor at all).
    assert!(
        !seen
            .iter()
            .any(|f| f["type"] == "started" || f["type"] == "message"),
        "{seen:#?}"
    );
    // A channel without a secret takes no identity.
    let mut other = visitor(http, "loja").await;
    let mut other_seen = Vec::new();
    send(
        &mut other,
        json!({"type": "start", "fields": {"name": "Maria"}, "identity": sign(claims(now() + 600), SECRET)}),
    )
    .await;
    let e = next_frame(&mut other, &mut other_seen, |f| f["type"] == "error").await;
    assert_eq!(
        (&e["code"], &e["reason"]),
        (&json!("identity_refused"), &json!("not_enabled"))
    );
    // The socket stays: started without a token, the visitor is anonymous.
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}}),
    )
    .await;
    next_frame(&mut v, &mut seen, |f| f["type"] == "started").await;
    assert!(
        ura.wait_log(&["identity token refused", "bad_signature"])
            .is_some(),
        "the refusals are logged"
    );
    assert!(
        ura.wait_log(&["conversation started", "customer=anon-"])
            .is_some(),
        "the conversation is anonymous"
    );
    assert!(!ura.logs().join("\n").contains("customer=site:c-42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_visitors_history_is_only_its_own_conversation() {
    let ura = common::Ura::start_with_config(CONFIG, &[]);
    let http = ura.http;
    let key = ura.api_key();
    let (cookie, mut ana) = open_desk(http, "2001", "senha-da-ana-123").await;
    // Two anonymous conversations with the same name: two customers.
    let start = json!({"type": "start", "fields": {"name": "João"}});
    let (_v1, first) = start_and_take(http, start.clone(), &mut ana).await;
    let c1 = first["conversation"].clone();
    let customer1 = first["customer"].as_str().unwrap().to_string();
    assert!(customer1.starts_with("anon-"), "{first}");
    assert_eq!(first["identified"], false);
    close(&mut ana, &c1).await;
    let stored = records(http, &key, &customer1, 1).await;
    assert_eq!(stored.len(), 1, "only its own conversation");

    let (_v2, second) = start_and_take(http, start, &mut ana).await;
    let c2 = second["conversation"].clone();
    let customer2 = second["customer"].as_str().unwrap();
    assert!(customer2.starts_with("anon-"));
    assert_ne!(customer2, customer1, "a random customer per conversation");
    let (status, h) = history(http, &cookie, &c2).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["customer"], customer2);
    assert_eq!(h["identified"], false);
    assert_eq!(h["items"], json!([]), "nothing of the other visitor");
    // The other visitor's conversation cannot be read through this one.
    let record = stored[0]["id"].as_str().unwrap();
    let (status, _) = get(
        format!("http://{http}/desk/history/{record}?conversation={c2}"),
        Some(("Cookie", cookie.clone())),
    )
    .await;
    assert_eq!(status, 404);
}

/// A request to the admin API with `key` (off the test's runtime): the
/// status and the JSON body.
async fn api(
    http: SocketAddr,
    key: &str,
    method: &'static str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (url, key) = (format!("http://{http}{path}"), key.to_string());
    tokio::task::spawn_blocking(move || {
        let auth = format!("Bearer {key}");
        let mut r = match (method, body) {
            ("GET", _) => agent().get(&url).header("Authorization", &auth).call(),
            (m, Some(b)) => {
                let req = if m == "PUT" {
                    agent().put(&url)
                } else {
                    agent().patch(&url)
                };
                req.header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(b.to_string())
            }
            (m, None) => panic!("{m} without a body"),
        }
        .unwrap();
        let body = r.body_mut().read_json().unwrap_or(Value::Null);
        (r.status().as_u16(), body)
    })
    .await
    .unwrap()
}

/// A visitor of the demo's channel starts with `token`: the first frame
/// that says whether it started (`started` or an error).
async fn start_with(http: SocketAddr, token: &str) -> Value {
    let mut v = visitor(http, "site").await;
    send(
        &mut v,
        json!({"type": "start", "fields": {"name": "Maria"}, "identity": token}),
    )
    .await;
    next_frame(&mut v, &mut Vec::new(), |f| {
        f["type"] == "started" || f["type"] == "error"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identity_secret_is_write_only_in_the_admin_api() {
    // Store mode: the demo's channel `site`, changed over the API.
    let ura = common::Ura::start(&[]);
    let (http, key) = (ura.http, ura.api_key());
    let path = "/api/v1/channels/site";
    let token = sign(json!({"sub": "c-7", "exp": now() + 600}), SECRET);
    assert_eq!(start_with(http, &token).await["reason"], "not_enabled");

    let (status, body) = api(
        http,
        &key,
        "PATCH",
        path,
        Some(json!({"identity_secret": "curto"})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("identity_secret")),
        "{body}"
    );
    let (status, body) = api(
        http,
        &key,
        "PATCH",
        path,
        Some(json!({"identity_secret": SECRET})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity_secret_set"], true);
    assert!(body.get("identity_secret").is_none(), "{body}");
    assert_eq!(start_with(http, &token).await["type"], "started");
    // What GET shows, changed and PUT back: the secret stays (as a PATCH
    // without it does); nowhere is it shown.
    let (_, mut shown) = api(http, &key, "GET", path, None).await;
    assert!(shown.get("identity_secret").is_none(), "{shown}");
    shown["description"] = json!("Chat do site, com identidade");
    let (status, body) = api(http, &key, "PUT", path, Some(shown)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity_secret_set"], true);
    let (_, export) = api(http, &key, "GET", "/api/v1/config", None).await;
    assert!(
        !export.to_string().contains(SECRET),
        "the export has no secret"
    );
    assert_eq!(start_with(http, &token).await["type"], "started");
    // Sent empty: removed, and tokens are refused again.
    let (status, body) = api(
        http,
        &key,
        "PATCH",
        path,
        Some(json!({"identity_secret": ""})),
    )
    .await;
    assert_eq!((status, &body["identity_secret_set"]), (200, &json!(false)));
    assert_eq!(start_with(http, &token).await["reason"], "not_enabled");
}
