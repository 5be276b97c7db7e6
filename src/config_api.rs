//! The admin API's view of the engine ([`ura_api::Backend`]): a
//! configuration in the file's shape (JSON) is checked with the same rules
//! as the file, and applied to the running engine through the reload path.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};
use ura_api::{AgentAction, ApiError, Backend, NewPrompt, PromptAudio, PromptFile};
use ura_store::PromptRecord;

use crate::config::Config;
use crate::engine::queues::AgentCommand;
use crate::engine::EngineHandle;
use crate::routing::{Routing, RoutingConfig};

/// The tables of the configuration that the API edits.
pub const KINDS: [&str; 8] = [
    "numbers",
    "schedules",
    "services",
    "ivrs",
    "queues",
    "agents",
    "channels",
    "smtp",
];

/// The engine behind the API.
#[derive(Clone)]
pub struct EngineBackend {
    engine: Arc<OnceLock<EngineHandle>>,
    store: Option<ura_store::Store>,
    /// Names of the stored prompts, for checking references.
    stored_prompts: Arc<Mutex<std::collections::BTreeSet<String>>>,
    running: Arc<Mutex<Config>>,
    applied: Arc<Mutex<(usize, usize)>>,
    omni: Arc<OnceLock<crate::omni::Omni>>,
}

impl EngineBackend {
    /// A backend for a ura running with `config` (the engine is attached
    /// once it has started).
    pub fn new(config: Config) -> EngineBackend {
        EngineBackend {
            engine: Arc::new(OnceLock::new()),
            store: None,
            stored_prompts: Arc::new(Mutex::new(Default::default())),
            running: Arc::new(Mutex::new(config)),
            applied: Arc::new(Mutex::new((0, 0))),
            omni: Arc::new(OnceLock::new()),
        }
    }

    /// Where prompts are kept (the API's prompt routes need it).
    pub fn with_store(mut self, store: ura_store::Store) -> EngineBackend {
        self.store = Some(store);
        self
    }

    fn prompt_place(&self) -> Result<(ura_store::Store, ura_prompts::PromptLibrary), ApiError> {
        let store = self
            .store
            .clone()
            .ok_or_else(|| ApiError::Unavailable("no store for prompts".into()))?;
        let library = crate::prompt_admin::library(&self.running().data_dir)
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        Ok((store, library))
    }

    /// Reads the stored prompts' names again (references to prompts are
    /// checked against them and the built-ins).
    pub async fn refresh_prompt_names(&self) -> Result<(), ApiError> {
        let (store, _) = self.prompt_place()?;
        let names = store
            .list_prompts()
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        *self
            .stored_prompts
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = names;
        Ok(())
    }

    /// Refuses a reference to a prompt that is neither stored nor built in.
    fn check_prompts(&self, config: &Value) -> Result<(), ApiError> {
        let stored = self
            .stored_prompts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let known = |name: &str| stored.contains(name) || builtin_names().contains(name);
        let mut refs: Vec<(String, String)> = Vec::new();
        let mut take = |place: String, v: Option<&Value>| {
            if let Some(name) = v.and_then(Value::as_str) {
                refs.push((place, name.to_string()));
            }
        };
        let objects = |kind: &str| {
            config
                .get(kind)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        for (id, ivr) in objects("ivrs") {
            for f in [
                "welcome",
                "closed",
                "invalid_option",
                "no_input",
                "no_answer",
                "service_closed",
            ] {
                take(format!("ivrs.{id}.{f}"), ivr.get(f));
            }
            take(
                format!("ivrs.{id}.menu.prompt"),
                ivr.pointer("/menu/prompt"),
            );
            for (sub, menu) in ivr
                .get("submenus")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                take(
                    format!("ivrs.{id}.submenus.{sub}.prompt"),
                    menu.get("prompt"),
                );
            }
        }
        for (id, q) in objects("queues") {
            for f in ["hold_music", "periodic_prompt"] {
                take(format!("queues.{id}.{f}"), q.get(f));
            }
        }
        match refs.into_iter().find(|(_, name)| !known(name)) {
            Some((field, name)) => Err(ApiError::invalid(
                field,
                format!("no prompt named {name:?} (stored or built in)"),
            )),
            None => Ok(()),
        }
    }

