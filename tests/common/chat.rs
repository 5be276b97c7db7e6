//! The web chat's and the agent desk's sockets, for the tests: read frames
//! with a deadline, send JSON, log an agent in at the desk.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The chat tests' configuration: number 1000 with the menu "1 vendas, 2
/// suporte" (both to the vendas queue), agents 2001 Ana and 2002 Bia
/// (logged in), and the web chat channel `site` on that menu; a test
/// adds the channel's settings.
pub const CONFIG: &str = r#"[[numbers]]
number = "1000"
name = "Central"
ivr = "main"

[services.vendas]
name = "vendas"
queue = "vendas"

[ivrs.main.menu]
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
  { digits = "2", label = "suporte", target = { service = "vendas" } },
]

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

"#;

/// A client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Reads frames until one matches `want`; every frame read is pushed to
/// `seen`. Panics after `wait`.
pub async fn next_frame(
    ws: &mut Ws,
    seen: &mut Vec<Value>,
    wait: Duration,
    want: impl Fn(&Value) -> bool,
) -> Value {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no frame as wanted in {wait:?}; seen: {seen:#?}"))
            .expect("the socket closed")
            .expect("a frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).expect("JSON frames");
            seen.push(v.clone());
            if want(&v) {
                return v;
            }
        }
    }
}

/// Sends one JSON frame.
pub async fn send(ws: &mut Ws, v: Value) {
    use futures_util::SinkExt;
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// An HTTP client that takes every status as an answer, 10 s at most.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Logs in at the desk: the status, the session cookie, the body.
pub fn desk_login(
    http_addr: SocketAddr,
    ext: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let mut r = http()
        .post(&format!("http://{http_addr}/desk/login"))
        .header("Content-Type", "application/json")
        .header("X-Ura-Desk", "1")
        .send(json!({"ext": ext, "password": password}).to_string())
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string());
    let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
    (r.status().as_u16(), cookie, body)
}

/// The desk's socket with this session cookie, from `origin`; the HTTP
/// status when refused.
pub async fn desk(http_addr: SocketAddr, cookie: &str, origin: &str) -> Result<Ws, u16> {
    let mut req = format!("ws://{http_addr}/desk/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("Cookie", cookie.parse().unwrap());
    req.headers_mut().insert("Origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// An agent logged in to the desk and its socket open from ura's own
/// origin, with an empty list of the frames seen on it.
pub async fn open_desk(
    http_addr: SocketAddr,
    ext: &'static str,
    password: &'static str,
) -> (Ws, Vec<Value>) {
    let cookie = tokio::task::spawn_blocking(move || desk_login(http_addr, ext, password).1)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{ext} could not log in to the desk"));
    let ws = desk(http_addr, &cookie, &format!("http://{http_addr}"))
        .await
        .unwrap_or_else(|status| panic!("{ext}'s desk socket refused: {status}"));
    (ws, Vec::new())
}
