//! `ura agent …`: agents log in, log out, pause and resume from the command
//! line of the machine running ura, and supervisors list queues and agents.
//! The commands talk to the running ura over its HTTP address.

use std::net::SocketAddr;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

/// Where the running ura is, and the key to talk to it.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// ura's HTTP address.
    #[arg(long, env = "URA_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// An admin API key (default: the one ura saved in the data directory
    /// at its first start).
    #[arg(long, env = "URA_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Data directory (where `api-key` is).
    #[arg(long, env = "URA_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

impl Target {
    fn key(&self) -> Result<String, String> {
        if let Some(k) = &self.api_key {
            return Ok(k.clone());
        }
        let path = self.data_dir.join(crate::config_cli::KEY_FILE);
        std::fs::read_to_string(&path)
            .map(|k| k.trim().to_string())
            .map_err(|e| {
                format!(
                    "no API key: pass --api-key (or URA_API_KEY), or run where {} is readable ({e})",
                    path.display()
                )
            })
    }
}

/// The agent commands.
#[derive(Debug, Subcommand)]
pub enum AgentCli {
    /// Start taking calls.
    Login {
        /// The agent's extension.
        ext: String,
        #[command(flatten)]
        to: Target,
    },
    /// Stop taking calls.
    Logout {
        /// The agent's extension.
        ext: String,
        #[command(flatten)]
        to: Target,
    },
    /// Stop taking calls for a while.
    Pause {
        /// The agent's extension.
        ext: String,
        /// Why (shown to supervisors).
        #[arg(long, default_value = "pause")]
        reason: String,
        #[command(flatten)]
        to: Target,
    },
    /// End a pause.
    Resume {
        /// The agent's extension.
        ext: String,
        #[command(flatten)]
        to: Target,
    },
    /// Agents and queues as they are now.
    List {
        #[command(flatten)]
        to: Target,
    },
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn answer(mut resp: ureq::http::Response<ureq::Body>, http: SocketAddr) -> Result<Value, String> {
    let status = resp.status();
    let body: Value = resp
        .body_mut()
        .read_json()
        .map_err(|e| format!("ura at {http} answered {status} without JSON: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("ura answered {status}"), str::to_string))
    }
}

fn unreachable(http: SocketAddr, e: ureq::Error) -> String {
    format!("cannot reach ura at http://{http} ({e}); is `ura serve` running there? (--http)")
}

/// Runs an agent command; the text to print.
pub fn run(cmd: AgentCli) -> Result<String, String> {
    let (ext, action, to, reason) = match cmd {
        AgentCli::List { to } => {
            let http = to.http;
            let resp = agent()
                .get(format!("http://{http}/api/v1/live"))
                .header("Authorization", format!("Bearer {}", to.key()?))
                .call()
                .map_err(|e| unreachable(http, e))?;
            return Ok(table(&answer(resp, http)?));
        }
        AgentCli::Login { ext, to } => (ext, "login", to, None),
        AgentCli::Logout { ext, to } => (ext, "logout", to, None),
        AgentCli::Pause { ext, reason, to } => (ext, "pause", to, Some(reason)),
        AgentCli::Resume { ext, to } => (ext, "resume", to, None),
    };
    let http = to.http;
    let url = format!("http://{http}/api/v1/agents/{ext}/{action}");
    let resp = agent()
        .post(url)
        .header("Authorization", format!("Bearer {}", to.key()?))
        .send_json(serde_json::json!({ "reason": reason }))
        .map_err(|e| unreachable(http, e))?;
    answer(resp, http)?;
    Ok(format!("agent {ext}: {action} done\n"))
}

/// Agents and queues as a table (`waiting` counts calls and chats;
/// `chats` says how many of them are chats).
fn table(v: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<24} {:>6} {:>8} {:>6} {:>5}",
        "agent", "state", "offers", "answered", "missed", "chats"
    );
    for a in v["agents"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<10} {:<24} {:>6} {:>8} {:>6} {:>5}",
            a["agent"].as_str().unwrap_or("?"),
            a["state"].as_str().unwrap_or("?"),
            a["offers"],
            a["answered"],
            a["missed"],
            a["chats_open"].as_u64().unwrap_or(0)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<12} {:>7} {:>5} {:>11} {:>9} {:>8} {:>9} {:>10}",
        "queue",
        "waiting",
        "chats",
        "after-hours",
        "logged-in",
        "answered",
        "abandoned",
        "service-%"
    );
    for (name, q) in v["queues"].as_object().into_iter().flatten() {
        let sl = q["service_level_pct"]
            .as_f64()
            .map_or("-".to_string(), |p| format!("{p:.0}"));
        let waiting = q["waiting"].as_array().map_or(&[][..], Vec::as_slice);
        let _ = writeln!(
            out,
            "{:<12} {:>7} {:>5} {:>11} {:>9} {:>8} {:>9} {:>10}",
            name,
            waiting.len(),
            waiting.iter().filter(|w| w["channel"] == "chat").count(),
            q["after_hours"].as_array().map_or(0, Vec::len),
            q["logged_in"],
            q["answered"],
            q["abandoned"],
            sl
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_counts_chats_apart() {
        let live = serde_json::json!({
            "agents": [{"agent": "2001", "state": "available", "offers": 1,
                        "answered": 1, "missed": 0, "chats_open": 2, "chats": [4, 7]}],
            "queues": {"vendas": {
                "waiting": [{"task": 1, "channel": "voice"}, {"task": 2, "channel": "chat"},
                            {"task": 3, "channel": "chat"}],
                "after_hours": [{"conversation": 9}],
                "logged_in": 1, "answered": 5, "abandoned": 0, "service_level_pct": 100.0,
            }},
        });
        let text = table(&live);
        let agent = text.lines().nth(1).unwrap();
        assert!(agent.starts_with("2001") && agent.ends_with(" 2"), "{text}");
        let queue: Vec<&str> = text.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(
            queue,
            ["vendas", "3", "2", "1", "1", "5", "0", "100"],
            "{text}"
        );
    }
}
