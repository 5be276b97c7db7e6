//! A simulated call: a flow driven with a fake clock, outputs collected.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ura_ivr::{
    BuiltinPrompt, Decision, Event, Flow, HangupCause, Ivr, IvrConfig, MenuEntry, MenuId, Output,
    PlayToken, PromptName, PromptRef, QueueResult, ServiceId,
};

pub const IVR: &str = r#"
operator = "recepcao"

[menu]
prompt = "menu-principal"
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
  { digits = "2", label = "suporte", target = { menu = "suporte" } },
  { digits = "3", label = "financeiro", target = { service = "financeiro" } },
]

[submenus.suporte]
items = [
  { digits = "1", label = "internet", target = { service = "internet" } },
  { digits = "11", label = "internet empresarial", target = { service = "empresas" } },
  { digits = "12", label = "telefone", target = { service = "telefone" } },
]
"#;

pub fn config() -> IvrConfig {
    toml::from_str(IVR).unwrap()
}

pub struct Call {
    pub flow: Flow,
    pub t0: Instant,
    pub now: Instant,
}

impl Call {
    pub fn new(config: IvrConfig, decision: Decision) -> Self {
        let ivr = Arc::new(Ivr::new(config).unwrap());
        let t0 = Instant::now();
        Self {
            flow: Flow::new(ivr, decision),
            t0,
            now: t0,
        }
    }

    pub fn open() -> Self {
        Self::new(config(), Decision::open())
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.flow.poll_output()).collect()
    }

    pub fn answer(&mut self) -> Vec<Output> {
        self.flow.answered(self.now);
        self.drain()
    }

    pub fn finish(&mut self, token: u64) -> Vec<Output> {
        self.flow.prompt_finished(self.now, PlayToken(token));
        self.drain()
    }

    pub fn press(&mut self, keys: &str) -> Vec<Output> {
        for key in keys.chars() {
            self.flow.digit(self.now, key);
        }
        self.drain()
    }

    /// Advances the clock and lets due timeouts fire.
    pub fn wait(&mut self, ms: u64) -> Vec<Output> {
        self.now += Duration::from_millis(ms);
        self.flow.handle_timeout(self.now);
        self.drain()
    }

    pub fn queue(&mut self, result: QueueResult) -> Vec<Output> {
        self.flow.queue_result(self.now, result);
        self.drain()
    }

    /// Answers and finishes the welcome; returns the menu prompt's outputs.
    pub fn reach_menu(&mut self) -> Vec<Output> {
        self.answer();
        self.finish(1)
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
}

pub fn play(token: u64, prompt: PromptRef) -> Output {
    Output::Play {
        token: PlayToken(token),
        prompt,
    }
}

pub fn builtin(token: u64, prompt: BuiltinPrompt) -> Output {
    play(token, PromptRef::Builtin(prompt))
}

pub fn stop(token: u64) -> Output {
    Output::StopPlay {
        token: PlayToken(token),
    }
}

pub fn ev(event: Event) -> Output {
    Output::Event(event)
}

pub fn hangup(cause: HangupCause) -> Output {
    Output::Hangup { cause }
}

pub fn enqueue(service: &str) -> Output {
    Output::Enqueue {
        service: ServiceId::from(service),
    }
}

pub fn digits(menu: &str, keys: &str) -> Output {
    ev(Event::Digits {
        menu: MenuId::from(menu),
        digits: keys.to_owned(),
    })
}

/// The outputs of choosing an open service.
pub fn chosen(service: &str) -> [Output; 2] {
    [
        ev(Event::ServiceChosen {
            service: ServiceId::from(service),
        }),
        enqueue(service),
    ]
}

pub fn main_menu(token: u64) -> Output {
    play(
        token,
        PromptRef::Menu {
            menu: MenuId::root(),
            intro: Some(PromptName::from("menu-principal")),
            items: entries(&[("1", "vendas"), ("2", "suporte"), ("3", "financeiro")]),
            operator_key: Some('0'),
        },
    )
}

pub fn support_menu(token: u64) -> Output {
    play(
        token,
        PromptRef::Menu {
            menu: MenuId::from("suporte"),
            intro: None,
            items: entries(&[
                ("1", "internet"),
                ("11", "internet empresarial"),
                ("12", "telefone"),
            ]),
            operator_key: Some('0'),
        },
    )
}

fn entries(items: &[(&str, &str)]) -> Vec<MenuEntry> {
    items
        .iter()
        .map(|(d, l)| MenuEntry {
            digits: (*d).to_owned(),
            label: (*l).to_owned(),
        })
        .collect()
}
