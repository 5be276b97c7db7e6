//! Inbound numbers and where they lead: the `[[numbers]]`, `[schedules.*]`,
//! `[services.*]` and `[ivrs.*]` tables of the configuration file.
//!
//! A number is matched on the Request-URI user (or To) after normalisation:
//! for `+55 11 3000-0000` the forms `+551130000000`, `551130000000`,
//! `01130000000`, `1130000000` and `00551130000000` all reach the same entry.
//! Short numbers without a country code (extensions such as `1000`) match
//! as written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use ura_ivr::{Fallback, Ivr, IvrConfig, Lang, Schedule, ScheduleConfig, ServiceId, Target, Tz};

use crate::error::UraError;

/// The demo configuration served when the configuration file has no numbers.
pub const DEMO: &str = include_str!("demo.toml");

/// One inbound number, as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberConfig {
    /// E.164 (`+551130000000`) or a short number (`1000`).
    pub number: String,
    /// ISO country (`BR`), used to find the country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Area code (`11`).
    #[serde(default)]
    pub area_code: Option<String>,
    /// A name for admins.
    pub name: String,
    /// The company it belongs to.
    #[serde(default)]
    pub company: Option<String>,
    /// IANA time zone; the schedule's zone when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Language of what callers hear.
    #[serde(default)]
    pub language: Lang,
    /// The IVR it leads to (a key of `[ivrs]`).
    pub ivr: String,
    /// Business hours (a key of `[schedules]`); always open when absent.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// A service callers can choose.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Its name (what the call record says).
    pub name: String,
    /// Its own hours (a key of `[schedules]`), within the number's.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The agent queue callers wait in (a key of `[queues]`); absent: the
    /// queue with the service's id, if there is one.
    #[serde(default)]
    pub queue: Option<String>,
    /// A service with no queue: seconds of hold music before the no-answer
    /// prompt.
    #[serde(default = "default_hold")]
    pub hold_seconds: u64,
}

fn default_hold() -> u64 {
    20
}

/// The routing part of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoutingConfig {
    /// Inbound numbers.
    #[serde(default)]
    pub numbers: Vec<NumberConfig>,
    /// Schedules by name.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleConfig>,
    /// Services by id.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
    /// IVRs by name.
    #[serde(default)]
    pub ivrs: BTreeMap<String, IvrConfig>,
    /// Agent queues by id.
    #[serde(default)]
    pub queues: BTreeMap<String, crate::queues::QueueConfig>,
    /// Agents by extension.
    #[serde(default)]
    pub agents: BTreeMap<String, crate::queues::AgentConfig>,
    /// Text channels (web chat) by id.
    #[serde(default)]
    pub channels: BTreeMap<String, ura_channels::ChannelConfig>,
    /// SMTP servers (web chat transcripts) by id.
    #[serde(default)]
    pub smtp: BTreeMap<String, ura_channels::SmtpConfig>,
    /// Whose agents and queues (store mode, from the documents; empty
    /// from a file).
    #[serde(skip)]
    pub companies: Companies,
}

/// The company of each agent and queue, as the admin API's documents say
/// (the engine's tables are flat: ids are unique across companies).
#[derive(Debug, Clone, Default)]
pub struct Companies {
    /// By agent extension.
    pub agents: BTreeMap<String, String>,
    /// By queue id.
    pub queues: BTreeMap<String, String>,
}

/// A number ready to take calls.
#[derive(Debug)]
pub struct Number {
    /// As configured.
    pub config: NumberConfig,
    /// Its IVR, validated.
    pub ivr: Arc<Ivr>,
    /// Its hours.
    pub schedule: Schedule,
    /// Services with hours of their own.
    pub service_schedules: BTreeMap<ServiceId, Schedule>,
    /// Services by id.
    pub services: Arc<BTreeMap<ServiceId, ServiceConfig>>,
    /// The agent queue of each service that has one.
    pub queues: Arc<BTreeMap<ServiceId, String>>,
}

/// A text channel ready to take conversations.
#[derive(Debug)]
pub struct TextChannel {
    /// Its id (`[channels.ID]`).
    pub id: String,
    /// As configured.
    pub config: ura_channels::ChannelConfig,
    /// The text menu: the IVR without its recorded prompts, or straight
    /// to the channel's service.
    pub ivr: Arc<Ivr>,
    /// Its hours.
    pub schedule: Schedule,
    /// Services with hours of their own.
    pub service_schedules: BTreeMap<ServiceId, Schedule>,
    /// The agent queue of each service that has one.
    pub queues: Arc<BTreeMap<ServiceId, String>>,
    /// Its hours and its services' own, shared by the conversations it
    /// keeps out of hours.
    pub hours: Arc<ura_channels::OpeningHours>,
    /// The SMTP server that e-mails its transcripts (`smtp`).
    pub smtp: Option<Arc<ura_channels::SmtpConfig>>,
}

