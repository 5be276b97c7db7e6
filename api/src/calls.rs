//! Call records: filtered pages as JSON, and the same filters as CSV,
//! streamed from the store page by page (an export of a year of calls never
//! sits in memory). A company's key sees the calls to its numbers.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use ura_store::{CallFilter, CallRecord};

use crate::auth::Caller;
use crate::docs::{number_id, Kind};
use crate::error::ApiError;
use crate::{Api, Backend};

/// Rows read from the store at a time for CSV.
const CSV_PAGE: i64 = 500;

/// The routes.
pub fn routes<B: Backend>() -> Router<Api<B>> {
    Router::new()
        .route("/api/v1/calls", get(list::<B>))
        .route("/api/v1/calls.csv", get(csv::<B>))
}

/// The filters of `/api/v1/calls` and `/api/v1/calls.csv`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// Started at or after (RFC 3339).
    pub from: Option<String>,
    /// Started before (RFC 3339).
    pub to: Option<String>,
    /// A configured number (any of its forms) or a number as dialled.
    pub number: Option<String>,
    /// A service id.
    pub service: Option<String>,
    /// An agent's extension.
    pub agent: Option<String>,
    /// How it ended (`caller-bye`, `closed`, `no-answer`…) or left its queue
    /// (`answered`, `abandoned`, `timeout`…).
    pub outcome: Option<String>,
    /// At most this many (JSON: default 50, at most 1000).
    pub limit: Option<i64>,
    /// Only calls older than this id: the `next` of the previous page.
    pub before: Option<i64>,
}

fn utc(field: &str, text: &Option<String>) -> Result<Option<String>, ApiError> {
    text.as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| {
                    d.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                })
                .map_err(|e| {
                    ApiError::invalid(
                        field,
                        format!("{e} (want RFC 3339, e.g. 2026-12-01T00:00:00-03:00)"),
                    )
                })
        })
        .transpose()
}

/// The store filter for this caller: a company's key only reaches the
/// dial forms of its numbers.
async fn filter<B: Backend>(
    api: &Api<B>,
    caller: &Caller,
    q: &CallQuery,
    limit: i64,
) -> Result<CallFilter, ApiError> {
    let docs = api.inner.docs.lock().await;
    let forms = |pick: &dyn Fn(&str, &str) -> bool| -> Vec<String> {
        let mut out: Vec<String> = docs
            .objects
            .iter()
            .filter(|((k, id), d)| *k == Kind::Numbers && pick(id, &d.company))
            .flat_map(|(_, d)| api.backend().dial_forms(&Value::Object(d.body.clone())))
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let numbers = match (&caller.company, &q.number) {
        (None, None) => None,
        (Some(own), None) => Some(forms(&|_, c| c == own)),
        (company, Some(n)) => {
            let wanted = number_id(n);
            let mine = |c: &str| company.as_deref().is_none_or(|own| own == c);
            let configured = forms(&|id, c| id == wanted && mine(c));
            if configured.is_empty() && company.is_some() {
                // Not one of this company's numbers: no calls.
                Some(Vec::new())
            } else if configured.is_empty() {
                Some(vec![n.clone()])
            } else {
                Some(configured)
            }
        }
    };
    Ok(CallFilter {
        from: utc("from", &q.from)?,
        to: utc("to", &q.to)?,
        numbers,
        service: q.service.clone(),
        agent: q.agent.clone(),
        outcome: q.outcome.clone(),
        before_id: q.before,
        limit,
    })
}

/// A call record as JSON (the API's answers and `ura calls list --format json`).
pub fn call_json(c: &CallRecord) -> Value {
    let q = c.queue.as_ref();
    json!({
        "id": c.id,
        "sip_call_id": c.sip_call_id,
        "started_at": c.started_at,
        "answered_at": c.answered_at,
        "ended_at": c.ended_at,
        "caller": c.caller,
        "number": c.number,
        "schedule": c.schedule,
        "digits": c.digits,
        "service": c.service,
        "hangup_cause": c.hangup_cause,
        "hangup_side": c.hangup_side.as_str(),
        "media_warning": c.media_warning,
        "queue": q.map(|q| json!({
            "queue": q.queue,
            "entered_at": q.entered_at,
            "left_at": q.left_at,
            "outcome": q.outcome,
            "wait_ms": q.wait_ms,
            "agent": q.agent,
            "ring_attempts": q.ring_attempts,
            "talk_ms": q.talk_ms,
            "hold_ms": q.hold_ms,
            "transfer": q.transfer,
            "recording": q.recording,
        })),
    })
}

async fn list<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<CallQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 1000"));
    }
    let f = filter(&api, &caller, &q, limit).await?;
    let calls = api.store().find_calls(&f).await?;
    let next = (calls.len() as i64 == limit)
        .then(|| calls.last().map(|c| c.id))
        .flatten();
    Ok(Json(json!({
        "items": calls.iter().map(call_json).collect::<Vec<_>>(),
        "next": next,
    })))
}

