//! Agent queues and agents: the `[queues.*]` and `[agents.*]` tables of the
//! configuration file, checked, with what the engine and the router need.
//!
//! ```toml
//! [queues.vendas]
//! strategy = "longest-idle"   # round-robin, ring-all, fewest-calls, random, skills
//! ring_seconds = 20           # ring an agent this long
//! retry_seconds = 5           # then wait this long before the next offer
//! wrapup_seconds = 10         # after a call, before the agent's next one
//! max_waiting = 50            # callers waiting at most (absent: no limit)
//! max_wait_seconds = 600      # then the no-answer prompt / fallback
//! join_empty = false          # join when no agent is logged in
//! leave_empty = true          # leave when the last agent logs out
//! announce_seconds = 30       # position and estimated wait (0: never)
//! service_level_seconds = 20
//! hold_music = "hold-music"   # a stored or built-in prompt
//! periodic_prompt = "aviso"   # played every periodic_seconds while waiting
//! periodic_seconds = 60
//! exit_key = "*"              # leaves the queue:
//! exit = "callback"           #   a callback request, or "message" (recorded)
//! record = "off"              # "mixed" or "stereo" (caller left, agent right)
//!
//! [services.vendas]
//! name = "vendas"
//! queue = "vendas"            # absent: the queue with the service's id, if any
//!
//! [agents.2001]
//! name = "Ana"
//! password = "s3cret"         # absent: generated, kept in DATA_DIR, printed at start
//! queues = { vendas = 1 }     # queue = level (1 is tried first)
//! skills = ["es"]
//! logged_in = true            # logged in at start (otherwise `*40`)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::UraError;

/// How a queue picks the agent for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The available agent idle the longest.
    #[default]
    LongestIdle,
    /// Agents in turn.
    RoundRobin,
    /// Every available agent at once; the first to answer takes it.
    RingAll,
    /// The agent who took the fewest calls.
    FewestCalls,
    /// Any available agent.
    Random,
    /// Level 1 agents first, then level 2 after a wait, and so on;
    /// the caller's required skills honoured.
    Skills,
}

/// Recording of bridged calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RecordMode {
    /// No recording.
    #[default]
    Off,
    /// Both sides mixed, mono.
    Mixed,
    /// Caller left, agent right.
    Stereo,
}

/// What the exit key does for a waiting caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExitAction {
    /// Leave a callback request (the caller's number, in the call record).
    #[default]
    Callback,
    /// Leave a recorded message (a WAV file named in the call record).
    Message,
}

/// One queue, as configured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// A name for people; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// How the agent is chosen.
    #[serde(default)]
    pub strategy: Strategy,
    /// Ring an agent this long.
    #[serde(default = "default_ring")]
    pub ring_seconds: u64,
    /// After an offer fails, wait this long before the next.
    #[serde(default = "default_retry")]
    pub retry_seconds: u64,
    /// After a call, the agent rests this long.
    #[serde(default = "default_wrapup")]
    pub wrapup_seconds: u64,
    /// Callers waiting at most.
    #[serde(default)]
    pub max_waiting: Option<usize>,
    /// Longest wait, then the no-answer prompt (or the IVR's fallback).
    #[serde(default)]
    pub max_wait_seconds: Option<u64>,
    /// Join when nobody is logged in.
    #[serde(default)]
    pub join_empty: bool,
    /// Leave when the last agent logs out.
    #[serde(default = "default_true")]
    pub leave_empty: bool,
    /// Say the position and estimated wait this often (0: never).
    #[serde(default = "default_announce")]
    pub announce_seconds: u64,
    /// A call answered within this counts for the service level.
    #[serde(default = "default_service_level")]
    pub service_level_seconds: u64,
    /// Skills strategy: wait this long before the next level of agents.
    #[serde(default = "default_level_step")]
    pub level_step_seconds: u64,
    /// Hold music: a stored or built-in prompt.
    #[serde(default)]
    pub hold_music: Option<String>,
    /// A message played every `periodic_seconds` while callers wait.
    #[serde(default)]
    pub periodic_prompt: Option<String>,
    /// How often the periodic message plays.
    #[serde(default = "default_periodic")]
    pub periodic_seconds: u64,
    /// A key that leaves the queue (announced when the caller joins).
    #[serde(default)]
    pub exit_key: Option<char>,
    /// What the exit key does.
    #[serde(default)]
    pub exit: ExitAction,
    /// Recording of bridged calls.
    #[serde(default)]
    pub record: RecordMode,
}

