//! The engine's side of the router: names (queue ids, extensions) mapped
//! to the router's numbers, the configuration applied to it, agent
//! commands, and the live view served over HTTP.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ura_router::{
    AgentConfig as RAgentConfig, AgentId, AgentState, Capacity, Channel, QueueConfig as RQueue,
    QueueId, Router, RouterError, Strategy as RStrategy, TaskId,
};

use crate::queues::{QueueConfig, Strategy};
use crate::routing::RoutingConfig;

/// What an agent asks for, from the phone (`*40`…) or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCommand {
    /// Start taking calls.
    Login,
    /// Stop taking calls.
    Logout,
    /// Stop taking calls for a while, saying why.
    Pause(String),
    /// End the pause.
    Resume,
}

impl AgentCommand {
    /// The feature code dialled from an agent's phone, if it is one.
    pub fn from_feature_code(code: &str) -> Option<AgentCommand> {
        Some(match code {
            "*40" => AgentCommand::Login,
            "*41" => AgentCommand::Logout,
            "*42" => AgentCommand::Pause("pause".into()),
            "*43" => AgentCommand::Resume,
            _ => return None,
        })
    }

    /// The built-in prompt that confirms it.
    pub fn prompt(&self) -> &'static str {
        match self {
            AgentCommand::Login => "agent-login",
            AgentCommand::Logout => "agent-logout",
            AgentCommand::Pause(_) => "agent-pause",
            AgentCommand::Resume => "agent-resume",
        }
    }
}

/// The router with the engine's names around it.
pub struct Queues {
    /// The router.
    pub router: Router,
    queue_ids: HashMap<String, QueueId>,
    queue_names: HashMap<QueueId, String>,
    agent_ids: HashMap<String, AgentId>,
    agent_exts: HashMap<AgentId, String>,
    /// Queue settings the engine itself uses (hold music, recording).
    settings: BTreeMap<String, QueueConfig>,
    next_task: u64,
}

fn strategy(s: Strategy) -> RStrategy {
    match s {
        Strategy::LongestIdle => RStrategy::LongestIdle,
        Strategy::RoundRobin => RStrategy::RoundRobin,
        Strategy::RingAll => RStrategy::RingAll,
        Strategy::FewestCalls => RStrategy::FewestCalls,
        Strategy::Random => RStrategy::Random,
        Strategy::Skills => RStrategy::Skills,
    }
}

fn queue_config(q: &QueueConfig) -> RQueue {
    RQueue {
        strategy: strategy(q.strategy),
        ring_timeout: Duration::from_secs(q.ring_seconds),
        retry_delay: Duration::from_secs(q.retry_seconds),
        wrap_up: Duration::from_secs(q.wrapup_seconds),
        max_waiting: q.max_waiting,
        max_wait: q.max_wait_seconds.map(Duration::from_secs),
        join_when_empty: q.join_empty,
        leave_when_empty: q.leave_empty,
        service_level: Duration::from_secs(q.service_level_seconds),
        announce_interval: (q.announce_seconds > 0)
            .then(|| Duration::from_secs(q.announce_seconds)),
        level_step: Duration::from_secs(q.level_step_seconds),
    }
}

/// How an agent's state reads in logs and the live view.
pub fn state_name(s: &AgentState) -> String {
    match s {
        AgentState::LoggedOut => "logged-out".into(),
        AgentState::Available => "available".into(),
        AgentState::Ringing => "ringing".into(),
        AgentState::Busy => "on-call".into(),
        AgentState::WrapUp => "wrap-up".into(),
        AgentState::Paused(reason) => format!("paused ({reason})"),
    }
}

impl Queues {
    /// An empty router; `apply` gives it queues and agents.
    pub fn new(seed: u64) -> Queues {
        Queues {
            router: Router::new(seed),
            queue_ids: HashMap::new(),
            queue_names: HashMap::new(),
            agent_ids: HashMap::new(),
            agent_exts: HashMap::new(),
            settings: BTreeMap::new(),
            next_task: 1,
        }
    }

    fn queue_id(&mut self, name: &str) -> QueueId {
        if let Some(id) = self.queue_ids.get(name) {
            return *id;
        }
        let id = QueueId(self.queue_ids.len() as u32 + 1);
        self.queue_ids.insert(name.to_string(), id);
        self.queue_names.insert(id, name.to_string());
        id
    }