/// The CSV header.
const HEADER: &str = "id,started_at,answered_at,ended_at,caller,number,schedule,digits,service,\
hangup_cause,hangup_side,queue,queue_outcome,wait_ms,agent,talk_ms,hold_ms,transfer\r\n";

/// One CSV field: quoted when it needs to be; a caller's text that a
/// spreadsheet would run as a formula is kept as text.
fn field(out: &mut String, value: &str, guard: bool) {
    let formula = guard && value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula || value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// One call as a CSV line.
pub fn csv_line(c: &CallRecord) -> String {
    let q = c.queue.as_ref();
    let opt = |v: Option<String>| v.unwrap_or_default();
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let cells: [(String, bool); 18] = [
        (c.id.to_string(), false),
        (c.started_at.clone(), false),
        (opt(c.answered_at.clone()), false),
        (c.ended_at.clone(), false),
        (c.caller.clone(), true),
        (c.number.clone(), false),
        (opt(c.schedule.clone()), false),
        (c.digits.clone(), false),
        (opt(c.service.clone()), false),
        (c.hangup_cause.clone(), false),
        (c.hangup_side.as_str().to_string(), false),
        (opt(q.map(|q| q.queue.clone())), false),
        (opt(q.and_then(|q| q.outcome.clone())), false),
        (num(q.and_then(|q| q.wait_ms)), false),
        (opt(q.and_then(|q| q.agent.clone())), false),
        (num(q.and_then(|q| q.talk_ms)), false),
        (num(q.and_then(|q| q.hold_ms)), false),
        (opt(q.and_then(|q| q.transfer.clone())), false),
    ];
    let mut out = String::new();
    for (i, (v, guard)) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(&mut out, v, *guard);
    }
    out.push_str("\r\n");
    out
}

async fn csv<B: Backend>(
    State(api): State<Api<B>>,
    caller: Caller,
    q: Result<Query<CallQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let total = q.limit.unwrap_or(i64::MAX);
    if total < 1 {
        return Err(ApiError::invalid("limit", "at least 1"));
    }
    let first = filter(&api, &caller, &q, CSV_PAGE.min(total)).await?;
    let store = api.store().clone();
    // (next filter, rows left, header sent): page after page until the
    // store has no more or the limit is reached.
    let pages = futures_util::stream::unfold(
        (Some(first), total, false),
        move |(next, left, header_sent)| {
            let store = store.clone();
            async move {
                if !header_sent {
                    return Some((
                        Ok::<_, ura_store::StoreError>(HEADER.to_string()),
                        (next, left, true),
                    ));
                }
                let f = next?;
                if left <= 0 {
                    return None;
                }
                match store.find_calls(&f).await {
                    Err(e) => {
                        tracing::error!(error = %e, "CSV export of calls cut short");
                        Some((Err(e), (None, 0, true)))
                    }
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => {
                        let n = rows.len() as i64;
                        let text: String = rows.iter().map(csv_line).collect();
                        let more = n == f.limit && left - n > 0;
                        let next = more.then(|| CallFilter {
                            before_id: rows.last().map(|c| c.id),
                            limit: CSV_PAGE.min(left - n),
                            ..f.clone()
                        });
                        Some((Ok(text), (next, left - n, true)))
                    }
                }
            }
        },
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"calls.csv\""),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_keeps_formulas_as_text() {
        let c = CallRecord {
            id: 7,
            caller: "=HYPERLINK(\"x\")".into(),
            number: "+551130000000".into(),
            digits: "1,2".into(),
            hangup_cause: "caller-bye".into(),
            ..CallRecord::default()
        };
        let line = csv_line(&c);
        assert!(line.starts_with("7,"), "{line}");
        assert!(
            line.contains(",\"'=HYPERLINK(\"\"x\"\")\",+551130000000,"),
            "{line}"
        );
        assert!(line.contains(",\"1,2\","), "{line}");
        assert!(line.ends_with("\r\n"));
        assert_eq!(
            line.matches(',').count() - 1,
            HEADER.matches(',').count(),
            "one comma inside quotes"
        );
    }
}