fn default_true() -> bool {
    true
}
fn default_ring() -> u64 {
    20
}
fn default_retry() -> u64 {
    5
}
fn default_wrapup() -> u64 {
    10
}
fn default_announce() -> u64 {
    30
}
fn default_service_level() -> u64 {
    20
}
fn default_periodic() -> u64 {
    60
}
fn default_level_step() -> u64 {
    30
}
fn default_missed() -> u32 {
    3
}
fn default_voice() -> u32 {
    1
}
fn default_chat() -> u32 {
    3
}

impl QueueConfig {
    /// Ring time.
    pub fn ring(&self) -> Duration {
        Duration::from_secs(self.ring_seconds)
    }
}

/// One agent, as configured.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The agent's name.
    pub name: String,
    /// SIP password of the softphone; generated when absent.
    #[serde(default)]
    pub password: Option<String>,
    /// Queues, each with the agent's level (1 first).
    #[serde(default)]
    pub queues: BTreeMap<String, u32>,
    /// Skills.
    #[serde(default)]
    pub skills: BTreeSet<String>,
    /// Voice calls at once (1).
    #[serde(default = "default_voice")]
    pub voice: u32,
    /// Chats at once (3).
    #[serde(default = "default_chat")]
    pub chat: u32,
    /// Logged in at start.
    #[serde(default)]
    pub logged_in: bool,
    /// Offers missed in a row before the agent is paused.
    #[serde(default = "default_missed")]
    pub missed_to_pause: u32,
    /// A supervisor: besides taking calls and chats as any agent, their
    /// desk shows every queue and agent live (default false).
    #[serde(default)]
    pub supervisor: bool,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("queues", &self.queues)
            .field("skills", &self.skills)
            .field("logged_in", &self.logged_in)
            .field("supervisor", &self.supervisor)
            .finish_non_exhaustive()
    }
}

/// Checks queues and agents against each other and the services; errors
/// name the table and field.
pub fn check(
    queues: &BTreeMap<String, QueueConfig>,
    agents: &BTreeMap<String, AgentConfig>,
    services: &BTreeMap<String, crate::routing::ServiceConfig>,
) -> Result<(), UraError> {
    let bad = |s: String| Err(UraError::Config(s));
    for (id, q) in queues {
        if q.ring_seconds == 0 || q.ring_seconds > 600 {
            return bad(format!("queues.{id}.ring_seconds: 1-600"));
        }
        if let Some(k) = q.exit_key {
            if !matches!(k, '0'..='9' | '*' | '#') {
                return bad(format!("queues.{id}.exit_key: one of 0-9, * or #"));
            }
        }
        if q.periodic_prompt.is_some() && q.periodic_seconds < 5 {
            return bad(format!("queues.{id}.periodic_seconds: at least 5"));
        }
        if q.max_waiting == Some(0) {
            return bad(format!(
                "queues.{id}.max_waiting: at least 1 (or leave it out)"
            ));
        }
    }
    for (id, s) in services {
        if let Some(q) = &s.queue {
            if !queues.contains_key(q) {
                return bad(format!("services.{id}.queue: no queue named {q:?}"));
            }
        }
    }
    for (ext, a) in agents {
        if ext.is_empty() || ext.len() > 32 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad(format!(
                "agents.{ext}: an extension is 1-32 letters or digits"
            ));
        }
        for (q, level) in &a.queues {
            if !queues.contains_key(q) {
                return bad(format!("agents.{ext}.queues: no queue named {q:?}"));
            }
            if *level == 0 {
                return bad(format!("agents.{ext}.queues.{q}: levels start at 1"));
            }
        }
        if a.password.as_deref().is_some_and(|p| p.len() < 8) {
            return bad(format!(
                "agents.{ext}.password: at least 8 characters (or leave it out to have one generated)"
            ));
        }
        if a.voice > 1 {
            return bad(format!(
                "agents.{ext}.voice: an agent takes one call at a time (0 or 1)"
            ));
        }
    }
    Ok(())
}

/// The queue a service sends callers to, if any.
pub fn queue_of<'a>(
    service_id: &'a str,
    service: Option<&'a crate::routing::ServiceConfig>,
    queues: &BTreeMap<String, QueueConfig>,
) -> Option<&'a str> {
    match service.and_then(|s| s.queue.as_deref()) {
        Some(q) => Some(q),
        None => queues.contains_key(service_id).then_some(service_id),
    }
}

