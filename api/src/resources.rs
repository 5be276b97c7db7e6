//! Numbers, schedules, services, IVRs, queues and agents: list (search
//! and pages), get, create, replace, patch (JSON merge patch) and delete,
//! with ETag/If-Match, each seen only by its company's keys.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use ura_store::ConfigChange;

use crate::auth::Caller;
use crate::body::JsonObject;
use crate::docs::{check_id, Doc, Docs, Kind, READ_ONLY};
use crate::error::ApiError;
use crate::{Api, Backend};

/// The routes of every kind.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    let mut router = Router::new();
    for kind in Kind::ALL {
        let list_path = format!("/api/v1/{}", kind.as_str());
        let one_path = format!("/api/v1/{}/{{id}}", kind.as_str());
        router = router
            .route(
                &list_path,
                get(move |s, c, q| list::<B>(kind, s, c, q))
                    .post(move |s, c, b| create::<B>(kind, s, c, b)),
            )
            .route(
                &one_path,
                get(move |s, c, p| fetch::<B>(kind, s, c, p))
                    .put(move |s, c, p, h, b| replace::<B>(kind, s, c, p, h, b))
                    .patch(move |s, c, p, h, b| patch::<B>(kind, s, c, p, h, b))
                    .delete(move |s, c, p, h| delete::<B>(kind, s, c, p, h)),
            );
    }
    router.route("/api/v1/schedules/{id}/check", get(check_schedule::<B>))
}

/// `?q=&limit=&offset=&company=` of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Part of the id or name, any case.
    pub q: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
    /// Skip this many.
    pub offset: Option<usize>,
    /// Only this company's (super-admin keys).
    pub company: Option<String>,
}

/// A query string read, or 422 naming `query`.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::invalid("query", e.body_text()))
}

/// Pages through `items` after `q` filtered them.
pub fn page(
    items: Vec<Value>,
    limit: Option<usize>,
    offset: Option<usize>,
) -> Result<Value, ApiError> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 500"));
    }
    let offset = offset.unwrap_or(0);
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Ok(json!({ "items": items, "total": total, "limit": limit, "offset": offset }))
}

/// Whether an object matches a search: its id or `name`, any case.
pub fn matches(id: &str, body: &Map<String, Value>, q: Option<&str>) -> bool {
    let Some(q) = q.map(str::to_lowercase).filter(|q| !q.is_empty()) else {
        return true;
    };
    id.to_lowercase().contains(&q)
        || body
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.to_lowercase().contains(&q))
}

async fn list<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let docs = api.inner.docs.lock().await;
    let items = docs
        .objects
        .iter()
        .filter(|((k, id), d)| {
            *k == kind
                && caller.may(&d.company)
                && q.company.as_deref().is_none_or(|c| c == d.company)
                && matches(id, &d.body, q.q.as_deref())
        })
        .map(|((k, id), d)| view(&api, *k, id, d))
        .collect();
    Ok(Json(page(items, q.limit, q.offset)?))
}

/// The object, if this caller may see it (404 otherwise: whether it exists
/// is not this caller's business).
fn visible<'a>(docs: &'a Docs, caller: &Caller, kind: Kind, id: &str) -> Result<&'a Doc, ApiError> {
    docs.objects
        .get(&(kind, id.to_string()))
        .filter(|d| caller.may(&d.company))
        .ok_or_else(|| ApiError::NotFound(format!("no {} {id:?}", kind.singular())))
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// What the API shows of an object ([`Docs::view`]) and, for a channel,
/// its `state` (`connected`, `disabled`, `error`) and `state_reason`.
fn view<B: Backend>(api: &Api<B>, kind: Kind, id: &str, doc: &Doc) -> Value {
    let mut view = Docs::view(kind, id, doc);
    if kind == Kind::Channels {
        let enabled = doc
            .body
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let (state, reason) = api.backend().channel_state(id, enabled);
        if let Value::Object(m) = &mut view {
            m.insert("state".into(), Value::String(state));
            m.insert("state_reason".into(), json!(reason));
        }
    }
    view
}

fn with_etag<B: Backend>(
    api: &Api<B>,
    status: StatusCode,
    kind: Kind,
    id: &str,
    doc: &Doc,
    extra: Option<(&str, Value)>,
) -> Response {
    let mut view = view(api, kind, id, doc);
    if let (Some((k, v)), Value::Object(m)) = (extra, &mut view) {
        match (m.get_mut(k), v) {
            // Generated keys shown beside what the view shows of them.
            (Some(Value::Object(shown)), Value::Object(more)) => shown.extend(more),
            (_, v) => {
                m.insert(k.into(), v);
            }
        }
    }
    let mut r = (status, Json(view)).into_response();
    r.headers_mut().insert(ETAG, etag(doc.version));
    if status == StatusCode::CREATED {
        if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/{}/{id}", kind.as_str())) {
            r.headers_mut().insert(LOCATION, loc);
        }
    }
    r
}

