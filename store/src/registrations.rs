//! Agents' softphone registrations, kept so that a restart does not make
//! every agent unreachable until their phone registers again.

use sqlx::Row;

use crate::{Store, StoreError};

/// One registered contact of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The agent (extension).
    pub agent: String,
    /// The Contact URI the phone registered.
    pub contact: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// Where the REGISTER came from (`IP:port`): calls go back there.
    pub remote: String,
    /// When it expires (RFC 3339 UTC).
    pub expires_at: String,
}

impl Store {
    /// Saves a registration, replacing the same agent and contact.
    pub async fn save_registration(&self, r: &Registration) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO registrations (agent, contact, transport, remote, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent, contact) DO UPDATE SET \
             transport = excluded.transport, remote = excluded.remote, expires_at = excluded.expires_at",
        )
        .bind(&r.agent)
        .bind(&r.contact)
        .bind(&r.transport)
        .bind(&r.remote)
        .bind(&r.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets one registration (un-REGISTER or expiry).
    pub async fn delete_registration(&self, agent: &str, contact: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM registrations WHERE agent = $1 AND contact = $2")
            .bind(agent)
            .bind(contact)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(Into::into)
    }

    /// Every registration expiring after `now` (RFC 3339 UTC); older ones
    /// are deleted.
    pub async fn live_registrations(&self, now: &str) -> Result<Vec<Registration>, StoreError> {
        sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT agent, contact, transport, remote, expires_at FROM registrations \
             ORDER BY agent, contact",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Registration {
                    agent: row.try_get(0)?,
                    contact: row.try_get(1)?,
                    transport: row.try_get(2)?,
                    remote: row.try_get(3)?,
                    expires_at: row.try_get(4)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(agent: &str, contact: &str, expires_at: &str) -> Registration {
        Registration {
            agent: agent.into(),
            contact: contact.into(),
            transport: "udp".into(),
            remote: "127.0.0.1:5070".into(),
            expires_at: expires_at.into(),
        }
    }

    #[tokio::test]
    async fn registrations_are_kept_replaced_and_expired() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let a = reg(
            "2001",
            "sip:2001@127.0.0.1:5070",
            "2026-11-25T12:00:00.000Z",
        );
        let b = reg(
            "2001",
            "sip:2001@127.0.0.1:5072",
            "2026-11-25T10:00:00.000Z",
        );
        store.save_registration(&a).await.unwrap();
        store.save_registration(&b).await.unwrap();
        // A refresh of the same contact replaces it.
        let a2 = Registration {
            remote: "127.0.0.1:6000".into(),
            ..a.clone()
        };
        store.save_registration(&a2).await.unwrap();
        let live = store
            .live_registrations("2026-11-25T11:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(live, vec![a2.clone()]);
        // The expired one is gone for good.
        let all = store
            .live_registrations("2026-11-25T09:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(all, vec![a2.clone()]);
        store
            .delete_registration("2001", &a2.contact)
            .await
            .unwrap();
        assert!(store
            .live_registrations("2026-11-25T09:00:00.000Z")
            .await
            .unwrap()
            .is_empty());
    }
}