/// Fills in the passwords of agents configured without one: generated
/// once, kept in `DATA_DIR/agent-passwords.toml` (readable by its owner
/// only) so they stay the same across restarts. Returns the agents whose
/// password was generated, to be printed at start.
pub fn fill_passwords(
    agents: &mut BTreeMap<String, AgentConfig>,
    data_dir: &Path,
) -> Result<Vec<(String, String)>, UraError> {
    if agents.values().all(|a| a.password.is_some()) {
        return Ok(Vec::new());
    }
    let path = data_dir.join("agent-passwords.toml");
    let mut kept: BTreeMap<String, String> = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| UraError::Config(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(UraError::io(format!("reading {}", path.display()), e)),
    };
    let mut generated = Vec::new();
    let mut changed = false;
    for (ext, agent) in agents.iter_mut() {
        if agent.password.is_some() {
            continue;
        }
        let password = kept
            .entry(ext.clone())
            .or_insert_with(|| {
                changed = true;
                new_password()
            })
            .clone();
        generated.push((ext.clone(), password.clone()));
        agent.password = Some(password);
    }
    if changed {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| UraError::io(format!("creating {}", data_dir.display()), e))?;
        let text = toml::to_string(&kept)
            .map_err(|e| UraError::Config(format!("agent passwords: {e}")))?;
        write_private(&path, &text)
            .map_err(|e| UraError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(generated)
}

/// 12 characters from an alphabet without look-alikes.
fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    let mut rng = fastrand::Rng::with_seed(
        fastrand::u64(..)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
    );
    (0..12)
        .map(|_| ALPHABET[rng.usize(..ALPHABET.len())] as char)
        .collect()
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> crate::routing::RoutingConfig {
        toml::from_str(text).unwrap()
    }

    const BASE: &str = r#"
[queues.vendas]
strategy = "ring-all"
[services.vendas]
name = "vendas"
[services.outro]
name = "outro"
queue = "vendas"
[agents.2001]
name = "Ana"
password = "uma-senha-longa"
queues = { vendas = 1 }
"#;

    #[test]
    fn queues_and_agents_parse_with_defaults() {
        let cfg = parse(BASE);
        let q = &cfg.queues["vendas"];
        assert_eq!(q.strategy, Strategy::RingAll);
        assert_eq!(
            (q.ring_seconds, q.retry_seconds, q.wrapup_seconds),
            (20, 5, 10)
        );
        assert_eq!(q.announce_seconds, 30);
        assert!(q.leave_empty && !q.join_empty);
        let a = &cfg.agents["2001"];
        assert_eq!((a.voice, a.chat, a.missed_to_pause), (1, 3, 3));
        assert!(!a.supervisor, "not a supervisor unless said");
        assert!(!format!("{a:?}").contains("uma-senha"), "password redacted");
        check(&cfg.queues, &cfg.agents, &cfg.services).unwrap();
        assert_eq!(
            queue_of("vendas", cfg.services.get("vendas"), &cfg.queues),
            Some("vendas")
        );
        assert_eq!(
            queue_of("outro", cfg.services.get("outro"), &cfg.queues),
            Some("vendas")
        );
        assert_eq!(queue_of("x", None, &cfg.queues), None);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                BASE.replace("queue = \"vendas\"", "queue = \"nada\""),
                "services.outro.queue",
            ),
            (
                BASE.replace("{ vendas = 1 }", "{ nada = 1 }"),
                "agents.2001.queues",
            ),
            (
                BASE.replace("{ vendas = 1 }", "{ vendas = 0 }"),
                "agents.2001.queues.vendas",
            ),
            (
                BASE.replace("uma-senha-longa", "curta"),
                "agents.2001.password",
            ),
            (
                BASE.replace("[agents.2001]", "[\"agents\".\"20 01\"]"),
                "agents.20 01",
            ),
            (
                BASE.replace("strategy = \"ring-all\"", "ring_seconds = 0"),
                "queues.vendas.ring_seconds",
            ),
            (
                BASE.replace("strategy = \"ring-all\"", "exit_key = \"x\""),
                "queues.vendas.exit_key",
            ),
            (
                BASE.replace(
                    "strategy = \"ring-all\"",
                    "periodic_prompt = \"aviso\"\nperiodic_seconds = 1",
                ),
                "queues.vendas.periodic_seconds",
            ),
        ];
        for (text, field) in cases {
            let cfg = parse(&text);
            let err = check(&cfg.queues, &cfg.agents, &cfg.services)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn generated_passwords_are_kept_across_restarts() {
        let dir = std::env::temp_dir().join(format!("ura-pw-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = BASE.replace("password = \"uma-senha-longa\"\n", "");
        let mut agents = parse(&text).agents;
        let first = fill_passwords(&mut agents, &dir).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.len(), 12);
        assert_eq!(
            agents["2001"].password.as_deref(),
            Some(first[0].1.as_str())
        );
        let mut again = parse(&text).agents;
        assert_eq!(fill_passwords(&mut again, &dir).unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("agent-passwords.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
