//! Every refusal of the API, answered as `{"error": {"code", "message",
//! "field"}}` with the status it calls for.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What the API refuses, and why.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key, or a key we do not know (or one revoked).
    #[error("{0}")]
    Unauthorized(String),
    /// The key is good but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (or nothing this key may see).
    #[error("{0}")]
    NotFound(String),
    /// A value is refused; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// Where (`name`, `weekly.mon[0]`, `menu.options.1`).
        field: String,
        /// Why.
        message: String,
    },
    /// The request conflicts with what is stored (taken id, object in use).
    #[error("{message}")]
    Conflict {
        /// Machine-readable reason: `exists`, `in_use`, `file_mode`.
        code: &'static str,
        /// Why.
        message: String,
        /// Where.
        field: String,
    },
    /// `If-Match` names a version that is no longer the stored one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The body is not JSON, or not JSON we can read.
    #[error("{0}")]
    BadRequest(String),
    /// The body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than we take.
    #[error("{0}")]
    TooLarge(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] ura_store::StoreError),
    /// The engine is stopping or refused the change.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// A refusal of one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", String::new()),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", String::new()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", String::new()),
            ApiError::Invalid { field, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", field.clone())
            }
            ApiError::Conflict { code, field, .. } => (StatusCode::CONFLICT, code, field.clone()),
            ApiError::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                String::new(),
            ),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "malformed", String::new()),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                String::new(),
            ),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", String::new()),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store", String::new()),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                String::new(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        let message = match &self {
            ApiError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(%message, "admin API");
        }
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message, "field": field } })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
