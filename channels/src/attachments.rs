//! Files sent in a conversation, sans-I/O: the channel's rules (size and
//! the allowed types, [`AttachmentSettings`]), what is checked before a
//! byte of the body is read ([`admit`]), the content's own type against
//! the declared one ([`sniff`], by the file's magic bytes), and the file
//! name as it is kept ([`clean_name`]). The engine stores the bytes; a
//! message of the log carries an [`Attachment`] (its id, name, type and
//! size).

use serde::{Deserialize, Serialize};

use crate::error::ChannelsError;

/// No channel takes a file larger than this (25 MiB), whatever its
/// settings say.
pub const HARD_MAX_BYTES: u64 = 25 * 1024 * 1024;
/// The most a channel may keep on disk at once, whatever its settings say
/// (100 GiB).
pub const HARD_MAX_TOTAL_BYTES: u64 = 100 * 1024 * 1024 * 1024;
/// A visitor sends at most this many files in one conversation (agents
/// are not limited; the channel's total bounds everything).
pub const MAX_VISITOR_ATTACHMENTS: u32 = 20;
/// Longest file name kept, in characters.
pub const MAX_NAME: usize = 200;
/// How many bytes of the start of a file [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 8192;

/// The types a channel may allow: the ones whose content ura can check.
pub const KNOWN_TYPES: [&str; 8] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "audio/mpeg",
    "audio/ogg",
];

/// A channel's rules for files (`[channels.ID.webchat.attachments]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentSettings {
    /// Largest file, in bytes (seed 003's `TAMANHO_MAX_ANEXO`); at most
    /// [`HARD_MAX_BYTES`].
    pub max_bytes: u64,
    /// The allowed types (MIME, from [`KNOWN_TYPES`]); empty: no files.
    pub types: Vec<String>,
    /// What the channel's open conversations may keep on disk together;
    /// a file past it is refused (`storage_full`). Files go when their
    /// conversation ends.
    pub max_total_bytes: u64,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            max_bytes: 5 * 1024 * 1024,
            types: [
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "text/plain",
            ]
            .map(String::from)
            .to_vec(),
            max_total_bytes: 1024 * 1024 * 1024,
        }
    }
}

impl AttachmentSettings {
    /// Checks the settings; errors name the field
    /// (`webchat.attachments.max_bytes`).
    pub fn check(&self) -> Result<(), ChannelsError> {
        if self.max_bytes == 0 || self.max_bytes > HARD_MAX_BYTES {
            return Err(ChannelsError::invalid(
                "webchat.attachments.max_bytes",
                format!("from 1 to {HARD_MAX_BYTES} bytes (25 MiB)"),
            ));
        }
        if self.max_total_bytes < self.max_bytes || self.max_total_bytes > HARD_MAX_TOTAL_BYTES {
            return Err(ChannelsError::invalid(
                "webchat.attachments.max_total_bytes",
                format!("at least max_bytes and at most {HARD_MAX_TOTAL_BYTES} bytes (100 GiB)"),
            ));
        }
        for (i, t) in self.types.iter().enumerate() {
            if !KNOWN_TYPES.contains(&t.as_str()) {
                return Err(ChannelsError::invalid(
                    format!("webchat.attachments.types[{i}]"),
                    format!(
                        "{t:?}: ura checks the content of {} only",
                        KNOWN_TYPES.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the channel takes this type.
    pub fn allows(&self, mime: &str) -> bool {
        self.types.iter().any(|t| t == mime)
    }
}

/// A file in a conversation, as its message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Its id (unguessable, given by the engine).
    pub id: String,
    /// The file name, cleaned ([`clean_name`]).
    pub name: String,
    /// Its type (MIME), checked against the content.
    #[serde(rename = "type")]
    pub mime: String,
    /// Bytes.
    pub size: u64,
}

/// Why a file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentRefusal {
    /// Larger than the channel's `max_bytes`.
    TooLarge,
    /// A type the channel does not allow.
    TypeNotAllowed,
    /// The content is not of the declared type.
    ContentMismatch,
}

impl AttachmentRefusal {
    /// As the wire says it.
    pub fn code(self) -> &'static str {
        match self {
            AttachmentRefusal::TooLarge => "too_large",
            AttachmentRefusal::TypeNotAllowed => "type_not_allowed",
            AttachmentRefusal::ContentMismatch => "content_mismatch",
        }
    }
}

/// The declared type without its parameters, lower case
/// (`Text/Plain; charset=utf-8` is `text/plain`).
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// What is checked before the body is read: the declared type and length.
pub fn admit(
    settings: &AttachmentSettings,
    mime: &str,
    length: u64,
) -> Result<(), AttachmentRefusal> {
    if !settings.allows(mime) {
        return Err(AttachmentRefusal::TypeNotAllowed);
    }
    if length > settings.max_bytes {
        return Err(AttachmentRefusal::TooLarge);
    }
    Ok(())
}

/// Whether the start of a file (its first [`SNIFF_BYTES`], or all of a
/// shorter file) is of the declared type: the magic bytes of images, PDF
/// and audio must be those of the type; plain text must be UTF-8 without
/// NUL and not look like markup (HTML, XML, SVG) or any known binary.
pub fn sniff(mime: &str, head: &[u8]) -> Result<(), AttachmentRefusal> {
    let found = infer::get(head).map(|t| t.mime_type());
    let ok = match mime {
        "text/plain" => found.is_none() && plain_text(head),
        // An MP3 may start with an ID3 tag or straight with a frame.
        "audio/mpeg" => matches!(found, Some("audio/mpeg")),
        other => found == Some(other),
    };
    if ok {
        Ok(())
    } else {
        Err(AttachmentRefusal::ContentMismatch)
    }
}

/// UTF-8 (a character cut at the end of `head` is fine), no NUL, and not
/// starting with a tag.
fn plain_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return false,
    };
    if text.contains('\0') {
        return false;
    }
    let start = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    const MARKUP: [&str; 9] = [
        "<!", "<?", "<html", "<head", "<body", "<script", "<svg", "<iframe", "<a ",
    ];
    !MARKUP.iter().any(|m| start.starts_with(m))
}

/// The file name as kept: the last part of a path, without control
/// characters, at most [`MAX_NAME`] characters; `fallback` when nothing
/// is left.
pub fn clean_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";

