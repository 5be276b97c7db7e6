//! The admin API in-process (`Router` + `oneshot`) with the engine's own
//! configuration rules behind it: keys, every kind's create/read/replace/
//! patch/delete with ETags, company isolation for every resource and verb,
//! refusals in one error shape that leave nothing behind, file mode, and
//! import/export.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use ura::config::{Config, ServeArgs};
use ura::config_api::EngineBackend;
use ura_api::{Api, Mode};
use ura_store::Store;

struct Admin {
    app: Router,
    store: Store,
    /// Super-admin key.
    root: String,
}

async fn admin(mode: Mode) -> Admin {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::resolve(&ServeArgs::default()).unwrap();
    config.data_dir = std::env::temp_dir().join(format!(
        "ura-api-test-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let tables = config.routing_tables.clone();
    let backend = EngineBackend::new(config).with_store(store.clone());
    let api = Api::open(store.clone(), backend, mode, &tables)
        .await
        .unwrap();
    let (root, _) = ura_api::create_key(&store, None, "root").await.unwrap();
    let app = ura::http::app(Arc::new(ura::engine::Counters::default()), api);
    Admin { app, store, root }
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    location: Option<String>,
    body: Value,
}

impl Admin {
    async fn raw(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let header = |n: &str| {
            res.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (etag, location) = (header("etag"), header("location"));
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            etag,
            location,
            body,
        }
    }

    async fn send(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
        self.send_with(method, path, key, body, &[]).await
    }

    async fn send_with(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.raw(req.unwrap()).await
    }

    async fn key_for(&self, company: &str) -> String {
        ura_api::create_key(&self.store, Some(company), company)
            .await
            .unwrap()
            .0
    }

    async fn company(&self, id: &str) {
        let a = self
            .send(
                "POST",
                "/api/v1/companies",
                &self.root,
                Some(json!({"id": id, "name": id})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
}

/// The error shape: `{"error": {"code", "message", "field"}}`.
fn refusal(a: &Answer, status: StatusCode, code: &str, field: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let e = &a.body["error"];
    assert_eq!(e["code"], code, "{}", a.body);
    assert_eq!(e["field"], field, "{}", a.body);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.body
    );
}

/// One valid object of each kind for `company`, in an order where every
/// reference exists (`p` makes the ids unique).
fn samples(company: &str, p: &str) -> Vec<(&'static str, String, Value)> {
    vec![
        (
            "schedules",
            format!("{p}-hours"),
            json!({"company": company, "timezone": "America/Sao_Paulo",
                   "weekly": {"mon": ["09:00-12:00", "13:00-18:00"], "sat": ["22:00-02:00"]},
                   "holidays": ["*-12-25"]}),
        ),
        (
            "queues",
            format!("{p}-q"),
            json!({"company": company, "name": format!("Fila {p}"), "strategy": "round-robin", "ring_seconds": 15}),
        ),
        (
            "services",
            format!("{p}-svc"),
            json!({"company": company, "name": format!("Vendas {p}"), "queue": format!("{p}-q")}),
        ),
        (
            "ivrs",
            format!("{p}-ivr"),
            json!({"company": company, "welcome": "ivr-welcome",
                   "menu": {"items": [{"digits": "1", "label": "vendas",
                                       "target": {"service": format!("{p}-svc")}}]}}),
        ),
        (
            "numbers",
            format!("+5511300{}", if p == "a" { "01111" } else { "02222" }),
            json!({"company": company, "name": format!("Central {p}"), "ivr": format!("{p}-ivr"),
                   "schedule": format!("{p}-hours"), "language": "pt-BR", "country": "BR"}),
        ),
        (
            "agents",
            format!("{}", if p == "a" { 3101 } else { 3201 }),
            json!({"company": company, "name": format!("Agente {p}"), "queues": {format!("{p}-q"): 1}}),
        ),
    ]
}

#[tokio::test]
async fn keys_are_required_checked_and_revocable() {
    let a = admin(Mode::Store).await;
    let no_key = a
        .raw(Request::get("/api/v1/numbers").body(Body::empty()).unwrap())
        .await;
    refusal(&no_key, StatusCode::UNAUTHORIZED, "unauthorized", "");
    let bad = a.send("GET", "/api/v1/numbers", "ura_0000", None).await;
    refusal(&bad, StatusCode::UNAUTHORIZED, "unauthorized", "");
    assert_eq!(
        a.send("GET", "/api/v1/numbers", &a.root, None).await.status,
        StatusCode::OK
    );
    // A key made over the API works, is listed by prefix only, and stops
    // working once revoked.
    a.company("acme").await;
    let made = a
        .send(
            "POST",
            "/api/v1/apikeys",
            &a.root,
            Some(json!({"name": "crm", "company": "acme"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let key = made.body["key"].as_str().unwrap().to_string();
    let prefix = made.body["prefix"].as_str().unwrap().to_string();
    assert!(key.starts_with(&prefix) && key.len() > prefix.len() + 20);
    assert_eq!(
        a.send("GET", "/api/v1/numbers", &key, None).await.status,
        StatusCode::OK
    );
    let listed = a.send("GET", "/api/v1/apikeys", &key, None).await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    assert!(
        !listed.body.to_string().contains(&key),
        "never the key itself"
    );
    // A company key may not make companies or import.
    let forbidden = a
        .send(
            "POST",
            "/api/v1/companies",
            &key,
            Some(json!({"id": "evil"})),
        )
        .await;
    refusal(&forbidden, StatusCode::FORBIDDEN, "forbidden", "");
    let forbidden = a.send("PUT", "/api/v1/config", &key, Some(json!({}))).await;
    refusal(&forbidden, StatusCode::FORBIDDEN, "forbidden", "");
    let revoked = a
        .send(
            "DELETE",
            &format!("/api/v1/apikeys/{prefix}"),
            &a.root,
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = a.send("GET", "/api/v1/numbers", &key, None).await;
    refusal(&after, StatusCode::UNAUTHORIZED, "unauthorized", "");
}

#[tokio::test]
async fn every_kind_is_created_read_listed_patched_replaced_and_deleted() {
    let a = admin(Mode::Store).await;
    a.company("acme").await;
    let key = a.key_for("acme").await;
    let objects = samples("acme", "a");
    for (kind, id, body) in &objects {
        let mut body = body.clone();
        body["id"] = json!(id);
        let made = a
            .send("POST", &format!("/api/v1/{kind}"), &key, Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{kind}: {}", made.body);
        assert_eq!(made.etag.as_deref(), Some("\"1\""), "{kind}");
        assert_eq!(
            made.location.as_deref(),
            Some(format!("/api/v1/{kind}/{id}").as_str())
        );
        assert_eq!(made.body["company"], "acme");
        let again = a
            .send(
                "POST",
                &format!("/api/v1/{kind}"),
                &key,
                Some(json!({"id": id, "number": id})),
            )
            .await;
        refusal(&again, StatusCode::CONFLICT, "exists", "id");
        let got = a
            .send("GET", &format!("/api/v1/{kind}/{id}"), &key, None)
            .await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.etag.as_deref(), Some("\"1\""));
        assert_eq!(
            got.body,
            made.body.as_object().map_or(json!(null), |m| {
                let mut m = m.clone();
                m.remove("password");
                Value::Object(m)
            })
        );
    }
    // An agent made without a password gets one, shown once.
    let agent = &objects[5].1;
    let got = a
        .send("GET", &format!("/api/v1/agents/{agent}"), &key, None)
        .await;
    assert_eq!(got.body["password_set"], true);
    assert!(got.body.get("password").is_none());

    // Search by name, any case, and pages.
    let found = a
        .send("GET", "/api/v1/numbers?q=CENTRAL%20a", &key, None)
        .await;
    assert_eq!(found.body["total"], 1, "{}", found.body);
    assert_eq!(found.body["items"][0]["id"], objects[4].1);
    let page = a
        .send("GET", "/api/v1/schedules?limit=1&offset=0", &a.root, None)
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert!(page.body["total"].as_u64().unwrap() >= 3, "{}", page.body);
    let bad_query = a.send("GET", "/api/v1/schedules?limit=0", &key, None).await;
    refusal(
        &bad_query,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "limit",
    );

    // PATCH (merge patch) with the version read; a stale version is 412.
    let q = "/api/v1/queues/a-q";
    let patched = a
        .send_with(
            "PATCH",
            q,
            &key,
            Some(json!({"ring_seconds": 25})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.etag.as_deref(), Some("\"2\""));
    assert_eq!(patched.body["ring_seconds"], 25);
    assert_eq!(patched.body["strategy"], "round-robin", "kept");
    let stale = a
        .send_with(
            "PUT",
            q,
            &key,
            Some(json!({"name": "x"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    refusal(
        &stale,
        StatusCode::PRECONDITION_FAILED,
        "version_mismatch",
        "",
    );
    let replaced = a
        .send_with(
            "PUT",
            q,
            &key,
            Some(json!({"name": "Fila nova"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert!(
        replaced.body.get("strategy").is_none(),
        "PUT replaces: {}",
        replaced.body
    );
    assert_eq!(replaced.body["version"], 3);

    // Deleting what others use is 409 naming them; in order it works.
    let in_use = a
        .send("DELETE", "/api/v1/schedules/a-hours", &key, None)
        .await;
    refusal(&in_use, StatusCode::CONFLICT, "in_use", "");
    assert!(
        in_use.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("numbers/{}", objects[4].1)),
        "{}",
        in_use.body
    );
    for (kind, id, _) in objects.iter().rev() {
        let gone = a
            .send("DELETE", &format!("/api/v1/{kind}/{id}"), &key, None)
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{kind}: {}", gone.body);
        let missing = a
            .send("GET", &format!("/api/v1/{kind}/{id}"), &key, None)
            .await;
        refusal(&missing, StatusCode::NOT_FOUND, "not_found", "");
    }
    // What is stored is what the API shows.
    let stored = a.store.config_docs().await.unwrap();
    assert!(!stored.iter().any(|d| d.company == "acme"), "{stored:?}");
}

#[tokio::test]
async fn a_company_key_never_sees_or_changes_another_company() {
    let a = admin(Mode::Store).await;
    a.company("acme").await;
    a.company("globex").await;
    let acme = a.key_for("acme").await;
    let globex = a.key_for("globex").await;
    for (kind, id, body) in samples("acme", "a") {
        let mut body = body;
        body["id"] = json!(id);
        let made = a
            .send("POST", &format!("/api/v1/{kind}"), &acme, Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    for (kind, id, _) in samples("acme", "a") {
        let list = a
            .send("GET", &format!("/api/v1/{kind}"), &globex, None)
            .await;
        assert_eq!(list.body["total"], 0, "{kind}: {}", list.body);
        let path = format!("/api/v1/{kind}/{id}");
        for method in ["GET", "PATCH", "DELETE"] {
            let body = (method == "PATCH").then(|| json!({"name": "mine"}));
            let a2 = a.send(method, &path, &globex, body).await;
            refusal(&a2, StatusCode::NOT_FOUND, "not_found", "");
        }
        let put = a
            .send("PUT", &path, &globex, Some(json!({"name": "mine"})))
            .await;
        assert_eq!(put.status, StatusCode::CONFLICT, "{kind}: {}", put.body);
        // Unchanged for its owner.
        let own = a.send("GET", &path, &acme, None).await;
        assert_eq!(own.body["version"], 1, "{kind}");
        assert_eq!(own.body["company"], "acme");
    }
    // Another company's objects cannot be referred to: as if missing.
    let lean = a
        .send(
            "POST",
            "/api/v1/numbers",
            &globex,
            Some(json!({"number": "+551130009999", "name": "x", "ivr": "a-ivr"})),
        )
        .await;
    refusal(&lean, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "ivr");
    // Nor named as the company of a new object.
    let other = a
        .send(
            "POST",
            "/api/v1/queues",
            &globex,
            Some(json!({"id": "g-q", "company": "acme"})),
        )
        .await;
    refusal(&other, StatusCode::FORBIDDEN, "forbidden", "");
    let check = a
        .send("GET", "/api/v1/schedules/a-hours/check", &globex, None)
        .await;
    refusal(&check, StatusCode::NOT_FOUND, "not_found", "");
    let action = a
        .send("POST", "/api/v1/agents/3101/pause", &globex, None)
        .await;
    refusal(&action, StatusCode::NOT_FOUND, "not_found", "");
    let export = a.send("GET", "/api/v1/config", &globex, None).await;
    assert!(
        !export.body.to_string().contains("a-ivr"),
        "{}",
        export.body
    );
    assert!(export.body.to_string().contains("numbers"));
    let companies = a.send("GET", "/api/v1/companies", &globex, None).await;
    assert_eq!(companies.body["total"], 1, "{}", companies.body);
    assert_eq!(companies.body["items"][0]["id"], "globex");
    let company = a.send("GET", "/api/v1/companies/acme", &globex, None).await;
    refusal(&company, StatusCode::NOT_FOUND, "not_found", "");
    let keys = a.send("GET", "/api/v1/apikeys", &globex, None).await;
    assert_eq!(keys.body["total"], 1, "{}", keys.body);
    let acme_prefix = &acme[..ura_api::PREFIX_LEN];
    let revoke = a
        .send(
            "DELETE",
            &format!("/api/v1/apikeys/{acme_prefix}"),
            &globex,
            None,
        )
        .await;
    refusal(&revoke, StatusCode::NOT_FOUND, "not_found", "");
    assert_eq!(
        a.send("GET", "/api/v1/numbers", &acme, None).await.status,
        StatusCode::OK,
        "acme's key still works"
    );
    // A company that owns objects cannot be deleted.
    let del = a
        .send("DELETE", "/api/v1/companies/acme", &a.root, None)
        .await;
    refusal(&del, StatusCode::CONFLICT, "in_use", "id");
}

#[tokio::test]
async fn refusals_name_the_field_and_leave_nothing_behind() {
    let a = admin(Mode::Store).await;
    let k = &a.root;
    let before = a.send("GET", "/api/v1/config", k, None).await.body;
    let stored_before = a.store.config_docs().await.unwrap();
    let cases: Vec<(Value, &str, StatusCode, &str)> = vec![
        (
            json!({"id": "s1", "timezone": "UTC", "weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "weekly.mon[1]",
        ),
        (
            json!({"id": "s2", "timezone": "UTC", "weekly": {"mon": ["09:00-09:00"]}}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "weekly.mon[0]",
        ),
        (
            json!({"id": "s3", "timezone": "Mars/Olympus"}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "timezone",
        ),
        (
            json!({"id": "s4", "timezone": "UTC", "wekly": {}}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "wekly",
        ),
        (
            json!({"id": "i1", "menu": {"items": [
                {"digits": "1", "label": "a", "target": {"service": "vendas"}},
                {"digits": "1", "label": "b", "target": {"service": "suporte"}}]}}),
            "ivrs",
            StatusCode::UNPROCESSABLE_ENTITY,
            "menu",
        ),
        (
            json!({"id": "i2", "welcome": "nao-existe", "menu": {"items": [
                {"digits": "1", "label": "a", "target": {"service": "vendas"}}]}}),
            "ivrs",
            StatusCode::UNPROCESSABLE_ENTITY,
            "welcome",
        ),
        (
            json!({"id": "q9", "hold_music": "nao-existe"}),
            "queues",
            StatusCode::UNPROCESSABLE_ENTITY,
            "hold_music",
        ),
        (
            json!({"number": "+5511999990000", "name": "x", "ivr": "nosuch"}),
            "numbers",
            StatusCode::UNPROCESSABLE_ENTITY,
            "ivr",
        ),
        (
            json!({"number": "+5511999990001", "name": "x", "ivr": "demo", "schedule": "nosuch"}),
            "numbers",
            StatusCode::UNPROCESSABLE_ENTITY,
            "schedule",
        ),
        (
            json!({"id": "sv", "name": "x", "queue": "nosuch"}),
            "services",
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
        // 1000 is the demo's: "1000" again is taken.
        (
            json!({"number": "1000", "name": "x", "ivr": "demo"}),
            "numbers",
            StatusCode::CONFLICT,
            "id",
        ),
        (
            json!({"id": "../../etc/passwd", "timezone": "UTC"}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
        (
            json!({"timezone": "UTC"}),
            "schedules",
            StatusCode::UNPROCESSABLE_ENTITY,
            "id",
        ),
    ];
    for (body, kind, status, field) in cases {
        let answer = a
            .send("POST", &format!("/api/v1/{kind}"), k, Some(body.clone()))
            .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        let got = answer.body["error"]["field"].as_str().unwrap_or("?");
        assert!(
            got == field || (field == "menu" && got.starts_with("menu")),
            "{body}: field {got:?}, want {field:?}: {}",
            answer.body
        );
    }
    // The same number written another way is the same number.
    let twice = a
        .send(
            "POST",
            "/api/v1/numbers",
            k,
            Some(json!({"number": "+55 11 3000-0000", "name": "x", "ivr": "demo"})),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CREATED, "{}", twice.body);
    let again = a
        .send(
            "POST",
            "/api/v1/numbers",
            k,
            Some(json!({"number": "551130000000", "name": "y", "ivr": "demo"})),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("twice"),
        "{}",
        again.body
    );
    assert_eq!(twice.body["id"], "+551130000000", "{}", twice.body);
    let gone = a
        .send("DELETE", "/api/v1/numbers/%2B551130000000", k, None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    // Bodies: malformed, not JSON, too deep, too large.
    let post = |ctype: &str, body: Vec<u8>| {
        Request::post("/api/v1/queues")
            .header("authorization", format!("Bearer {}", a.root))
            .header("content-type", ctype)
            .body(Body::from(body))
            .unwrap()
    };
    let malformed = a
        .raw(post("application/json", b"{\"id\": \"q\"".to_vec()))
        .await;
    refusal(&malformed, StatusCode::BAD_REQUEST, "malformed", "");
    let text = a.raw(post("text/plain", b"{\"id\": \"q\"}".to_vec())).await;
    refusal(
        &text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type",
        "",
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep = a.raw(post("application/json", deep.into_bytes())).await;
    refusal(&deep, StatusCode::BAD_REQUEST, "malformed", "");
    let mut big = b"{\"id\": \"q\", \"name\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    big.extend(b"\"}");
    let big = a.raw(post("application/json", big)).await;
    refusal(&big, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "");
    let array = a.raw(post("application/json", b"[1]".to_vec())).await;
    refusal(&array, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "");
    // SQL in a search string is a search string.
    let sql = a
        .send("GET", "/api/v1/numbers?q=%27%20OR%201%3D1%20--", k, None)
        .await;
    assert_eq!(sql.status, StatusCode::OK);
    assert_eq!(sql.body["total"], 0);
    // Nothing half-written: the configuration is as it was.
    let after = a.send("GET", "/api/v1/config", k, None).await.body;
    assert_eq!(after, before);
    assert_eq!(a.store.config_docs().await.unwrap(), stored_before);
}

#[tokio::test]
async fn file_mode_shows_the_file_and_refuses_writes() {
    let a = admin(Mode::File("ura.toml".into())).await;
    let list = a.send("GET", "/api/v1/numbers", &a.root, None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body["total"].as_u64().unwrap() >= 3, "{}", list.body);
    let write = a
        .send(
            "PATCH",
            "/api/v1/numbers/1000",
            &a.root,
            Some(json!({"name": "x"})),
        )
        .await;
    refusal(&write, StatusCode::CONFLICT, "file_mode", "");
    assert!(write.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ura.toml"));
    assert!(
        a.store.config_docs().await.unwrap().is_empty(),
        "file mode writes nothing to the store"
    );
}

#[tokio::test]
async fn export_and_import_round_trip_all_or_nothing() {
    let a = admin(Mode::Store).await;
    let k = &a.root;
    let exported = a.send("GET", "/api/v1/config", k, None).await.body;
    assert!(exported["numbers"].as_array().unwrap().len() >= 3);
    // A broken import changes nothing.
    let mut broken = exported.clone();
    broken["numbers"][0]["ivr"] = json!("nosuch");
    let refused = a.send("PUT", "/api/v1/config", k, Some(broken)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(
        a.send("GET", "/api/v1/config", k, None).await.body,
        exported
    );
    // A good one replaces everything: one number left.
    let mut one = exported.clone();
    one["numbers"] = json!([exported["numbers"][0].clone()]);
    let done = a.send("PUT", "/api/v1/config", k, Some(one.clone())).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let now = a.send("GET", "/api/v1/config", k, None).await.body;
    assert_eq!(now["numbers"], one["numbers"]);
    assert_eq!(now["ivrs"], exported["ivrs"]);
    // Agents' passwords never leave.
    assert!(!now.to_string().contains("password\""), "{now}");
}

fn record(number: &str, started: &str, cause: &str, agent: Option<&str>) -> ura_store::CallRecord {
    ura_store::CallRecord {
        sip_call_id: format!("{number}-{started}"),
        started_at: started.into(),
        ended_at: started.into(),
        caller: "=HYPERLINK(\"http://x\")".into(),
        number: number.into(),
        hangup_cause: cause.into(),
        queue: agent.map(|a| ura_store::QueueRecord {
            queue: "vendas".into(),
            entered_at: started.into(),
            outcome: Some("answered".into()),
            agent: Some(a.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn call_records_are_filtered_paged_exported_and_scoped() {
    let a = admin(Mode::Store).await;
    a.company("acme").await;
    let acme = a.key_for("acme").await;
    let demo = a.key_for("default").await;
    for (kind, id, body) in samples("acme", "a") {
        let mut body = body;
        body["id"] = json!(id);
        let made = a
            .send("POST", &format!("/api/v1/{kind}"), &acme, Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    }
    // Acme's number dialled in two of its forms, and the demo's 1000.
    for r in [
        record("1000", "2026-11-20T10:00:00Z", "caller-bye", Some("2001")),
        record("+551130001111", "2026-11-21T10:00:00Z", "caller-bye", None),
        record("1130001111", "2026-11-22T10:00:00Z", "closed", None),
        record("1000", "2026-11-23T10:00:00Z", "no-answer", None),
    ] {
        a.store.insert_call(&r).await.unwrap();
    }
    let numbers = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["number"].as_str().unwrap().to_string())
            .collect()
    };
    let all = a.send("GET", "/api/v1/calls", &a.root, None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(numbers(&all.body).len(), 4);
    let mine = a.send("GET", "/api/v1/calls", &acme, None).await;
    assert_eq!(numbers(&mine.body), ["1130001111", "+551130001111"]);
    let theirs = a.send("GET", "/api/v1/calls", &demo, None).await;
    assert_eq!(numbers(&theirs.body), ["1000", "1000"]);
    // Another company's number is no number at all for this key.
    let other = a
        .send("GET", "/api/v1/calls?number=1000", &acme, None)
        .await;
    assert_eq!(numbers(&other.body), Vec::<String>::new());
    let by_number = a
        .send(
            "GET",
            "/api/v1/calls?number=%2B55%2011%203000-1111",
            &a.root,
            None,
        )
        .await;
    assert_eq!(by_number.body["items"].as_array().unwrap().len(), 2);
    for (query, want) in [
        ("outcome=closed", 1),
        ("outcome=answered", 1),
        ("agent=2001", 1),
        ("from=2026-11-21T07:00:00-03:00&to=2026-11-23T00:00:00Z", 2),
        ("limit=1", 1),
    ] {
        let got = a
            .send("GET", &format!("/api/v1/calls?{query}"), &a.root, None)
            .await;
        assert_eq!(
            got.body["items"].as_array().map(Vec::len),
            Some(want),
            "{query}: {}",
            got.body
        );
    }
    let page = a.send("GET", "/api/v1/calls?limit=3", &a.root, None).await;
    let next = page.body["next"].as_i64().unwrap();
    let rest = a
        .send(
            "GET",
            &format!("/api/v1/calls?limit=3&before={next}"),
            &a.root,
            None,
        )
        .await;
    assert_eq!(numbers(&rest.body), ["1000"]);
    assert!(rest.body["next"].is_null());
    let bad = a
        .send("GET", "/api/v1/calls?from=yesterday", &a.root, None)
        .await;
    refusal(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "from");
    // CSV: the header, one line per call, a caller's formula kept as text.
    let res = a
        .app
        .clone()
        .oneshot(
            Request::get("/api/v1/calls.csv?outcome=caller-bye")
                .header("authorization", format!("Bearer {}", a.root))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("id,started_at,"));
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{text}"
    );
}

/// A WAV of a sine tone.
fn tone_wav(hz: f32, seconds: f32, rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(seconds * rate as f32) as usize {
        let t = i as f32 / rate as f32;
        w.write_sample((f32::sin(2.0 * std::f32::consts::PI * hz * t) * 12_000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A multipart body with `name` and `file` (and the boundary).
fn form(name: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "uraBoundary7e3".to_string();
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n\
         Content-Type: audio/wav\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

impl Admin {
    async fn upload(&self, key: &str, name: &str, file: &[u8], query: &str) -> Answer {
        let (boundary, body) = form(name, file);
        self.raw(
            Request::post(format!("/api/v1/prompts{query}"))
                .header("authorization", format!("Bearer {key}"))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn bytes(&self, path: &str, key: &str) -> (StatusCode, String, Vec<u8>) {
        let res = self
            .app
            .clone()
            .oneshot(
                Request::get(path)
                    .header("authorization", format!("Bearer {key}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = res.status();
        let ctype = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, ctype, body)
    }
}

/// Zero crossings per second of 8 kHz samples: twice the frequency.
fn frequency(samples: &[i16]) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f32 / 2.0 / (samples.len() as f32 / 8000.0)
}

#[tokio::test]
async fn prompts_are_uploaded_downloaded_guarded_and_deleted() {
    let a = admin(Mode::Store).await;
    a.company("acme").await;
    let acme = a.key_for("acme").await;
    let globex_key = {
        a.company("globex").await;
        a.key_for("globex").await
    };
    let wav = tone_wav(440.0, 1.0, 16_000);
    let made = a.upload(&acme, "boas-vindas", &wav, "").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["company"], "acme");
    let ms = made.body["duration_ms"].as_i64().unwrap();
    assert!(
        (900..=1000).contains(&ms),
        "{ms} ms (silence trimmed, 1 s tone)"
    );
    // The original comes back byte for byte; the rendered audio is 8 kHz
    // and still the tone.
    let (status, ctype, original) = a.bytes("/api/v1/prompts/boas-vindas/original", &acme).await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "audio/wav"));
    assert_eq!(original, wav);
    let (status, _, rendered) = a
        .bytes("/api/v1/prompts/boas-vindas/audio.wav", &acme)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = hound::WavReader::new(std::io::Cursor::new(rendered)).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let hz = frequency(&samples);
    assert!((420.0..460.0).contains(&hz), "{hz} Hz");
    // Not audio, too large, a bad name, a name taken: refused, nothing kept.
    let junk = a
        .upload(&acme, "lixo", b"PK\x03\x04 this is a zip, not a wav", "")
        .await;
    refusal(&junk, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "file");
    let huge = vec![0u8; ura_api::MAX_UPLOAD + 1];
    let huge = a.upload(&acme, "grande", &huge, "").await;
    refusal(&huge, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "");
    let traversal = a.upload(&acme, "../../etc/passwd", &wav, "").await;
    refusal(
        &traversal,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "name",
    );
    let taken = a.upload(&globex_key, "boas-vindas", &wav, "").await;
    refusal(&taken, StatusCode::CONFLICT, "exists", "name");
    let again = a.upload(&acme, "boas-vindas", &wav, "").await;
    refusal(&again, StatusCode::CONFLICT, "exists", "name");
    let replaced = a
        .upload(
            &acme,
            "boas-vindas",
            &tone_wav(880.0, 2.0, 8000),
            "?replace=true",
        )
        .await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.body);
    assert!(replaced.body["duration_ms"].as_i64().unwrap() > 1500);
    let list = a.send("GET", "/api/v1/prompts", &acme, None).await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    // The super-admin replaces its own prompt (the default company's) too.
    let root_wav = tone_wav(440.0, 1.0, 8000);
    let first = a.upload(&a.root, "geral", &root_wav, "").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = a.upload(&a.root, "geral", &root_wav, "").await;
    refusal(&again, StatusCode::CONFLICT, "exists", "name");
    let replaced = a.upload(&a.root, "geral", &root_wav, "?replace=true").await;
    assert_eq!(replaced.status, StatusCode::CREATED, "{}", replaced.body);
    let by_acme = a.upload(&acme, "geral", &root_wav, "?replace=true").await;
    refusal(&by_acme, StatusCode::CONFLICT, "exists", "name");
    let del = a
        .send("DELETE", "/api/v1/prompts/geral", &a.root, None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);
    // Another company sees none of it.
    let theirs = a.send("GET", "/api/v1/prompts", &globex_key, None).await;
    assert_eq!(theirs.body["total"], 0, "{}", theirs.body);
    let (status, _, _) = a
        .bytes("/api/v1/prompts/boas-vindas/original", &globex_key)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let del = a
        .send("DELETE", "/api/v1/prompts/boas-vindas", &globex_key, None)
        .await;
    refusal(&del, StatusCode::NOT_FOUND, "not_found", "");
    // In use by an IVR: 409 naming it; once unused, deleted.
    let svc = a
        .send(
            "POST",
            "/api/v1/services",
            &acme,
            Some(json!({"id": "acme-svc", "name": "Vendas"})),
        )
        .await;
    assert_eq!(svc.status, StatusCode::CREATED, "{}", svc.body);
    let ivr = a
        .send(
            "POST",
            "/api/v1/ivrs",
            &acme,
            Some(
                json!({"id": "acme-main", "welcome": "boas-vindas", "menu": {"items": [
                {"digits": "1", "label": "vendas", "target": {"service": "acme-svc"}}]}}),
            ),
        )
        .await;
    assert_eq!(ivr.status, StatusCode::CREATED, "{}", ivr.body);
    let in_use = a
        .send("DELETE", "/api/v1/prompts/boas-vindas", &acme, None)
        .await;
    refusal(&in_use, StatusCode::CONFLICT, "in_use", "name");
    assert!(in_use.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ivrs/acme-main"));
    let gone = a
        .send("DELETE", "/api/v1/ivrs/acme-main", &acme, None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let del = a
        .send("DELETE", "/api/v1/prompts/boas-vindas", &acme, None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);
    let list = a.send("GET", "/api/v1/prompts", &acme, None).await;
    assert_eq!(list.body["total"], 0);
}

#[tokio::test]
async fn prompts_from_text_take_only_known_voices() {
    let a = admin(Mode::Store).await;
    let voices = a.send("GET", "/api/v1/voices", &a.root, None).await;
    let names: Vec<&str> = voices.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["voice"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"pt-BR") && names.contains(&"en-US+f2"),
        "{names:?}"
    );
    let klingon = a
        .send(
            "POST",
            "/api/v1/prompts",
            &a.root,
            Some(json!({"name": "x", "text": "nuqneH", "voice": "klingon"})),
        )
        .await;
    refusal(
        &klingon,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "voice",
    );
    let empty = a
        .send(
            "POST",
            "/api/v1/prompts",
            &a.root,
            Some(json!({"name": "x", "text": " ", "voice": "pt-BR"})),
        )
        .await;
    refusal(&empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "text");
}

#[tokio::test]
async fn a_prompt_spoken_with_espeak_is_speech_in_bcp_47() {
    common::peer("espeak-ng", "espeak-ng");
    let a = admin(Mode::Store).await;
    let said = a
        .send(
            "POST",
            "/api/v1/prompts",
            &a.root,
            Some(json!({"name": "ola", "text": "Olá, bem-vindo à central.", "voice": "pt-br+f2"})),
        )
        .await;
    assert_eq!(said.status, StatusCode::CREATED, "{}", said.body);
    assert_eq!(said.body["source"], "tts");
    assert_eq!(said.body["language"], "pt-BR", "BCP 47 from the voice");
    assert!(
        said.body["duration_ms"].as_i64().unwrap() > 800,
        "{}",
        said.body
    );
    let (status, _, rendered) = a.bytes("/api/v1/prompts/ola/audio.wav", &a.root).await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = hound::WavReader::new(std::io::Cursor::new(rendered)).unwrap();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 2000).count();
    assert!(
        loud > samples.len() / 10,
        "speech, not silence: {loud} of {}",
        samples.len()
    );
}

/// The JSON Schema type name of a value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[tokio::test]
async fn openapi_json_and_docs_need_no_key_and_document_what_objects_show() {
    let a = admin(Mode::Store).await;
    let get = |path: &str| {
        let app = a.app.clone();
        let req = Request::get(path).body(Body::empty()).unwrap();
        async move {
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let ctype = res.headers()["content-type"].to_str().unwrap().to_string();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, ctype, bytes)
        }
    };
    let (status, ctype, bytes) = get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/numbers",
        "/api/v1/agents/{id}",
        "/api/v1/calls.csv",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }

    // /docs: the page and every file it loads come from ura itself.
    let (status, ctype, page) = get("/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let mut loaded = 0;
    for part in page.split(['"', '\'']).filter(|p| p.starts_with("/docs/")) {
        let (status, _, bytes) = get(part).await;
        assert_eq!(status, StatusCode::OK, "{part}");
        assert!(bytes.len() > 100, "{part}");
        loaded += 1;
    }
    assert_eq!(loaded, 3, "the page loads the bundle, its CSS and init.js");
    let (_, _, init) = get("/docs/init.js").await;
    assert!(String::from_utf8_lossy(&init).contains("\"/openapi.json\""));
    let (status, _, _) = get("/docs/nothing.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Reading the documentation is not an API answer in /metrics.
    let (_, _, metrics) = get("/metrics").await;
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    assert!(
        !metrics.contains("ura_api_requests_total{status=\"200\"} ")
            && !metrics.contains("ura_api_requests_total{status=\"404\"} "),
        "{metrics}"
    );

    // Every field of every kind's answer is a property of its schema, of
    // a type the schema allows.
    let names = [
        ("numbers", "Number"),
        ("schedules", "Schedule"),
        ("services", "Service"),
        ("ivrs", "Ivr"),
        ("queues", "Queue"),
        ("agents", "Agent"),
    ];
    for (kind, id, body) in samples("default", "a") {
        let made = a
            .send("PUT", &format!("/api/v1/{kind}/{id}"), &a.root, Some(body))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
        let shown = a
            .send("GET", &format!("/api/v1/{kind}/{id}"), &a.root, None)
            .await;
        let name = names.iter().find(|(k, _)| *k == kind).unwrap().1;
        let schema = &doc["components"]["schemas"][name];
        // The answer to the PUT (with the password ura made for an agent)
        // and the object read back.
        let answers = [
            made.body.as_object().unwrap(),
            shown.body.as_object().unwrap(),
        ];
        for (field, value) in answers.into_iter().flatten() {
            assert_ne!(
                schema["properties"][field]["writeOnly"], true,
                "{kind}.{field} is write-only but answered"
            );
            let prop = &schema["properties"][field];
            assert!(prop.is_object(), "{kind}: {field} is not documented");
            let allowed: Vec<&str> = match &prop["type"] {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => continue, // any value
            };
            assert!(
                allowed.contains(&json_type(value)),
                "{kind}.{field} = {value} is not {allowed:?}"
            );
        }
    }
}

#[tokio::test]
async fn renaming_an_agent_keeps_its_password() {
    let a = admin(Mode::Store).await;
    // A demo agent has no password in the store (ura generates one at start
    // and keeps it in the data directory): a rename must not make another.
    let renamed = a
        .send(
            "PATCH",
            "/api/v1/agents/2001",
            &a.root,
            Some(json!({"name": "Ana"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert!(renamed.body.get("password").is_none(), "{}", renamed.body);
    let stored = a.store.config_docs().await.unwrap();
    let doc = stored.iter().find(|d| d.id == "2001").unwrap();
    assert!(!doc.body.contains("password"), "{}", doc.body);
    // One made over the API keeps the password it was given.
    let made = a
        .send(
            "POST",
            "/api/v1/agents",
            &a.root,
            Some(json!({"id": "2009", "name": "Bia", "password": "s3cret-s3cret"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let put = a
        .send(
            "PUT",
            "/api/v1/agents/2009",
            &a.root,
            Some(json!({"name": "Bia Lima"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let stored = a.store.config_docs().await.unwrap();
    let doc = stored.iter().find(|d| d.id == "2009").unwrap();
    assert!(doc.body.contains("s3cret-s3cret"), "{}", doc.body);
}
