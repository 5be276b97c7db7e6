//! Web chat conversations, written when they end (the transcript and how
//! it ended), listed newest first.

use sqlx::Row;

use crate::{Store, StoreError};

/// One ended conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRecord {
    /// Its id (random, not the visitor's resume token).
    pub id: String,
    /// The channel's id.
    pub channel: String,
    /// When it started, RFC 3339 UTC.
    pub started_at: String,
    /// When it ended, RFC 3339 UTC.
    pub ended_at: String,
    /// The pre-chat form (JSON object).
    pub visitor: String,
    /// The queue it waited in, if any.
    pub queue: Option<String>,
    /// The last agent's extension, if one took it.
    pub agent: Option<String>,
    /// Who ended it: `agent`, `visitor`, `flow` (hours, no agent, menu
    /// failures), `system`.
    pub outcome: String,
    /// Every message (JSON array of `{seq, from, name, text, at}`).
    pub messages: String,
    /// Who it was with: `CHANNEL:sub` for a visitor the site identified,
    /// `anon-…` for an anonymous one; empty for records older than the
    /// column.
    pub customer: String,
    /// The visitor's satisfaction score, 1 to 5 (migration 0012).
    pub rating: Option<i64>,
    /// The comment given with the rating.
    pub rating_comment: Option<String>,
    /// When it was rated, RFC 3339 UTC.
    pub rated_at: Option<String>,
}

/// A visitor's rating of an ended conversation, kept in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRating {
    /// The record's id ([`ChatRecord::id`]).
    pub id: String,
    /// 1 to 5.
    pub rating: i64,
    /// The comment, if any.
    pub comment: Option<String>,
    /// When, RFC 3339 UTC.
    pub rated_at: String,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ChatFilter {
    /// Only these channels (empty: all).
    pub channels: Vec<String>,
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only this customer's (by the `chats_customer` index).
    pub customer: Option<String>,
    /// Started before this (RFC 3339), for the next page.
    pub before: Option<String>,
    /// At most this many.
    pub limit: u32,
}