    fn agent_id(&mut self, ext: &str) -> AgentId {
        if let Some(id) = self.agent_ids.get(ext) {
            return *id;
        }
        let id = AgentId(self.agent_ids.len() as u32 + 1);
        self.agent_ids.insert(ext.to_string(), id);
        self.agent_exts.insert(id, ext.to_string());
        id
    }

    /// Applies the queues and agents of `cfg` (at start and on reload):
    /// queues and agents are replaced in place, waiting callers and agent
    /// states kept. New agents configured `logged_in` are logged in;
    /// agents no longer configured are logged out. Returns the agents
    /// that are new.
    pub fn apply(&mut self, now: Instant, cfg: &RoutingConfig) -> Vec<String> {
        for (name, q) in &cfg.queues {
            let id = self.queue_id(name);
            self.router.upsert_queue(now, id, queue_config(q));
        }
        let mut new = Vec::new();
        for (ext, a) in &cfg.agents {
            let known = self.agent_ids.contains_key(ext);
            let id = self.agent_id(ext);
            let queues = a
                .queues
                .iter()
                .map(|(q, level)| (self.queue_id(q), (*level).min(255) as u8))
                .collect();
            let config = RAgentConfig {
                name: a.name.clone(),
                queues,
                skills: a.skills.clone(),
                capacity: Capacity::default()
                    .with(Channel::Voice, a.voice)
                    .with(Channel::Chat, a.chat),
                max_missed: a.missed_to_pause,
            };
            self.router.upsert_agent(now, id, config);
            if !known {
                new.push(ext.clone());
                // Chats reach an agent through an open desk page only.
                let _ = self.router.set_reachable(now, id, Channel::Chat, false);
                if a.logged_in {
                    let _ = self.router.login(now, id);
                }
            }
        }
        let gone: Vec<AgentId> = self
            .agent_ids
            .iter()
            .filter(|(ext, _)| !cfg.agents.contains_key(*ext))
            .map(|(_, id)| *id)
            .collect();
        for id in gone {
            let _ = self.router.logout(now, id);
            // No queues: out of every queue.
            self.router.upsert_agent(now, id, RAgentConfig::default());
        }
        self.settings = cfg.queues.clone();
        new
    }

    /// The engine's settings of a queue.
    pub fn settings(&self, queue: &str) -> Option<&QueueConfig> {
        self.settings.get(queue)
    }

    /// The router's number for a queue.
    pub fn queue(&self, name: &str) -> Option<QueueId> {
        self.queue_ids.get(name).copied()
    }

    /// A queue's name.
    pub fn queue_name(&self, id: QueueId) -> &str {
        self.queue_names.get(&id).map_or("?", String::as_str)
    }

    /// The router's number for an agent's extension.
    pub fn agent(&self, ext: &str) -> Option<AgentId> {
        self.agent_ids.get(ext).copied()
    }

    /// An agent's extension.
    pub fn ext(&self, id: AgentId) -> &str {
        self.agent_exts.get(&id).map_or("?", String::as_str)
    }

    /// Whether `ext` is a configured agent.
    pub fn is_agent(&self, ext: &str, cfg: &RoutingConfig) -> bool {
        cfg.agents.contains_key(ext)
    }

    /// A fresh task number.
    pub fn new_task(&mut self) -> TaskId {
        let id = TaskId(self.next_task);
        self.next_task += 1;
        id
    }

    /// Carries out an agent's command.
    pub fn command(
        &mut self,
        now: Instant,
        ext: &str,
        cmd: &AgentCommand,
    ) -> Result<(), RouterError> {
        let id = self
            .agent(ext)
            .ok_or(RouterError::UnknownAgent(AgentId(0)))?;
        match cmd {
            AgentCommand::Login => self.router.login(now, id),
            AgentCommand::Logout => self.router.logout(now, id),
            AgentCommand::Pause(reason) => self.router.pause(now, id, reason.clone()),
            AgentCommand::Resume => self.router.resume(now, id),
        }
    }

