//! The supervisors' live view at the desk: the `live` frame (every queue's
//! waiting calls and chats, every agent's state and open chats), built
//! from the admin API's live view, and the pacing of its pushes: at most
//! one a [`EVERY`], and only when something other than the waiting times
//! changed (the page counts the seconds itself). Sans-I/O: time is an
//! input.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::routing::Companies;

/// How often the view is looked at while a supervisor's desk is open;
/// changes within it are pushed together in one frame.
pub const EVERY: Duration = Duration::from_secs(1);

/// Waiting tasks listed per queue (the first in line; the counts are of
/// all): a queue of 10,000 chats is not a 10,000-row frame a second.
pub const LISTED: usize = 100;

/// The `live` frame from the live view (`Calls::queue_status`): queues in
/// name order, each with its waiting tasks (channel, conversation, wait,
/// position, ringing), the longest wait and the conversations kept out of
/// hours; agents (those configured, `names`: extension → name) with their
/// state, a pause's reason and their open chats.
pub fn frame(view: &Value, names: &BTreeMap<String, String>) -> Value {
    let empty = serde_json::Map::new();
    let queues: Vec<Value> = view["queues"]
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(name, q)| {
            let mut waiting: Vec<Value> = q["waiting"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|w| {
                    json!({
                        "channel": w["channel"].as_str().unwrap_or("voice"),
                        "conversation": w.get("conversation"),
                        "position": w["position"],
                        "waited_s": w["waited_s"].as_u64().unwrap_or(0),
                        "ringing": w["ringing"].as_bool().unwrap_or(false),
                    })
                })
                .collect();
            let longest = waiting.iter().filter_map(|w| w["waited_s"].as_u64()).max();
            let chats = waiting.iter().filter(|w| w["channel"] == "chat").count();
            let calls = waiting.len() - chats;
            waiting.truncate(LISTED);
            json!({
                "name": name,
                "calls_waiting": calls,
                "chats_waiting": chats,
                "waiting": waiting,
                "longest_wait_s": longest,
                "after_hours": q["after_hours"].as_array().map_or(0, Vec::len),
                "logged_in": q["logged_in"],
            })
        })
        .collect();
    let agents: Vec<Value> = view["agents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            let ext = a["agent"].as_str()?;
            let name = names.get(ext)?;
            let (state, reason) = split_state(a["state"].as_str().unwrap_or("logged-out"));
            Some(json!({
                "ext": ext,
                "name": name,
                "state": state,
                "reason": reason,
                "chats_open": a["chats_open"].as_u64().unwrap_or(0),
            }))
        })
        .collect();
    json!({"type": "live", "queues": queues, "agents": agents})
}

/// The frame as a supervisor of `company` sees it: only that company's
/// queues and agents (`companies`: whose each is).
pub fn scoped(frame: &Value, company: &str, companies: &Companies) -> Value {
    let mine = |map: &BTreeMap<String, String>, id: Option<&str>| {
        id.and_then(|id| map.get(id))
            .is_some_and(|c| c.as_str() == company)
    };
    let keep = |key: &str, field: &str, map: &BTreeMap<String, String>| -> Vec<Value> {
        frame[key]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|v| mine(map, v[field].as_str()))
            .cloned()
            .collect()
    };
    json!({
        "type": "live",
        "queues": keep("queues", "name", &companies.queues),
        "agents": keep("agents", "ext", &companies.agents),
    })
}

/// `paused (lunch)` → (`paused`, `lunch`); other states as they are.
fn split_state(state: &str) -> (&str, Option<&str>) {
    match state
        .strip_prefix("paused (")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(reason) => ("paused", Some(reason)),
        None => (state, None),
    }
}

/// The frame without what changes by itself (the waits): two frames with
/// the same signature show the same thing.
fn signature(frame: &Value) -> String {
    let mut f = frame.clone();
    if let Some(queues) = f["queues"].as_array_mut() {
        for q in queues {
            q["longest_wait_s"] = Value::Null;
            if let Some(waiting) = q["waiting"].as_array_mut() {
                for w in waiting {
                    w["waited_s"] = Value::Null;
                }
            }
        }
    }
    f.to_string()
}

/// When to look at the view next and what was pushed last (per company
/// seen; `None`: every queue and agent).
#[derive(Debug, Default)]
pub struct Pacer {
    at: Option<Instant>,
    last: HashMap<Option<String>, String>,
}

impl Pacer {
    /// A supervisor's desk is open: look within [`EVERY`] (already
    /// looking: unchanged).
    pub fn start(&mut self, now: Instant) {
        self.at.get_or_insert(now + EVERY);
    }

    /// No supervisor's desk is open: stop looking.
    pub fn stop(&mut self) {
        *self = Pacer::default();
    }