impl Store {
    /// Writes an ended conversation (again: replaces it).
    pub async fn save_chat(&self, r: &ChatRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chats (id, channel, started_at, ended_at, visitor, queue, agent, outcome, \
             messages, customer, rating, rating_comment, rated_at) VALUES ($1, $2, $3, $4, $5, \
             $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO UPDATE SET \
             ended_at = excluded.ended_at, queue = excluded.queue, agent = excluded.agent, \
             outcome = excluded.outcome, messages = excluded.messages, \
             customer = excluded.customer",
        )
        .bind(&r.id)
        .bind(&r.channel)
        .bind(&r.started_at)
        .bind(&r.ended_at)
        .bind(&r.visitor)
        .bind(&r.queue)
        .bind(&r.agent)
        .bind(&r.outcome)
        .bind(&r.messages)
        .bind(&r.customer)
        .bind(r.rating)
        .bind(&r.rating_comment)
        .bind(&r.rated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Keeps a rating in its conversation's record; false when there is
    /// no such record (it was lost, or not written yet).
    pub async fn rate_chat(&self, r: &ChatRating) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE chats SET rating = $1, rating_comment = $2, rated_at = $3 WHERE id = $4",
        )
        .bind(r.rating)
        .bind(&r.comment)
        .bind(&r.rated_at)
        .bind(&r.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ended conversations, newest first (one query per channel asked for,
    /// each bounded by the limit).
    pub async fn list_chats(&self, f: &ChatFilter) -> Result<Vec<ChatRecord>, StoreError> {
        let limit = i64::from(f.limit.max(1));
        let channels: Vec<&str> = if f.channels.is_empty() {
            vec![""]
        } else {
            f.channels.iter().map(String::as_str).collect()
        };
        let mut out = Vec::new();
        for channel in channels {
            if channel.is_empty() && !f.channels.is_empty() {
                continue;
            }
            // A customer's conversations are read by their index; the
            // clause is a constant, the value a parameter.
            let by_customer = if f.customer.is_some() {
                "customer = $5"
            } else {
                "$5 = ''"
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM chats WHERE {by_customer} AND ($1 = '' OR agent = $1) \
                 AND ($2 = '' OR started_at < $2) AND ($3 = '' OR channel = $3) \
                 ORDER BY started_at DESC, id DESC LIMIT $4"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(f.agent.clone().unwrap_or_default())
                .bind(f.before.clone().unwrap_or_default())
                .bind(channel)
                .bind(limit)
                .bind(f.customer.clone().unwrap_or_default())
                .fetch_all(&self.pool)
                .await?;
            for row in rows {
                out.push(record(&row)?);
            }
        }
        out.sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    /// One conversation, by its record's id.
    pub async fn chat(&self, id: &str) -> Result<Option<ChatRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM chats WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record).transpose()
    }
}

/// The columns [`record`] reads, in its order.
const COLUMNS: &str = "id, channel, started_at, ended_at, visitor, queue, agent, outcome, \
     messages, customer, rating, rating_comment, rated_at";

fn record(row: &sqlx::any::AnyRow) -> Result<ChatRecord, StoreError> {
    Ok(ChatRecord {
        id: row.try_get(0)?,
        channel: row.try_get(1)?,
        started_at: row.try_get(2)?,
        ended_at: row.try_get(3)?,
        visitor: row.try_get(4)?,
        queue: row.try_get(5)?,
        agent: row.try_get(6)?,
        outcome: row.try_get(7)?,
        messages: row.try_get(8)?,
        customer: row.try_get(9)?,
        rating: row.try_get(10)?,
        rating_comment: row.try_get(11)?,
        rated_at: row.try_get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, channel: &str, started_at: &str, agent: Option<&str>) -> ChatRecord {
        ChatRecord {
            id: id.into(),
            channel: channel.into(),
            started_at: started_at.into(),
            ended_at: started_at.into(),
            visitor: r#"{"name":"Maria"}"#.into(),
            queue: Some("vendas".into()),
            agent: agent.map(str::to_string),
            outcome: "agent".into(),
            messages: r#"[{"seq":1,"from":"system","text":"Olá"}]"#.into(),
            customer: format!("{channel}:maria"),
            rating: None,
            rating_comment: None,
            rated_at: None,
        }
    }

    async fn exercise(store: &Store) {
        let a = rec("a", "site", "2026-11-25T10:00:00.000Z", Some("2001"));
        let b = rec("b", "loja", "2026-11-25T11:00:00.000Z", None);
        let c = rec("c", "site", "2026-11-25T12:00:00.000Z", Some("2002"));
        for r in [&a, &b, &c] {
            store.save_chat(r).await.unwrap();
        }
        let all = store
            .list_chats(&ChatFilter {
                limit: 10,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
        let site = store
            .list_chats(&ChatFilter {
                channels: vec!["site".into()],
                limit: 1,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(site, vec![c.clone()]);
        let older = store
            .list_chats(&ChatFilter {
                agent: Some("2001".into()),
                before: Some(c.started_at.clone()),
                limit: 10,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(older, vec![a]);
        // Written again: replaced.
        let c2 = ChatRecord {
            outcome: "visitor".into(),
            ..c
        };
        store.save_chat(&c2).await.unwrap();
        let again = store
            .list_chats(&ChatFilter {
                limit: 1,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(again, vec![c2.clone()]);
        // A customer's, by the index; one by its id.
        let maria = store
            .list_chats(&ChatFilter {
                customer: Some("site:maria".into()),
                limit: 10,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            maria.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["c", "a"]
        );
        assert_eq!(store.chat("c").await.unwrap(), Some(c2.clone()));
        assert_eq!(store.chat("nope").await.unwrap(), None);
        // Rated after it was written: kept in the record, and kept when the
        // record is written again.
        let rating = ChatRating {
            id: "c".into(),
            rating: 4,
            comment: Some("Bom".into()),
            rated_at: "2026-11-25T12:30:00.000Z".into(),
        };
        assert!(store.rate_chat(&rating).await.unwrap());
        store.save_chat(&c2).await.unwrap();
        let rated = store
            .list_chats(&ChatFilter {
                limit: 1,
                ..ChatFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rated[0].rating, Some(4));
        assert_eq!(rated[0].rating_comment.as_deref(), Some("Bom"));
        assert_eq!(
            rated[0].rated_at.as_deref(),
            Some("2026-11-25T12:30:00.000Z")
        );
        let missing = ChatRating {
            id: "nope".into(),
            ..rating
        };
        assert!(!store.rate_chat(&missing).await.unwrap());
    }

    #[tokio::test]
    async fn chats_are_written_and_listed_newest_first() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        exercise(&store).await;
    }

    #[tokio::test]
    async fn postgres_chats_are_written_and_listed_newest_first() {
        let schema = crate::test_pg::Schema::new("chats").await;
        exercise(&schema.store).await;
        schema.drop().await;
    }
}
