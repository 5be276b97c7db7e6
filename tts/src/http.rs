//! `HttpEngine`: cloud TTS services reached over HTTP, driven by configuration.
//!
//! Plain `http://` works out of the box. `https://` needs the crate feature
//! `tls` (rustls), off by default to keep the build small.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audio::{Audio, MAX_SAMPLE_RATE};
use crate::error::{excerpt, TtsError};
use crate::rate::Rate;
use crate::synth::{check_text, Synthesizer};
use crate::voice::Voice;
use crate::wav::parse_wav;

/// Largest response body accepted, in bytes.
pub const MAX_RESPONSE_BYTES: u64 = 64 << 20;
/// Longest accepted request timeout.
pub const MAX_TIMEOUT_MS: u64 = 120_000;

/// HTTP method of the synthesis request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `POST` (what TTS services use).
    #[default]
    Post,
    /// `PUT`.
    Put,
}

/// How the service's response body holds the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ResponseFormat {
    /// A 16-bit PCM WAV file (`"wav"`).
    Wav,
    /// Headerless signed 16-bit little-endian mono samples at the given rate
    /// (`"pcm16le:16000"`).
    Pcm16Le {
        /// Samples per second.
        sample_rate: u32,
    },
}

impl FromStr for ResponseFormat {
    type Err = TtsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "wav" {
            return Ok(ResponseFormat::Wav);
        }
        let rate = s
            .strip_prefix("pcm16le:")
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|r| (1..=MAX_SAMPLE_RATE).contains(r));
        match rate {
            Some(sample_rate) => Ok(ResponseFormat::Pcm16Le { sample_rate }),
            None => Err(TtsError::Config(format!(
                "response format {s:?}: use \"wav\" or \"pcm16le:<sample rate>\""
            ))),
        }
    }
}

impl TryFrom<String> for ResponseFormat {
    type Error = TtsError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ResponseFormat> for String {
    fn from(f: ResponseFormat) -> String {
        f.to_string()
    }
}

impl fmt::Display for ResponseFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseFormat::Wav => f.write_str("wav"),
            ResponseFormat::Pcm16Le { sample_rate } => write!(f, "pcm16le:{sample_rate}"),
        }
    }
}

fn default_name() -> String {
    "http".to_string()
}

fn default_content_type() -> String {
    "application/json".to_string()
}

fn default_timeout_ms() -> u64 {
    15_000
}

/// Configuration of an [`HttpEngine`]; reads naturally from TOML:
///
/// ```toml
/// name = "cloud-tts"                      # engine id in cache keys
/// url = "http://tts.internal:8080/v1/speak"
/// method = "POST"                         # default
/// content_type = "application/json"       # default
/// body = '{"text":"{text}","voice":"{voice}","wpm":{rate}}'
/// response = "pcm16le:16000"              # or "wav"
/// timeout_ms = 15000                      # default
/// [headers]
/// x-api-key = "secret"
/// [voices]                                # optional: ura language → service voice
/// pt-BR = "pt-BR-FranciscaNeural"
/// ```
///
/// Body placeholders: `{text}` (JSON-escaped, without quotes), `{voice}` (mapped
/// through `voices`, JSON-escaped), `{rate}` (words per minute) and `{rate_factor}`
/// (1.00 = normal speed). Other braces are left alone. `Debug` hides header values
/// and the URL's query and user info, where API keys live.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpEngineConfig {
    /// Engine id, part of the cache key.
    #[serde(default = "default_name")]
    pub name: String,
    /// Service URL (`http://`; `https://` with the `tls` feature).
    pub url: String,
    /// Request method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra request headers, e.g. an API key.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `Content-Type` of the request body.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Request body template.
    pub body: String,
    /// How the response carries the audio.
    pub response: ResponseFormat,
    /// Whole-request time limit in milliseconds (1..=120000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Service voice for a language tag (`pt-BR`, `pt-PT`, `en-US`, `es`);
    /// unmapped languages send the tag itself.
    #[serde(default)]
    pub voices: BTreeMap<String, String>,
}

impl fmt::Debug for HttpEngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: BTreeMap<&str, &str> = self
            .headers
            .keys()
            .map(|k| (k.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("HttpEngineConfig")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("method", &self.method)
            .field("headers", &headers)
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .field("response", &self.response)
            .field("timeout_ms", &self.timeout_ms)
            .field("voices", &self.voices)
            .finish()
    }
}

/// The URL without user info or query string.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("<redacted>@{host}"),
        None => authority.to_string(),
    };
    let path = match path.split_once('?') {
        Some((p, _)) => format!("{p}?<redacted>"),
        None => path.to_string(),
    };
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

