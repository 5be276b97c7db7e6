//! Agents' registrations kept in the store, so that a restart does not
//! leave every agent unreachable until their phone registers again. The
//! core hands changes to a bounded channel; one task writes them.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use ura_sip::{Endpoint, Event, Flow, Transport};
use ura_store::{Registration, Store};

/// Changes waiting to be written; beyond this they are dropped (counted
/// and logged): a registration is refreshed by the phone anyway.
const PENDING: usize = 4096;

enum Write {
    Save(Registration),
    Delete { agent: String, contact: String },
}

/// The writer's handle.
pub struct Registrations {
    tx: mpsc::Sender<Write>,
    dropped: u64,
}

fn wall_in(d: Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Registrations {
    /// Starts the writer and gives the registrations still live in the
    /// store to `endpoint`. Returns the handle and the agents restored.
    pub async fn start(store: Store, endpoint: &mut Endpoint) -> (Registrations, Vec<String>) {
        let now_wall = chrono::Utc::now();
        let now = Instant::now();
        let now_text = now_wall.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut agents = Vec::new();
        match store.live_registrations(&now_text).await {
            Ok(regs) => {
                for r in regs {
                    let Some(flow) = flow_of(&r) else {
                        continue;
                    };
                    let Ok(expires) = chrono::DateTime::parse_from_rfc3339(&r.expires_at) else {
                        continue;
                    };
                    let left = (expires.with_timezone(&chrono::Utc) - now_wall)
                        .to_std()
                        .unwrap_or_default();
                    if left.is_zero() {
                        continue;
                    }
                    endpoint.restore_binding(now, &r.agent, &r.contact, flow, left);
                    agents.push(r.agent);
                }
            }
            Err(e) => tracing::warn!(error = %e, "stored registrations not read"),
        }
        if !agents.is_empty() {
            tracing::info!(count = agents.len(), "registrations restored");
        }
        let (tx, mut rx) = mpsc::channel::<Write>(PENDING);
        tokio::spawn(async move {
            while let Some(w) = rx.recv().await {
                let result = match &w {
                    Write::Save(r) => store.save_registration(r).await,
                    Write::Delete { agent, contact } => {
                        store.delete_registration(agent, contact).await
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "registration not stored");
                }
            }
        });
        agents.sort();
        agents.dedup();
        (Registrations { tx, dropped: 0 }, agents)
    }

    /// Keeps what a registrar event changed.
    pub fn on_event(&mut self, event: &Event) {
        let write = match event {
            Event::Registered {
                user,
                contact,
                flow,
                expires_at,
            } => {
                if flow.transport != Transport::Udp {
                    // A TCP connection does not survive a restart.
                    return;
                }
                Write::Save(Registration {
                    agent: user.clone(),
                    contact: contact.clone(),
                    transport: "udp".into(),
                    remote: flow.remote.to_string(),
                    expires_at: wall_in(expires_at.saturating_duration_since(Instant::now())),
                })
            }
            Event::Unregistered { user, contact, .. } => Write::Delete {
                agent: user.clone(),
                contact: contact.clone(),
            },
            _ => return,
        };
        if self.tx.try_send(write).is_err() {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    "registration writes dropped: the store is behind"
                );
            }
        }
    }
}

fn flow_of(r: &Registration) -> Option<Flow> {
    if r.transport != "udp" {
        return None;
    }
    r.remote.parse().ok().map(Flow::udp)
}