    /// The live view: every queue (waiting callers with position and wait,
    /// members with their state, counters) and every agent's state.
    pub fn status(&self, now: Instant) -> Value {
        let mut queues = serde_json::Map::new();
        let mut names: Vec<(&String, &QueueId)> = self.queue_ids.iter().collect();
        names.sort();
        for (name, id) in names {
            let Some(s) = self.router.queue_status(now, *id) else {
                continue;
            };
            queues.insert(
                name.clone(),
                json!({
                    "waiting": s.waiting.iter().map(|w| json!({
                        "task": w.task.0,
                        "position": w.position,
                        "waited_s": w.waited.as_secs(),
                        "ringing": w.ringing,
                    })).collect::<Vec<_>>(),
                    "agents": s.agents.iter().map(|(a, st)| json!({
                        "agent": self.ext(*a),
                        "state": state_name(st),
                    })).collect::<Vec<_>>(),
                    "logged_in": s.logged_in,
                    "entered": s.counters.entered,
                    "answered": s.counters.answered,
                    "abandoned": s.counters.abandoned,
                    "timed_out": s.counters.timed_out,
                    "refused": s.counters.refused,
                    "service_level_pct": s.service_level,
                    "average_wait_s": s.average_wait.map(|d| d.as_secs_f64()),
                    "average_handle_s": s.average_handle.map(|d| d.as_secs_f64()),
                }),
            );
        }
        let mut agents: Vec<(&String, &AgentId)> = self.agent_ids.iter().collect();
        agents.sort();
        let agents: Vec<Value> = agents
            .into_iter()
            .filter_map(|(ext, id)| {
                let state = self.router.agent_state(*id)?;
                let c = self.router.agent_counters(*id).unwrap_or_default();
                Some(json!({
                    "agent": ext,
                    "state": state_name(&state),
                    "offers": c.offers,
                    "answered": c.answered,
                    "missed": c.missed,
                }))
            })
            .collect();
        json!({ "queues": queues, "agents": agents })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> RoutingConfig {
        toml::from_str(text).unwrap()
    }

    const TWO: &str = r#"
[queues.vendas]
[agents.2001]
name = "Ana"
password = "12345678"
queues = { vendas = 1 }
logged_in = true
[agents.2002]
name = "Bia"
password = "12345678"
queues = { vendas = 2 }
"#;

    #[test]
    fn agents_start_as_configured_and_commands_move_them() {
        let t0 = Instant::now();
        let mut q = Queues::new(1);
        assert_eq!(q.apply(t0, &cfg(TWO)), ["2001", "2002"]);
        let a = q.agent("2001").unwrap();
        let b = q.agent("2002").unwrap();
        assert_eq!(q.router.agent_state(a), Some(AgentState::Available));
        assert_eq!(q.router.agent_state(b), Some(AgentState::LoggedOut));
        q.command(t0, "2002", &AgentCommand::Login).unwrap();
        q.command(t0, "2001", &AgentCommand::Pause("almoço".into()))
            .unwrap();
        assert_eq!(
            q.router.agent_state(a),
            Some(AgentState::Paused("almoço".into()))
        );
        assert!(q.command(t0, "9999", &AgentCommand::Login).is_err());
        let status = q.status(t0);
        assert_eq!(status["agents"][0]["state"], "paused (almoço)");
        assert_eq!(status["agents"][1]["state"], "available");
        assert_eq!(status["queues"]["vendas"]["logged_in"], 2);
        // A reload keeps states; an agent removed is logged out.
        let only_one = TWO.split("[agents.2002]").next().unwrap();
        assert!(q.apply(t0, &cfg(only_one)).is_empty());
        assert_eq!(q.router.agent_state(b), Some(AgentState::LoggedOut));
        assert_eq!(
            q.router.agent_state(a),
            Some(AgentState::Paused("almoço".into()))
        );
    }

    #[test]
    fn feature_codes() {
        assert_eq!(
            AgentCommand::from_feature_code("*40"),
            Some(AgentCommand::Login)
        );
        assert_eq!(
            AgentCommand::from_feature_code("*43").map(|c| c.prompt()),
            Some("agent-resume")
        );
        assert_eq!(AgentCommand::from_feature_code("*97"), None);
    }
}
