//! The satisfaction survey at the end of a conversation, on a simulated
//! clock: offered when a person ended it, taken once, within the window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ura_channels::{
    ChannelsError, ChatLanguage, Closer, Conversation, ConversationId, Now, Phase, Start,
    StartedNotice, SURVEY_WINDOW,
};
use ura_ivr::{Decision, IvrConfig};

const STRAIGHT: &str = r#"
welcome = "ivr-welcome"
[menu]
items = [{ digits = "1", label = "vendas", target = { service = "vendas" } }]
"#;

fn conversation(t0: Instant, decision: Decision) -> Conversation {
    let config: IvrConfig = toml::from_str(STRAIGHT).unwrap();
    let start = Start {
        lang: ChatLanguage::PtBr,
        welcome: String::new(),
        closing: String::new(),
        started: StartedNotice::Agent,
        ivr: Arc::new(config.without_prompts().validate().unwrap()),
        decision,
        hours: None,
    };
    let mut c = Conversation::new(ConversationId(1), start, at(t0, 0));
    while c.poll_output().is_some() {}
    c
}

fn at(t0: Instant, secs: u64) -> Now {
    Now {
        mono: t0 + Duration::from_secs(secs),
        unix_ms: 1_700_000_000_000 + secs as i64 * 1000,
    }
}

fn with_agent(t0: Instant) -> Conversation {
    let mut c = conversation(t0, Decision::open());
    c.visitor_text(at(t0, 1), "1", None).unwrap();
    c.agent_joined(at(t0, 2), "Ana");
    assert_eq!(c.phase(), Phase::Connected);
    c
}

#[test]
fn the_agent_closes_and_the_visitor_rates_once() {
    let t0 = Instant::now();
    let mut c = with_agent(t0);
    assert!(!c.survey_pending());
    assert_eq!(c.rate(at(t0, 3), 5, None), Err(ChannelsError::NoSurvey));
    c.close(at(t0, 10), Closer::Agent);
    assert!(c.survey_pending());
    // Bad values name their field, and leave the survey open.
    for bad in [0, 6, -3] {
        assert!(matches!(
            c.rate(at(t0, 11), bad, None),
            Err(ChannelsError::Invalid { field, .. }) if field == "score"
        ));
    }
    let long = "x".repeat(1001);
    assert!(matches!(
        c.rate(at(t0, 11), 4, Some(&long)),
        Err(ChannelsError::Invalid { field, .. }) if field == "comment"
    ));
    let r = c.rate(at(t0, 12), 4, Some(" Muito bom ")).unwrap();
    assert_eq!((r.score, r.comment.as_deref()), (4, Some("Muito bom")));
    assert_eq!(r.at_ms, 1_700_000_012_000);
    assert!(!c.survey_pending());
    assert_eq!(c.rating(), Some(&r));
    assert_eq!(
        c.rate(at(t0, 13), 1, None),
        Err(ChannelsError::AlreadyRated)
    );
    assert_eq!(c.rating().unwrap().score, 4);
}

#[test]
fn the_survey_window_closes_after_a_day() {
    let t0 = Instant::now();
    let mut c = with_agent(t0);
    c.close(at(t0, 10), Closer::Visitor);
    assert!(c.survey_pending());
    let late = 10 + SURVEY_WINDOW.as_secs() + 1;
    assert_eq!(
        c.rate(at(t0, late), 5, None),
        Err(ChannelsError::SurveyOver)
    );
    // Just inside the window it is taken.
    let mut c = with_agent(t0);
    c.close(at(t0, 10), Closer::Visitor);
    assert!(c
        .rate(at(t0, 10 + SURVEY_WINDOW.as_secs()), 3, None)
        .is_ok());
}

#[test]
fn no_survey_when_turned_off_or_when_the_flow_ended_it() {
    let t0 = Instant::now();
    let mut c = with_agent(t0);
    c.set_survey(false);
    c.close(at(t0, 10), Closer::Agent);
    assert!(!c.survey_pending());
    assert_eq!(c.rate(at(t0, 11), 5, None), Err(ChannelsError::NoSurvey));
    // Closed hours: the flow ends it; nobody to rate.
    let mut c = conversation(t0, Decision::closed(None));
    assert_eq!(c.phase(), Phase::Closed);
    assert!(!c.survey_pending());
    assert_eq!(c.rate(at(t0, 1), 5, None), Err(ChannelsError::NoSurvey));
}
