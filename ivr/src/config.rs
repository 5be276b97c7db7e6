//! The IVR configuration (serde, TOML-friendly) and its validation into an
//! [`Ivr`].
//!
//! ```toml
//! welcome = "boas-vindas"          # absent: the built-in prompt
//! closed = "fechado"
//! say_next_opening = true
//! welcome_barge_in = true          # a key during the welcome opens the menu
//! operator = "recepcao"            # key 0 (keys.operator) goes there
//! fallback = { service = "geral" } # or "hangup" (default)
//! max_failures = 3
//!
//! [menu]
//! prompt = "menu-principal"
//! items = [
//!   { digits = "1", label = "vendas", target = { service = "vendas" } },
//!   { digits = "2", label = "suporte", target = { menu = "suporte" } },
//! ]
//!
//! [submenus.suporte]
//! items = [{ digits = "1", label = "internet", target = { service = "internet" } }]
//!
//! [timeouts]
//! first_digit_ms = 5000
//! inter_digit_ms = 3000
//! ```
//!
//! Validation decisions: menus that no item leads to are *not* an error
//! (they may be kept for later; [`Ivr::unreachable_menus`] lists them for a
//! warning), and menu cycles are allowed (a call always ends anyway, see
//! `max_menu_plays`). Unknown menu targets, duplicate digits, empty menus,
//! and option digits that clash with the special keys are errors.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use crate::error::IvrError;
use crate::ids::{MenuId, PromptName, ServiceId};

/// Longest option accepted, in keys.
pub const MAX_OPTION_DIGITS: usize = 8;

/// The whole IVR of a number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrConfig {
    /// Played on answer. `None` for every prompt means the built-in one.
    #[serde(default)]
    pub welcome: Option<PromptName>,
    /// Played when the number is closed, before hanging up.
    #[serde(default)]
    pub closed: Option<PromptName>,
    /// After the closed prompt, say when the number opens again.
    #[serde(default = "default_true")]
    pub say_next_opening: bool,
    /// Type-ahead: a key during the welcome stops it and counts as the
    /// first key of the top menu (callers who know the menu press at once).
    /// `false` keeps the welcome unskippable (e.g. a legal notice).
    #[serde(default = "default_true")]
    pub welcome_barge_in: bool,
    /// The top menu (id [`MenuId::root`]).
    pub menu: MenuConfig,
    /// Further menus, reached by items with `target = { menu = "..." }`.
    #[serde(default)]
    pub submenus: BTreeMap<MenuId, MenuConfig>,
    /// "Opção inválida".
    #[serde(default)]
    pub invalid_option: Option<PromptName>,
    /// "Nenhuma opção foi digitada".
    #[serde(default)]
    pub no_input: Option<PromptName>,
    /// Played when nobody can take the call (queue failed, or fallback).
    #[serde(default)]
    pub no_answer: Option<PromptName>,
    /// Played when the chosen service is outside its own hours.
    #[serde(default)]
    pub service_closed: Option<PromptName>,
    /// Digit collection timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Keys with a special meaning.
    #[serde(default)]
    pub keys: Keys,
    /// Invalid or missing inputs in a row before the fallback.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// Menu prompts played in one call (repeats, returns, submenus) before
    /// the fallback; bounds every call.
    #[serde(default = "default_max_menu_plays")]
    pub max_menu_plays: u32,
    /// What happens after too many failures, or when a queue cannot take
    /// the call.
    #[serde(default)]
    pub fallback: Fallback,
    /// Service reached with the operator key (`0`) from any menu.
    #[serde(default)]
    pub operator: Option<ServiceId>,
}

impl IvrConfig {
    /// An IVR that sends every call straight to `service` (no menu), with
    /// the built-in prompts: what a text channel configured with a
    /// service instead of an IVR runs, so hours, the closed text and the
    /// no-answer text follow the same flow.
    pub fn straight_to(service: ServiceId) -> IvrConfig {
        IvrConfig {
            welcome: None,
            closed: None,
            say_next_opening: true,
            welcome_barge_in: true,
            menu: MenuConfig {
                prompt: None,
                items: vec![MenuItem {
                    digits: "1".into(),
                    label: service.as_str().into(),
                    target: Target::Service(service),
                }],
            },
            submenus: BTreeMap::new(),
            invalid_option: None,
            no_input: None,
            no_answer: None,
            service_closed: None,
            timeouts: Timeouts::default(),
            keys: Keys::default(),
            max_failures: default_max_failures(),
            max_menu_plays: default_max_menu_plays(),
            fallback: Fallback::default(),
            operator: None,
        }
    }

