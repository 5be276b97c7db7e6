//! The admin API's view of the engine ([`ura_api::Backend`]): a
//! configuration in the file's shape (JSON) is checked with the same rules
//! as the file, and applied to the running engine through the reload path.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};
use ura_api::{AgentAction, ApiError, Backend};

use crate::config::Config;
use crate::engine::queues::AgentCommand;
use crate::engine::EngineHandle;
use crate::routing::{Routing, RoutingConfig};

/// The tables of the configuration that the API edits.
pub const KINDS: [&str; 6] = [
    "numbers",
    "schedules",
    "services",
    "ivrs",
    "queues",
    "agents",
];

/// The engine behind the API.
#[derive(Clone)]
pub struct EngineBackend {
    engine: Arc<OnceLock<EngineHandle>>,
    running: Arc<Mutex<Config>>,
    applied: Arc<Mutex<(usize, usize)>>,
}

impl EngineBackend {
    /// A backend for a ura running with `config` (the engine is attached
    /// once it has started).
    pub fn new(config: Config) -> EngineBackend {
        EngineBackend {
            engine: Arc::new(OnceLock::new()),
            running: Arc::new(Mutex::new(config)),
            applied: Arc::new(Mutex::new((0, 0))),
        }
    }

    /// Connects the started engine.
    pub fn attach(&self, engine: EngineHandle) {
        let _ = self.engine.set(engine);
    }

    /// The settings in force (after a reload, the ones it took).
    pub fn set_running(&self, config: Config) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// How many numbers and stored prompts the last applied configuration
    /// has.
    pub fn applied(&self) -> (usize, usize) {
        *self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self) -> Config {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The field a serde message names (`unknown field `x``, `missing field `y``).
fn field_in(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// Reads one object into its type; a refusal names the field by its path
/// (`ivrs.main.menu.options`).
fn typed<T: serde::de::DeserializeOwned>(place: &str, v: &Value) -> Result<(), ApiError> {
    serde_path_to_error::deserialize::<_, T>(v.clone())
        .map(|_| ())
        .map_err(|e| {
            let path = e.path().to_string();
            let mut field = place.to_string();
            if path != "." && !path.is_empty() {
                field = format!("{field}.{path}");
            }
            // `unknown field `x``: the field is x itself.
            let message = e.inner().to_string();
            if let Some(f) = field_in(&message).filter(|_| message.starts_with("missing field")) {
                field = format!("{field}.{f}");
            }
            ApiError::invalid(field, message)
        })
}

/// Reads a configuration in the file's shape into the engine's types,
/// object by object, so that an error names the object and its field.
/// `company` is the API's and is not a field of the file's tables (but
/// numbers carry it).
pub fn routing_from_json(config: &Value) -> Result<RoutingConfig, ApiError> {
    let empty = Map::new();
    let table = config.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for kind in KINDS {
        let value = table.get(kind).cloned().unwrap_or(Value::Null);
        let cleaned = match value {
            Value::Array(list) => Value::Array(
                list.into_iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let id = n
                            .get("number")
                            .and_then(Value::as_str)
                            .map_or_else(|| format!("[{i}]"), |s| format!(".{s}"));
                        typed::<crate::routing::NumberConfig>(&format!("{kind}{id}"), &n)?;
                        Ok(n)
                    })
                    .collect::<Result<_, ApiError>>()?,
            ),
            Value::Object(m) => {
                let mut cleaned = Map::new();
                for (id, mut v) in m {
                    if let Value::Object(o) = &mut v {
                        o.remove("company");
                    }
                    let place = format!("{kind}.{id}");
                    match kind {
                        "schedules" => typed::<ura_ivr::ScheduleConfig>(&place, &v)?,
                        "services" => typed::<crate::routing::ServiceConfig>(&place, &v)?,
                        "ivrs" => typed::<ura_ivr::IvrConfig>(&place, &v)?,
                        "queues" => typed::<crate::queues::QueueConfig>(&place, &v)?,
                        _ => typed::<crate::queues::AgentConfig>(&place, &v)?,
                    }
                    cleaned.insert(id, v);
                }
                Value::Object(cleaned)
            }
            Value::Null => continue,
            _ => return Err(ApiError::invalid(kind, "expected a table")),
        };
        out.insert(kind.into(), cleaned);
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| ApiError::invalid("", e.to_string()))
}

/// Checks a configuration by the engine's rules; the error's field is
/// said as `kind.id.field` (a number's index turned into the number).
pub fn check(config: &Value) -> Result<RoutingConfig, ApiError> {
    let routing = routing_from_json(config)?;
    if let Err(e) = Routing::build(&routing) {
        let message = match e {
            crate::error::UraError::Config(m) => m,
            other => other.to_string(),
        };
        let (field, mut why) = message.split_once(": ").unwrap_or(("", message.as_str()));
        // `schedules.x: weekly.mon[1]: …`: the inner place joins the field.
        let mut field = field.to_string();
        while let Some((inner, rest)) = why.split_once(": ") {
            let place = !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.[]".contains(&b));
            if !place {
                break;
            }
            field = format!("{field}.{inner}");
            why = rest;
        }
        // `numbers[3].ivr` → `numbers.+5511….ivr`
        let field = match field
            .strip_prefix("numbers[")
            .and_then(|r| r.split_once(']'))
        {
            Some((i, rest)) => {
                let number = i
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| routing.numbers.get(i))
                    .map_or(i.to_string(), |n| n.number.clone());
                format!("numbers.{number}{rest}")
            }
            None => field.to_string(),
        };
        return Err(ApiError::invalid(field, why));
    }
    Ok(routing)
}

