//! ura's store: records (and later configuration) in SQLite by default, or
//! PostgreSQL when several nodes share one deployment.
//!
//! One [`Store`] type speaks to either through sqlx's `Any` driver. Queries
//! use `$1, $2, …` placeholders in order, which both databases accept.
//! Migrations are embedded in the binary, one folder per database.

mod calls;
mod chats;
mod config;
mod prompts;
mod registrations;
#[cfg(test)]
mod test_pg;
mod webhooks;

pub use calls::{CallFilter, CallRecord, HangupSide, QueueRecord, IN_PROGRESS};
pub use chats::{ChatFilter, ChatRating, ChatRecord};
pub use config::{ApiKey, Company, ConfigChange, ConfigDoc};
pub use prompts::{PromptRecord, PromptSource};
pub use registrations::Registration;
pub use webhooks::{DeliveryRow, WebhookRow};

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database we know.
    #[error("store URL must start with sqlite: or postgres:, got {0:?}")]
    BadUrl(String),
    /// The database said no.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrating the schema failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (default, no server).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A connection pool with the schema migrated.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates.
    ///
    /// `url`: `sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        // An in-memory SQLite database lives as long as its one connection.
        let max = if url.contains(":memory:") { 1 } else { 4 };
        // Every connection is opened now and kept: writing a record never
        // needs a new file descriptor (which may be the very thing missing
        // under overload).
        let mut options = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(max)
            .idle_timeout(None)
            .max_lifetime(None);
        if backend == Backend::Sqlite {
            // WAL: readers (`ura calls list`) do not block the writer;
            // NORMAL is durable across a crash of ura (not of the machine);
            // a busy database is waited for rather than refused.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        // Open them all now (the pool would fill up in the background).
        let mut open = Vec::with_capacity(max as usize);
        for _ in 0..max {
            open.push(pool.acquire().await?);
        }
        drop(open);
        Ok(Store { pool, backend })
    }

    /// The SQLite file in a data directory.
    pub fn sqlite_url(data_dir: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("ura.db").display())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database made by an earlier ura (migrations up to 0004: calls,
    /// prompts, queue fields, registrations) with data in it migrates
    /// forward at open with nothing lost.
    #[tokio::test]
    async fn an_older_sqlite_store_migrates_forward_with_its_data() {
        let dir = std::env::temp_dir().join(format!(
            "ura-store-old-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = Store::sqlite_url(&dir);
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        // The migrator's list is public for `migrate!`; sqlx is pinned
        // (=0.9.0), so taking its first four entries is stable here.
        let mut old = sqlx::migrate!("./migrations/sqlite");
        old.migrations = std::borrow::Cow::Owned(
            old.migrations
                .iter()
                .filter(|m| m.version <= 4)
                .cloned()
                .collect(),
        );
        old.run(&pool).await.unwrap();
        for sql in [
            "INSERT INTO calls (sip_call_id, started_at, answered_at, ended_at, caller, number, \
             schedule, digits, service, hangup_cause, hangup_side, queue, queue_outcome, agent, \
             wait_ms) VALUES ('c1', '2026-11-01T10:00:00Z', '2026-11-01T10:00:01Z', \
             '2026-11-01T10:02:00Z', '<sip:a@b>', '1000', 'open', '1', 'vendas', 'caller-bye', \
             'caller', 'vendas', 'answered', '2001', 4200)",
            "INSERT INTO prompts (name, company, language, duration_ms, source, audio_hash, \
             created_at) VALUES ('boas-vindas', '', 'pt-BR', 2500, 'upload', 'abc', \
             '2026-11-01T09:00:00Z')",
            "INSERT INTO registrations (agent, contact, transport, remote, expires_at) VALUES \
             ('2001', 'sip:2001@10.0.0.5', 'udp', '10.0.0.5:5060', '2999-01-01T00:00:00Z')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::open(&url).await.unwrap();
        let calls = store.recent_calls(10).await.unwrap();
        assert_eq!(calls.len(), 1);
        let c = &calls[0];
        assert_eq!(
            (
                c.sip_call_id.as_str(),
                c.number.as_str(),
                c.hangup_cause.as_str()
            ),
            ("c1", "1000", "caller-bye")
        );
        let q = c.queue.as_ref().unwrap();
        assert_eq!(
            (q.agent.as_deref(), q.wait_ms, c.media_warning.as_deref()),
            (Some("2001"), Some(4200), None)
        );
        let prompts = store.list_prompts().await.unwrap();
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0].name, "boas-vindas");
        let regs = store
            .live_registrations("2026-11-25T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(regs.len(), 1);
        // And the new tables are there, empty.
        assert!(store.config_docs().await.unwrap().is_empty());
        assert!(store.api_keys().await.unwrap().is_empty());
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
