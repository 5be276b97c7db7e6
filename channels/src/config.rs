//! A text channel's settings (the admin API's `channels` kind, the file's
//! `[channels.ID]`), and their check.
//!
//! ```toml
//! [channels.site]
//! type = "webchat"            # or "omni", the generic channel (below)
//! description = "Chat do site"
//! ivr = "demo"                # the text menu (the IVR's menu, as text)
//! # service = "vendas"        # or straight to a service, without a menu
//! enabled = true
//! receptive = true
//! # identity_secret = "…"   # 32+ bytes: the site signs visitors' identities
//! [channels.site.webchat]
//! title = "Fale conosco"
//! subtitle = "Atendimento online"
//! welcome = "Olá! Como podemos ajudar?"
//! language = "pt-BR"          # en, es
//! auto_open = false
//! closing = "Obrigado pelo contato!"
//! started = "agent"           # none, simple, agent (names the agent)
//! survey = true               # rating 1-5 and a comment at the end
//! transcript = false          # e-mail the transcript (needs the channel's smtp)
//! colors = { background = "#ffffff", font = "#1f2933", visitor_message = "#dbeafe", button = "#1d4ed8" }
//! fields = { name = "required", email = "optional", phone = "off", document = "off" }
//! [channels.site.webchat.attachments]
//! max_bytes = 5242880         # 5 MiB (at most 25 MiB)
//! types = ["image/png", "image/jpeg", "application/pdf", "text/plain"]
//! max_total_bytes = 1073741824  # on disk for the channel's open conversations
//!
//! # The generic channel for outside systems (ERP, CRM, ticketing)
//! [channels.erp]
//! type = "omni"
//! description = "Tickets do ERP"
//! service = "vendas"
//! [channels.erp.omni]
//! webhook_url = "https://erp.example.com/ura/messages"
//! key = "chave-de-entrada-do-erp-0001"      # Bearer key of POST /omni/erp/messages
//! secret = "segredo-de-assinatura-00001"    # HMAC-SHA256 key of what ura sends
//! language = "pt-BR"
//! ```

use serde::{Deserialize, Serialize};

use crate::attachments::AttachmentSettings;
use crate::error::ChannelsError;

/// What kind of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelType {
    /// The web chat widget served by ura.
    Webchat,
    /// The generic channel for outside systems: messages in by HTTP,
    /// out to the system's webhook.
    Omni,
}

/// The language of a channel's texts (and of its widget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum ChatLanguage {
    /// Brazilian Portuguese.
    #[default]
    #[serde(rename = "pt-BR")]
    PtBr,
    /// English.
    #[serde(rename = "en")]
    En,
    /// Spanish.
    #[serde(rename = "es")]
    Es,
}

impl ChatLanguage {
    /// As a BCP 47 tag (`pt-BR`, `en`, `es`).
    pub fn tag(self) -> &'static str {
        match self {
            ChatLanguage::PtBr => "pt-BR",
            ChatLanguage::En => "en",
            ChatLanguage::Es => "es",
        }
    }
}

/// Whether a pre-chat field is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldRule {
    /// Not asked.
    Off,
    /// Asked; may be left empty.
    Optional,
    /// Asked; the chat does not start without it.
    Required,
}

/// The pre-chat form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrechatFields {
    /// The visitor's name.
    pub name: FieldRule,
    /// E-mail.
    pub email: FieldRule,
    /// Phone.
    pub phone: FieldRule,
    /// A document number (CPF, passport…).
    pub document: FieldRule,
}

impl Default for PrechatFields {
    fn default() -> Self {
        PrechatFields {
            name: FieldRule::Required,
            email: FieldRule::Optional,
            phone: FieldRule::Off,
            document: FieldRule::Off,
        }
    }
}

impl PrechatFields {
    /// Each field with its name.
    pub fn each(&self) -> [(&'static str, FieldRule); 4] {
        [
            ("name", self.name),
            ("email", self.email),
            ("phone", self.phone),
            ("document", self.document),
        ]
    }
}

/// The widget's colours, each `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Colors {
    /// The window's background.
    pub background: String,
    /// The text.
    pub font: String,
    /// The visitor's own messages.
    pub visitor_message: String,
    /// The button that opens the chat (and the send button).
    pub button: String,
}

impl Default for Colors {
    fn default() -> Self {
        Colors {
            background: "#ffffff".into(),
            font: "#1f2933".into(),
            visitor_message: "#dbeafe".into(),
            button: "#1d4ed8".into(),
        }
    }
}

/// What the visitor is told when an agent takes the conversation (seed
/// 003's `AVISO_CONV_INICIADA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartedNotice {
    /// Nothing.
    None,
    /// "Você está sendo atendido."
    Simple,
    /// "Você está sendo atendido por Ana."
    #[default]
    Agent,
}

