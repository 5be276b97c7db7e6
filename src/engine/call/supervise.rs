//! Supervisors at the desk: an agent configured `supervisor = true` takes
//! calls and chats as any agent, and their desk sockets also get the
//! `live` frame (every queue and agent, `engine::live`): at once when the
//! desk opens, then whenever it changes, looked at once a second while a
//! supervisor's desk is open. A supervisor whose company is known (store
//! mode) sees only that company's queues and agents. Frames go through
//! the sockets' bounded outboxes like any other (never waited on).

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
        let scope = self.supervisor_scope(sub);
        let frame = self
            .scoped(&self.live_frame(now), scope.as_deref())
            .to_string();
        if let Some(gone) = self.chats.send(sub, &frame) {
            self.desk_gone(now, gone);
        }
    }

    /// Looks at the view when it is time and pushes it to supervisors'
    /// desks if it changed. The flag is checked again here: a reload that
    /// took it away stops the frames (the desk is told with a
    /// `supervisor` frame, `on: false`); with no supervisor left, looking
    /// stops.
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
                // No longer a supervisor: the desk hides the view.
                self.chats.supervisors.remove(&sub);
                let off = serde_json::json!({"type": "supervisor", "on": false}).to_string();
                if let Some(gone) = self.chats.send(sub, &off) {
                    self.desk_gone(now, gone);
                }
            }
        }
        if still.is_empty() {
            self.chats.live.stop();
            return;
        }
        self.chats.live.looked(now);
        let frame = self.live_frame(now);
        let mut by_scope: std::collections::HashMap<Option<String>, Option<String>> =
            std::collections::HashMap::new();
        for sub in still {
            let scope = self.supervisor_scope(sub);
            let text = match by_scope.get(&scope) {
                Some(t) => t.clone(),
                None => {
                    let mine = self.scoped(&frame, scope.as_deref());
                    let t = self.chats.live.changed(scope.as_deref(), &mine);
                    by_scope.insert(scope, t.clone());
                    t
                }
            };
            if let Some(text) = text {
                if let Some(gone) = self.chats.send(sub, &text) {
                    self.desk_gone(now, gone);
                }
            }
        }
    }

    /// The company a supervisor's desk sees (`None`: every queue and
    /// agent, when companies are not known, as from a file).
    fn supervisor_scope(&self, sub: SubId) -> Option<String> {
        let Some(crate::engine::chats::SubKind::Desk(agent)) =
            self.chats.subs.get(&sub).map(|s| &s.kind)
        else {
            return None;
        };
        self.config
            .routing
            .companies
            .agents
            .get(self.queues.ext(*agent))
            .cloned()
    }

    /// The frame as a supervisor of `scope` sees it.
    fn scoped(&self, frame: &serde_json::Value, scope: Option<&str>) -> serde_json::Value {
        match scope {
            Some(company) => live::scoped(frame, company, &self.config.routing.companies),
            None => frame.clone(),
        }
    }
}
