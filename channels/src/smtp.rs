//! A company's SMTP server, for the transcripts of web chat conversations
//! (the admin API's `smtp` kind, the file's `[smtp.ID]`), and its check.
//!
//! ```toml
//! [smtp.main]
//! host = "smtp.example.com"
//! port = 587
//! security = "starttls"       # none, starttls, tls
//! username = "chat@example.com"
//! password = "secret"         # never shown by the API
//! from = "Atendimento <chat@example.com>"
//! ```

use serde::{Deserialize, Serialize};

use crate::error::ChannelsError;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text (a server on the same host or network).
    None,
    /// Plain, then STARTTLS (required: no fallback to plain text).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// One SMTP server.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's name or address.
    pub host: String,
    /// Its port (default 587).
    #[serde(default = "submission")]
    pub port: u16,
    /// none, starttls (default) or tls.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The login, when the server asks for one.
    #[serde(default)]
    pub username: Option<String>,
    /// The password of the login.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender: `chat@example.com` or `Name <chat@example.com>`.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from", &self.from)
            .finish()
    }
}

fn submission() -> u16 {
    587
}

/// The address inside `Name <addr>` (or the whole text).
pub fn bare_address(s: &str) -> &str {
    let s = s.trim();
    match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        _ => s,
    }
}

/// Whether `s` looks like one e-mail address (`local@domain`, no spaces,
/// no line breaks): a cheap check, the server has the last word.
pub fn plausible_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

impl SmtpConfig {
    /// Checks the settings; errors name the field.
    pub fn check(&self) -> Result<(), ChannelsError> {
        let host = self.host.trim();
        if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace()) {
            return Err(ChannelsError::invalid(
                "host",
                "a host name or address, without spaces",
            ));
        }
        if self.port == 0 {
            return Err(ChannelsError::invalid("port", "from 1 to 65535"));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(ChannelsError::invalid(
                "username",
                "give the username that goes with the password",
            ));
        }
        if !plausible_address(bare_address(&self.from)) || self.from.contains(['\r', '\n']) {
            return Err(ChannelsError::invalid(
                "from",
                "an e-mail address: chat@example.com or \"Name <chat@example.com>\"",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_reads_and_checks() {
        let doc = include_str!("smtp.rs");
        let example = crate::toml_example(doc);
        #[derive(Deserialize)]
        struct File {
            smtp: std::collections::BTreeMap<String, SmtpConfig>,
        }
        let file: File = toml::from_str(&example).unwrap();
        let main = &file.smtp["main"];
        main.check().unwrap();
        assert_eq!(main.security, SmtpSecurity::Starttls);
        assert_eq!(bare_address(&main.from), "chat@example.com");
        assert!(!format!("{main:?}").contains("secret"));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let base = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "chat@example.com".into(),
        };
        base.check().unwrap();
        let field = |c: SmtpConfig| match c.check() {
            Err(ChannelsError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(SmtpConfig {
                host: " ".into(),
                ..base.clone()
            }),
            "host"
        );
        assert_eq!(
            field(SmtpConfig {
                port: 0,
                ..base.clone()
            }),
            "port"
        );
        assert_eq!(
            field(SmtpConfig {
                password: Some("x".into()),
                ..base.clone()
            }),
            "username"
        );
        for from in ["", "chat", "a b@c", "x@y\r\nBcc: z@w", "Ana <>"] {
            assert_eq!(
                field(SmtpConfig {
                    from: from.into(),
                    ..base.clone()
                }),
                "from",
                "{from:?}"
            );
        }
    }
}
