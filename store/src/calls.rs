//! Call records: start, answer and end times, who called which number, the
//! schedule decision, menu digits, the service chosen, and how it ended.

use sqlx::Row;

use crate::{Store, StoreError};

/// Which side ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HangupSide {
    /// The caller (BYE or CANCEL).
    Caller,
    /// ura (BYE, or a final error response).
    #[default]
    Ura,
    /// The agent the call was bridged to.
    Agent,
}

impl HangupSide {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            HangupSide::Caller => "caller",
            HangupSide::Ura => "ura",
            HangupSide::Agent => "agent",
        }
    }

    fn parse(s: &str) -> HangupSide {
        match s {
            "caller" => HangupSide::Caller,
            "agent" => HangupSide::Agent,
            _ => HangupSide::Ura,
        }
    }
}

/// What happened to a call in an agent queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueRecord {
    /// The queue.
    pub queue: String,
    /// Entered the queue (RFC 3339 UTC).
    pub entered_at: String,
    /// Left it: answered by an agent, abandoned, timed out.
    pub left_at: Option<String>,
    /// `answered`, `abandoned`, `timeout`, `nobody-logged-in`, `full`.
    pub outcome: Option<String>,
    /// Time spent waiting, in ms.
    pub wait_ms: Option<i64>,
    /// The agent who took the call (the last one, after a transfer).
    pub agent: Option<String>,
    /// Agents rung.
    pub ring_attempts: i32,
    /// Time bridged to agents, in ms.
    pub talk_ms: Option<i64>,
    /// Time the agent held the caller, in ms.
    pub hold_ms: Option<i64>,
    /// Where an agent transferred the call (`agent:2002`, `queue:suporte`).
    pub transfer: Option<String>,
    /// The recording of the bridged call (a file name).
    pub recording: Option<String>,
}

/// One call, as recorded when it ends. Times are RFC 3339 UTC strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRecord {
    /// Row id (0 before insert).
    pub id: i64,
    /// SIP Call-ID.
    pub sip_call_id: String,
    /// INVITE received.
    pub started_at: String,
    /// 200 OK sent.
    pub answered_at: Option<String>,
    /// Call over.
    pub ended_at: String,
    /// The caller (From).
    pub caller: String,
    /// The number dialled.
    pub number: String,
    /// `open` or `closed` when an IVR decided.
    pub schedule: Option<String>,
    /// Digits pressed in menus, in order.
    pub digits: String,
    /// The service chosen.
    pub service: Option<String>,
    /// Why it ended (`caller-bye`, `cancelled`, `closed`, `no-answer`, `404`, …).
    pub hangup_cause: String,
    /// Who ended it.
    pub hangup_side: HangupSide,
    /// The agent queue, when the call reached one.
    pub queue: Option<QueueRecord>,
    /// Why the caller may have heard nothing: an answered call whose
    /// stream sent no RTP (None when media flowed).
    pub media_warning: Option<String>,
}

/// The hangup cause of a call that is up (its record is written at the
/// answer and completed when it ends).
pub const IN_PROGRESS: &str = "in-progress";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds a record's 23 fields as `$1`..`$23`, in the order of [`COLUMNS`]
/// after `id`.
fn bind_record<'q>(q: AnyQuery<'q>, r: &'q CallRecord) -> AnyQuery<'q> {
    let queue = r.queue.as_ref();
    q.bind(&r.sip_call_id)
        .bind(&r.started_at)
        .bind(&r.answered_at)
        .bind(&r.ended_at)
        .bind(&r.caller)
        .bind(&r.number)
        .bind(&r.schedule)
        .bind(&r.digits)
        .bind(&r.service)
        .bind(&r.hangup_cause)
        .bind(r.hangup_side.as_str())
        .bind(queue.map(|q| q.queue.clone()))
        .bind(queue.map(|q| q.entered_at.clone()))
        .bind(queue.and_then(|q| q.left_at.clone()))
        .bind(queue.and_then(|q| q.outcome.clone()))
        .bind(queue.and_then(|q| q.wait_ms))
        .bind(queue.and_then(|q| q.agent.clone()))
        .bind(queue.map(|q| q.ring_attempts))
        .bind(queue.and_then(|q| q.talk_ms))
        .bind(queue.and_then(|q| q.hold_ms))
        .bind(queue.and_then(|q| q.transfer.clone()))
        .bind(queue.and_then(|q| q.recording.clone()))
        .bind(&r.media_warning)
}