async fn fetch<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let docs = api.inner.docs.lock().await;
    let doc = visible(&docs, &caller, kind, &id)?;
    Ok(with_etag(&api, StatusCode::OK, kind, &id, doc, None))
}

/// `If-Match` against the stored version: `*` or `"N"` (weak or strong).
fn if_match(headers: &HeaderMap, current: Option<i64>) -> Result<(), ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("").trim();
    let ok = match current {
        None => false,
        Some(v) => {
            value == "*"
                || value
                    .split(',')
                    .any(|t| t.trim().trim_start_matches("W/").trim_matches('"') == v.to_string())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed(match current {
            Some(v) => format!("If-Match {value}: the stored version is \"{v}\"; read it again"),
            None => format!("If-Match {value}: there is no such object"),
        }))
    }
}

/// The fields to store from a request body: read-only fields dropped
/// (`id` must agree with the path), a number's `number` set to its id.
fn fields(
    kind: Kind,
    id: &str,
    mut body: Map<String, Value>,
) -> Result<(Map<String, Value>, Option<String>), ApiError> {
    if let Some(given) = body.get("id") {
        if given.as_str() != Some(id) {
            return Err(ApiError::invalid(
                "id",
                format!("differs from the id in the path ({id})"),
            ));
        }
    }
    let company = match body.get("company") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.clone()),
        Some(_) => return Err(ApiError::invalid("company", "expected a string")),
    };
    for f in READ_ONLY {
        body.remove(f);
    }
    body.remove("password_set");
    // Shown with a channel (a PATCH or PUT of what GET gave), never stored.
    if kind == Kind::Channels {
        body.remove("activation");
        body.remove("state");
        body.remove("state_reason");
        if let Some(Value::Object(o)) = body.get_mut("omni") {
            o.remove("key_set");
            o.remove("secret_set");
        }
        body.remove("identity_secret_set");
    }
    if kind == Kind::Numbers {
        match body.get("number") {
            None => {
                body.insert("number".into(), Value::String(id.into()));
            }
            Some(n) if n.as_str().map(crate::docs::number_id).as_deref() == Some(id) => {}
            Some(_) => {
                return Err(ApiError::invalid(
                    "number",
                    format!("differs from the id ({id})"),
                ))
            }
        }
    }
    Ok((body, company))
}

/// An omni channel's `key` and `secret` that a request left out: the
/// ones it had stay; a new channel gets new ones, shown once (the
/// answer's `omni`). Other channel types are left alone.
fn omni_keys(
    body: &mut Map<String, Value>,
    current: Option<&Doc>,
) -> Result<Option<Value>, ApiError> {
    if body.get("type").and_then(Value::as_str) != Some("omni") {
        return Ok(None);
    }
    let had = current
        .and_then(|c| c.body.get("omni"))
        .and_then(Value::as_object);
    let omni = body
        .entry("omni")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(omni) = omni else {
        return Err(ApiError::invalid("omni", "expected an object"));
    };
    let mut shown = Map::new();
    for field in ["key", "secret"] {
        if omni.contains_key(field) {
            continue;
        }
        match had.and_then(|h| h.get(field)) {
            Some(v) => {
                omni.insert(field.into(), v.clone());
            }
            None => {
                let v = Value::String(format!("{}{}", new_password()?, new_password()?));
                omni.insert(field.into(), v.clone());
                shown.insert(field.into(), v);
            }
        }
    }
    Ok((!shown.is_empty()).then_some(Value::Object(shown)))
}

