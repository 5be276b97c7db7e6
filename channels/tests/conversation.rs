//! A conversation through the text menu, the queue, the agent and the end,
//! on a simulated clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ura_channels::{
    Author, ChannelsError, ChatLanguage, Closer, Conversation, ConversationId, Now, OpeningHours,
    Output, Phase, Seq, Start, StartedNotice,
};
use ura_ivr::{Decision, IvrConfig, QueueResult, Schedule, ScheduleConfig, ServiceId};

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
        self.at(self.ms)
    }
    /// The clock at `ms` (Unix milliseconds), moving it there.
    fn at(&mut self, ms: i64) -> Now {
        self.ms = ms;
        Now {
            mono: self.t0 + Duration::from_millis((self.ms - 1_700_000_000_000) as u64),
            unix_ms: self.ms,
        }
    }
}

/// São Paulo, every day 08:00-18:00. The simulated clock starts on
/// 2023-11-14 at 19:13:20 there (22:13:20 UTC): closed, and it opens the
/// next morning at 08:00 (11:00 UTC, Unix ms 1_700_046_000_000).
fn office() -> Schedule {
    let c: ScheduleConfig = toml::from_str(
        r#"
timezone = "America/Sao_Paulo"
[weekly]
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
wed = ["08:00-18:00"]
thu = ["08:00-18:00"]
fri = ["08:00-18:00"]
sat = ["08:00-18:00"]
sun = ["08:00-18:00"]
"#,
    )
    .unwrap();
    c.build().unwrap()
}

const OPENS_MS: i64 = 1_700_046_000_000;

/// The decision the engine takes with the wall clock, at `ms`.
fn decide(hours: &OpeningHours, ms: i64) -> Decision {
    Decision::evaluate(
        &hours.channel,
        &hours.services,
        chrono::DateTime::from_timestamp_millis(ms).unwrap(),
        ura_ivr::Lang::PtBr,
    )
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
        hours: None,
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

#[test]
fn out_of_hours_it_is_kept_then_queued_when_the_channel_opens() {
    let mut sim = Sim::new();
    let hours = Arc::new(OpeningHours {
        channel: office(),
        services: Default::default(),
    });
    let t = sim.now();
    let decision = decide(&hours, t.unix_ms);
    assert!(!decision.is_open(), "the simulated evening is closed");
    let s = Start {
        hours: Some(hours.clone()),
        ..start(decision, DEMO)
    };
    let mut c = Conversation::new(ConversationId(11), s, t);
    let out = drain(&mut c);
    // The closed text with the next opening (the IVR's words), then the
    // menu: the visitor still says what it is about.
    assert_eq!(
        texts(&out),
        [
            "Olá! Como podemos ajudar?",
            "No momento estamos fora do horário de atendimento.",
            "Atendimento a partir de amanhã às 8 horas.",
            "Digite 1 para vendas, 2 para suporte."
        ]
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Ended(_))),
        "{out:?}"
    );
    assert!(c.kept_out_of_hours());
    c.visitor_text(sim.now(), "1", None).unwrap();
    let out = drain(&mut c);
    assert_eq!(c.phase(), Phase::AfterHours);
    assert!(out.contains(&Output::Phase(Phase::AfterHours)), "{out:?}");
    assert!(
        !out.iter().any(|o| matches!(o, Output::Enqueue(_))),
        "not queued while closed: {out:?}"
    );
    assert!(texts(&out)[1].starts_with("Deixe sua mensagem"), "{out:?}");
    assert_eq!(c.kept_for(), Some(&ServiceId::new("vendas")));
    assert_eq!(c.opens_at(), Some(OPENS_MS));
    // Written while closed: kept in the log (an hour later, unhurried).
    let later = t.unix_ms + 3_600_000;
    let seq = c
        .visitor_text(sim.at(later), "Quero trocar meu plano.", Some("k1"))
        .unwrap();
    assert_eq!(
        texts(&drain(&mut c)),
        ["Quero trocar meu plano."],
        "nothing but the message"
    );
    // Time passes, still closed (a timer early by a second): nothing.
    c.handle_timeout(sim.at(OPENS_MS - 1_000));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.phase(), Phase::AfterHours);
    assert_eq!(c.opens_at(), Some(OPENS_MS));
    assert!(
        !c.abandoned(sim.at(OPENS_MS - 1_000).mono, false),
        "kept even with the visitor gone"
    );
    // It opens: into the queue, as any conversation.
    c.handle_timeout(sim.at(OPENS_MS));
    let out = drain(&mut c);
    assert!(
        out.contains(&Output::Enqueue(ServiceId::new("vendas"))),
        "{out:?}"
    );
    assert_eq!(
        texts(&out),
        ["Aguarde um momento: você será atendido em breve."]
    );
    assert_eq!(c.phase(), Phase::Waiting);
    assert!(!c.kept_out_of_hours());
    assert_eq!(c.opens_at(), None);
    c.set_position(1);
    assert!(drain(&mut c).contains(&Output::Position(1)));
    // The agent who takes it sees everything, what was written while
    // closed included.
    c.agent_joined(sim.now(), "Ana");
    drain(&mut c);
    let log: Vec<&str> = c.after(Seq(0)).iter().map(|m| m.text.as_str()).collect();
    assert!(log.contains(&"Quero trocar meu plano."), "{log:?}");
    assert_eq!(c.after(Seq(0))[seq.0 as usize - 1].author, Author::Visitor);
    assert!(c.agent_text(sim.now(), "Ana", "Bom dia!", None).is_ok());
}