    /// When to look next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.at
    }

    /// Whether it is time to look.
    pub fn due(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| at <= now)
    }

    /// Looked at `now`: next look [`EVERY`] later.
    pub fn looked(&mut self, now: Instant) {
        self.at = Some(now + EVERY);
    }

    /// The frame to push to the supervisors of `scope` when it shows
    /// something new to them (then it is their last pushed).
    pub fn changed(&mut self, scope: Option<&str>, frame: &Value) -> Option<String> {
        let sig = signature(frame);
        let key = scope.map(str::to_string);
        if self.last.get(&key) == Some(&sig) {
            return None;
        }
        self.last.insert(key, sig);
        Some(frame.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(waited: u64, state: &str) -> Value {
        json!({
            "queues": {
                "vendas": {
                    "waiting": [
                        {"task": 7, "position": 1, "waited_s": waited, "ringing": false,
                         "channel": "chat", "conversation": 3, "chat_channel": "site"},
                        {"task": 8, "position": 2, "waited_s": 2, "ringing": true,
                         "channel": "voice"},
                    ],
                    "after_hours": [{"conversation": 4}],
                    "logged_in": 1,
                },
                "suporte": {"waiting": [], "after_hours": [], "logged_in": 0},
            },
            "agents": [
                {"agent": "2001", "state": state, "chats_open": 2},
                {"agent": "2999", "state": "available"},
            ],
        })
    }

    fn names() -> BTreeMap<String, String> {
        [("2001".to_string(), "Ana".to_string())].into()
    }

    #[test]
    fn the_frame_has_queues_waits_and_agents_with_reasons() {
        let f = frame(&view(9, "paused (almoço)"), &names());
        assert_eq!(f["type"], "live");
        let vendas = &f["queues"].as_array().unwrap()[1];
        assert_eq!(vendas["name"], "vendas");
        assert_eq!(vendas["longest_wait_s"], 9);
        assert_eq!(vendas["after_hours"], 1);
        assert_eq!(vendas["waiting"][0]["channel"], "chat");
        assert_eq!(vendas["waiting"][0]["conversation"], 3);
        assert_eq!(vendas["waiting"][1]["channel"], "voice");
        assert_eq!(vendas["waiting"][1]["ringing"], true);
        assert_eq!(
            (
                vendas["calls_waiting"].clone(),
                vendas["chats_waiting"].clone()
            ),
            (json!(1), json!(1))
        );
        let suporte = &f["queues"][0];
        assert_eq!(suporte["longest_wait_s"], Value::Null);
        // Only configured agents, with their names.
        let agents = f["agents"].as_array().unwrap();
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0]["name"], "Ana");
        assert_eq!(agents[0]["state"], "paused");
        assert_eq!(agents[0]["reason"], "almoço");
        assert_eq!(agents[0]["chats_open"], 2);
        let f = frame(&view(9, "on-call"), &names());
        assert_eq!(f["agents"][0]["state"], "on-call");
        assert_eq!(f["agents"][0]["reason"], Value::Null);
    }

    #[test]
    fn a_long_queue_lists_the_first_in_line_and_counts_all() {
        let waiting: Vec<Value> = (0..LISTED + 50)
            .map(
                |i| json!({"channel": "chat", "conversation": i, "position": i + 1, "waited_s": 5}),
            )
            .collect();
        let view = json!({"queues": {"vendas": {"waiting": waiting}}, "agents": []});
        let f = frame(&view, &names());
        let q = &f["queues"][0];
        assert_eq!(q["waiting"].as_array().unwrap().len(), LISTED);
        assert_eq!(q["waiting"][0]["position"], 1);
        assert_eq!(q["chats_waiting"], LISTED + 50);
        assert_eq!(q["calls_waiting"], 0);
    }

    #[test]
    fn bad_views_give_empty_frames() {
        let f = frame(&json!({"queues": 3, "agents": "x"}), &names());
        assert_eq!(f["queues"], json!([]));
        assert_eq!(f["agents"], json!([]));
    }

    #[test]
    fn pushes_at_most_every_second_and_only_changes() {
        let t0 = Instant::now();
        let mut p = Pacer::default();
        assert_eq!(p.poll_timeout(), None);
        p.start(t0);
        p.start(t0 + Duration::from_millis(500));
        assert_eq!(p.poll_timeout(), Some(t0 + EVERY));
        assert!(!p.due(t0));
        let t1 = t0 + EVERY;
        assert!(p.due(t1));
        p.looked(t1);
        assert_eq!(p.poll_timeout(), Some(t1 + EVERY));
        let first = frame(&view(1, "available"), &names());
        assert!(p.changed(None, &first).is_some());
        // Only the waits grew: nothing pushed.
        assert!(p
            .changed(None, &frame(&view(2, "available"), &names()))
            .is_none());
        // Another company's supervisors have their own last frame.
        assert!(p.changed(Some("acme"), &first).is_some());
        // An agent's state changed: pushed.
        let pushed = p.changed(None, &frame(&view(3, "ringing"), &names()));
        assert!(pushed.is_some_and(|f| f.contains("ringing")));
        p.stop();
        assert_eq!(p.poll_timeout(), None);
        // Started again: the first look pushes.
        p.start(t1);
        assert!(p.changed(None, &first).is_some());
    }

    #[test]
    fn a_company_sees_its_queues_and_agents_only() {
        let f = frame(&view(1, "available"), &names());
        let mut companies = Companies::default();
        companies.queues.insert("vendas".into(), "acme".into());
        companies.queues.insert("suporte".into(), "globex".into());
        companies.agents.insert("2001".into(), "globex".into());
        let acme = scoped(&f, "acme", &companies);
        assert_eq!(acme["type"], "live");
        let names: Vec<&str> = acme["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["vendas"]);
        assert_eq!(acme["agents"], json!([]));
        let globex = scoped(&f, "globex", &companies);
        assert_eq!(globex["queues"][0]["name"], "suporte");
        assert_eq!(globex["agents"][0]["ext"], "2001");
        // Nobody's: nothing.
        assert_eq!(scoped(&f, "initech", &companies)["queues"], json!([]));
    }
}