impl Store {
    pub async fn insert_call(&self, r: &CallRecord) -> Result<i64, StoreError> {
        let query = sqlx::query(
            "INSERT INTO calls (sip_call_id, started_at, answered_at, ended_at, caller, number, schedule, \
             digits, service, hangup_cause, hangup_side, queue, queue_entered_at, queue_left_at, \
             queue_outcome, wait_ms, agent, ring_attempts, talk_ms, hold_ms, transfer, recording, \
             media_warning) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23) RETURNING id",
        );
        let row = bind_record(query, r).fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Saves a record: a call just answered ([`IN_PROGRESS`]) gets its row
    /// now; a call that ended completes that row (found by Call-ID and
    /// start), or gets a new one when there is none (never answered, or its
    /// first write was lost).
    pub async fn save_call(&self, r: &CallRecord) -> Result<(), StoreError> {
        if r.hangup_cause != IN_PROGRESS {
            let query = sqlx::query(
                "UPDATE calls SET sip_call_id = $1, started_at = $2, answered_at = $3, \
                 ended_at = $4, caller = $5, number = $6, schedule = $7, digits = $8, \
                 service = $9, hangup_cause = $10, hangup_side = $11, queue = $12, \
                 queue_entered_at = $13, queue_left_at = $14, queue_outcome = $15, wait_ms = $16, \
                 agent = $17, ring_attempts = $18, talk_ms = $19, hold_ms = $20, transfer = $21, \
                 recording = $22, media_warning = $23 \
                 WHERE sip_call_id = $1 AND started_at = $2 AND hangup_cause = 'in-progress'",
            );
            if bind_record(query, r)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0
            {
                return Ok(());
            }
        }
        self.insert_call(r).await.map(|_| ())
    }

    /// Marks the calls still [`IN_PROGRESS`] (ura stopped without ending
    /// them: a crash, `kill -9`, a power cut) as `interrupted`, ended `at`.
    /// Returns how many. Run at start, before any call.
    pub async fn interrupt_open_calls(&self, at: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE calls SET hangup_cause = 'interrupted', hangup_side = 'ura', ended_at = $1 \
             WHERE hangup_cause = 'in-progress'",
        )
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The most recent calls, newest first.
    pub async fn recent_calls(&self, limit: i64) -> Result<Vec<CallRecord>, StoreError> {
        self.find_calls(&CallFilter {
            limit,
            ..CallFilter::default()
        })
        .await
    }

    /// The calls `filter` selects, newest first.
    pub async fn find_calls(&self, filter: &CallFilter) -> Result<Vec<CallRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM calls WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        let cond = |sql: &mut String, args: &mut Vec<Arg>, text: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&text.replace('?', &format!("${}", args.len())));
        };
        if let Some(from) = &filter.from {
            cond(
                &mut sql,
                &mut args,
                " AND started_at >= ?",
                Arg::Text(from.clone()),
            );
        }
        if let Some(to) = &filter.to {
            cond(
                &mut sql,
                &mut args,
                " AND started_at < ?",
                Arg::Text(to.clone()),
            );
        }
        if let Some(numbers) = &filter.numbers {
            if numbers.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND number IN (");
            for (i, n) in numbers.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                cond(&mut sql, &mut args, "?", Arg::Text(n.clone()));
            }
            sql.push(')');
        }
        if let Some(service) = &filter.service {
            cond(
                &mut sql,
                &mut args,
                " AND service = ?",
                Arg::Text(service.clone()),
            );
        }
        if let Some(agent) = &filter.agent {
            cond(
                &mut sql,
                &mut args,
                " AND agent = ?",
                Arg::Text(agent.clone()),
            );
        }
        if let Some(outcome) = &filter.outcome {
            args.push(Arg::Text(outcome.clone()));
            let n = args.len();
            sql.push_str(&format!(
                " AND (hangup_cause = ${n} OR queue_outcome = ${n})"
            ));
        }
        if let Some(before) = filter.before_id {
            cond(&mut sql, &mut args, " AND id < ?", Arg::Int(before));
        }
        cond(
            &mut sql,
            &mut args,
            " ORDER BY id DESC LIMIT ?",
            Arg::Int(filter.limit),
        );
        // Audited: `sql` is made of the constant fragments above and `$n`
        // placeholders only; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in &args {
            query = match a {
                Arg::Text(t) => query.bind(t.clone()),
                Arg::Int(i) => query.bind(*i),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(record_of).collect()
    }
}

