//! Files in the web chat against a real `ura serve`: the visitor (with its
//! conversation's token) and the agent (with the desk's session) send and
//! fetch files over HTTP; each file is a numbered message on both sockets,
//! resumed once and kept in the record; the refusals (too large before the
//! body is read, a type not allowed, content that is not the declared
//! type, a stranger's fetch, a desk request without its header) are JSON
//! naming the reason; the files go when the conversation ends.

mod common;

use std::io::{Read, Write};

use std::net::SocketAddr;
use std::time::Duration;

use common::chat::{send, Ws};
use serde_json::{json, Value};

/// The shared chat configuration with the channel's attachment limits.
static CONFIG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}{}",
        common::chat::CONFIG,
        r#"[channels.site.webchat.attachments]
max_bytes = 3000000
"#
    )
});

const WAIT: Duration = Duration::from_secs(10);

/// A PNG's first bytes (what the check reads) and more: 2.5 MB, past
/// axum's default body limit (which must not apply to files).
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    b.extend((0..2_500_000u32).map(|i| (i % 251) as u8));
    b
}

fn pdf() -> Vec<u8> {
    let mut b = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    b.extend(std::iter::repeat_n(b'x', 30_000));
    b
}

async fn next_frame(ws: &mut Ws, seen: &mut Vec<Value>, want: impl Fn(&Value) -> bool) -> Value {
    common::chat::next_frame(ws, seen, WAIT, want).await
}

/// One HTTP request (blocking, in its own thread): status, headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

async fn http(
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
) -> Answer {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut r = if method == "POST" {
            let mut req = agent.post(&url);
            for (n, v) in &headers {
                req = req.header(*n, v);
            }
            req.send(&body.unwrap_or_default()[..]).unwrap()
        } else {
            let mut req = agent.get(&url);
            for (n, v) in &headers {
                req = req.header(*n, v);
            }
            req.call().unwrap()
        };
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(50_000_000)
            .read_to_vec()
            .unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    })
    .await
    .unwrap()
}

