//! Store mode's configuration: one JSON document per configured object
//! (number, schedule, service, IVR, queue, agent), the companies they belong
//! to, and the admin API's keys. Every change is written in one transaction:
//! a refused change leaves nothing behind.

use sqlx::Row;

use crate::{Store, StoreError};

/// One configured object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDoc {
    /// `numbers`, `schedules`, `services`, `ivrs`, `queues` or `agents`.
    pub kind: String,
    /// Its id (the number itself for numbers).
    pub id: String,
    /// The company it belongs to.
    pub company: String,
    /// The object as JSON (the same fields as its table in the TOML file).
    pub body: String,
    /// Raised by one at every change (the API's ETag).
    pub version: i64,
    /// When it last changed (RFC 3339 UTC).
    pub updated_at: String,
}

/// A company (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339 UTC).
    pub created_at: String,
}

/// An admin API key, as kept: its hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The first characters of the key, shown in lists and used to revoke it.
    pub prefix: String,
    /// The company it acts for; `None` for a super-admin key.
    pub company: Option<String>,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// When it was created (RFC 3339 UTC).
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// One step of a configuration change.
#[derive(Debug, Clone)]
pub enum ConfigChange {
    /// Delete every document (an import replaces the whole configuration).
    ClearDocs,
    /// Insert or replace a document.
    PutDoc(ConfigDoc),
    /// Delete a document.
    DeleteDoc {
        /// Its kind.
        kind: String,
        /// Its id.
        id: String,
    },
    /// Insert or replace a company.
    PutCompany(Company),
    /// Delete a company.
    DeleteCompany(String),
}

impl Store {
    /// Every configuration document.
    pub async fn config_docs(&self) -> Result<Vec<ConfigDoc>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, id, company, body, version, updated_at FROM config_docs ORDER BY kind, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConfigDoc {
                    kind: r.try_get(0)?,
                    id: r.try_get(1)?,
                    company: r.try_get(2)?,
                    body: r.try_get(3)?,
                    version: r.try_get(4)?,
                    updated_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Every company.
    pub async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM companies ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Company {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Applies `changes` in one transaction: all of them or none.
    pub async fn write_config(&self, changes: &[ConfigChange]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            match change {
                ConfigChange::ClearDocs => {
                    sqlx::query("DELETE FROM config_docs")
                        .execute(&mut *tx)
                        .await?;
                }
                ConfigChange::PutDoc(d) => {
                    sqlx::query(
                        "INSERT INTO config_docs (kind, id, company, body, version, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO UPDATE SET \
                         company = excluded.company, body = excluded.body, \
                         version = excluded.version, updated_at = excluded.updated_at",
                    )
                    .bind(&d.kind)
                    .bind(&d.id)
                    .bind(&d.company)
                    .bind(&d.body)
                    .bind(d.version)
                    .bind(&d.updated_at)
                    .execute(&mut *tx)
                    .await?;
                }
                ConfigChange::DeleteDoc { kind, id } => {
                    sqlx::query("DELETE FROM config_docs WHERE kind = $1 AND id = $2")
                        .bind(kind)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                ConfigChange::PutCompany(c) => {
                    sqlx::query(
                        "INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    )
                    .bind(&c.id)
                    .bind(&c.name)
                    .bind(&c.created_at)
                    .execute(&mut *tx)
                    .await?;
                }
                ConfigChange::DeleteCompany(id) => {
                    sqlx::query("DELETE FROM companies WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps a new API key (its hash).
    pub async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (prefix, company, name, hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.prefix)
        .bind(&key.company)
        .bind(&key.name)
        .bind(&key.hash)
        .bind(&key.created_at)
        .bind(&key.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every API key, revoked ones included, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT prefix, company, name, hash, created_at, revoked_at FROM api_keys \
             ORDER BY created_at, prefix",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(api_key).collect()
    }

    /// The live (not revoked) key whose hash is `hash`, if any: one
    /// indexed row, read on every admin API request.
    pub async fn live_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT prefix, company, name, hash, created_at, revoked_at FROM api_keys \
             WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key).transpose()
    }

    /// Revokes the key with this prefix; false when there is none (or it
    /// was revoked already).
    pub async fn revoke_api_key(&self, prefix: &str, at: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE prefix = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(prefix)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// An API key from a row of `prefix, company, name, hash, created_at,
/// revoked_at`.
fn api_key(r: &sqlx::any::AnyRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        prefix: r.try_get(0)?,
        company: r.try_get(1)?,
        name: r.try_get(2)?,
        hash: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, id: &str, version: i64) -> ConfigDoc {
        ConfigDoc {
            kind: kind.into(),
            id: id.into(),
            company: "default".into(),
            body: format!("{{\"name\":\"{id}\"}}"),
            version,
            updated_at: "2026-11-25T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn documents_companies_and_keys_round_trip() {
        round_trip(&Store::open("sqlite::memory:").await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres_config_round_trip() {
        let pg = crate::test_pg::Schema::new("config").await;
        round_trip(&pg.store).await;
        pg.drop().await;
    }

    async fn round_trip(store: &Store) {
        store
            .write_config(&[
                ConfigChange::PutCompany(Company {
                    id: "default".into(),
                    name: "Default".into(),
                    created_at: "2026-11-25T00:00:00Z".into(),
                }),
                ConfigChange::PutDoc(doc("schedules", "comercial", 1)),
                ConfigChange::PutDoc(doc("numbers", "1000", 1)),
            ])
            .await
            .unwrap();
        store
            .write_config(&[
                ConfigChange::PutDoc(doc("schedules", "comercial", 2)),
                ConfigChange::DeleteDoc {
                    kind: "numbers".into(),
                    id: "1000".into(),
                },
            ])
            .await
            .unwrap();
        let docs = store.config_docs().await.unwrap();
        assert_eq!(docs, vec![doc("schedules", "comercial", 2)]);
        assert_eq!(store.companies().await.unwrap().len(), 1);
        store
            .write_config(&[ConfigChange::ClearDocs])
            .await
            .unwrap();
        assert!(store.config_docs().await.unwrap().is_empty());

        let key = ApiKey {
            prefix: "ura_abcd".into(),
            company: None,
            name: "admin".into(),
            hash: "00".into(),
            created_at: "2026-11-25T00:00:00Z".into(),
            revoked_at: None,
        };
        store.insert_api_key(&key).await.unwrap();
        assert_eq!(store.api_keys().await.unwrap(), vec![key.clone()]);
        assert_eq!(store.live_api_key("00").await.unwrap(), Some(key.clone()));
        assert_eq!(store.live_api_key("01").await.unwrap(), None);
        assert!(store.revoke_api_key("ura_abcd", "x").await.unwrap());
        assert_eq!(store.live_api_key("00").await.unwrap(), None);
        assert!(!store.revoke_api_key("ura_abcd", "y").await.unwrap());
        assert_eq!(
            store.api_keys().await.unwrap()[0].revoked_at.as_deref(),
            Some("x")
        );
    }
}