    /// The same IVR without its recorded prompts: every prompt is the
    /// built-in one, which a text channel writes as text in its language.
    pub fn without_prompts(&self) -> IvrConfig {
        let mut c = self.clone();
        c.welcome = None;
        c.closed = None;
        c.invalid_option = None;
        c.no_input = None;
        c.no_answer = None;
        c.service_closed = None;
        c.menu.prompt = None;
        for m in c.submenus.values_mut() {
            m.prompt = None;
        }
        c
    }
}

fn default_true() -> bool {
    true
}

fn default_max_failures() -> u32 {
    3
}

fn default_max_menu_plays() -> u32 {
    10
}

/// One menu.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuConfig {
    /// Intro prompt ("escolha uma opção"); the items follow it.
    #[serde(default)]
    pub prompt: Option<PromptName>,
    /// Options, in the order they are announced.
    pub items: Vec<MenuItem>,
}

/// One option of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuItem {
    /// Keys to press, e.g. `1` or `12`.
    pub digits: String,
    /// What is announced ("vendas").
    pub label: String,
    /// Where it leads.
    pub target: Target,
}

/// Where a menu option leads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Enqueue to a service.
    Service(ServiceId),
    /// Open another menu.
    Menu(MenuId),
}

/// What to do when the caller cannot be served through the menu.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Play the no-answer prompt, then hang up.
    #[default]
    Hangup,
    /// Send the call to this service (once per call; if it is closed or
    /// already failed, as `Hangup`).
    Service(ServiceId),
}

/// Digit collection timeouts, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// From the end of the menu prompt to the first key (default 5000).
    pub first_digit_ms: u64,
    /// Between keys of a multi-key option (default 3000).
    pub inter_digit_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            first_digit_ms: 5000,
            inter_digit_ms: 3000,
        }
    }
}

/// Keys with a special meaning when pressed first. In a submenu `back`
/// returns to the menu it was entered from (so with the defaults `*` goes
/// back there and repeats the menu at the top); in the top menu `back`
/// repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keys {
    /// Repeat the current menu (default `*`).
    pub repeat: char,
    /// Go back to the previous menu (default `*`).
    pub back: char,
    /// Go to the operator service, when one is set (default `0`).
    pub operator: char,
    /// End a multi-key option early (default `#`).
    pub terminator: char,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            repeat: '*',
            back: '*',
            operator: '0',
            terminator: '#',
        }
    }
}

/// Whether `key` is a DTMF key (`0-9 * # A-D`).
pub fn is_dtmf(key: char) -> bool {
    matches!(key, '0'..='9' | '*' | '#' | 'A'..='D')
}

/// A validated [`IvrConfig`], ready to drive [`crate::Flow`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ivr {
    config: IvrConfig,
}

impl IvrConfig {
    /// Validates; see [`Ivr::new`].
    pub fn validate(self) -> Result<Ivr, IvrError> {
        Ivr::new(self)
    }
}