/// A web chat channel's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebchatSettings {
    /// The window's title (empty: "Atendimento" in the channel's language).
    pub title: String,
    /// Under the title.
    pub subtitle: String,
    /// The first message of every conversation (empty: the built-in one).
    pub welcome: String,
    /// The language of the widget and of ura's texts.
    pub language: ChatLanguage,
    /// Colours.
    pub colors: Colors,
    /// Which pre-chat fields are asked.
    pub fields: PrechatFields,
    /// The window opens by itself when the page loads.
    pub auto_open: bool,
    /// Said when the conversation ends (empty: the built-in one).
    pub closing: String,
    /// What the visitor is told when an agent takes the conversation.
    pub started: StartedNotice,
    /// Files the visitor and the agent may send.
    pub attachments: AttachmentSettings,
    /// The satisfaction survey (1-5 and a comment) when the agent or the
    /// visitor ends the conversation (on by default).
    pub survey: bool,
    /// The transcript is e-mailed to the visitor who gave an e-mail in the
    /// pre-chat form, through the channel's `smtp` (off by default).
    pub transcript: bool,
}

/// The generic ("omni") channel's settings: where ura sends what the
/// customer is to see, and the keys of both directions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OmniSettings {
    /// Where ura POSTs messages and status (JSON, signed), `http://` or
    /// `https://`.
    pub webhook_url: String,
    /// The Bearer key the outside system sends messages in with.
    pub key: String,
    /// The HMAC-SHA256 key of the `Ura-Signature` header on what ura sends.
    pub secret: String,
    /// The language of ura's texts (menu, waiting, closing).
    pub language: ChatLanguage,
    /// The first message of every conversation (empty: the built-in one).
    pub welcome: String,
    /// Said when the conversation ends (empty: the built-in one).
    pub closing: String,
    /// What the customer is told when an agent takes the conversation.
    pub started: StartedNotice,
}

/// Shortest key or secret of an omni channel.
pub const MIN_KEY: usize = 16;

/// The texts a channel speaks with, whatever its type.
#[derive(Debug, Clone, Copy)]
pub struct ChannelTexts<'a> {
    /// Their language.
    pub language: ChatLanguage,
    /// The welcome (empty: built-in).
    pub welcome: &'a str,
    /// The closing (empty: built-in).
    pub closing: &'a str,
    /// What is said when an agent joins.
    pub started: StartedNotice,
}

impl Default for WebchatSettings {
    fn default() -> Self {
        WebchatSettings {
            title: String::new(),
            subtitle: String::new(),
            welcome: String::new(),
            language: ChatLanguage::default(),
            colors: Colors::default(),
            fields: PrechatFields::default(),
            auto_open: false,
            closing: String::new(),
            started: StartedNotice::default(),
            attachments: AttachmentSettings::default(),
            survey: true,
            transcript: false,
        }
    }
}

/// One text channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// `webchat` or `omni`.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// A name for admins (what the list of channels shows).
    pub description: String,
    /// The IVR whose menu runs as the text menu (a key of `[ivrs]`).
    #[serde(default)]
    pub ivr: Option<String>,
    /// Straight to this service, without a menu (a key of `[services]`).
    #[serde(default)]
    pub service: Option<String>,
    /// Business hours (a key of `[schedules]`); always open when absent.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Whether the channel takes conversations (disabled: the widget says
    /// the chat is unavailable).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Only receives: ura never starts a conversation on it.
    #[serde(default = "yes")]
    pub receptive: bool,
    /// The SMTP server that sends transcripts (a key of `[smtp]`, of the
    /// channel's company); needed when `webchat.transcript` is on.
    #[serde(default)]
    pub smtp: Option<String>,
    /// The web chat's settings.
    #[serde(default)]
    pub webchat: WebchatSettings,
    /// The omni channel's settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub omni: OmniSettings,
    /// The secret the site's backend signs visitors' identity tokens with
    /// (HS256; see [`crate::identity`]). Absent: every visitor is
    /// anonymous and a token is refused. Write-only in the admin API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_secret: Option<String>,
}

fn is_default(o: &OmniSettings) -> bool {
    *o == OmniSettings::default()
}

fn yes() -> bool {
    true
}

/// Longest title.
const MAX_TITLE: usize = 80;
/// Longest welcome or closing text.
const MAX_LONG_TEXT: usize = 1000;