/// A SIP password for an agent created without one: 16 letters and digits.
fn new_password() -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Unavailable(format!("no random numbers: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Writes `body` as `kind`/`id`: a new object (version 1) or the next
/// version of the one there.
async fn put<B: Backend>(
    api: &Api<B>,
    caller: &Caller,
    kind: Kind,
    id: &str,
    body: Map<String, Value>,
    headers: &HeaderMap,
    must_be_new: bool,
) -> Result<Response, ApiError> {
    check_id(id)?;
    let (mut body, named_company) = fields(kind, id, body)?;
    let caller = caller.clone();
    let (status, doc, generated) = api
        .change(None, |docs| {
            let current = docs.objects.get(&(kind, id.to_string()));
            let current = match current {
                Some(d) if !caller.may(&d.company) => {
                    // Another company's: the id is taken, say no more.
                    return Err(ApiError::Conflict {
                        code: "exists",
                        message: format!("the {} id {id} is taken", kind.singular()),
                        field: "id".into(),
                    });
                }
                other => other.cloned(),
            };
            if must_be_new && current.is_some() {
                return Err(ApiError::Conflict {
                    code: "exists",
                    message: format!(
                        "there is a {} {id} already; PUT replaces it",
                        kind.singular()
                    ),
                    field: "id".into(),
                });
            }
            if_match(headers, current.as_ref().map(|d| d.version))?;
            let company = match (&current, named_company.as_deref()) {
                (Some(c), None) => c.company.clone(),
                (_, named) => caller.company_for(named)?,
            };
            if !docs.companies.contains_key(&company) {
                return Err(ApiError::invalid(
                    "company",
                    format!("no company {company:?}"),
                ));
            }
            let mut generated = None;
            // An SMTP server replaced without its password keeps it (the
            // API never shows it, so a GET-then-PUT cannot carry it).
            if kind == Kind::Smtp && !body.contains_key("password") {
                if let Some(p) = current.as_ref().and_then(|c| c.body.get("password")) {
                    body.insert("password".into(), p.clone());
                }
            }
            if kind == Kind::Agents && !body.contains_key("password") {
                match (
                    &current,
                    current.as_ref().and_then(|c| c.body.get("password")),
                ) {
                    // Replaced without one: the one it has stays.
                    (_, Some(p)) => {
                        body.insert("password".into(), p.clone());
                    }
                    // An agent made here gets one, shown once.
                    (None, None) => {
                        let p = new_password()?;
                        body.insert("password".into(), Value::String(p.clone()));
                        generated = Some(Value::String(p));
                    }
                    // An agent from a file without one keeps the password ura
                    // generated for it at start (kept in the data directory).
                    (Some(_), None) => {}
                }
            }
            if kind == Kind::Channels {
                generated = omni_keys(&mut body, current.as_ref())?;
                match body.get("identity_secret") {
                    // Sent empty (or null): removed; the channel takes no
                    // identities.
                    Some(Value::Null) => {
                        body.remove("identity_secret");
                    }
                    Some(Value::String(s)) if s.is_empty() => {
                        body.remove("identity_secret");
                    }
                    Some(_) => {}
                    // Not sent (a PUT of what GET showed): the one it has stays.
                    None => {
                        if let Some(s) =
                            current.as_ref().and_then(|c| c.body.get("identity_secret"))
                        {
                            body.insert("identity_secret".into(), s.clone());
                        }
                    }
                }
            }
            let doc = Doc {
                company: company.clone(),
                body,
                version: current.as_ref().map_or(1, |c| c.version + 1),
                updated_at: crate::now(),
            };
            let mut touched = vec![company];
            if let Some(c) = &current {
                touched.push(c.company.clone());
            }
            docs.objects.insert((kind, id.to_string()), doc.clone());
            let status = if current.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((
                vec![ConfigChange::PutDoc(Docs::to_store(kind, id, &doc))],
                touched,
                (status, doc, generated),
            ))
        })
        .await
        .map_err(|e| prefix_field(kind, id, e))?;
    tracing::info!(kind = kind.as_str(), %id, version = doc.version, key = %caller.prefix, "configuration changed over the API");
    Ok(with_etag(
        api,
        status,
        kind,
        id,
        &doc,
        generated.map(|g| match g {
            Value::Object(_) => ("omni", g),
            p => ("password", p),
        }),
    ))
}

/// A check's field (`numbers.1000.ivr`) said relative to the object when it
/// is about this object (`ivr`).
fn prefix_field(kind: Kind, id: &str, e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid { field, message } => {
            let own = format!("{}.{id}", kind.as_str());
            let field = match field.strip_prefix(&own) {
                Some(rest) => rest.trim_start_matches('.').to_string(),
                None => field,
            };
            ApiError::Invalid { field, message }
        }
        other => other,
    }
}

async fn create<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id_field = if kind == Kind::Numbers {
        "number"
    } else {
        "id"
    };
    let mut id = body
        .get(id_field)
        .or_else(|| body.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid(id_field, "missing: name the new object's id"))?
        .to_string();
    if kind == Kind::Numbers {
        id = crate::docs::number_id(&id);
    }
    put(&api, &caller, kind, &id, body, &HeaderMap::new(), true).await
}