impl HttpEngineConfig {
    /// Checks the configuration; [`HttpEngine::new`] calls it.
    pub fn validate(&self) -> Result<(), TtsError> {
        let bad = |m: String| Err(TtsError::Config(m));
        if self.name.trim().is_empty() {
            return bad("engine name is empty".into());
        }
        let lower = self.url.to_ascii_lowercase();
        if lower.starts_with("https://") {
            if !cfg!(feature = "tls") {
                return bad(format!(
                    "{} needs HTTPS: build ura-tts with the `tls` feature",
                    redact_url(&self.url)
                ));
            }
        } else if !lower.starts_with("http://") {
            return bad(format!(
                "url {} must start with http:// or https://",
                redact_url(&self.url)
            ));
        }
        if !self.body.contains("{text}") {
            return bad("body template has no {text} placeholder".into());
        }
        for (name, value) in &self.headers {
            if !is_header_name(name) {
                return bad(format!("invalid header name {name:?}"));
            }
            if !is_header_value(value) {
                return bad(format!("header {name} has control characters in its value"));
            }
        }
        if !is_header_value(&self.content_type) || self.content_type.is_empty() {
            return bad("invalid content_type".into());
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return bad(format!(
                "timeout_ms {} outside 1..={MAX_TIMEOUT_MS}",
                self.timeout_ms
            ));
        }
        Ok(())
    }

    /// The service's voice for `voice`.
    pub fn service_voice<'a>(&'a self, voice: &'a Voice) -> &'a str {
        match voice {
            Voice::Language(l) => self
                .voices
                .get(l.tag())
                .map(String::as_str)
                .unwrap_or(l.tag()),
            Voice::Named(n) => n,
        }
    }

    /// The request body for one synthesis.
    pub fn render_body(&self, text: &str, voice: &Voice, rate: Rate) -> String {
        let mut out = String::with_capacity(self.body.len() + text.len() + 16);
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let (value, used) = if tail.starts_with("{text}") {
                (json_escape(text), "{text}".len())
            } else if tail.starts_with("{voice}") {
                (json_escape(self.service_voice(voice)), "{voice}".len())
            } else if tail.starts_with("{rate}") {
                (rate.wpm().to_string(), "{rate}".len())
            } else if tail.starts_with("{rate_factor}") {
                (format!("{:.2}", rate.factor()), "{rate_factor}".len())
            } else {
                ("{".to_string(), 1)
            };
            out.push_str(&value);
            rest = &tail[used..];
        }
        out.push_str(rest);
        out
    }
}

/// Escapes `s` for use inside a JSON string literal.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Synthesizes through an HTTP TTS service described by [`HttpEngineConfig`].
pub struct HttpEngine {
    config: HttpEngineConfig,
    agent: ureq::Agent,
}

impl fmt::Debug for HttpEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpEngine {
    /// An engine for a validated configuration.
    pub fn new(config: HttpEngineConfig) -> Result<HttpEngine, TtsError> {
        config.validate()?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(config.timeout_ms)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Ok(HttpEngine { config, agent })
    }

    /// The configuration in use.
    pub fn config(&self) -> &HttpEngineConfig {
        &self.config
    }

    fn timeout(&self) -> TtsError {
        TtsError::Timeout {
            engine: self.config.name.clone(),
            after: Duration::from_millis(self.config.timeout_ms),
        }
    }

    fn map_error(&self, e: ureq::Error) -> TtsError {
        match e {
            ureq::Error::Timeout(_) => self.timeout(),
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                self.timeout()
            }
            ureq::Error::BodyExceedsLimit(n) => {
                TtsError::BadAudio(format!("response larger than {n} bytes"))
            }
            other => TtsError::Transport(other.to_string()),
        }
    }
}