/// Every number, by each of its dialled forms, and every text channel.
#[derive(Debug, Default)]
pub struct Routing {
    by_key: HashMap<String, Arc<Number>>,
    numbers: Vec<Arc<Number>>,
    channels: BTreeMap<String, Arc<TextChannel>>,
}

/// Country calling codes of the countries we know by name.
fn calling_code(country: &str) -> Option<&'static str> {
    Some(match country.to_ascii_uppercase().as_str() {
        "BR" => "55",
        "PT" => "351",
        "US" | "CA" => "1",
        "ES" => "34",
        "AR" => "54",
        "MX" => "52",
        "CL" => "56",
        "CO" => "57",
        "GB" => "44",
        _ => return None,
    })
}

/// Every service an IVR can send calls to.
fn services_of(cfg: &IvrConfig) -> Vec<ServiceId> {
    let mut out: Vec<ServiceId> = std::iter::once(&cfg.menu)
        .chain(cfg.submenus.values())
        .flat_map(|m| m.items.iter())
        .filter_map(|item| match &item.target {
            Target::Service(s) => Some(s.clone()),
            Target::Menu(_) => None,
        })
        .collect();
    if let Fallback::Service(s) = &cfg.fallback {
        out.push(s.clone());
    }
    out.extend(cfg.operator.clone());
    out
}

/// Digits (and a leading `+`) of a dialled string.
pub fn clean(dialled: &str) -> String {
    let mut out = String::with_capacity(dialled.len());
    for (i, c) in dialled.trim().chars().enumerate() {
        if c.is_ascii_digit() || (c == '+' && i == 0) {
            out.push(c);
        }
    }
    out
}

/// The forms under which a configured number can be dialled.
pub fn dial_forms(n: &NumberConfig) -> Vec<String> {
    let cleaned = clean(&n.number);
    let Some(full) = cleaned.strip_prefix('+') else {
        // A short number: as written.
        return vec![cleaned];
    };
    let mut forms = vec![format!("+{full}"), full.to_string(), format!("00{full}")];
    let code = n.country.as_deref().and_then(calling_code);
    if let Some(national) = code.and_then(|c| full.strip_prefix(c)) {
        forms.push(national.to_string());
        forms.push(format!("0{national}"));
    }
    forms
}

/// One line per number ura answers, for the start-up log: the configured
/// numbers with where they lead, the built-in demo numbers, the feature
/// codes.
pub fn served(config: &crate::config::Config) -> Vec<String> {
    let r = &config.routing;
    let mut out: Vec<String> = r
        .numbers
        .iter()
        .map(|n| {
            let hours = n.schedule.as_deref().unwrap_or("always open");
            format!("{} ({}): IVR {}, hours {hours}", n.number, n.name, n.ivr)
        })
        .collect();
    for (ext, a) in &r.agents {
        let queues: Vec<&str> = a.queues.keys().map(String::as_str).collect();
        out.push(format!(
            "agent {ext} ({}): queues {}",
            a.name,
            queues.join(", ")
        ));
    }
    for (id, c) in &r.channels {
        let state = if c.enabled { "" } else { " (disabled)" };
        out.push(format!(
            "web chat {id} ({}){state}: try it at http://{}/chat/{id}; agents answer at http://{}/desk",
            c.description, config.http, config.http
        ));
    }
    out.push("9000: digit echo (demo); 9100: endless prompt (load tests)".into());
    if !r.agents.is_empty() {
        out.push("*40 *41 *42 *43 from an agent's phone: log in, log out, pause, resume".into());
    }
    match &config.recording_pin {
        Some(_) => out.push(format!(
            "{}: record a prompt by phone",
            config.recording_code
        )),
        None => out.push(format!(
            "{}: recording by phone is off (start with --recording-pin)",
            config.recording_code
        )),
    }
    out
}