fn bad_value(field: &str, reason: impl Into<String>) -> IvrError {
    IvrError::BadValue {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn check_service(field: &str, service: &ServiceId) -> Result<(), IvrError> {
    if service.as_str().trim().is_empty() {
        return Err(bad_value(field, "empty service id"));
    }
    Ok(())
}

impl Ivr {
    /// Checks keys, timeouts, limits, menus and targets.
    pub fn new(config: IvrConfig) -> Result<Self, IvrError> {
        let ivr = Self { config };
        ivr.check_keys()?;
        let c = &ivr.config;
        for (field, ms) in [
            ("timeouts.first_digit_ms", c.timeouts.first_digit_ms),
            ("timeouts.inter_digit_ms", c.timeouts.inter_digit_ms),
        ] {
            if !(1..=600_000).contains(&ms) {
                return Err(bad_value(field, "must be 1..=600000 ms"));
            }
        }
        if !(1..=100).contains(&c.max_failures) {
            return Err(bad_value("max_failures", "must be 1..=100"));
        }
        if !(1..=1000).contains(&c.max_menu_plays) {
            return Err(bad_value("max_menu_plays", "must be 1..=1000"));
        }
        if let Some(op) = &c.operator {
            check_service("operator", op)?;
        }
        if let Fallback::Service(s) = &c.fallback {
            check_service("fallback.service", s)?;
        }
        if c.submenus.contains_key(&MenuId::root()) {
            return Err(bad_value(
                "submenus.main",
                "`main` is the top menu; configure it as `menu`",
            ));
        }
        ivr.check_menu("menu", &c.menu)?;
        for (id, menu) in &c.submenus {
            ivr.check_menu(&format!("submenus.{id}"), menu)?;
        }
        Ok(ivr)
    }

    fn check_keys(&self) -> Result<(), IvrError> {
        let k = &self.config.keys;
        let named = [
            ("keys.repeat", k.repeat),
            ("keys.back", k.back),
            ("keys.operator", k.operator),
            ("keys.terminator", k.terminator),
        ];
        for (field, key) in named {
            if !is_dtmf(key) {
                return Err(IvrError::BadKeys {
                    field: field.to_owned(),
                    value: key.to_string(),
                    reason: "not a DTMF key".to_owned(),
                });
            }
        }
        // repeat and back may share a key; nothing else may.
        let clash = |field: &str, key: char, others: &[char]| {
            if others.contains(&key) {
                Err(IvrError::BadKeys {
                    field: field.to_owned(),
                    value: key.to_string(),
                    reason: "already used by another special key".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        clash(
            "keys.terminator",
            k.terminator,
            &[k.repeat, k.back, k.operator],
        )?;
        clash("keys.operator", k.operator, &[k.repeat, k.back])
    }

    fn check_menu(&self, field: &str, menu: &MenuConfig) -> Result<(), IvrError> {
        let c = &self.config;
        if menu.items.is_empty() {
            return Err(bad_value(&format!("{field}.items"), "a menu needs options"));
        }
        let reserved = [c.keys.repeat, c.keys.back, c.keys.terminator];
        let mut seen = BTreeSet::new();
        for (i, item) in menu.items.iter().enumerate() {
            let item_field = format!("{field}.items[{i}]");
            let bad_keys = |reason: &str| IvrError::BadKeys {
                field: format!("{item_field}.digits"),
                value: item.digits.clone(),
                reason: reason.to_owned(),
            };
            if item.digits.is_empty() || item.digits.chars().count() > MAX_OPTION_DIGITS {
                return Err(bad_keys("must be 1 to 8 keys"));
            }
            if !item.digits.chars().all(is_dtmf) {
                return Err(bad_keys("only 0-9 * # A-D"));
            }
            if item.digits.chars().any(|d| reserved.contains(&d)) {
                return Err(bad_keys(
                    "contains a special key (repeat, back, terminator)",
                ));
            }
            if c.operator.is_some() && item.digits.starts_with(c.keys.operator) {
                return Err(bad_keys("starts with the operator key"));
            }
            if !seen.insert(item.digits.as_str()) {
                return Err(IvrError::DuplicateDigits {
                    field: format!("{field}.items"),
                    digits: item.digits.clone(),
                });
            }
            match &item.target {
                Target::Service(s) => check_service(&format!("{item_field}.target.service"), s)?,
                Target::Menu(m) => {
                    if self.menu(m).is_none() {
                        return Err(IvrError::UnknownMenu {
                            field: format!("{item_field}.target.menu"),
                            menu: m.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &IvrConfig {
        &self.config
    }

    /// A menu by id ([`MenuId::root`] is `menu`).
    pub fn menu(&self, id: &MenuId) -> Option<&MenuConfig> {
        if id.is_root() {
            Some(&self.config.menu)
        } else {
            self.config.submenus.get(id)
        }
    }

    /// Submenus no option leads to (worth a warning, not an error).
    pub fn unreachable_menus(&self) -> Vec<MenuId> {
        let mut reached = BTreeSet::from([MenuId::root()]);
        let mut todo = vec![MenuId::root()];
        while let Some(id) = todo.pop() {
            for item in self.menu(&id).map(|m| m.items.as_slice()).unwrap_or(&[]) {
                if let Target::Menu(next) = &item.target {
                    if reached.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
            }
        }
        self.config
            .submenus
            .keys()
            .filter(|id| !reached.contains(*id))
            .cloned()
            .collect()
    }

    /// When the top menu has exactly one option and it is a service, the
    /// call goes straight there with no menu.
    pub fn single_service(&self) -> Option<&ServiceId> {
        match self.config.menu.items.as_slice() {
            [MenuItem {
                target: Target::Service(s),
                ..
            }] => Some(s),
            _ => None,
        }
    }

    pub(crate) fn first_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeouts.first_digit_ms)
    }

    pub(crate) fn inter_digit_timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeouts.inter_digit_ms)
    }
}
