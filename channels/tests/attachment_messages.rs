//! Files in a conversation: messages of the log like any other (numbered,
//! resent once), with the visitor's count limited and the agent's only
//! while with the visitor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ura_channels::attachments::MAX_VISITOR_ATTACHMENTS;
use ura_channels::{
    Attachment, Author, ChannelsError, ChatLanguage, Closer, Conversation, ConversationId, Now,
    Output, Phase, Seq, Start, StartedNotice,
};
use ura_ivr::{Decision, IvrConfig};

const MENU: &str = r#"
[menu]
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
  { digits = "2", label = "suporte", target = { service = "suporte" } },
]
"#;

fn at(t0: Instant, s: u64) -> Now {
    Now {
        mono: t0 + Duration::from_secs(s),
        unix_ms: 1_700_000_000_000 + s as i64 * 1000,
    }
}

fn file(id: &str) -> Attachment {
    Attachment {
        id: id.into(),
        name: format!("{id}.png"),
        mime: "image/png".into(),
        size: 1234,
    }
}

#[test]
fn files_are_numbered_messages_and_resends_are_taken_once() {
    let t0 = Instant::now();
    let config: IvrConfig = toml::from_str(MENU).unwrap();
    let start = Start {
        lang: ChatLanguage::PtBr,
        welcome: String::new(),
        closing: String::new(),
        started: StartedNotice::Agent,
        ivr: Arc::new(config.without_prompts().validate().unwrap()),
        decision: Decision::open(),
        hours: None,
    };
    let mut c = Conversation::new(ConversationId(1), start, at(t0, 0));
    while c.poll_output().is_some() {}
    // In the menu: kept in the log, not an option.
    let seq = c
        .attachment(at(t0, 1), None, file("a"), Some("f1"))
        .unwrap();
    let out: Vec<Output> = std::iter::from_fn(|| c.poll_output()).collect();
    let Output::Message(m) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (m.seq, &m.author, m.text.as_str()),
        (seq, &Author::Visitor, "a.png")
    );
    assert_eq!(m.attachment, Some(file("a")));
    assert_eq!(out.len(), 1, "no invalid option: {out:?}");
    assert_eq!(c.phase(), Phase::Menu);
    assert_eq!(c.after(Seq(0)).last().unwrap().attachment, Some(file("a")));
    // A resend is the same message.
    assert_eq!(
        c.attachment(at(t0, 2), None, file("a"), Some("f1")),
        Ok(seq)
    );
    assert!(c.poll_output().is_none());
    // The agent sends only while with the visitor.
    assert_eq!(
        c.attachment(at(t0, 3), Some("Ana"), file("b"), None),
        Err(ChannelsError::NotYourConversation)
    );
    c.visitor_text(at(t0, 4), "1", None).unwrap();
    c.agent_joined(at(t0, 5), "Ana");
    while c.poll_output().is_some() {}
    let seq = c
        .attachment(at(t0, 6), Some("Ana"), file("b"), None)
        .unwrap();
    assert_eq!(c.last_seq(), seq);
    assert_eq!(
        c.after(Seq(seq.0 - 1))[0].author,
        Author::Agent("Ana".into())
    );
    // The visitor's count is limited.
    for i in 1..MAX_VISITOR_ATTACHMENTS {
        c.attachment(at(t0, 7 + u64::from(i)), None, file(&format!("v{i}")), None)
            .unwrap();
    }
    assert_eq!(
        c.attachment(at(t0, 100), None, file("over"), None),
        Err(ChannelsError::TooManyAttachments {
            max: MAX_VISITOR_ATTACHMENTS
        })
    );
    c.close(at(t0, 101), Closer::Agent);
    assert_eq!(
        c.attachment(at(t0, 102), Some("Ana"), file("late"), None),
        Err(ChannelsError::Closed)
    );
}
