//! The configuration as documents: one JSON object per number, schedule,
//! service, IVR, queue and agent, each with its company and version, and
//! the whole of them turned into (and read from) the configuration file's
//! shape, which the engine checks and runs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use ura_store::{Company, ConfigDoc};

use crate::error::ApiError;

/// The company everything belongs to when nothing says otherwise.
pub const DEFAULT_COMPANY: &str = "default";

/// A kind of configured object; its name is the URL path and the file's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `[[numbers]]`: inbound numbers (the id is the number).
    Numbers,
    /// `[schedules.ID]`: business hours.
    Schedules,
    /// `[services.ID]`: what callers choose.
    Services,
    /// `[ivrs.ID]`: prompts and menus.
    Ivrs,
    /// `[queues.ID]`: agent queues.
    Queues,
    /// `[agents.EXT]`: agents (the id is the extension).
    Agents,
    /// `[channels.ID]`: text channels (web chat).
    Channels,
    /// `[smtp.ID]`: SMTP servers (web chat transcripts by e-mail).
    Smtp,
}

impl Kind {
    /// Every kind, in the order the file lists them.
    pub const ALL: [Kind; 8] = [
        Kind::Numbers,
        Kind::Schedules,
        Kind::Services,
        Kind::Ivrs,
        Kind::Queues,
        Kind::Agents,
        Kind::Channels,
        Kind::Smtp,
    ];

    /// As in URLs, the file and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Numbers => "numbers",
            Kind::Schedules => "schedules",
            Kind::Services => "services",
            Kind::Ivrs => "ivrs",
            Kind::Queues => "queues",
            Kind::Agents => "agents",
            Kind::Channels => "channels",
            Kind::Smtp => "smtp",
        }
    }

    /// The kind a URL segment names.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// One of these, for messages.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Numbers => "number",
            Kind::Schedules => "schedule",
            Kind::Services => "service",
            Kind::Ivrs => "IVR",
            Kind::Queues => "queue",
            Kind::Agents => "agent",
            Kind::Channels => "channel",
            Kind::Smtp => "SMTP server",
        }
    }
}

/// Fields the API adds to what it shows and ignores in what it is sent.
pub const READ_ONLY: [&str; 4] = ["id", "company", "version", "updated_at"];

/// One object: its company, fields and version.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// The company it belongs to.
    pub company: String,
    /// Its fields (those of its table in the file, without `company`).
    pub body: Map<String, Value>,
    /// Raised at every change.
    pub version: i64,
    /// When it last changed.
    pub updated_at: String,
}

/// Every configured object and company: what the engine runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Docs {
    /// Objects by kind and id.
    pub objects: BTreeMap<(Kind, String), Doc>,
    /// Companies by id.
    pub companies: BTreeMap<String, Company>,
}

/// A number's id: the number without spaces, dashes, dots and brackets
/// (`+55 11 3000-0000` → `+551130000000`).
pub fn number_id(number: &str) -> String {
    number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect()
}

/// Checks an id: 1-64 of letters, digits, `-`, `_`, `.`, `+`, `*`, `#`
/// (numbers and extensions), not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+*#".contains(&b))
        && id != "."
        && !id.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "id",
            format!("{id:?}: an id has 1 to 64 letters, digits, '-', '_', '.', '+', '*' or '#'"),
        ))
    }
}

impl Docs {
    /// Reads what the store holds.
    pub fn from_store(docs: Vec<ConfigDoc>, companies: Vec<Company>) -> Docs {
        let mut out = Docs {
            objects: BTreeMap::new(),
            companies: companies.into_iter().map(|c| (c.id.clone(), c)).collect(),
        };
        for d in docs {
            let Some(kind) = Kind::parse(&d.kind) else {
                tracing::warn!(kind = %d.kind, id = %d.id, "stored object of an unknown kind skipped");
                continue;
            };
            let body = match serde_json::from_str::<Value>(&d.body) {
                Ok(Value::Object(m)) => m,
                _ => {
                    tracing::warn!(kind = %d.kind, id = %d.id, "stored object is not a JSON object; skipped");
                    continue;
                }
            };
            out.objects.insert(
                (kind, d.id),
                Doc {
                    company: d.company,
                    body,
                    version: d.version,
                    updated_at: d.updated_at,
                },
            );
        }
        out
    }

    /// The object as stored.
    pub fn to_store(kind: Kind, id: &str, doc: &Doc) -> ConfigDoc {
        ConfigDoc {
            kind: kind.as_str().into(),
            id: id.into(),
            company: doc.company.clone(),
            body: Value::Object(doc.body.clone()).to_string(),
            version: doc.version,
            updated_at: doc.updated_at.clone(),
        }
    }