async fn replace<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    put(&api, &caller, kind, &id, body, &headers, false).await
}

/// RFC 7396: `null` removes a field, objects merge, anything else replaces.
fn merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(&k);
            }
            Value::Object(p) => match target.get_mut(&k) {
                Some(Value::Object(t)) => merge(t, p),
                _ => {
                    let mut t = Map::new();
                    merge(&mut t, p);
                    target.insert(k, Value::Object(t));
                }
            },
            other => {
                target.insert(k, other);
            }
        }
    }
}

async fn patch<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonObject(patch): JsonObject,
) -> Result<Response, ApiError> {
    let (mut body, read) = {
        let docs = api.inner.docs.lock().await;
        let doc = visible(&docs, &caller, kind, &id)?;
        if_match(&headers, Some(doc.version))?;
        let mut b = doc.body.clone();
        b.insert("company".into(), Value::String(doc.company.clone()));
        (b, doc.version)
    };
    merge(&mut body, patch);
    // The merge is on the version read above: it must still be the stored
    // one when written (a change in between is a 412, not overwritten).
    let mut headers = headers;
    headers.insert(IF_MATCH, etag(read));
    put(&api, &caller, kind, &id, body, &headers, false).await
}

async fn delete<B: Backend>(
    kind: Kind,
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if kind == Kind::Channels {
        visible(&*api.inner.docs.lock().await, &caller, kind, &id)?;
        let open = api
            .backend()
            .open_conversations(id.clone())
            .await
            .map_err(ApiError::Unavailable)?;
        if !open.is_empty() {
            return Err(ApiError::Conflict {
                code: "in_use",
                message: format!(
                    "channel {id} has open conversations: {} (close them first, or disable \
                     the channel so no new one starts)",
                    open.join(", ")
                ),
                field: String::new(),
            });
        }
    }
    api.change(Some((kind, &id)), |docs| {
        let doc = visible(docs, &caller, kind, &id)?.clone();
        if_match(&headers, Some(doc.version))?;
        docs.objects.remove(&(kind, id.clone()));
        Ok((
            vec![ConfigChange::DeleteDoc {
                kind: kind.as_str().into(),
                id: id.clone(),
            }],
            vec![doc.company],
            (),
        ))
    })
    .await?;
    tracing::info!(kind = kind.as_str(), %id, key = %caller.prefix, "configuration object deleted over the API");
    Ok(StatusCode::NO_CONTENT)
}

/// `?at=` of a schedule check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    /// RFC 3339; now when absent.
    pub at: Option<String>,
}

async fn check_schedule<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let body = {
        let docs = api.inner.docs.lock().await;
        Value::Object(visible(&docs, &caller, Kind::Schedules, &id)?.body.clone())
    };
    let mut out = api.backend().schedule_check(&body, q.at.as_deref())?;
    if let Value::Object(m) = &mut out {
        m.insert("schedule".into(), Value::String(id));
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}})
            .as_object()
            .unwrap()
            .clone();
        let p = json!({"a": "z", "c": {"f": null}, "n": {"x": 1}})
            .as_object()
            .unwrap()
            .clone();
        merge(&mut t, p);
        assert_eq!(
            Value::Object(t),
            json!({"a": "z", "c": {"d": "e"}, "n": {"x": 1}})
        );
    }

    #[test]
    fn if_match_takes_star_weak_and_lists() {
        let mut h = HeaderMap::new();
        if_match(&h, None).unwrap();
        h.insert(IF_MATCH, HeaderValue::from_static("W/\"3\""));
        if_match(&h, Some(3)).unwrap();
        assert!(if_match(&h, Some(4)).is_err());
        assert!(if_match(&h, None).is_err());
        h.insert(IF_MATCH, HeaderValue::from_static("\"1\", \"4\""));
        if_match(&h, Some(4)).unwrap();
        h.insert(IF_MATCH, HeaderValue::from_static("*"));
        if_match(&h, Some(9)).unwrap();
    }

    #[test]
    fn pages_and_search() {
        let items: Vec<Value> = (0..7).map(|i| json!(i)).collect();
        let p = page(items, Some(3), Some(5)).unwrap();
        assert_eq!(p["items"], json!([5, 6]));
        assert_eq!(p["total"], 7);
        assert!(page(vec![], Some(0), None).is_err());
        let body = json!({"name": "Vendas SP"}).as_object().unwrap().clone();
        assert!(matches("x", &body, Some("venDAS")));
        assert!(matches("vendas", &Map::new(), Some("END")));
        assert!(!matches("x", &body, Some("suporte")));
    }
}
