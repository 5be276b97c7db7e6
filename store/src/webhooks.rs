//! Outgoing webhooks and their delivery log. Times are milliseconds since
//! the Unix epoch.

use sqlx::Row;

use crate::{Store, StoreError};

/// A webhook, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// Its id (`wh_…`).
    pub id: String,
    /// Whose events it gets; `None`: every company's.
    pub company: Option<String>,
    /// Where requests go.
    pub url: String,
    /// The event types it subscribes to, as a JSON array of names.
    pub events: String,
    /// The signing secret.
    pub secret: String,
    /// A note for people.
    pub description: String,
    /// Whether it gets events.
    pub enabled: bool,
    /// When it was created (RFC 3339 UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339 UTC).
    pub updated_at: String,
}

/// One event for one webhook, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Its id (`dlv_…`).
    pub id: String,
    /// The webhook's id.
    pub webhook: String,
    /// The event's id.
    pub event_id: String,
    /// The event's type (`call.ended`).
    pub event: String,
    /// The JSON body sent.
    pub body: String,
    /// When the event happened.
    pub created_ms: i64,
    /// Attempts made.
    pub attempts: i64,
    /// `pending`, `delivered`, `failed` or `dropped`.
    pub status: String,
    /// When the next attempt is due.
    pub next_ms: Option<i64>,
    /// When the last attempt was made.
    pub last_ms: Option<i64>,
    /// The last HTTP status received.
    pub last_code: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

// Literal SQL only (sqlx refuses strings built at run time): the column
// lists are macros that `concat!` expands.
macro_rules! webhook_columns {
    () => {
        "id, company, url, events, secret, description, enabled, created_at, updated_at"
    };
}
macro_rules! delivery_columns {
    () => {
        "id, webhook, event_id, event, body, created_ms, attempts, status, next_ms, last_ms, \
         last_code, last_error"
    };
}

fn webhook(r: &sqlx::any::AnyRow) -> Result<WebhookRow, StoreError> {
    Ok(WebhookRow {
        id: r.try_get(0)?,
        company: r.try_get(1)?,
        url: r.try_get(2)?,
        events: r.try_get(3)?,
        secret: r.try_get(4)?,
        description: r.try_get(5)?,
        enabled: r.try_get::<i64, _>(6)? != 0,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

fn delivery(r: &sqlx::any::AnyRow) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: r.try_get(0)?,
        webhook: r.try_get(1)?,
        event_id: r.try_get(2)?,
        event: r.try_get(3)?,
        body: r.try_get(4)?,
        created_ms: r.try_get(5)?,
        attempts: r.try_get(6)?,
        status: r.try_get(7)?,
        next_ms: r.try_get(8)?,
        last_ms: r.try_get(9)?,
        last_code: r.try_get(10)?,
        last_error: r.try_get(11)?,
    })
}

impl Store {
    /// Every webhook, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(webhook).collect()
    }

    /// Creates or replaces a webhook.
    pub async fn put_webhook(&self, w: &WebhookRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, company, url, events, secret, description, enabled, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET company = excluded.company, url = excluded.url, \
             events = excluded.events, secret = excluded.secret, \
             description = excluded.description, enabled = excluded.enabled, \
             updated_at = excluded.updated_at",
        )
        .bind(&w.id)
        .bind(&w.company)
        .bind(&w.url)
        .bind(&w.events)
        .bind(&w.secret)
        .bind(&w.description)
        .bind(i64::from(w.enabled))
        .bind(&w.created_at)
        .bind(&w.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a webhook (its delivery log stays until it is pruned).
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keeps the state of these deliveries, in one transaction.
    pub async fn save_deliveries(&self, rows: &[DeliveryRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for d in rows {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook, event_id, event, body, created_ms, \
                 attempts, status, next_ms, last_ms, last_code, last_error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, \
                 status = excluded.status, next_ms = excluded.next_ms, \
                 last_ms = excluded.last_ms, last_code = excluded.last_code, \
                 last_error = excluded.last_error",
            )
            .bind(&d.id)
            .bind(&d.webhook)
            .bind(&d.event_id)
            .bind(&d.event)
            .bind(&d.body)
            .bind(d.created_ms)
            .bind(d.attempts)
            .bind(&d.status)
            .bind(d.next_ms)
            .bind(d.last_ms)
            .bind(d.last_code)
            .bind(&d.last_error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The pending deliveries (to take back at start).
    pub async fn pending_deliveries(&self) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE status = 'pending' ORDER BY created_ms"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// A webhook's deliveries, newest first: at most `limit`, older than
    /// `before_ms` when given, of one status when given.
    pub async fn deliveries(
        &self,
        webhook: &str,
        status: Option<&str>,
        before_ms: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE webhook = $1 AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR created_ms < $3) ORDER BY created_ms DESC, id DESC LIMIT $4"
        ))
        .bind(webhook)
        .bind(status)
        .bind(before_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// Deletes settled deliveries created before `before_ms`; how many.
    pub async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_ms < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, created_ms: i64, status: &str) -> DeliveryRow {
        DeliveryRow {
            id: id.into(),
            webhook: "wh_1".into(),
            event_id: "evt_1".into(),
            event: "call.ended".into(),
            body: "{}".into(),
            created_ms,
            attempts: 0,
            status: status.into(),
            next_ms: None,
            last_ms: None,
            last_code: None,
            last_error: None,
        }
    }

    #[tokio::test]
    async fn webhooks_and_deliveries_round_trip() {
        round_trip(&Store::open("sqlite::memory:").await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres_webhooks_round_trip() {
        let pg = crate::test_pg::Schema::new("webhooks").await;
        round_trip(&pg.store).await;
        pg.drop().await;
    }

    async fn round_trip(store: &Store) {
        let w = WebhookRow {
            id: "wh_1".into(),
            company: Some("acme".into()),
            url: "http://127.0.0.1:1/x".into(),
            events: r#"["call.ended"]"#.into(),
            secret: "s".into(),
            description: "CRM".into(),
            enabled: true,
            created_at: "2026-11-25T00:00:00Z".into(),
            updated_at: "2026-11-25T00:00:00Z".into(),
        };
        store.put_webhook(&w).await.unwrap();
        assert_eq!(store.webhooks().await.unwrap(), vec![w.clone()]);
        store
            .save_deliveries(&[
                row("a", 1, "pending"),
                row("b", 2, "pending"),
                row("c", 3, "failed"),
            ])
            .await
            .unwrap();
        let mut b = row("b", 2, "delivered");
        b.attempts = 2;
        b.last_code = Some(200);
        store.save_deliveries(&[b.clone()]).await.unwrap();
        let pending = store.pending_deliveries().await.unwrap();
        assert_eq!(
            pending.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["a"]
        );
        let all = store.deliveries("wh_1", None, None, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
        assert_eq!(all[1], b);
        let page = store.deliveries("wh_1", None, Some(3), 1).await.unwrap();
        assert_eq!(page[0].id, "b");
        let failed = store
            .deliveries("wh_1", Some("failed"), None, 10)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(store.prune_deliveries(10).await.unwrap(), 2);
        assert!(store.delete_webhook("wh_1").await.unwrap());
        assert!(store.webhooks().await.unwrap().is_empty());
    }
}