    /// The configuration in the file's shape, of one company or of all,
    /// each object with its `company`.
    pub fn config(&self, company: Option<&str>) -> Value {
        let mut out = Map::new();
        for kind in Kind::ALL {
            let objects = self
                .objects
                .iter()
                .filter(|((k, _), d)| *k == kind && company.is_none_or(|c| d.company == c));
            let with_company = |d: &Doc| {
                let mut body = d.body.clone();
                body.insert("company".into(), Value::String(d.company.clone()));
                Value::Object(body)
            };
            if kind == Kind::Numbers {
                out.insert(
                    kind.as_str().into(),
                    Value::Array(objects.map(|(_, d)| with_company(d)).collect()),
                );
            } else {
                out.insert(
                    kind.as_str().into(),
                    Value::Object(
                        objects
                            .map(|((_, id), d)| (id.clone(), with_company(d)))
                            .collect(),
                    ),
                );
            }
        }
        Value::Object(out)
    }

    /// Objects read from a configuration in the file's shape (an import, or
    /// the first start in store mode): each keeps its `company`, or gets
    /// `default_company`. Companies named but not known are created.
    pub fn from_config(config: &Value, default_company: &str, now: &str) -> Result<Docs, ApiError> {
        let mut out = Docs::default();
        let table = config
            .as_object()
            .ok_or_else(|| ApiError::invalid("", "the configuration is not a table"))?;
        // A file that names one company (on its numbers, say) is that
        // company's: its other objects go there too.
        let mut named: Vec<&str> = table
            .values()
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().collect::<Vec<_>>(),
                Value::Object(m) => m.values().collect(),
                _ => Vec::new(),
            })
            .filter_map(|o| o.get("company").and_then(Value::as_str))
            .collect();
        named.sort_unstable();
        named.dedup();
        let default_company = match named.as_slice() {
            [one] => *one,
            _ => default_company,
        };
        for kind in Kind::ALL {
            let entries: Vec<(String, &Value)> = match (kind, table.get(kind.as_str())) {
                (_, None) => Vec::new(),
                (Kind::Numbers, Some(Value::Array(list))) => list
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        n.get("number")
                            .and_then(Value::as_str)
                            .map(|s| (number_id(s), n))
                            .ok_or_else(|| {
                                ApiError::invalid(format!("numbers[{i}].number"), "missing")
                            })
                    })
                    .collect::<Result<_, _>>()?,
                (Kind::Numbers, Some(_)) => {
                    return Err(ApiError::invalid("numbers", "expected a list of numbers"))
                }
                (_, Some(Value::Object(m))) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
                (_, Some(_)) => {
                    return Err(ApiError::invalid(kind.as_str(), "expected a table"));
                }
            };
            for (id, value) in entries {
                let field = format!("{}.{id}", kind.as_str());
                check_id(&id).map_err(|e| match e {
                    ApiError::Invalid { message, .. } => ApiError::invalid(field.clone(), message),
                    other => other,
                })?;
                let Value::Object(mut body) = value.clone() else {
                    return Err(ApiError::invalid(field, "expected a table"));
                };
                let named = match body.remove("company") {
                    None | Some(Value::Null) => default_company.to_string(),
                    Some(Value::String(c)) => c,
                    Some(_) => {
                        return Err(ApiError::invalid(
                            format!("{field}.company"),
                            "expected a string",
                        ))
                    }
                };
                // A file may name a company in words ("ura demo"): its id
                // is the words made URL-safe ("ura-demo").
                let company = slug(&named);
                if check_id(&company).is_err() {
                    return Err(ApiError::invalid(
                        format!("{field}.company"),
                        format!("{named:?} is not a company name we can use"),
                    ));
                }
                out.companies
                    .entry(company.clone())
                    .or_insert_with(|| Company {
                        id: company.clone(),
                        name: named.clone(),
                        created_at: now.to_string(),
                    });
                if out.objects.contains_key(&(kind, id.clone())) {
                    return Err(ApiError::invalid(field, "configured twice"));
                }
                out.objects.insert(
                    (kind, id),
                    Doc {
                        company,
                        body,
                        version: 1,
                        updated_at: now.to_string(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// What the API shows of an object: its fields, id, company and
    /// version; an agent's or an SMTP server's password is never shown
    /// (`password_set` says whether it has one), nor a channel's identity
    /// secret (`identity_secret_set`).
    pub fn view(kind: Kind, id: &str, doc: &Doc) -> Value {
        let mut body = doc.body.clone();
        if kind == Kind::Agents || kind == Kind::Smtp {
            let set = body.remove("password").is_some();
            body.insert("password_set".into(), Value::Bool(set));
        }
        if kind == Kind::Channels {
            let omni = body.get("type").and_then(Value::as_str) == Some("omni");
            if let Some(Value::Object(o)) = body.get_mut("omni") {
                // The keys are never shown again; `key_set`/`secret_set` say
                // whether there are some.
                for (secret, set) in [("key", "key_set"), ("secret", "secret_set")] {
                    let has = o.remove(secret).is_some();
                    o.insert(set.into(), Value::Bool(has));
                }
            }
            body.insert(
                "activation".into(),
                if omni {
                    omni_activation(id)
                } else {
                    activation(id)
                },
            );
            // The identity secret is write-only too.
            let set = body
                .remove("identity_secret")
                .is_some_and(|s| s.as_str().is_some_and(|s| !s.is_empty()));
            body.insert("identity_secret_set".into(), Value::Bool(set));
        }
        body.insert("id".into(), Value::String(id.into()));
        body.insert("company".into(), Value::String(doc.company.clone()));
        body.insert("version".into(), Value::from(doc.version));
        body.insert("updated_at".into(), Value::String(doc.updated_at.clone()));
        Value::Object(body)
    }

    /// The companies whose objects are in `kinds` (for checks after a change).
    pub fn companies_in_use(&self) -> Vec<String> {
        let mut c: Vec<String> = self.objects.values().map(|d| d.company.clone()).collect();
        c.sort();
        c.dedup();
        c
    }

    /// Who refers to `kind`/`id` (for a "still in use" answer): the ids
    /// of objects whose fields name it, as `kind/id`.
    pub fn users_of(&self, kind: Kind, id: &str) -> Vec<String> {
        let mut users = Vec::new();
        for ((k, oid), d) in &self.objects {
            if (*k, oid.as_str()) == (kind, id) {
                continue;
            }
            if mentions(&Value::Object(d.body.clone()), id) {
                users.push(format!("{}/{oid}", k.as_str()));
            }
        }
        users
    }
}

/// A web chat channel's activation: the page to test it directly and
/// the `<script>` to paste in a site, as paths on ura's HTTP address
/// (put the address ura is reached at in front: `https://chat.example.com`).
pub fn activation(id: &str) -> Value {
    serde_json::json!({
        "test_url": format!("/chat/{id}"),
        "snippet": format!(
            "<script async src=\"/chat/widget.js\" data-ura-channel=\"{id}\"></script>"
        ),
    })
}

/// An omni channel's activation: the URL the outside system POSTs its
/// messages to (with the channel's key), and its delivery log, as paths
/// on ura's HTTP address.
pub fn omni_activation(id: &str) -> Value {
    serde_json::json!({
        "inbound_url": format!("/omni/{id}/messages"),
        "deliveries": format!("/api/v1/channels/{id}/deliveries"),
    })
}

/// A company's id made from its name: letters and digits kept (lower
/// case), runs of anything else turned into one `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(64).collect()
}

impl Docs {
    /// The objects that name `name` anywhere in their fields (a prompt in
    /// an IVR or a queue), as `kind/id`.
    pub fn users_of_name(&self, name: &str) -> Vec<String> {
        self.objects
            .iter()
            .filter(|(_, d)| mentions(&Value::Object(d.body.clone()), name))
            .map(|((k, id), _)| format!("{}/{id}", k.as_str()))
            .collect()
    }
}

/// Whether a string value (or key, for maps such as an agent's queues)
/// anywhere in `v` equals `id`.
fn mentions(v: &Value, id: &str) -> bool {
    match v {
        Value::String(s) => s == id,
        Value::Array(a) => a.iter().any(|x| mentions(x, id)),
        Value::Object(m) => m.iter().any(|(k, x)| k == id || mentions(x, id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_round_trips_with_companies() {
        let config = json!({
            "numbers": [{"number": "1000", "name": "Demo", "ivr": "main"},
                        {"number": "2000", "name": "Other", "ivr": "x", "company": "acme"}],
            "ivrs": {"main": {"menu": {"options": {}}}},
            "agents": {"2001": {"name": "Ana", "password": "s3cret", "company": "default"}},
        });
        let docs = Docs::from_config(&config, DEFAULT_COMPANY, "t").unwrap();
        assert_eq!(docs.objects.len(), 4);
        assert_eq!(
            docs.companies.keys().collect::<Vec<_>>(),
            ["acme", "default"]
        );
        let back = docs.config(None);
        assert_eq!(back["numbers"][1]["company"], "acme");
        assert_eq!(back["agents"]["2001"]["company"], "default");
        let again = Docs::from_config(&back, "zzz", "t").unwrap();
        assert_eq!(again.objects, docs.objects);
        let acme = docs.config(Some("acme"));
        assert_eq!(acme["numbers"].as_array().unwrap().len(), 1);
        assert!(acme["ivrs"].as_object().unwrap().is_empty());
        let view = Docs::view(
            Kind::Agents,
            "2001",
            &docs.objects[&(Kind::Agents, "2001".into())],
        );
        assert_eq!(view["password_set"], true);
        assert!(view.get("password").is_none());
        assert_eq!(docs.users_of(Kind::Ivrs, "main"), ["numbers/1000"]);
        assert_eq!(slug("ura demo"), "ura-demo");
        assert_eq!(slug(" Acme, S.A. "), "acme-s.a.");
    }

    #[test]
    fn ids_are_checked() {
        for good in ["1000", "+551130000000", "vendas", "a.b_c-d", "*97"] {
            check_id(good).unwrap();
        }
        for bad in ["", "..", "a/b", "a..b", "é", &"x".repeat(65), "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        let err = Docs::from_config(&json!({"numbers": [{"name": "x"}]}), "d", "t").unwrap_err();
        assert!(matches!(err, ApiError::Invalid { ref field, .. } if field == "numbers[0].number"));
    }
}