/// A configuration file's tables (or the demo's) in the file's shape.
pub fn file_tables(toml_text: &str) -> Result<Value, String> {
    let value: toml::Value = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let mut out = Map::new();
    if let Value::Object(m) = json {
        for (k, v) in m {
            if KINDS.contains(&k.as_str()) {
                out.insert(k, v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// The configuration as TOML, in the file's format.
pub fn to_toml(config: &Value) -> Result<String, String> {
    toml::to_string(config).map_err(|e| e.to_string())
}

impl Backend for EngineBackend {
    fn check(&self, config: &Value) -> Result<(), ApiError> {
        check(config).map(|_| ())
    }

    async fn apply(&self, config: Value) -> Result<(), String> {
        let routing = check(&config).map_err(|e| e.to_string())?;
        let Some(engine) = self.engine.get() else {
            return Ok(());
        };
        let mut running = self.running();
        running.routing = routing;
        let counts = engine
            .reload(running.clone())
            .await
            .map_err(|e| e.to_string())?;
        *self.applied.lock().unwrap_or_else(|e| e.into_inner()) = counts;
        self.set_running(running);
        Ok(())
    }

    async fn live(&self) -> Option<Value> {
        self.engine.get()?.queue_status().await
    }

    async fn agent_command(&self, ext: String, action: AgentAction) -> Result<(), String> {
        let cmd = match action {
            AgentAction::Login => AgentCommand::Login,
            AgentAction::Logout => AgentCommand::Logout,
            AgentAction::Pause(r) => AgentCommand::Pause(r),
            AgentAction::Resume => AgentCommand::Resume,
        };
        match self.engine.get() {
            Some(e) => e.agent_command(ext, cmd).await,
            None => Err("ura is starting".into()),
        }
    }

    fn dial_forms(&self, number: &Value) -> Vec<String> {
        let mut fields = number.clone();
        if let Value::Object(o) = &mut fields {
            o.remove("company");
        }
        serde_json::from_value::<crate::routing::NumberConfig>(fields)
            .map(|n| crate::routing::dial_forms(&n))
            .unwrap_or_default()
    }

    fn schedule_check(&self, schedule: &Value, at: Option<&str>) -> Result<Value, ApiError> {
        let mut fields = schedule.clone();
        if let Value::Object(o) = &mut fields {
            o.remove("company");
        }
        let config: ura_ivr::ScheduleConfig =
            serde_json::from_value(fields).map_err(|e| ApiError::invalid("", e.to_string()))?;
        let schedule = config
            .build()
            .map_err(|e| ApiError::invalid("", e.to_string()))?;
        let at = match at {
            Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    ApiError::invalid(
                        "at",
                        format!("{e} (want RFC 3339, e.g. 2026-12-25T10:00:00-03:00)"),
                    )
                })?
                .with_timezone(&chrono::Utc),
            None => chrono::Utc::now(),
        };
        let tz = schedule.timezone();
        let open = schedule.is_open(at);
        let next = if open {
            schedule.next_close(at)
        } else {
            schedule.next_open(at)
        };
        Ok(json!({
            "at": at.with_timezone(&tz).to_rfc3339(),
            "timezone": tz.to_string(),
            "open": open,
            if open { "closes" } else { "opens" }: next.map(|t| t.with_timezone(&tz).to_rfc3339()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_reads_back_and_errors_name_the_field() {
        let demo = file_tables(crate::routing::DEMO).unwrap();
        let routing = check(&demo).unwrap();
        assert!(!routing.numbers.is_empty());
        let mut bad = demo.clone();
        bad["numbers"][0]["ivr"] = json!("nosuch");
        let number = bad["numbers"][0]["number"].as_str().unwrap().to_string();
        match check(&bad).unwrap_err() {
            ApiError::Invalid { field, message } => {
                assert_eq!(field, format!("numbers.{number}.ivr"));
                assert!(message.contains("nosuch"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let mut bad = demo.clone();
        bad["schedules"] = json!({"x": {"timezone": "UTC", "wekly": {}}});
        match check(&bad).unwrap_err() {
            ApiError::Invalid { field, .. } => assert_eq!(field, "schedules.x.wekly"),
            other => panic!("{other:?}"),
        }
        let toml = to_toml(&demo).unwrap();
        assert_eq!(file_tables(&toml).unwrap(), demo);
    }
}
