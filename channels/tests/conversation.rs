//! A conversation through the text menu, the queue, the agent and the end,
//! on a simulated clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ura_channels::{
    Author, ChannelsError, ChatLanguage, Closer, Conversation, ConversationId, Now, Output, Phase,
    Seq, Start, StartedNotice,
};
use ura_ivr::{Decision, IvrConfig, QueueResult, ServiceId};

const DEMO: &str = r#"
welcome = "ivr-welcome"
max_failures = 2
[menu]
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
  { digits = "2", label = "suporte", target = { service = "suporte" } },
]
"#;

struct Sim {
    t0: Instant,
    ms: i64,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            t0: Instant::now(),
            ms: 1_700_000_000_000,
        }
    }
    fn now(&mut self) -> Now {
        self.ms += 1000;
        Now {
            mono: self.t0 + Duration::from_millis((self.ms - 1_700_000_000_000) as u64),
            unix_ms: self.ms,
        }
    }
}

fn start(decision: Decision, ivr: &str) -> Start {
    let config: IvrConfig = toml::from_str(ivr).unwrap();
    Start {
        lang: ChatLanguage::PtBr,
        welcome: "Olá! Como podemos ajudar?".into(),
        closing: String::new(),
        started: StartedNotice::Agent,
        ivr: Arc::new(config.without_prompts().validate().unwrap()),
        decision,
    }
}

fn drain(c: &mut Conversation) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn texts(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Message(m) => Some(m.text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn welcome_menu_option_queue_agent_and_closing() {
    let mut sim = Sim::new();
    let mut c = Conversation::new(ConversationId(1), start(Decision::open(), DEMO), sim.now());
    let out = drain(&mut c);
    assert_eq!(
        texts(&out),
        [
            "Olá! Como podemos ajudar?",
            "Digite 1 para vendas, 2 para suporte."
        ]
    );
    assert_eq!(c.phase(), Phase::Menu);
    // An invalid option: the notice and the menu again.
    c.visitor_text(sim.now(), "oi", Some("a")).unwrap();
    let out = drain(&mut c);
    assert_eq!(
        texts(&out),
        [
            "oi",
            "Opção inválida.",
            "Digite 1 para vendas, 2 para suporte."
        ]
    );
    // The label works as the option.
    c.visitor_text(sim.now(), "Vendas", Some("b")).unwrap();
    let out = drain(&mut c);
    assert!(
        out.contains(&Output::Enqueue(ServiceId::new("vendas"))),
        "{out:?}"
    );
    assert_eq!(c.phase(), Phase::Waiting);
    c.set_position(2);
    c.set_position(2);
    c.set_position(1);
    let out = drain(&mut c);
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Position(_)))
            .count(),
        2
    );
    // Written while waiting: kept for the agent.
    let waiting_seq = c.visitor_text(sim.now(), "alguém?", Some("c")).unwrap();
    c.agent_joined(sim.now(), "Ana");
    let out = drain(&mut c);
    assert!(texts(&out).contains(&"Você está sendo atendido por Ana.".to_string()));
    assert_eq!(c.phase(), Phase::Connected);
    let seq = c
        .agent_text(sim.now(), "Ana", "Olá, em que posso ajudar?", None)
        .unwrap();
    assert!(seq > waiting_seq);
    // A resend of the same message is the same message.
    assert_eq!(
        c.visitor_text(sim.now(), "alguém?", Some("c")).unwrap(),
        waiting_seq
    );
    drain(&mut c);
    let before = c.last_seq();
    c.close(sim.now(), Closer::Agent);
    let out = drain(&mut c);
    assert_eq!(
        texts(&out),
        ["Este atendimento foi finalizado. Qualquer dúvida, estamos à disposição."]
    );
    assert!(out.contains(&Output::Ended(Closer::Agent)));
    assert_eq!(
        c.visitor_text(sim.now(), "volta", None),
        Err(ChannelsError::Closed)
    );
    // The log is numbered without gaps; resume after any number.
    let all = c.after(Seq(0));
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m.seq, Seq(i as u64 + 1));
    }
    assert_eq!(c.after(before).len(), 1);
    assert_eq!(c.after(Seq(10_000)).len(), 0);
    assert!(matches!(all[0].author, Author::System));
}

#[test]
fn closed_hours_say_so_and_end() {
    let mut sim = Sim::new();
    let mut c = Conversation::new(
        ConversationId(2),
        start(
            Decision::closed(Some("segunda-feira às 8 horas".into())),
            DEMO,
        ),
        sim.now(),
    );
    let out = drain(&mut c);
    assert_eq!(
        texts(&out),
        [
            "Olá! Como podemos ajudar?",
            "No momento estamos fora do horário de atendimento.",
            "Atendimento a partir de segunda-feira às 8 horas."
        ]
    );
    assert!(out.contains(&Output::Ended(Closer::Flow)));
    assert_eq!(c.phase(), Phase::Closed);
}