impl Routing {
    /// Builds and validates the routing; errors name the table and field.
    pub fn build(cfg: &RoutingConfig) -> Result<Routing, UraError> {
        let bad = |what: String| UraError::Config(what);
        crate::queues::check(&cfg.queues, &cfg.agents, &cfg.services)?;
        let mut schedules = BTreeMap::new();
        for (name, s) in &cfg.schedules {
            let built = s
                .build()
                .map_err(|e| bad(format!("schedules.{name}: {e}")))?;
            schedules.insert(name.clone(), built);
        }
        let find_schedule = |name: &str, field: String| {
            schedules
                .get(name)
                .cloned()
                .ok_or_else(|| bad(format!("{field}: no schedule named {name:?}")))
        };
        let mut service_schedules = BTreeMap::new();
        let mut services = BTreeMap::new();
        for (id, s) in &cfg.services {
            let sid = ServiceId::new(id.as_str());
            if let Some(name) = &s.schedule {
                service_schedules.insert(
                    sid.clone(),
                    find_schedule(name, format!("services.{id}.schedule"))?,
                );
            }
            services.insert(sid, s.clone());
        }
        let services = Arc::new(services);
        let queues: Arc<BTreeMap<ServiceId, String>> = Arc::new(
            cfg.services
                .iter()
                .filter_map(|(id, s)| {
                    crate::queues::queue_of(id, Some(s), &cfg.queues)
                        .map(|q| (ServiceId::new(id.as_str()), q.to_string()))
                })
                .collect(),
        );
        let mut ivrs = BTreeMap::new();
        for (name, i) in &cfg.ivrs {
            for service in services_of(i) {
                if !services.contains_key(&service) {
                    return Err(bad(format!(
                        "ivrs.{name}: no service named {:?}",
                        service.as_str()
                    )));
                }
            }
            let ivr = i
                .clone()
                .validate()
                .map_err(|e| bad(format!("ivrs.{name}: {e}")))?;
            ivrs.insert(name.clone(), Arc::new(ivr));
        }
        let mut routing = Routing::default();
        let mut smtp = BTreeMap::new();
        for (id, s) in &cfg.smtp {
            s.check().map_err(|e| match e {
                ura_channels::ChannelsError::Invalid { field: f, message } => {
                    bad(format!("smtp.{id}.{f}: {message}"))
                }
                other => bad(format!("smtp.{id}: {other}")),
            })?;
            smtp.insert(id.clone(), Arc::new(s.clone()));
        }
        for (id, c) in &cfg.channels {
            let field = |f: &str| format!("channels.{id}.{f}");
            c.check().map_err(|e| match e {
                ura_channels::ChannelsError::Invalid { field: f, message } => {
                    bad(format!("{}: {message}", field(&f)))
                }
                other => bad(format!("channels.{id}: {other}")),
            })?;
            let decision_zone = match &c.schedule {
                Some(name) => find_schedule(name, field("schedule"))?,
                None => Schedule::always_open(Tz::UTC),
            };
            let ivr = match (&c.ivr, &c.service) {
                (Some(name), _) => {
                    let config = cfg
                        .ivrs
                        .get(name)
                        .ok_or_else(|| bad(format!("{}: no IVR named {name:?}", field("ivr"))))?;
                    config
                        .without_prompts()
                        .validate()
                        .map_err(|e| bad(format!("{}: {e}", field("ivr"))))?
                }
                (None, Some(service)) => {
                    let sid = ServiceId::new(service.as_str());
                    if !services.contains_key(&sid) {
                        return Err(bad(format!(
                            "{}: no service named {service:?}",
                            field("service")
                        )));
                    }
                    IvrConfig::straight_to(sid)
                        .validate()
                        .map_err(|e| bad(format!("{}: {e}", field("service"))))?
                }
                (None, None) => return Err(bad(format!("{}: missing", field("ivr")))),
            };
            let smtp = match &c.smtp {
                Some(name) => Some(smtp.get(name).cloned().ok_or_else(|| {
                    bad(format!("{}: no SMTP server named {name:?}", field("smtp")))
                })?),
                None => None,
            };
            routing.channels.insert(
                id.clone(),
                Arc::new(TextChannel {
                    smtp,
                    id: id.clone(),
                    config: c.clone(),
                    ivr: Arc::new(ivr),
                    hours: Arc::new(ura_channels::OpeningHours {
                        channel: decision_zone.clone(),
                        services: service_schedules.clone(),
                    }),
                    schedule: decision_zone,
                    service_schedules: service_schedules.clone(),
                    queues: queues.clone(),
                }),
            );
        }
        for (i, n) in cfg.numbers.iter().enumerate() {
            let field = |f: &str| format!("numbers[{i}].{f}");
            let ivr = ivrs
                .get(&n.ivr)
                .cloned()
                .ok_or_else(|| bad(format!("{}: no IVR named {:?}", field("ivr"), n.ivr)))?;
            let schedule = match &n.schedule {
                Some(name) => find_schedule(name, field("schedule"))?,
                None => {
                    let tz: Tz = match &n.timezone {
                        Some(z) => z.parse().map_err(|_| {
                            bad(format!("{}: unknown time zone {z:?}", field("timezone")))
                        })?,
                        None => Tz::UTC,
                    };
                    Schedule::always_open(tz)
                }
            };
            if clean(&n.number).trim_start_matches('+').is_empty() {
                return Err(bad(format!(
                    "{}: no digits in {:?}",
                    field("number"),
                    n.number
                )));
            }
            let number = Arc::new(Number {
                config: n.clone(),
                ivr,
                schedule,
                service_schedules: service_schedules.clone(),
                services: services.clone(),
                queues: queues.clone(),
            });
            for form in dial_forms(n) {
                if routing
                    .by_key
                    .insert(form.clone(), number.clone())
                    .is_some()
                {
                    return Err(bad(format!(
                        "{}: {form} is configured twice",
                        field("number")
                    )));
                }
            }
            routing.numbers.push(number);
        }
        Ok(routing)
    }