fn check_color(field: &str, value: &str) -> Result<(), ChannelsError> {
    let hex = value.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ChannelsError::invalid(
            format!("webchat.colors.{field}"),
            format!("{value:?}: a colour is #rgb or #rrggbb"),
        ))
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), ChannelsError> {
    if value.chars().count() > max {
        return Err(ChannelsError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

impl ChannelConfig {
    /// Checks what does not depend on other objects (the engine checks
    /// that the IVR, service and schedule exist). Errors name the field.
    pub fn check(&self) -> Result<(), ChannelsError> {
        if self.description.trim().is_empty() {
            return Err(ChannelsError::invalid("description", "must not be empty"));
        }
        check_len("description", &self.description, 200)?;
        match (&self.ivr, &self.service) {
            (Some(_), Some(_)) => {
                return Err(ChannelsError::invalid(
                    "service",
                    "give either an ivr (the text menu) or a service, not both",
                ))
            }
            (None, None) => {
                return Err(ChannelsError::invalid(
                    "ivr",
                    "give an ivr (the text menu) or a service",
                ))
            }
            _ => {}
        }
        if self.kind == ChannelType::Omni {
            let o = &self.omni;
            let url = o.webhook_url.trim();
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                return Err(ChannelsError::invalid(
                    "omni.webhook_url",
                    "an http:// or https:// URL where ura sends the customer's messages",
                ));
            }
            check_len("omni.webhook_url", url, 2000)?;
            for (field, value) in [("omni.key", &o.key), ("omni.secret", &o.secret)] {
                if value.chars().count() < MIN_KEY || value.chars().any(char::is_whitespace) {
                    return Err(ChannelsError::invalid(
                        field,
                        format!("at least {MIN_KEY} characters, no spaces"),
                    ));
                }
                check_len(field, value, 200)?;
            }
            check_len("omni.welcome", &o.welcome, MAX_LONG_TEXT)?;
            check_len("omni.closing", &o.closing, MAX_LONG_TEXT)?;
        }
        let w = &self.webchat;
        if w.transcript && self.smtp.is_none() {
            return Err(ChannelsError::invalid(
                "smtp",
                "webchat.transcript is on: name the SMTP server (a key of [smtp]) that sends it",
            ));
        }
        check_len("webchat.title", &w.title, MAX_TITLE)?;
        check_len("webchat.subtitle", &w.subtitle, MAX_TITLE * 2)?;
        check_len("webchat.welcome", &w.welcome, MAX_LONG_TEXT)?;
        check_len("webchat.closing", &w.closing, MAX_LONG_TEXT)?;
        let c = &w.colors;
        check_color("background", &c.background)?;
        check_color("font", &c.font)?;
        check_color("visitor_message", &c.visitor_message)?;
        check_color("button", &c.button)?;
        w.attachments.check()?;
        if let Some(secret) = &self.identity_secret {
            crate::identity::check_secret(secret)?;
        }
        Ok(())
    }

    /// The texts the channel speaks with (the web chat's or the omni
    /// channel's settings).
    pub fn texts(&self) -> ChannelTexts<'_> {
        match self.kind {
            ChannelType::Webchat => ChannelTexts {
                language: self.webchat.language,
                welcome: &self.webchat.welcome,
                closing: &self.webchat.closing,
                started: self.webchat.started,
            },
            ChannelType::Omni => ChannelTexts {
                language: self.omni.language,
                welcome: &self.omni.welcome,
                closing: &self.omni.closing,
                started: self.omni.started,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_reads_and_checks() {
        let doc = include_str!("config.rs");
        let example = crate::toml_example(doc);
        #[derive(Deserialize)]
        struct File {
            channels: std::collections::BTreeMap<String, ChannelConfig>,
        }
        let file: File = toml::from_str(&example).unwrap();
        let site = &file.channels["site"];
        site.check().unwrap();
        let erp = &file.channels["erp"];
        erp.check().unwrap();
        assert_eq!(erp.texts().language, ChatLanguage::PtBr);
        assert_eq!(site.webchat.fields.name, FieldRule::Required);
        assert_eq!(site.webchat.language, ChatLanguage::PtBr);
        assert_eq!(site.webchat.attachments.types.len(), 4);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let base = ChannelConfig {
            kind: ChannelType::Webchat,
            description: "site".into(),
            ivr: Some("demo".into()),
            service: None,
            schedule: None,
            enabled: true,
            receptive: true,
            smtp: None,
            webchat: WebchatSettings::default(),
            omni: OmniSettings::default(),
            identity_secret: None,
        };
        base.check().unwrap();
        let mut c = base.clone();
        c.webchat.colors.button = "red;}body{display:none".into();
        assert!(
            matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "webchat.colors.button")
        );
        let mut c = base.clone();
        c.service = Some("vendas".into());
        assert!(
            matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "service")
        );
        let mut c = base.clone();
        c.webchat.transcript = true;
        assert!(matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "smtp"));
        c.smtp = Some("main".into());
        c.check().unwrap();
        let mut c = base.clone();
        c.kind = ChannelType::Omni;
        assert!(
            matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "omni.webhook_url")
        );
        c.omni.webhook_url = "https://erp.example.com/hook".into();
        c.omni.key = "short".into();
        assert!(
            matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "omni.key")
        );
        c.omni.key = "k".repeat(MIN_KEY);
        c.omni.secret = "s".repeat(MIN_KEY);
        c.check().unwrap();
        let mut c = base.clone();
        c.identity_secret = Some("too short".into());
        assert!(
            matches!(c.check(), Err(ChannelsError::Invalid { field, .. }) if field == "identity_secret")
        );
        let mut c = base;
        c.description = " ".into();
        assert!(c.check().is_err());
    }
}
