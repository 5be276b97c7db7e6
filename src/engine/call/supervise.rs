//! Supervisors at the desk: an agent configured `supervisor = true` takes
//! calls and chats as any agent, and their desk sockets also get the
//! `live` frame (every queue and agent, `engine::live`): at once when the
//! desk opens, then whenever it changes, looked at once a second while a
//! supervisor's desk is open. Frames go through the sockets' bounded
//! outboxes like any other (never waited on).

use std::collections::BTreeMap;
use std::time::Instant;

use super::Calls;
use crate::engine::chats::SubId;
use crate::engine::live;

impl Calls {
    /// Whether the agent with this extension is a supervisor now.
    pub(super) fn is_supervisor(&self, ext: &str) -> bool {
        self.config
            .routing
            .agents
            .get(ext)
            .is_some_and(|a| a.supervisor)
    }

    /// The `live` frame as it is now.
    fn live_frame(&self, now: Instant) -> serde_json::Value {
        let names: BTreeMap<String, String> = self
            .config
            .routing
            .agents
            .iter()
            .map(|(ext, a)| (ext.clone(), a.name.clone()))
            .collect();
        live::frame(&self.queue_status(now), &names)
    }

    /// A supervisor's desk socket opened: it gets the view now and its
    /// changes from then on.
    pub(super) fn supervisor_attached(&mut self, now: Instant, sub: SubId) {
        self.chats.supervisors.insert(sub);
        self.chats.live.start(now);
        let frame = self.live_frame(now).to_string();
        if let Some(gone) = self.chats.send(sub, &frame) {
            self.desk_gone(now, gone);
        }
    }

    /// Looks at the view when it is time and pushes it to supervisors'
    /// desks if it changed. The flag is checked again here (a reload may
    /// have taken it away); with no supervisor left, looking stops.
    pub(super) fn live_push(&mut self, now: Instant) {
        if !self.chats.live.due(now) {
            return;
        }
        let subs: Vec<SubId> = self.chats.supervisors.iter().copied().collect();
        let mut still = Vec::new();
        for sub in subs {
            let agent = match self.chats.subs.get(&sub).map(|s| &s.kind) {
                Some(crate::engine::chats::SubKind::Desk(a)) => *a,
                _ => {
                    self.chats.supervisors.remove(&sub);
                    continue;
                }
            };
            if self.is_supervisor(self.queues.ext(agent)) {
                still.push(sub);
            } else {
                self.chats.supervisors.remove(&sub);
            }
        }
        if still.is_empty() {
            self.chats.live.stop();
            return;
        }
        let frame = self.live_frame(now);
        let Some(text) = self.chats.live.looked(now, &frame) else {
            return;
        };
        for sub in still {
            if let Some(gone) = self.chats.send(sub, &text) {
                self.desk_gone(now, gone);
            }
        }
    }
}
