//! The machine's PostgreSQL for the store's tests: a schema of each test's
//! own (database `test`), so runs and tests do not see each other. A test
//! fails when there is no server or it refuses the connection.

use crate::Store;

/// A store in a fresh schema; [`Schema::drop`] removes it.
pub struct Schema {
    /// The store, migrated, in the schema.
    pub store: Store,
    admin: sqlx::PgPool,
    name: String,
}

impl Schema {
    /// Opens the server (`URA_TEST_POSTGRES`, default
    /// `postgres://postgres@127.0.0.1:5432/test`) in a schema named after
    /// `tag` and this process.
    pub async fn new(tag: &str) -> Schema {
        let base = std::env::var("URA_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!("ura_test_{tag}_{}", std::process::id());
        let admin = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&base)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {base} (URA_TEST_POSTGRES sets another URL): {e}; start it \
                 (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
                 Debian package `postgresql`), or leave out the tests that need peers: \
                 `cargo nextest run --workspace --profile no-peers`"
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{base}?options=-c%20search_path%3D{name}");
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.backend(), crate::Backend::Postgres);
        Schema { store, admin, name }
    }

    /// Closes the store and drops the schema.
    pub async fn drop(self) {
        self.store.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}
