//! Companies, API keys, the whole configuration at once, the live view of
//! queues and agents, and agents' commands.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use ura_store::{Company, ConfigChange};

use crate::auth::{create_key, Caller};
use crate::body::JsonObject;
use crate::docs::{check_id, Kind, DEFAULT_COMPANY};
use crate::error::ApiError;
use crate::resources::{matches, page, ListQuery};
use crate::{AgentAction, Api, Backend};

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new()
        .route(
            "/api/v1/companies",
            get(companies::<B>).post(create_company::<B>),
        )
        .route(
            "/api/v1/companies/{id}",
            get(company::<B>).delete(delete_company::<B>),
        )
        .route("/api/v1/apikeys", get(keys::<B>).post(new_key::<B>))
        .route(
            "/api/v1/apikeys/{prefix}",
            axum::routing::delete(revoke::<B>),
        )
        .route("/api/v1/config", get(export::<B>).put(import::<B>))
        .route("/api/v1/live", get(live::<B>))
        .route("/api/v1/agents/{ext}/{action}", post(agent_action::<B>))
}

fn super_only(caller: &Caller) -> Result<(), ApiError> {
    match caller.company {
        None => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "only a super-admin key (`ura apikey create --super`) may do this".into(),
        )),
    }
}

fn company_view(c: &Company) -> Value {
    json!({ "id": c.id, "name": c.name, "created_at": c.created_at })
}

async fn companies<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = q
        .map(|Query(q)| q)
        .map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let docs = api.inner.docs.lock().await;
    let items = docs
        .companies
        .values()
        .filter(|c| caller.may(&c.id))
        .filter(|c| {
            let mut m = serde_json::Map::new();
            m.insert("name".into(), Value::String(c.name.clone()));
            matches(&c.id, &m, q.q.as_deref())
        })
        .map(company_view)
        .collect();
    Ok(Json(page(items, q.limit, q.offset)?))
}

async fn company<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let docs = api.inner.docs.lock().await;
    docs.companies
        .get(&id)
        .filter(|c| caller.may(&c.id))
        .map(|c| Json(company_view(c)))
        .ok_or_else(|| ApiError::NotFound(format!("no company {id:?}")))
}

async fn create_company<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    super_only(&caller)?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("id", "missing"))?
        .to_string();
    check_id(&id)?;
    let name = match body.get("name") {
        None => id.clone(),
        Some(Value::String(n)) if !n.trim().is_empty() && n.len() <= 200 => n.clone(),
        Some(_) => return Err(ApiError::invalid("name", "1 to 200 characters")),
    };
    if let Some(extra) = body
        .keys()
        .find(|k| !["id", "name", "created_at"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(extra.clone(), "unknown field"));
    }
    let company = Company {
        id: id.clone(),
        name,
        created_at: crate::now(),
    };
    let view = company_view(&company);
    api.change(None, |docs| {
        if docs.companies.contains_key(&id) {
            return Err(ApiError::Conflict {
                code: "exists",
                message: format!("there is a company {id} already"),
                field: "id".into(),
            });
        }
        docs.companies.insert(id.clone(), company.clone());
        Ok((vec![ConfigChange::PutCompany(company)], vec![], ()))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn delete_company<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    super_only(&caller)?;
    if id == DEFAULT_COMPANY {
        return Err(ApiError::Conflict {
            code: "in_use",
            message: "the default company cannot be deleted".into(),
            field: "id".into(),
        });
    }
    api.change(None, |docs| {
        if !docs.companies.contains_key(&id) {
            return Err(ApiError::NotFound(format!("no company {id:?}")));
        }
        let owned: Vec<String> = docs
            .objects
            .iter()
            .filter(|(_, d)| d.company == id)
            .map(|((k, oid), _)| format!("{}/{oid}", k.as_str()))
            .collect();
        if !owned.is_empty() {
            return Err(ApiError::Conflict {
                code: "in_use",
                message: format!("company {id} still owns {}", owned.join(", ")),
                field: "id".into(),
            });
        }
        docs.companies.remove(&id);
        Ok((vec![ConfigChange::DeleteCompany(id.clone())], vec![], ()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn keys<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let keys = api.store().api_keys().await?;
    let items: Vec<Value> = keys
        .iter()
        .filter(|k| caller.company.is_none() || k.company == caller.company)
        .map(|k| {
            json!({
                "prefix": k.prefix, "name": k.name, "company": k.company,
                "created_at": k.created_at, "revoked_at": k.revoked_at,
            })
        })
        .collect();
    Ok(Json(page(items, Some(500), None)?))
}

async fn new_key<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.len() <= 100 => n.clone(),
        _ => return Err(ApiError::invalid("name", "1 to 100 characters")),
    };
    let company = match (body.get("company"), &caller.company) {
        (_, Some(own)) => {
            if body.get("company").is_some_and(|c| c.as_str() != Some(own)) {
                return Err(ApiError::Forbidden(
                    "a company key makes keys for its own company".into(),
                ));
            }
            Some(own.clone())
        }
        (Some(Value::String(c)), None) => Some(c.clone()),
        (None | Some(Value::Null), None) => None,
        (Some(_), None) => return Err(ApiError::invalid("company", "expected a string")),
    };
    if let Some(c) = &company {
        if !api.inner.docs.lock().await.companies.contains_key(c) {
            return Err(ApiError::invalid("company", format!("no company {c:?}")));
        }
    }
    let (key, record) = create_key(api.store(), company.as_deref(), &name).await?;
    tracing::info!(prefix = %record.prefix, company = ?record.company, by = %caller.prefix, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "key": key, "prefix": record.prefix, "name": record.name,
            "company": record.company, "created_at": record.created_at,
        })),
    ))
}

