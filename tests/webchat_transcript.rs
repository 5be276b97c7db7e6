//! Web chat transcripts by e-mail against a real SMTP server (aiosmtpd,
//! `tests/smtp/sink.py`, started by the test on 127.0.0.1): the visitor
//! who gave an e-mail gets the conversation's messages, from the
//! channel's SMTP sender, with the subject in the channel's language. A
//! server that refuses, or one that is down: the failure is logged and
//! counted in `/metrics`, and conversations go on as before.
//!
//! Needs aiosmtpd in `target/ci-venv` (`tests/install-peers.sh`); fails
//! saying so when it is missing (the `no-peers` nextest profile leaves
//! these tests out).

mod common;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::chat::{http, send, Ws};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// aiosmtpd on 127.0.0.1, writing what it takes to a directory; killed
/// when dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start(refuse: bool) -> Sink {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/python");
        let ok = python.is_file()
            && Command::new(&python)
                .args(["-c", "import aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "aiosmtpd is not installed in target/ci-venv: run `sudo tests/install-peers.sh` \
             (or `python3 -m venv target/ci-venv && target/ci-venv/bin/pip install \
             aiosmtpd==1.4.6`), or leave out the tests that need peers: \
             `cargo nextest run --workspace --profile no-peers`"
        );
        let dir = std::env::temp_dir().join(format!(
            "ura-smtp-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(&python);
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py"))
            .arg(&dir)
            .args(["--within", "110"])
            .stdout(Stdio::piped());
        if refuse {
            cmd.arg("--refuse");
        }
        let mut child = cmd.spawn().expect("the SMTP sink starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP sink did not say its port: {line:?}")
        });
        Sink { child, port, dir }
    }

    /// The messages taken so far.
    fn mails(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(smtp: &str) -> String {
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
items = [{{ digits = "1", label = "vendas", target = {{ service = "vendas" }} }}]

[queues.vendas]
ring_seconds = 20
wrapup_seconds = 1
announce_seconds = 0

[agents.2001]
name = "Ana"
password = "senha-da-ana-123"
queues = {{ vendas = 1 }}
logged_in = true

{smtp}

[channels.site]
type = "webchat"
description = "Chat do site"
ivr = "main"
smtp = "local"

[channels.site.webchat]
title = "Fale conosco"
welcome = "Olá! Bem-vindo."
transcript = true
fields = {{ name = "required", email = "optional" }}

[channels.down]
type = "webchat"
description = "Chat sem servidor"
ivr = "main"
smtp = "gone"

[channels.down.webchat]
transcript = true
"#
    )
}

async fn next_frame(ws: &mut Ws, want: impl Fn(&Value) -> bool) -> Value {
    common::chat::next_frame(ws, &mut Vec::new(), WAIT, want).await
}

async fn visitor(http: SocketAddr, channel: &str, fields: Value) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/chat/{channel}/ws"))
        .await
        .unwrap();
    send(&mut ws, json!({"type": "start", "fields": fields})).await;
    next_frame(&mut ws, |f| f["type"] == "started").await;
    ws
}

async fn open_desk(addr: SocketAddr) -> Ws {
    let (mut ws, _) = common::chat::open_desk(addr, "2001", "senha-da-ana-123").await;
    next_frame(&mut ws, |f| f["type"] == "hello").await;
    ws
}