    #[test]
    fn the_content_must_be_what_is_declared() {
        assert_eq!(sniff("image/png", PNG), Ok(()));
        assert_eq!(sniff("application/pdf", PDF), Ok(()));
        assert_eq!(sniff("image/jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF"), Ok(()));
        assert_eq!(sniff("image/gif", b"GIF89a\x01\0\x01\0"), Ok(()));
        assert_eq!(sniff("image/webp", b"RIFF\x24\0\0\0WEBPVP8 "), Ok(()));
        assert_eq!(
            sniff("text/plain", "Olá, segue o pedido.\n".as_bytes()),
            Ok(())
        );
        // HTML, or a program, named as an image or as text.
        let html = b"<!doctype html><script>alert(1)</script>";
        assert_eq!(
            sniff("image/png", html),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("text/plain", html),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("text/plain", b"  <html><body>x</body></html>"),
            Err(AttachmentRefusal::ContentMismatch)
        );
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
        assert_eq!(
            sniff("image/png", exe),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("text/plain", exe),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("image/jpeg", PNG),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("text/plain", PDF),
            Err(AttachmentRefusal::ContentMismatch)
        );
        assert_eq!(
            sniff("image/png", b""),
            Err(AttachmentRefusal::ContentMismatch)
        );
        // A character cut by the end of the head is still text.
        let cut = "ação".as_bytes();
        assert_eq!(sniff("text/plain", &cut[..cut.len() - 1]), Ok(()));
    }

    #[test]
    fn type_and_size_are_checked_before_the_body() {
        let s = AttachmentSettings::default();
        assert_eq!(admit(&s, "image/png", 5 * 1024 * 1024), Ok(()));
        assert_eq!(
            admit(&s, "image/png", 5 * 1024 * 1024 + 1),
            Err(AttachmentRefusal::TooLarge)
        );
        assert_eq!(
            admit(&s, "text/html", 10),
            Err(AttachmentRefusal::TypeNotAllowed)
        );
        assert_eq!(essence("Text/Plain; charset=utf-8"), "text/plain");
    }

    #[test]
    fn settings_name_their_field() {
        let field = |s: AttachmentSettings| match s.check() {
            Err(ChannelsError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        AttachmentSettings::default().check().unwrap();
        let s = AttachmentSettings {
            max_bytes: HARD_MAX_BYTES + 1,
            ..Default::default()
        };
        assert_eq!(field(s), "webchat.attachments.max_bytes");
        let s = AttachmentSettings {
            types: vec!["image/png".into(), "text/html".into()],
            ..Default::default()
        };
        assert_eq!(field(s), "webchat.attachments.types[1]");
        let s = AttachmentSettings {
            max_total_bytes: 10,
            ..Default::default()
        };
        assert_eq!(field(s), "webchat.attachments.max_total_bytes");
    }

    #[test]
    fn names_lose_their_path_and_controls() {
        assert_eq!(clean_name("C:\\fotos\\nota.png", "anexo"), "nota.png");
        assert_eq!(clean_name("../../etc/passwd", "anexo"), "passwd");
        assert_eq!(clean_name("a\u{0}b\nc.txt", "anexo"), "abc.txt");
        assert_eq!(clean_name("..", "anexo"), "anexo");
        assert_eq!(
            clean_name(&"x".repeat(500), "anexo").chars().count(),
            MAX_NAME
        );
    }
}