async fn revoke<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path(prefix): Path<String>,
) -> Result<StatusCode, ApiError> {
    let keys = api.store().api_keys().await?;
    let found = keys
        .iter()
        .find(|k| k.prefix == prefix && (caller.company.is_none() || k.company == caller.company));
    if found.is_none() || !api.store().revoke_api_key(&prefix, &crate::now()).await? {
        return Err(ApiError::NotFound(format!("no live key {prefix:?}")));
    }
    tracing::info!(%prefix, by = %caller.prefix, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn export<B: Backend>(State(api): State<Api<B>>, caller: Caller) -> Json<Value> {
    let docs = api.inner.docs.lock().await;
    let mut config = docs.config(caller.company.as_deref());
    // Agents' and SMTP servers' passwords and channels' identity secrets
    // are write-only.
    for (kind, secret) in [
        (Kind::Agents, "password"),
        (Kind::Smtp, "password"),
        (Kind::Channels, "identity_secret"),
    ] {
        if let Some(Value::Object(objects)) = config.get_mut(kind.as_str()) {
            for o in objects.values_mut() {
                if let Value::Object(o) = o {
                    o.remove(secret);
                }
            }
        }
    }
    Json(config)
}

async fn import<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    super_only(&caller)?;
    let count = api.import(&Value::Object(body)).await?;
    tracing::info!(objects = count, by = %caller.prefix, "configuration imported over the API");
    Ok(Json(json!({ "objects": count })))
}

async fn live<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let mut view = api
        .backend()
        .live()
        .await
        .ok_or_else(|| ApiError::Unavailable("ura is stopping".into()))?;
    if let Some(own) = &caller.company {
        let docs = api.inner.docs.lock().await;
        let mine = |kind: Kind, id: &str| {
            docs.objects
                .get(&(kind, id.to_string()))
                .is_some_and(|d| &d.company == own)
        };
        if let Some(Value::Object(q)) = view.get_mut("queues") {
            q.retain(|name, _| mine(Kind::Queues, name));
        }
        if let Some(Value::Array(a)) = view.get_mut("agents") {
            a.retain(|x| {
                x.get("agent")
                    .and_then(Value::as_str)
                    .is_some_and(|e| mine(Kind::Agents, e))
            });
        }
    }
    Ok(Json(view))
}

async fn agent_action<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    Path((ext, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    {
        let docs = api.inner.docs.lock().await;
        if !docs
            .objects
            .get(&(Kind::Agents, ext.clone()))
            .is_some_and(|d| caller.may(&d.company))
        {
            return Err(ApiError::NotFound(format!("no agent {ext}")));
        }
    }
    let cmd = match action.as_str() {
        "login" => AgentAction::Login,
        "logout" => AgentAction::Logout,
        "resume" => AgentAction::Resume,
        "pause" => {
            // The body is optional: `{"reason": "..."}`.
            let body: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(
                    serde_json::from_slice(&body)
                        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?,
                )
            };
            let reason = body
                .as_ref()
                .and_then(|b| b.get("reason").and_then(Value::as_str).map(str::to_string))
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "pause".into());
            if reason.len() > 64 {
                return Err(ApiError::invalid(
                    "reason",
                    "a pause reason has at most 64 characters",
                ));
            }
            AgentAction::Pause(reason)
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "no action {other:?}: login, logout, pause or resume"
            )))
        }
    };
    match api.backend().agent_command(ext.clone(), cmd).await {
        Ok(()) => Ok(Json(json!({ "agent": ext, "done": action }))),
        Err(e) if e.starts_with("no agent") => Err(ApiError::NotFound(e)),
        Err(e) => Err(ApiError::Conflict {
            code: "state",
            message: e,
            field: "action".into(),
        }),
    }
}