impl Synthesizer for HttpEngine {
    fn synthesize(&self, text: &str, voice: &Voice, rate: Rate) -> Result<Audio, TtsError> {
        check_text(text)?;
        let body = self.config.render_body(text, voice, rate);
        let mut request = match self.config.method {
            HttpMethod::Post => self.agent.post(&self.config.url),
            HttpMethod::Put => self.agent.put(&self.config.url),
        };
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .header("Content-Type", &self.config.content_type)
            .send(body.as_bytes())
            .map_err(|e| self.map_error(e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(200..300).contains(&status) {
            let body = response
                .body_mut()
                .with_config()
                .limit(64 << 10)
                .read_to_vec()
                .unwrap_or_default();
            return Err(TtsError::HttpStatus {
                status,
                body: excerpt(&body, 200),
            });
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.map_error(e))?;
        let textual = ["text/", "json", "xml", "html"]
            .iter()
            .any(|t| content_type.contains(t));
        if textual {
            return Err(TtsError::BadAudio(format!(
                "service answered {content_type} instead of audio: {}",
                excerpt(&bytes, 200)
            )));
        }
        let audio = match self.config.response {
            ResponseFormat::Wav => parse_wav(&bytes)?,
            ResponseFormat::Pcm16Le { sample_rate } => {
                if bytes.len() % 2 != 0 {
                    return Err(TtsError::BadAudio(format!(
                        "odd number of bytes ({}) for 16-bit PCM",
                        bytes.len()
                    )));
                }
                let samples = bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                Audio::new(samples, sample_rate)
            }
        };
        if audio.samples.is_empty() {
            return Err(TtsError::BadAudio("response holds no samples".to_string()));
        }
        Ok(audio)
    }

    fn name(&self) -> &str {
        &self.config.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::Language;

    fn config() -> HttpEngineConfig {
        HttpEngineConfig {
            name: "cloud".into(),
            url: "http://user:pw@127.0.0.1:9/speak?key=SECRET".into(),
            method: HttpMethod::Post,
            headers: [("x-api-key".to_string(), "SECRET".to_string())].into(),
            content_type: default_content_type(),
            body: r#"{"t":"{text}","v":"{voice}","r":{rate},"f":{rate_factor},"x":{"y":1}}"#.into(),
            response: ResponseFormat::Wav,
            timeout_ms: 1000,
            voices: [("pt-BR".to_string(), "Francisca".to_string())].into(),
        }
    }

    #[test]
    fn body_template_escapes_and_does_not_rescan() {
        let c = config();
        let body = c.render_body(
            "Diga \"oi\"\n{voice} \\ fim",
            &Voice::Language(Language::PtBr),
            Rate::new(175).unwrap(),
        );
        assert_eq!(
            body,
            r#"{"t":"Diga \"oi\"\n{voice} \\ fim","v":"Francisca","r":175,"f":1.00,"x":{"y":1}}"#
        );
        let en = c.render_body("a", &Voice::Language(Language::EnUs), Rate::DEFAULT);
        assert!(en.contains(r#""v":"en-US""#), "{en}");
    }

    #[test]
    fn json_escape_control_characters() {
        assert_eq!(json_escape("a\u{1}b\tc"), "a\\u0001b\\tc");
        assert_eq!(json_escape("ção"), "ção");
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = config();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
        assert!(!dbg.contains("pw"), "{dbg}");
        assert!(dbg.contains("x-api-key"), "{dbg}");
        assert!(dbg.contains("127.0.0.1:9/speak?<redacted>"), "{dbg}");
        let engine = HttpEngine::new(c).unwrap();
        assert!(!format!("{engine:?}").contains("SECRET"));
    }

    #[test]
    fn validation() {
        assert!(config().validate().is_ok());
        let cases: [fn(&mut HttpEngineConfig); 7] = [
            |c| c.url = "ftp://x".into(),
            |c| c.body = "{\"t\":1}".into(),
            |c| {
                c.headers.insert("bad name".into(), "v".into());
            },
            |c| {
                c.headers.insert("x".into(), "a\r\nInjected: 1".into());
            },
            |c| c.timeout_ms = 0,
            |c| c.timeout_ms = MAX_TIMEOUT_MS + 1,
            |c| c.name = " ".into(),
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut c = config();
            change(&mut c);
            assert!(
                matches!(HttpEngine::new(c), Err(TtsError::Config(_))),
                "case {i}"
            );
        }
        let mut c = config();
        c.url = "https://tts.example/speak".into();
        assert_eq!(c.validate().is_ok(), cfg!(feature = "tls"));
    }

    #[test]
    fn response_formats_parse() {
        assert_eq!(
            "wav".parse::<ResponseFormat>().unwrap(),
            ResponseFormat::Wav
        );
        assert_eq!(
            "PCM16LE:16000".parse::<ResponseFormat>().unwrap(),
            ResponseFormat::Pcm16Le { sample_rate: 16000 }
        );
        for bad in [
            "",
            "mp3",
            "pcm16le:",
            "pcm16le:0",
            "pcm16le:x",
            "pcm16le:999999999",
        ] {
            assert!(bad.parse::<ResponseFormat>().is_err(), "{bad}");
        }
    }

    #[test]
    fn config_reads_from_toml() {
        let c: HttpEngineConfig = toml::from_str(
            r#"
            url = "http://127.0.0.1:8080/v1/speak"
            body = '{"text":"{text}"}'
            response = "pcm16le:16000"
            [headers]
            x-api-key = "k"
            "#,
        )
        .unwrap();
        assert_eq!(c.name, "http");
        assert_eq!(c.method, HttpMethod::Post);
        assert_eq!(c.timeout_ms, 15_000);
        assert_eq!(c.response, ResponseFormat::Pcm16Le { sample_rate: 16000 });
        assert_eq!(c.headers["x-api-key"], "k");
        assert!(c.validate().is_ok());
        let bad = toml::from_str::<HttpEngineConfig>(
            "url = \"http://h\"\nbody = \"{text}\"\nresponse = \"mp3\"",
        );
        assert!(bad.is_err());
    }
}