/// Logs in at the desk and opens its socket: the cookie and the socket.
async fn open_desk(http_addr: SocketAddr, ext: &str, password: &str) -> (String, Ws) {
    let a = http(
        "POST",
        format!("http://{http_addr}/desk/login"),
        vec![
            ("Content-Type", "application/json".into()),
            ("X-Ura-Desk", "1".into()),
        ],
        Some(
            json!({"ext": ext, "password": password})
                .to_string()
                .into_bytes(),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json());
    let cookie = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let ws = common::chat::desk(http_addr, &cookie, &format!("http://{http_addr}"))
        .await
        .expect("the desk's socket opens");
    (cookie, ws)
}

/// A visitor who started a conversation: its socket and token.
async fn start_visitor(http_addr: SocketAddr, name: &str, seen: &mut Vec<Value>) -> (Ws, String) {
    let (mut v, _) = tokio_tungstenite::connect_async(format!("ws://{http_addr}/chat/site/ws"))
        .await
        .unwrap();
    send(&mut v, json!({"type": "start", "fields": {"name": name}})).await;
    let started = next_frame(&mut v, seen, |f| f["type"] == "started").await;
    (v, started["conversation"].as_str().unwrap().to_string())
}

fn visitor_upload(
    http_addr: SocketAddr,
    token: &str,
    mime: &str,
    name: &str,
    client_id: Option<&str>,
    body: Vec<u8>,
) -> impl std::future::Future<Output = Answer> {
    let mut headers = vec![
        ("X-Ura-Conversation", token.to_string()),
        ("Content-Type", mime.to_string()),
        ("X-Ura-Name", name.to_string()),
    ];
    if let Some(c) = client_id {
        headers.push(("X-Ura-Client-Id", c.to_string()));
    }
    http(
        "POST",
        format!("http://{http_addr}/chat/site/attachments"),
        headers,
        Some(body),
    )
}

/// Sends only the head of an upload (a declared length, no body) on a raw
/// socket: the answer comes before any of the body is sent.
fn head_only(http_addr: SocketAddr, token: &str, length: u64) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(http_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /chat/site/attachments HTTP/1.1\r\nHost: {http_addr}\r\nContent-Type: image/png\r\n\
         X-Ura-Conversation: {token}\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("}}") {
        let n = s
            .read(&mut buf)
            .expect("an answer before the body was sent");
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    let status = text[9..12].parse().unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_and_agent_exchange_files_and_bad_files_are_refused() {
    let ura = common::Ura::start_with_config(&CONFIG, &[]);
    let h = ura.http;
    let (cookie, mut desk) = open_desk(h, "2001", "senha-da-ana-123").await;
    let mut desk_seen = Vec::new();
    next_frame(&mut desk, &mut desk_seen, |f| f["type"] == "hello").await;
    let (bia_cookie, _bia_desk) = open_desk(h, "2002", "senha-da-bia-123").await;
    // Bia pauses so that Ana is offered the conversation.
    let mut bia_desk = _bia_desk;
    send(&mut bia_desk, json!({"type": "pause", "reason": "almoço"})).await;
    let mut bia_seen = Vec::new();
    next_frame(&mut bia_desk, &mut bia_seen, |f| {
        f["type"] == "state" && f["state"].as_str().unwrap_or("").starts_with("paused")
    })
    .await;

    let mut seen = Vec::new();
    let (mut v, token) = start_visitor(h, "Maria", &mut seen).await;
    send(&mut v, json!({"type": "text", "text": "1"})).await;
    let offer = next_frame(&mut desk, &mut desk_seen, |f| f["type"] == "offer").await;
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, &mut desk_seen, |f| f["type"] == "conversation").await;
    let id = conv["conversation"].as_u64().unwrap();
    next_frame(&mut v, &mut seen, |f| {
        f["type"] == "message" && f["text"] == "Você está sendo atendido por Ana."
    })
    .await;
    let before = seen.iter().filter_map(|f| f["seq"].as_u64()).max().unwrap();

    // The visitor sends a picture: a message on both sides.
    let picture = png();
    let a = visitor_upload(
        h,
        &token,
        "image/png",
        "foto%20do%20pedido.png",
        Some("f1"),
        picture.clone(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.json());
    let sent = a.json();
    let file_id = sent["attachment"]["id"].as_str().unwrap().to_string();
    assert_eq!(sent["attachment"]["name"], "foto do pedido.png");
    assert_eq!(sent["attachment"]["type"], "image/png");
    assert_eq!(sent["attachment"]["size"], picture.len());
    let at_desk = next_frame(&mut desk, &mut desk_seen, |f| {
        f["type"] == "message" && f["attachment"].is_object()
    })
    .await;
    assert_eq!(at_desk["attachment"], sent["attachment"]);
    assert_eq!(at_desk["from"], "visitor");
    assert_eq!(at_desk["seq"], sent["seq"]);
    let mine = next_frame(&mut v, &mut seen, |f| {
        f["type"] == "message" && f["attachment"].is_object()
    })
    .await;
    assert_eq!(mine["client_id"], "f1");
    // The same file sent again (same client id): the same message, once.
    let again = visitor_upload(
        h,
        &token,
        "image/png",
        "foto.png",
        Some("f1"),
        picture.clone(),
    )
    .await;
    assert_eq!(
        (again.status, again.json()["seq"].clone()),
        (201, sent["seq"].clone())
    );
    let stored: Vec<_> = std::fs::read_dir(ura.data_dir.join("attachments"))
        .unwrap()
        .collect();
    assert_eq!(stored.len(), 1, "the resend's copy is not kept");

    // The agent fetches it: the same bytes, as a download that is never sniffed.
    let got = http(
        "GET",
        format!("http://{h}/desk/attachments/{file_id}"),
        vec![("Cookie", cookie.clone())],
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, picture);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert!(got
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"foto do pedido.png\""));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert!(got
        .header("content-security-policy")
        .unwrap()
        .contains("sandbox"));
    // The visitor too, with its token.
    let got = http(
        "GET",
        format!("http://{h}/chat/site/attachments/{file_id}"),
        vec![("X-Ura-Conversation", token.clone())],
        None,
    )
    .await;
    assert_eq!((got.status, got.body == picture), (200, true));

    // The agent sends a PDF: the visitor gets it and fetches it.
    let doc = pdf();
    let a = http(
        "POST",
        format!("http://{h}/desk/conversations/{id}/attachments"),
        vec![
            ("Cookie", cookie.clone()),
            ("X-Ura-Desk", "1".into()),
            ("Content-Type", "application/pdf".into()),
            ("X-Ura-Name", "boleto.pdf".into()),
        ],
        Some(doc.clone()),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.json());
    let m = next_frame(&mut v, &mut seen, |f| {
        f["type"] == "message" && f["from"] == "agent" && f["attachment"].is_object()
    })
    .await;
    assert_eq!(m["attachment"]["name"], "boleto.pdf");
    assert_eq!(m["text"], "boleto.pdf");
    let pdf_id = m["attachment"]["id"].as_str().unwrap().to_string();
    let got = http(
        "GET",
        format!("http://{h}/chat/site/attachments/{pdf_id}"),
        vec![("X-Ura-Conversation", token.clone())],
        None,
    )
    .await;
    assert_eq!((got.status, got.body == doc), (200, true));

    // Strangers: another visitor's token, no token, another agent.
    let mut other_seen = Vec::new();
    let (_other, other_token) = start_visitor(h, "Outra", &mut other_seen).await;
    for (headers, status, code) in [
        (
            vec![("X-Ura-Conversation", other_token.clone())],
            403,
            "not_yours",
        ),
        (vec![], 401, "unauthorized"),
    ] {
        let got = http(
            "GET",
            format!("http://{h}/chat/site/attachments/{file_id}"),
            headers,
            None,
        )
        .await;
        assert_eq!(
            (got.status, got.code().as_str()),
            (status, code),
            "{}",
            got.json()
        );
        assert!(got.body.len() < 500, "no file bytes to a stranger");
    }
    let got = http(
        "GET",
        format!("http://{h}/desk/attachments/{file_id}"),
        vec![("Cookie", bia_cookie.clone())],
        None,
    )
    .await;
    assert_eq!((got.status, got.code().as_str()), (403, "not_yours"));
    // Bia may not send into Ana's conversation; nobody without the header.
    let a = http(
        "POST",
        format!("http://{h}/desk/conversations/{id}/attachments"),
        vec![
            ("Cookie", bia_cookie.clone()),
            ("X-Ura-Desk", "1".into()),
            ("Content-Type", "application/pdf".into()),
        ],
        Some(doc.clone()),
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (403, "not_yours"));
    let a = http(
        "POST",
        format!("http://{h}/desk/conversations/{id}/attachments"),
        vec![
            ("Cookie", cookie.clone()),
            ("Content-Type", "application/pdf".into()),
        ],
        Some(doc.clone()),
    )
    .await;
    assert_eq!((a.status, a.code().as_str()), (403, "csrf"));

    // Bad files: clear refusals, nothing kept.
    let a = visitor_upload(
        h,
        &token,
        "text/html",
        "x.html",
        None,
        b"<html></html>".to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (415, "type_not_allowed"),
        "{}",
        a.json()
    );
    let mut html = b"<!doctype html><script>alert(1)</script>".to_vec();
    html.extend(std::iter::repeat_n(b' ', 100));
    let a = visitor_upload(h, &token, "image/png", "x.png", None, html).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (422, "content_mismatch"),
        "{}",
        a.json()
    );
    let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    exe.extend(std::iter::repeat_n(0u8, 10_000));
    let a = visitor_upload(h, &token, "image/png", "setup.png", None, exe).await;
    assert_eq!((a.status, a.code().as_str()), (422, "content_mismatch"));
    // Too large is refused on the head alone: the body is never sent.
    let t0 = std::time::Instant::now();
    let (status, text) = tokio::task::spawn_blocking({
        let token = token.clone();
        move || head_only(h, &token, 50_000_000)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("\"too_large\""), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    let stored = std::fs::read_dir(ura.data_dir.join("attachments"))
        .unwrap()
        .count();
    assert_eq!(stored, 2, "only the two files sent are kept");

    // The visitor comes back from before the picture: each file once.
    drop(v);
    let (mut v, _) = tokio_tungstenite::connect_async(format!("ws://{h}/chat/site/ws"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    send(
        &mut v,
        json!({"type": "resume", "conversation": token, "last_seq": before}),
    )
    .await;
    let resumed = next_frame(&mut v, &mut seen, |f| f["type"] == "resumed").await;
    let files: Vec<&str> = resumed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["attachment"]["id"].as_str())
        .collect();
    assert_eq!(files, [file_id.as_str(), pdf_id.as_str()], "{resumed}");

    // The page knows the rules.
    let settings = http(
        "GET",
        format!("http://{h}/chat/site/settings"),
        vec![],
        None,
    )
    .await
    .json();
    assert_eq!(
        settings["attachments"]["max_bytes"], 3_000_000,
        "{settings}"
    );
    assert!(settings["attachments"]["types"]
        .as_array()
        .unwrap()
        .contains(&json!("application/pdf")));

    // The agent closes: the record keeps the files' messages; the files go.
    let key = ura.api_key();
    send(&mut desk, json!({"type": "close", "conversation": id})).await;
    next_frame(&mut v, &mut seen, |f| {
        f["type"] == "status" && f["phase"] == "closed"
    })
    .await;
    let record = loop {
        let page = http(
            "GET",
            format!("http://{h}/api/v1/chats?channel=site"),
            vec![("Authorization", format!("Bearer {key}"))],
            None,
        )
        .await
        .json();
        if let Some(r) = page["items"].as_array().and_then(|i| i.first()) {
            break r.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let kept: Vec<Value> = record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.get("attachment").cloned())
        .collect();
    assert_eq!(kept.len(), 2, "{record}");
    assert_eq!(kept[0], sent["attachment"]);
    let got = http(
        "GET",
        format!("http://{h}/chat/site/attachments/{file_id}"),
        vec![("X-Ura-Conversation", token.clone())],
        None,
    )
    .await;
    assert_eq!((got.status, got.code().as_str()), (404, "not_found"));
    let deadline = std::time::Instant::now() + WAIT;
    while std::fs::read_dir(ura.data_dir.join("attachments"))
        .unwrap()
        .count()
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "files left after the end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A channel keeps no more on disk than its `max_total_bytes`: past it a
/// file is refused (`storage_full`) before its body is read; a token of
/// one channel sends nothing to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_keeps_no_more_than_its_total() {
    let config = format!(
        "{}\n[channels.mini]\ntype = \"webchat\"\ndescription = \"Mini\"\nivr = \"main\"\n\
         [channels.mini.webchat.attachments]\nmax_bytes = 30000\nmax_total_bytes = 40000\n",
        *CONFIG
    );
    let ura = common::Ura::start_with_config(&config, &[]);
    let h = ura.http;
    let (mut v, _) = tokio_tungstenite::connect_async(format!("ws://{h}/chat/mini/ws"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    send(&mut v, json!({"type": "start", "fields": {"name": "Rui"}})).await;
    let started = next_frame(&mut v, &mut seen, |f| f["type"] == "started").await;
    let token = started["conversation"].as_str().unwrap().to_string();
    let upload = |channel: &str, token: &str| {
        http(
            "POST",
            format!("http://{h}/chat/{channel}/attachments"),
            vec![
                ("X-Ura-Conversation", token.to_string()),
                ("Content-Type", "image/png".into()),
            ],
            Some(png()[..25_000].to_vec()),
        )
    };
    // Still in the menu: the file is kept in the log, and is no option.
    let a = upload("mini", &token).await;
    assert_eq!(a.status, 201, "{}", a.json());
    let m = next_frame(&mut v, &mut seen, |f| f["attachment"].is_object()).await;
    assert_eq!(m["text"], "file");
    let a = upload("mini", &token).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (507, "storage_full"),
        "{}",
        a.json()
    );
    let a = upload("site", &token).await;
    assert_eq!((a.status, a.code().as_str()), (404, "unknown_conversation"));
    assert!(
        !seen.iter().any(|f| f["text"] == "Opção inválida."),
        "{seen:#?}"
    );
    // The visitor leaves: the channel's room is back (the file is gone).
    send(&mut v, json!({"type": "close"})).await;
    next_frame(&mut v, &mut seen, |f| {
        f["type"] == "status" && f["phase"] == "closed"
    })
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    while std::fs::read_dir(ura.data_dir.join("attachments"))
        .unwrap()
        .count()
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the file stays after the end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