    /// Makes the engine load the stored prompts again.
    async fn reload_prompts(&self) -> Result<(), ApiError> {
        self.refresh_prompt_names().await?;
        if let Some(engine) = self.engine.get() {
            let counts = engine
                .reload(self.running())
                .await
                .map_err(|e| ApiError::Unavailable(format!("saved, but not loaded: {e}")))?;
            *self.applied.lock().unwrap_or_else(|e| e.into_inner()) = counts;
        }
        Ok(())
    }

    /// The running engine, once started.
    pub fn engine(&self) -> Option<EngineHandle> {
        self.engine.get().cloned()
    }

    /// A text channel's settings, as the configuration in force has them.
    pub fn channel(&self, id: &str) -> Option<ura_channels::ChannelConfig> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .routing
            .channels
            .get(id)
            .cloned()
    }

    /// Starts delivering the omni channels' messages (with the store's
    /// delivery log).
    pub async fn start_omni(&self, store: ura_store::Store) -> Result<(), ura_store::StoreError> {
        let hooks = crate::omni::hooks_of(&self.running().routing);
        let omni = crate::omni::Omni::start(store, hooks).await?;
        let _ = self.omni.set(omni);
        Ok(())
    }

    /// The omni channels' delivery task, once started.
    pub fn omni(&self) -> Option<&crate::omni::Omni> {
        self.omni.get()
    }

    /// The store, when ura runs with one (the desk reads a customer's
    /// earlier conversations from it).
    pub fn store(&self) -> Option<&ura_store::Store> {
        self.store.as_ref()
    }

    /// An agent's name, as the configuration in force has it.
    pub fn agent_name(&self, ext: &str) -> Option<String> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .routing
            .agents
            .get(ext)
            .map(|a| a.name.clone())
    }

    /// Connects the started engine.
    pub fn attach(&self, engine: EngineHandle) {
        let _ = self.engine.set(engine);
    }

    /// The settings in force (after a reload, the ones it took).
    pub fn set_running(&self, config: Config) {
        if let Some(omni) = self.omni.get() {
            omni.set_hooks(crate::omni::hooks_of(&config.routing));
        }
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
    let mut companies = crate::routing::Companies::default();
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
                        if let Some(Value::String(company)) = o.remove("company") {
                            match kind {
                                "agents" => companies.agents.insert(id.clone(), company),
                                "queues" => companies.queues.insert(id.clone(), company),
                                _ => None,
                            };
                        }
                    }
                    let place = format!("{kind}.{id}");
                    match kind {
                        "schedules" => typed::<ura_ivr::ScheduleConfig>(&place, &v)?,
                        "services" => typed::<crate::routing::ServiceConfig>(&place, &v)?,
                        "ivrs" => typed::<ura_ivr::IvrConfig>(&place, &v)?,
                        "queues" => typed::<crate::queues::QueueConfig>(&place, &v)?,
                        "channels" => typed::<ura_channels::ChannelConfig>(&place, &v)?,
                        "smtp" => typed::<ura_channels::SmtpConfig>(&place, &v)?,
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
    let mut routing: RoutingConfig = serde_json::from_value(Value::Object(out))
        .map_err(|e| ApiError::invalid("", e.to_string()))?;
    routing.companies = companies;
    Ok(routing)
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

/// Voice variants espeak-ng has for every language (`pt-BR+f2`).
const VARIANTS: [&str; 8] = ["m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4"];

/// The voices: each language ura knows, and its espeak-ng variants.
pub fn voices() -> Vec<Value> {
    ura_tts::Language::ALL
        .iter()
        .flat_map(|l| {
            std::iter::once(json!({"voice": l.tag(), "language": l.tag(), "engine": "espeak-ng"}))
                .chain(VARIANTS.iter().map(move |v| {
                    json!({"voice": format!("{}+{v}", l.tag()), "language": l.tag(), "engine": "espeak-ng"})
                }))
        })
        .collect()
}

/// A voice of [`voices`] (any case, `_` for `-`) as espeak-ng names it,
/// and its language; `None` for a voice ura does not have.
pub fn parse_voice(voice: &str) -> Option<(ura_tts::Voice, ura_tts::Language)> {
    let (lang, variant) = match voice.split_once('+') {
        Some((l, v)) => (l, Some(v.to_ascii_lowercase())),
        None => (voice, None),
    };
    let language = ura_tts::Language::from_tag(lang)?;
    let base = ura_tts::EspeakNg::voice_arg(&ura_tts::Voice::Language(language)).to_string();
    match variant {
        None => Some((ura_tts::Voice::Language(language), language)),
        Some(v) if VARIANTS.contains(&v.as_str()) => {
            Some((ura_tts::Voice::Named(format!("{base}+{v}")), language))
        }
        Some(_) => None,
    }
}

fn prompt_view(p: &PromptRecord) -> Value {
    json!({
        "name": p.name,
        "company": p.company,
        "language": p.language,
        "duration_ms": p.duration_ms,
        "source": p.source.as_str(),
        "text": p.tts_text,
        "voice": p.tts_voice,
        "rate": p.tts_rate,
        "created_at": p.created_at,
        "audio_hash": p.audio_hash,
        "original_hash": p.original_hash,
    })
}

/// The built-in prompts' names (loaded once).
fn builtin_names() -> &'static std::collections::BTreeSet<String> {
    static NAMES: OnceLock<std::collections::BTreeSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        ura_prompts::BuiltinPrompts::load()
            .map(|b| b.names().map(str::to_string).collect())
            .unwrap_or_default()
    })
}