    /// The number a caller dialled, if configured.
    pub fn lookup(&self, dialled: &str) -> Option<Arc<Number>> {
        let c = clean(dialled);
        self.by_key
            .get(&c)
            .or_else(|| self.by_key.get(c.trim_start_matches('+')))
            .cloned()
    }

    /// All numbers, in configuration order.
    pub fn numbers(&self) -> &[Arc<Number>] {
        &self.numbers
    }

    /// A text channel by id.
    pub fn channel(&self, id: &str) -> Option<Arc<TextChannel>> {
        self.channels.get(id).cloned()
    }

    /// Every text channel, by id.
    pub fn channels(&self) -> impl Iterator<Item = &Arc<TextChannel>> {
        self.channels.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(text: &str) -> Result<Routing, UraError> {
        let cfg: RoutingConfig =
            toml::from_str(text).map_err(|e| UraError::Config(e.to_string()))?;
        Routing::build(&cfg)
    }

    const ONE: &str = r#"
[[numbers]]
number = "+55 11 3000-0000"
country = "BR"
area_code = "11"
name = "Central"
ivr = "main"
[services.vendas]
name = "vendas"
[ivrs.main.menu]
items = [{ digits = "1", label = "vendas", target = { service = "vendas" } }]
"#;

    #[test]
    fn brazilian_forms_match_the_same_number() {
        let r = routing(ONE).unwrap();
        for dialled in [
            "+551130000000",
            "551130000000",
            "01130000000",
            "1130000000",
            "00551130000000",
            "+55 (11) 3000-0000",
        ] {
            let n = r.lookup(dialled).unwrap_or_else(|| panic!("{dialled}"));
            assert_eq!(n.config.name, "Central");
        }
        assert!(r.lookup("30000000").is_none());
        assert!(r.lookup("+5511300000001").is_none());
    }

    #[test]
    fn the_demo_configuration_builds() {
        let r = routing(DEMO).unwrap();
        for n in ["1000", "1001", "1002"] {
            assert!(r.lookup(n).is_some(), "{n}");
        }
        let now = chrono::Utc::now();
        assert!(r.lookup("1000").unwrap().schedule.is_open(now));
        assert!(!r.lookup("1001").unwrap().schedule.is_open(now));
        assert!(r.channel("site").is_some(), "the demo's web chat");
    }

    #[test]
    fn the_readme_example_builds() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").expect("a toml block") + 8;
        let end = start + readme[start..].find("```").unwrap();
        let r = routing(&readme[start..end]).unwrap();
        let n = r.lookup("01130000000").unwrap();
        assert_eq!(n.config.company.as_deref(), Some("Acme"));
        assert!(n.service_schedules.contains_key(&ServiceId::new("vendas")));
        let site = r.channel("site").expect("the README's web chat channel");
        assert_eq!(site.ivr.config().menu.items.len(), 2);
        assert!(
            site.ivr.config().welcome.is_none(),
            "no recorded prompts in text"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                ONE.replace("ivr = \"main\"", "ivr = \"nope\""),
                "numbers[0].ivr",
            ),
            (
                ONE.replace("area_code = \"11\"", "schedule = \"x\""),
                "numbers[0].schedule",
            ),
            (
                ONE.replace("service = \"vendas\"", "service = \"nada\""),
                "ivrs.main",
            ),
            (
                format!("{ONE}\n[schedules.x]\ntimezone = \"Mars/Base\"\n"),
                "schedules.x",
            ),
        ];
        for (text, field) in cases {
            let err = routing(&text).unwrap_err().to_string();
            assert!(err.contains(field), "{err} should name {field}");
        }
        let twice = format!(
            "{ONE}\n[[numbers]]\nnumber = \"1130000000\"\nname = \"dup\"\nivr = \"main\"\n"
        );
        assert!(
            routing(&twice).is_err(),
            "a short number that is another's national form"
        );
        let twice = format!(
            "{ONE}\n[[numbers]]\nnumber = \"+551130000000\"\nname = \"dup\"\nivr = \"main\"\n"
        );
        assert!(routing(&twice)
            .unwrap_err()
            .to_string()
            .contains("configured twice"));
    }
}