#[test]
fn failures_then_the_end_and_no_agents_then_the_end() {
    let mut sim = Sim::new();
    let mut c = Conversation::new(ConversationId(3), start(Decision::open(), DEMO), sim.now());
    drain(&mut c);
    c.visitor_text(sim.now(), "9", None).unwrap();
    c.visitor_text(sim.now(), "", None).unwrap_err();
    c.visitor_text(sim.now(), "x", None).unwrap();
    let out = drain(&mut c);
    assert!(out.contains(&Output::Ended(Closer::Flow)), "{out:?}");
    assert!(texts(&out)
        .last()
        .unwrap()
        .starts_with("No momento nenhum atendente"));

    let mut c = Conversation::new(ConversationId(4), start(Decision::open(), DEMO), sim.now());
    c.visitor_text(sim.now(), "2", None).unwrap();
    drain(&mut c);
    c.queue_failed(sim.now(), QueueResult::NoAgents);
    let out = drain(&mut c);
    assert!(out.contains(&Output::Ended(Closer::Flow)), "{out:?}");
}

#[test]
fn a_service_channel_goes_straight_to_the_queue() {
    let mut sim = Sim::new();
    let ivr = IvrConfig::straight_to(ServiceId::new("vendas"))
        .validate()
        .unwrap();
    let s = Start {
        ivr: Arc::new(ivr),
        ..start(Decision::open(), DEMO)
    };
    let mut c = Conversation::new(ConversationId(5), s, sim.now());
    let out = drain(&mut c);
    assert!(out.contains(&Output::Enqueue(ServiceId::new("vendas"))));
    let long = "x".repeat(ura_channels::MAX_TEXT + 1);
    assert!(matches!(
        c.visitor_text(sim.now(), &long, None),
        Err(ChannelsError::TooLong { .. })
    ));
    assert!(c.agent_text(sim.now(), "Ana", "oi", None).is_err());
    c.close(sim.now(), Closer::Visitor);
    c.close(sim.now(), Closer::Agent);
    let out = drain(&mut c);
    assert_eq!(
        out.iter().filter(|o| matches!(o, Output::Ended(_))).count(),
        1
    );
}

#[test]
fn a_flood_from_the_visitor_is_refused_then_allowed_again() {
    let mut sim = Sim::new();
    let t = sim.now();
    let mut c = Conversation::new(ConversationId(6), start(Decision::open(), DEMO), t);
    c.visitor_text(t, "2", None).unwrap();
    drain(&mut c);
    for i in 1..ura_channels::VISITOR_BURST {
        c.visitor_text(t, &format!("msg {i}"), Some(&format!("m{i}")))
            .unwrap();
    }
    assert_eq!(
        c.visitor_text(t, "one too many", Some("x")),
        Err(ChannelsError::TooFast)
    );
    // Refused: not in the log, and the same id is taken later.
    assert!(!texts(&drain(&mut c)).contains(&"one too many".to_string()));
    let later = Now {
        mono: t.mono + ura_channels::VISITOR_RATE,
        unix_ms: t.unix_ms + 500,
    };
    c.visitor_text(later, "one too many", Some("x")).unwrap();
    assert_eq!(
        c.visitor_text(later, "and another", None),
        Err(ChannelsError::TooFast)
    );
}

#[test]
fn left_in_the_menu_is_abandoned_after_the_idle_time_only() {
    let mut sim = Sim::new();
    let t = sim.now();
    let c = Conversation::new(ConversationId(7), start(Decision::open(), DEMO), t);
    let later = t.mono + ura_channels::MENU_IDLE;
    assert!(!c.abandoned(later - Duration::from_secs(1), false));
    assert!(!c.abandoned(later, true), "the visitor's page is open");
    assert!(c.abandoned(later, false));
    let mut c = Conversation::new(ConversationId(8), start(Decision::open(), DEMO), t);
    c.visitor_text(t, "1", None).unwrap();
    assert!(
        !c.abandoned(later, false),
        "waiting in a queue is not abandoned"
    );
}

#[test]
fn a_transfer_waits_again_and_the_next_agent_joins() {
    let mut sim = Sim::new();
    let mut c = Conversation::new(ConversationId(9), start(Decision::open(), DEMO), sim.now());
    c.visitor_text(sim.now(), "1", None).unwrap();
    c.agent_joined(sim.now(), "Ana");
    drain(&mut c);
    c.transferred(sim.now());
    let out = drain(&mut c);
    assert_eq!(
        texts(&out),
        ["Você está sendo transferido. Aguarde um momento."]
    );
    assert_eq!(c.phase(), Phase::Waiting);
    assert!(c.agent_text(sim.now(), "Ana", "ainda eu", None).is_err());
    c.agent_joined(sim.now(), "Bia");
    assert_eq!(c.agent(), Some("Bia"));
    assert!(texts(&drain(&mut c)).contains(&"Você está sendo atendido por Bia.".to_string()));
}

#[test]
fn hold_and_back_tell_the_visitor_once() {
    let mut sim = Sim::new();
    let mut c = Conversation::new(ConversationId(10), start(Decision::open(), DEMO), sim.now());
    assert!(c.hold(sim.now(), true).is_err(), "no agent yet");
    c.visitor_text(sim.now(), "1", None).unwrap();
    c.agent_joined(sim.now(), "Ana");
    drain(&mut c);
    c.hold(sim.now(), true).unwrap();
    c.hold(sim.now(), true).unwrap();
    assert!(c.on_hold());
    c.hold(sim.now(), false).unwrap();
    assert_eq!(
        texts(&drain(&mut c)),
        [
            "Você foi colocado em espera. Aguarde, por favor.",
            "O atendente retomou a conversa."
        ]
    );
}
