//! A conversation's transcript as the e-mail sent to the visitor: who
//! said what and when (UTC), in the channel's language, as plain text.

use crate::config::ChatLanguage;
use crate::conversation::{Author, Message};

/// The e-mail's subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// "Transcrição da sua conversa — Fale conosco".
    pub subject: String,
    /// One line per message: `[2026-11-25 10:00:03 UTC] Ana: Olá`.
    pub body: String,
}

/// The transcript of `messages` on the channel titled `title`.
pub fn render(lang: ChatLanguage, title: &str, messages: &[Message]) -> Transcript {
    let (subject, intro, you, system) = match lang {
        ChatLanguage::PtBr => (
            "Transcrição da sua conversa",
            "Esta é a transcrição da sua conversa conosco (horários em UTC).",
            "Você",
            "Atendimento",
        ),
        ChatLanguage::En => (
            "Transcript of your conversation",
            "This is the transcript of your conversation with us (times in UTC).",
            "You",
            "Service",
        ),
        ChatLanguage::Es => (
            "Transcripción de su conversación",
            "Esta es la transcripción de su conversación con nosotros (horarios en UTC).",
            "Usted",
            "Atención",
        ),
    };
    let title = title.trim();
    let subject = if title.is_empty() {
        subject.to_string()
    } else {
        format!("{subject} — {title}")
    };
    let mut body = format!("{intro}\n\n");
    for m in messages {
        let when = chrono::DateTime::from_timestamp_millis(m.at_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let who = match &m.author {
            Author::Visitor => you,
            Author::Agent(name) => name.as_str(),
            Author::System => system,
        };
        // A message's own line breaks stay inside its entry.
        let text = m.text.replace("\r\n", "\n").replace('\n', "\n    ");
        body.push_str(&format!("[{when}] {who}: {text}\n"));
    }
    Transcript { subject, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Seq;

    fn msg(seq: u64, author: Author, text: &str) -> Message {
        Message {
            seq: Seq(seq),
            author,
            text: text.into(),
            at_ms: 1_764_064_803_000 + seq as i64 * 1000,
            client_id: None,
            attachment: None,
        }
    }

    #[test]
    fn who_said_what_and_when_in_the_channels_language() {
        let log = [
            msg(1, Author::System, "Olá! Bem-vindo."),
            msg(2, Author::Visitor, "Quero comprar\nduas coisas"),
            msg(3, Author::Agent("Ana".into()), "Claro!"),
        ];
        let t = render(ChatLanguage::PtBr, "Fale conosco", &log);
        assert_eq!(t.subject, "Transcrição da sua conversa — Fale conosco");
        assert!(
            t.body
                .contains("[2025-11-25 10:00:04 UTC] Atendimento: Olá! Bem-vindo.\n"),
            "{}",
            t.body
        );
        assert!(
            t.body.contains("] Você: Quero comprar\n    duas coisas\n"),
            "{}",
            t.body
        );
        assert!(
            t.body.contains("[2025-11-25 10:00:06 UTC] Ana: Claro!\n"),
            "{}",
            t.body
        );
        let t = render(ChatLanguage::En, "", &log);
        assert_eq!(t.subject, "Transcript of your conversation");
        assert!(t.body.contains("] You: Quero comprar"));
        let t = render(ChatLanguage::Es, "Tienda", &log);
        assert!(t.subject.starts_with("Transcripción"));
        assert!(t.body.contains("] Usted: "));
    }
}
