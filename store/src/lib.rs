//! ura's store: records (and later configuration) in SQLite by default, or
//! PostgreSQL when several nodes share one deployment.
//!
//! One [`Store`] type speaks to either through sqlx's `Any` driver. Queries
//! use `$1, $2, …` placeholders in order, which both databases accept.
//! Migrations are embedded in the binary, one folder per database.

mod calls;
mod config;
mod prompts;
mod registrations;
#[cfg(test)]
mod test_pg;

pub use calls::{CallFilter, CallRecord, HangupSide, QueueRecord, IN_PROGRESS};
pub use config::{ApiKey, Company, ConfigChange, ConfigDoc};
pub use prompts::{PromptRecord, PromptSource};
pub use registrations::Registration;

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