/// Which calls [`Store::find_calls`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Started at or after (RFC 3339 UTC).
    pub from: Option<String>,
    /// Started before (RFC 3339 UTC).
    pub to: Option<String>,
    /// Only these numbers (as recorded); `Some(empty)` selects nothing.
    pub numbers: Option<Vec<String>>,
    /// Only this service.
    pub service: Option<String>,
    /// Only calls this agent took.
    pub agent: Option<String>,
    /// Only calls that ended so (`caller-bye`, `closed`…) or left their
    /// queue so (`answered`, `abandoned`, `timeout`…).
    pub outcome: Option<String>,
    /// Only calls older than this id (the next page).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

enum Arg {
    Text(String),
    Int(i64),
}

const COLUMNS: &str =
    "id, sip_call_id, started_at, answered_at, ended_at, caller, number, schedule, \
     digits, service, hangup_cause, hangup_side, queue, queue_entered_at, queue_left_at, \
     queue_outcome, wait_ms, agent, ring_attempts, talk_ms, hold_ms, transfer, recording, \
     media_warning";

fn record_of(row: &sqlx::any::AnyRow) -> Result<CallRecord, StoreError> {
    Ok(CallRecord {
        id: row.try_get(0)?,
        sip_call_id: row.try_get(1)?,
        started_at: row.try_get(2)?,
        answered_at: row.try_get(3)?,
        ended_at: row.try_get(4)?,
        caller: row.try_get(5)?,
        number: row.try_get(6)?,
        schedule: row.try_get(7)?,
        digits: row.try_get(8)?,
        service: row.try_get(9)?,
        hangup_cause: row.try_get(10)?,
        hangup_side: HangupSide::parse(&row.try_get::<String, _>(11)?),
        queue: match row.try_get::<Option<String>, _>(12)? {
            None => None,
            Some(queue) => Some(QueueRecord {
                queue,
                entered_at: row.try_get::<Option<String>, _>(13)?.unwrap_or_default(),
                left_at: row.try_get(14)?,
                outcome: row.try_get(15)?,
                wait_ms: row.try_get(16)?,
                agent: row.try_get(17)?,
                ring_attempts: row.try_get::<Option<i32>, _>(18)?.unwrap_or(0),
                talk_ms: row.try_get(19)?,
                hold_ms: row.try_get(20)?,
                transfer: row.try_get(21)?,
                recording: row.try_get(22)?,
            }),
        },
        media_warning: row.try_get(23)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: &str) -> CallRecord {
        CallRecord {
            id: 0,
            sip_call_id: format!("cid-{n}"),
            started_at: "2026-11-23T10:00:00Z".into(),
            answered_at: Some("2026-11-23T10:00:01Z".into()),
            ended_at: "2026-11-23T10:01:00Z".into(),
            caller: "<sip:alice@example.com>".into(),
            number: n.into(),
            schedule: Some("open".into()),
            digits: "2".into(),
            service: Some("suporte".into()),
            hangup_cause: "caller-bye".into(),
            hangup_side: HangupSide::Caller,
            queue: Some(QueueRecord {
                queue: "vendas".into(),
                entered_at: "2026-11-23T10:00:05Z".into(),
                left_at: Some("2026-11-23T10:00:12Z".into()),
                outcome: Some("answered".into()),
                wait_ms: Some(7_000),
                agent: Some("2001".into()),
                ring_attempts: 2,
                talk_ms: Some(48_000),
                hold_ms: Some(3_000),
                transfer: Some("agent:2002".into()),
                recording: Some("calls/cid.wav".into()),
            }),
            media_warning: None,
        }
    }

    async fn round_trip(store: &Store) {
        let a = store.insert_call(&record("1000")).await.unwrap();
        let mut closed = record("1001");
        closed.answered_at = None;
        closed.schedule = Some("closed".into());
        closed.service = None;
        closed.digits = String::new();
        closed.hangup_side = HangupSide::Ura;
        closed.queue = None;
        closed.media_warning = Some("no RTP sent".into());
        let b = store.insert_call(&closed).await.unwrap();
        assert!(b > a);
        let got = store.recent_calls(10).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], CallRecord { id: b, ..closed });
        assert_eq!(
            got[1],
            CallRecord {
                id: a,
                ..record("1000")
            }
        );
        // Filters, each alone, and pages by id.
        let all = CallFilter {
            limit: 10,
            ..CallFilter::default()
        };
        let numbers = |f: CallFilter| async move {
            store
                .find_calls(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.number)
                .collect::<Vec<_>>()
        };
        let cases = [
            (
                CallFilter {
                    service: Some("suporte".into()),
                    ..all.clone()
                },
                vec!["1000"],
            ),
            (
                CallFilter {
                    outcome: Some("caller-bye".into()),
                    ..all.clone()
                },
                vec!["1001", "1000"],
            ),
            (
                CallFilter {
                    numbers: Some(vec!["1001".into(), "x' OR 1=1 --".into()]),
                    ..all.clone()
                },
                vec!["1001"],
            ),
            (
                CallFilter {
                    numbers: Some(vec![]),
                    ..all.clone()
                },
                vec![],
            ),
            (
                CallFilter {
                    from: Some("2026-11-23T10:00:00Z".into()),
                    to: Some("2026-11-23T10:00:01Z".into()),
                    ..all.clone()
                },
                vec!["1001", "1000"],
            ),
            (
                CallFilter {
                    from: Some("2026-11-24T00:00:00Z".into()),
                    ..all.clone()
                },
                vec![],
            ),
            (
                CallFilter {
                    before_id: Some(b),
                    ..all.clone()
                },
                vec!["1000"],
            ),
            (
                CallFilter {
                    limit: 1,
                    ..all.clone()
                },
                vec!["1001"],
            ),
        ];
        for (filter, want) in cases {
            assert_eq!(numbers(filter.clone()).await, want, "{filter:?}");
        }
        // Written at the answer, completed at the end: one row.
        let mut open = record("2000");
        open.hangup_cause = IN_PROGRESS.into();
        store.save_call(&open).await.unwrap();
        let mut done = record("2000");
        done.hangup_cause = "caller-bye".into();
        done.digits = "12".into();
        store.save_call(&done).await.unwrap();
        let twos = store
            .find_calls(&CallFilter {
                numbers: Some(vec!["2000".into()]),
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!(twos.len(), 1, "{twos:?}");
        assert_eq!(
            twos[0],
            CallRecord {
                id: twos[0].id,
                ..done
            }
        );
        // A call still open when ura died is interrupted at the next start.
        let mut lost = record("2001");
        lost.hangup_cause = IN_PROGRESS.into();
        store.save_call(&lost).await.unwrap();
        assert_eq!(
            store
                .interrupt_open_calls("2026-11-23T11:00:00Z")
                .await
                .unwrap(),
            1
        );
        let interrupted = store
            .find_calls(&CallFilter {
                numbers: Some(vec!["2001".into()]),
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!(interrupted[0].hangup_cause, "interrupted");
        assert_eq!(interrupted[0].ended_at, "2026-11-23T11:00:00Z");
        assert_eq!(store.interrupt_open_calls("x").await.unwrap(), 0);
        let agent = store
            .find_calls(&CallFilter {
                agent: got[1].queue.as_ref().and_then(|q| q.agent.clone()),
                ..all.clone()
            })
            .await
            .unwrap();
        // 1000, 2000 and 2001 were taken by that agent; 1001 never queued.
        let numbers: Vec<&str> = agent.iter().map(|c| c.number.as_str()).collect();
        assert_eq!(numbers, ["2001", "2000", "1000"]);
    }

    #[tokio::test]
    async fn sqlite_round_trip() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        assert_eq!(store.backend(), crate::Backend::Sqlite);
        round_trip(&store).await;
    }

    #[tokio::test]
    async fn sqlite_file_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("ura-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = Store::sqlite_url(&dir);
        let _ = std::fs::remove_file(dir.join("ura.db"));
        let store = Store::open(&url).await.unwrap();
        store.insert_call(&record("1002")).await.unwrap();
        store.close().await;
        let again = Store::open(&url).await.unwrap();
        assert_eq!(again.recent_calls(5).await.unwrap()[0].number, "1002");
    }

    /// Against the PostgreSQL server of this machine.
    #[tokio::test]
    async fn postgres_round_trip() {
        let pg = crate::test_pg::Schema::new("calls").await;
        round_trip(&pg.store).await;
        pg.drop().await;
    }

    #[tokio::test]
    async fn bad_urls_are_refused() {
        assert!(matches!(
            Store::open("mysql://x").await,
            Err(StoreError::BadUrl(_))
        ));
    }
}