impl Backend for EngineBackend {
    async fn prompts(&self) -> Result<Vec<Value>, ApiError> {
        let (store, _) = self.prompt_place()?;
        let list = store.list_prompts().await?;
        Ok(list.iter().map(prompt_view).collect())
    }

    async fn save_prompt(&self, p: NewPrompt) -> Result<Value, ApiError> {
        crate::prompt_admin::check_name(&p.name)
            .map_err(|e| ApiError::invalid("name", e.to_string()))?;
        let language = match &p.language {
            Some(l) => Some(
                ura_tts::Language::from_tag(l)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "language",
                            format!("{l:?}: one of pt-BR, pt-PT, en-US, es"),
                        )
                    })?
                    .tag()
                    .to_string(),
            ),
            None => None,
        };
        let (store, library) = self.prompt_place()?;
        let (bytes, source, tts, language) = match p.audio {
            PromptAudio::Upload(bytes) => (
                bytes,
                ura_store::PromptSource::Upload,
                None,
                language.unwrap_or_else(|| "pt-BR".into()),
            ),
            PromptAudio::Text { text, voice, rate } => {
                let (parsed, voice_language) = parse_voice(&voice).ok_or_else(|| {
                    ApiError::invalid(
                        "voice",
                        format!("{voice:?} is not a voice of ura's: see GET /api/v1/voices"),
                    )
                })?;
                let chars = text.chars().count();
                if text.trim().is_empty() || chars > 5000 {
                    return Err(ApiError::invalid("text", "1 to 5000 characters"));
                }
                let rate = ura_tts::Rate::new(rate)
                    .map_err(|e| ApiError::invalid("rate", e.to_string()))?;
                let cache = ura_tts::Cache::open(self.running().data_dir.join("tts-cache"))
                    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
                let tts =
                    ura_tts::CachedSynthesizer::new(Box::new(ura_tts::EspeakNg::new()), cache);
                let spoken = text.clone();
                let speaking = parsed.clone();
                let audio = tokio::task::spawn_blocking(move || {
                    use ura_tts::Synthesizer;
                    tts.synthesize(&spoken, &speaking, rate)
                })
                .await
                .map_err(|e| ApiError::Unavailable(format!("tts task: {e}")))?
                .map_err(|e| ApiError::Unavailable(format!("text to speech: {e}")))?;
                let wav = ura_tts::encode_wav(&audio)
                    .map_err(|e| ApiError::Unavailable(format!("text to speech: {e}")))?;
                (
                    wav,
                    ura_store::PromptSource::Tts,
                    Some((text, voice.clone(), rate.wpm().to_string())),
                    language.unwrap_or_else(|| voice_language.tag().to_string()),
                )
            }
        };
        let meta = crate::prompt_admin::NewPrompt {
            name: p.name,
            language,
            source,
            tts,
        };
        let (record, _) = crate::prompt_admin::save_for(&store, &library, bytes, meta, &p.company)
            .await
            .map_err(|e| match e {
                crate::error::UraError::Store(e) => ApiError::Store(e),
                other => ApiError::invalid("file", other.to_string()),
            })?;
        self.reload_prompts().await?;
        Ok(prompt_view(&record))
    }

    async fn delete_prompt(&self, company: &str, name: &str) -> Result<(), ApiError> {
        let (store, _) = self.prompt_place()?;
        if !store.delete_prompt(company, name).await? {
            return Err(ApiError::NotFound(format!("no prompt named {name:?}")));
        }
        self.reload_prompts().await
    }

    async fn prompt_file(
        &self,
        p: &Value,
        which: PromptFile,
    ) -> Result<(Vec<u8>, String), ApiError> {
        let (_, library) = self.prompt_place()?;
        let hash = |f: &str| p[f].as_str().unwrap_or("").to_string();
        match which {
            PromptFile::Rendered => {
                let pcm = library
                    .load_pcm(&hash("audio_hash"))
                    .map_err(|e| ApiError::NotFound(format!("the prompt's audio: {e}")))?;
                Ok((crate::prompt_admin::wav_bytes(&pcm), "audio/wav".into()))
            }
            PromptFile::Original => {
                let want = hash("original_hash");
                let dir = library.root().join("originals");
                let found = std::fs::read_dir(&dir)
                    .ok()
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .find(|path| {
                        !want.is_empty()
                            && path.file_stem().and_then(|s| s.to_str()) == Some(want.as_str())
                    })
                    .ok_or_else(|| ApiError::NotFound("the prompt has no original file".into()))?;
                let bytes = std::fs::read(&found)
                    .map_err(|e| ApiError::NotFound(format!("the original file: {e}")))?;
                let ctype = match found.extension().and_then(|e| e.to_str()) {
                    Some("mp3") => "audio/mpeg",
                    _ => "audio/wav",
                };
                Ok((bytes, ctype.into()))
            }
        }
    }

    fn voices(&self) -> Vec<Value> {
        voices()
    }

    fn check(&self, config: &Value) -> Result<(), ApiError> {
        check(config)?;
        self.check_prompts(config)
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

    async fn open_conversations(&self, channel: String) -> Result<Vec<String>, String> {
        match self.engine.get() {
            Some(e) => e.open_conversations(channel).await,
            None => Ok(Vec::new()),
        }
    }

    fn channel_state(&self, channel: &str, enabled: bool) -> (String, Option<String>) {
        let (state, reason) = match self.omni.get() {
            Some(omni) => omni.state(channel, enabled),
            None => (if enabled { "connected" } else { "disabled" }, None),
        };
        (state.to_string(), reason)
    }

    async fn restart_channel(&self, channel: String) -> usize {
        match self.omni.get() {
            Some(omni) => omni.restart(&channel).await,
            None => 0,
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