/// Waits until `/metrics` has `line`.
async fn metric(addr: SocketAddr, line: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let m = http()
                .get(&format!("http://{addr}/metrics"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap();
            if m.contains(line) {
                return m;
            }
            assert!(Instant::now() < deadline, "no {line:?} in:\n{m}");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transcript_reaches_a_real_smtp_server() {
    let sink = Sink::start(false);
    let smtp = format!(
        "[smtp.local]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\
         from = \"Atendimento <chat@ura.test>\"\n\
         [smtp.gone]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"chat@ura.test\"",
        sink.port,
        closed_port()
    );
    let ura = common::Ura::start_with_config(&config(&smtp), &[]);
    let addr = ura.http;
    let mut desk = open_desk(addr).await;
    let mut v = visitor(
        addr,
        "site",
        json!({"name": "Maria", "email": "maria@example.com"}),
    )
    .await;
    let offer = next_frame(&mut desk, |f| f["type"] == "offer").await;
    send(
        &mut desk,
        json!({"type": "accept", "offer": offer["offer"]}),
    )
    .await;
    let conv = next_frame(&mut desk, |f| f["type"] == "conversation").await;
    let id = conv["conversation"].clone();
    send(
        &mut v,
        json!({"type": "text", "text": "Quero um orçamento.", "client_id": "b"}),
    )
    .await;
    next_frame(&mut desk, |f| f["text"] == "Quero um orçamento.").await;
    send(
        &mut desk,
        json!({"type": "text", "conversation": id, "text": "Claro, Maria!"}),
    )
    .await;
    next_frame(&mut v, |f| f["text"] == "Claro, Maria!").await;
    send(&mut desk, json!({"type": "close", "conversation": id})).await;
    next_frame(&mut v, |f| f["type"] == "status" && f["phase"] == "closed").await;
    // A conversation without an e-mail sends nothing.
    let mut quiet = visitor(addr, "site", json!({"name": "João"})).await;
    send(&mut quiet, json!({"type": "close"})).await;
    next_frame(&mut quiet, |f| f["phase"] == "closed").await;

    let deadline = Instant::now() + WAIT;
    while sink.mails().is_empty() {
        assert!(Instant::now() < deadline, "no e-mail reached the server");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = metric(addr, "ura_chat_transcripts_sent_total 1\n").await;
    assert!(
        metrics.contains("ura_chat_transcripts_failed_total 0\n"),
        "{metrics}"
    );
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert_eq!(m["mail_from"], "chat@ura.test", "{m}");
    assert_eq!(m["rcpt_tos"], json!(["maria@example.com"]));
    assert_eq!(m["from"], "Atendimento <chat@ura.test>");
    assert_eq!(m["to"], "maria@example.com");
    assert_eq!(m["subject"], "Transcrição da sua conversa — Fale conosco");
    assert_eq!(m["content_type"], "text/plain");
    let body = m["body"].as_str().unwrap();
    for said in [
        "] Atendimento: Olá! Bem-vindo.",
        "] Você: Quero um orçamento.",
        "] Ana: Claro, Maria!",
        "] Atendimento: Este atendimento foi finalizado",
    ] {
        assert!(body.contains(said), "{said:?} not in:\n{body}");
    }
    assert!(body.contains(" UTC] "), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_or_absent_smtp_server_is_logged_and_counted() {
    let sink = Sink::start(true);
    let smtp = format!(
        "[smtp.local]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"chat@ura.test\"\n\
         [smtp.gone]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"chat@ura.test\"",
        sink.port,
        closed_port()
    );
    let ura = common::Ura::start_with_config(&config(&smtp), &[]);
    let addr = ura.http;
    let started = Instant::now();
    for channel in ["site", "down"] {
        let mut v = visitor(
            addr,
            channel,
            json!({"name": "Maria", "email": "maria@example.com"}),
        )
        .await;
        send(&mut v, json!({"type": "close"})).await;
        next_frame(&mut v, |f| f["phase"] == "closed").await;
    }
    // The core did not wait for the mail: both ended at once.
    assert!(started.elapsed() < Duration::from_secs(3));
    // Meanwhile conversations go on as usual (straight to the queue: the
    // menu has one option).
    let mut v = visitor(addr, "site", json!({"name": "Bia"})).await;
    next_frame(&mut v, |f| f["position"] == 1).await;
    send(
        &mut v,
        json!({"type": "text", "text": "oi", "client_id": "x"}),
    )
    .await;
    next_frame(&mut v, |f| f["from"] == "visitor" && f["text"] == "oi").await;

    let metrics = metric(addr, "ura_chat_transcripts_failed_total 2\n").await;
    assert!(
        metrics.contains("ura_chat_transcripts_sent_total 0\n"),
        "{metrics}"
    );
    assert!(sink.mails().is_empty());
    let logs = ura.logs().join("\n");
    assert!(
        logs.matches("transcript not sent").count() >= 2,
        "the failures are logged:\n{logs}"
    );
    assert!(
        logs.contains("554"),
        "the server's refusal is in the log:\n{logs}"
    );
}

#[test]
fn smtp_servers_are_configuration_documents_with_a_hidden_password() {
    let ura = common::Ura::start(&[]);
    let a = http();
    let url = |p: &str| format!("http://{}{p}", ura.http);
    let auth = format!("Bearer {}", ura.api_key());
    let call = |method: &str, path: &str, body: Option<Value>| -> (u16, Value) {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(url(path))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .unwrap();
        let mut r = a.run(req).unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json().unwrap_or(Value::Null))
    };
    let main = json!({"id": "main", "host": "127.0.0.1", "port": 2525, "security": "none",
                      "username": "chat", "password": "s3cr3t-smtp", "from": "Chat <chat@ura.test>"});
    let (status, body) = call("POST", "/api/v1/smtp", Some(main));
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains("s3cr3t"), "{body}");
    let (status, body) = call("GET", "/api/v1/smtp/main", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.get("password").is_none(), "{body}");
    assert_eq!(body["password_set"], true);
    assert_eq!(body["from"], "Chat <chat@ura.test>");
    // Replaced without the password: it keeps the one it had.
    let (status, body) = call(
        "PUT",
        "/api/v1/smtp/main",
        Some(
            json!({"host": "127.0.0.1", "port": 2526, "security": "none",
                    "username": "chat", "from": "chat@ura.test"}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["password_set"], true, "{body}");
    // Bad values name the field.
    for (bad, field) in [
        (json!({"id": "x", "host": "a b", "from": "c@d"}), "host"),
        (json!({"id": "x", "host": "h", "from": "nobody"}), "from"),
        (
            json!({"id": "x", "host": "h", "from": "c@d", "security": "ssl"}),
            "security",
        ),
        (
            json!({"id": "x", "host": "h", "from": "c@d", "password": "p"}),
            "username",
        ),
    ] {
        let (status, body) = call("POST", "/api/v1/smtp", Some(bad.clone()));
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
    // A channel that sends transcripts names an SMTP server that exists.
    let channel = |smtp: Value| {
        json!({"id": "loja", "type": "webchat", "description": "Loja", "service": "vendas",
               "smtp": smtp, "webchat": {"transcript": true}})
    };
    for smtp in [Value::Null, json!("nada")] {
        let (status, body) = call("POST", "/api/v1/channels", Some(channel(smtp)));
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["field"], "smtp", "{body}");
    }
    let (status, body) = call("POST", "/api/v1/channels", Some(channel(json!("main"))));
    assert_eq!(status, 201, "{body}");
    // The export has the server, never its password; the OpenAPI document
    // describes the kind.
    let (_, config) = call("GET", "/api/v1/config", None);
    assert_eq!(config["smtp"]["main"]["port"], 2526, "{config}");
    assert!(!config.to_string().contains("s3cr3t"), "{config}");
    // Imported again as exported: the server keeps its password.
    let (status, body) = call("PUT", "/api/v1/config", Some(config));
    assert_eq!(status, 200, "{body}");
    let (_, body) = call("GET", "/api/v1/smtp/main", None);
    assert_eq!(body["password_set"], true, "{body}");
    let (_, doc) = call("GET", "/openapi.json", None);
    assert!(doc["paths"].get("/api/v1/smtp/{id}").is_some());
    let schema = &doc["components"]["schemas"]["Smtp"]["properties"];
    assert_eq!(schema["password"]["writeOnly"], true, "{schema}");
    assert_eq!(schema["password_set"]["readOnly"], true);
}