#[test]
fn a_service_with_its_own_hours_keeps_the_conversation_until_both_open() {
    let mut sim = Sim::new();
    // The channel is always open; its one service opens at 8 (São Paulo).
    let hours = Arc::new(OpeningHours {
        channel: Schedule::always_open(ura_ivr::Tz::UTC),
        services: [(ServiceId::new("vendas"), office())].into(),
    });
    let ivr = IvrConfig::straight_to(ServiceId::new("vendas"))
        .validate()
        .unwrap();
    let t = sim.now();
    let s = Start {
        ivr: Arc::new(ivr),
        hours: Some(hours.clone()),
        ..start(decide(&hours, t.unix_ms), DEMO)
    };
    let mut c = Conversation::new(ConversationId(12), s, t);
    let out = drain(&mut c);
    assert_eq!(
        texts(&out)[1..3],
        [
            "Este serviço está fora do horário de atendimento.",
            "Atendimento a partir de amanhã às 8 horas."
        ]
    );
    assert_eq!(c.phase(), Phase::AfterHours);
    assert_eq!(c.opens_at(), Some(OPENS_MS));
    c.handle_timeout(sim.at(OPENS_MS + 5_000));
    assert!(drain(&mut c).contains(&Output::Enqueue(ServiceId::new("vendas"))));
}

#[test]
fn out_of_hours_without_room_to_keep_it_ends_as_before() {
    let mut sim = Sim::new();
    let hours = OpeningHours {
        channel: office(),
        services: Default::default(),
    };
    let t = sim.now();
    // The engine gives no hours when the channel keeps MAX_KEPT already.
    let mut c = Conversation::new(
        ConversationId(13),
        start(decide(&hours, t.unix_ms), DEMO),
        t,
    );
    let out = drain(&mut c);
    assert!(out.contains(&Output::Ended(Closer::Flow)), "{out:?}");
    assert!(!c.kept_out_of_hours());
}

#[test]
fn a_fallback_to_a_service_still_closed_is_kept_again_for_it() {
    let mut sim = Sim::new();
    // "suporte" opens an hour after the channel.
    let late: ScheduleConfig = toml::from_str(
        r#"
timezone = "America/Sao_Paulo"
weekly = { mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-18:00"], sat = ["09:00-18:00"], sun = ["09:00-18:00"] }
"#,
    )
    .unwrap();
    let hours = Arc::new(OpeningHours {
        channel: office(),
        services: [(ServiceId::new("suporte"), late.build().unwrap())].into(),
    });
    let ivr = DEMO.replace(
        "max_failures = 2\n",
        "max_failures = 2\nfallback = { service = \"suporte\" }\n",
    );
    let t = sim.now();
    let s = Start {
        hours: Some(hours.clone()),
        ..start(decide(&hours, t.unix_ms), &ivr)
    };
    let mut c = Conversation::new(ConversationId(14), s, t);
    c.visitor_text(sim.now(), "1", None).unwrap();
    drain(&mut c);
    c.handle_timeout(sim.at(OPENS_MS));
    assert!(drain(&mut c).contains(&Output::Enqueue(ServiceId::new("vendas"))));
    // Nobody at vendas: the fallback, suporte, opens at 9: kept for it.
    c.queue_failed(sim.now(), QueueResult::NoAgents);
    let out = drain(&mut c);
    assert!(
        !out.iter().any(|o| matches!(o, Output::Enqueue(_))),
        "{out:?}"
    );
    assert_eq!(c.phase(), Phase::AfterHours);
    assert_eq!(c.kept_for(), Some(&ServiceId::new("suporte")));
    assert_eq!(c.opens_at(), Some(OPENS_MS + 3_600_000));
    c.handle_timeout(sim.at(OPENS_MS + 3_600_000));
    assert!(drain(&mut c).contains(&Output::Enqueue(ServiceId::new("suporte"))));
}
