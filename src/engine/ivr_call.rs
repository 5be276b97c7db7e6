//! A call in an IVR: the engine's side of a [`ura_ivr::Flow`]. It turns the
//! flow's prompts into built-in clips played back to back, hands a chosen
//! service to the engine (which puts the caller in the service's agent
//! queue), runs the stub queue (hold music, then "no agents") for a
//! service without a queue, and notes what the call record needs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::prompt_set::PromptSet;
use chrono::{DateTime, Datelike, Timelike, Utc};
use ura_ivr::{
    BuiltinPrompt, Decision, Event, Flow, Hours, Output, PlayToken, PromptRef, QueueResult,
    Schedule,
};
use ura_media::{MediaEngine, PlayId, PlayMode, PromptFrames, StreamId};
use ura_prompts::BuiltinLanguage;
use ura_store::CallRecord;

use crate::routing::Number;

/// Let the last frames of a prompt reach the caller before BYE.
pub const HANGUP_GRACE: Duration = Duration::from_millis(200);

/// What the engine must do after driving a flow.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drive {
    /// Hang up at this time.
    pub hangup_at: Option<Instant>,
    /// The caller chose this service: put them in its queue (or call
    /// [`IvrCall::stub_queue`] when it has none).
    pub enqueue: Option<ura_ivr::ServiceId>,
}

/// The IVR side of one call.
pub struct IvrCall {
    number: Arc<Number>,
    flow: Option<Flow>,
    /// The last clip of each prompt sequence, and the flow's token for it.
    plays: HashMap<PlayId, PlayToken>,
    queue_until: Option<Instant>,
}

/// Where plays come from: the media engine, the clips, and fresh play ids.
pub struct Player<'a> {
    /// The media engine.
    pub media: &'a MediaEngine,
    /// Built-in clips.
    pub prompts: &'a PromptSet,
    /// Next play id.
    pub next_play: &'a mut u64,
    /// The call's stream.
    pub stream: StreamId,
}

impl Player<'_> {
    /// Plays `clips` back to back (the first replaces what plays); returns
    /// the last clip's id, or None when there is nothing to play.
    pub fn play(&mut self, clips: &[PromptFrames], looped: bool) -> Option<PlayId> {
        let mut last = None;
        for (i, clip) in clips.iter().enumerate() {
            let id = PlayId(*self.next_play);
            *self.next_play += 1;
            let mode = if i == 0 {
                PlayMode::Replace
            } else {
                PlayMode::Append
            };
            self.media.play(self.stream, id, clip.clone(), mode, looped);
            last = Some(id);
        }
        last
    }
}

fn builtin_name(b: BuiltinPrompt) -> &'static str {
    match b {
        BuiltinPrompt::Welcome => "ivr-welcome",
        BuiltinPrompt::Closed => "ivr-closed",
        BuiltinPrompt::InvalidOption => "ivr-invalid",
        BuiltinPrompt::NoInput => "ivr-no-input",
        BuiltinPrompt::NoAnswer => "ivr-no-answer",
        BuiltinPrompt::ServiceClosed => "ivr-service-closed",
    }
}

/// The clips that say a prompt. A menu is joined from pieces: "para" +
/// the option's label + "tecle" + its digits, for each option in order.
pub fn clips(prompts: &PromptSet, lang: BuiltinLanguage, prompt: &PromptRef) -> Vec<PromptFrames> {
    let get = |name: &str| prompts.get_in(lang, name).cloned();
    match prompt {
        PromptRef::Builtin(b) => get(builtin_name(*b)).into_iter().collect(),
        PromptRef::Configured(name) => {
            let found = get(name.as_str());
            if found.is_none() {
                tracing::warn!(prompt = %name, "no prompt with that name; skipped");
            }
            found.into_iter().collect()
        }
        PromptRef::Menu {
            intro,
            items,
            operator_key,
            ..
        } => {
            let mut out: Vec<PromptFrames> = intro.iter().filter_map(|n| get(n.as_str())).collect();
            for item in items {
                out.extend(get("menu-para"));
                out.extend(get(&format!("label-{}", item.label)));
                out.extend(get("menu-tecle"));
                out.extend(
                    item.digits
                        .chars()
                        .filter_map(|d| prompts.digit_in(lang, d).cloned()),
                );
            }
            if let Some(key) = operator_key {
                out.extend(get("menu-operator"));
                out.extend(prompts.digit_in(lang, *key).cloned());
            }
            out
        }
        // Needs the schedule: see `next_opening_clips`.
        PromptRef::NextOpening { .. } => Vec::new(),
    }
}

/// "Atendimento a partir de" + today / tomorrow / a weekday + the hour
/// (+ minutes), joined from built-in clips. Empty when the schedule does not
/// open within a week, or opens at a minute that is not a multiple of 5
/// (there are no clips for it, and saying a wrong time is worse than none).
pub fn next_opening_clips(
    prompts: &PromptSet,
    lang: BuiltinLanguage,
    schedule: &Schedule,
    at: DateTime<Utc>,
) -> Vec<PromptFrames> {
    let Some(next) = schedule.next_open(at) else {
        return Vec::new();
    };
    let tz = schedule.timezone();
    let (next, now) = (next.with_timezone(&tz), at.with_timezone(&tz));
    let days = (next.date_naive() - now.date_naive()).num_days();
    if !(0..=6).contains(&days) || next.minute() % 5 != 0 {
        return Vec::new();
    }
    let day = match days {
        0 => "day-today".to_string(),
        1 => "day-tomorrow".to_string(),
        _ => format!("weekday-{}", next.weekday().num_days_from_sunday()),
    };
    let mut names = vec![
        "next-opening".to_string(),
        day,
        format!("hour-{}", next.hour()),
    ];
    if next.minute() > 0 {
        names.push(format!("minute-{}", next.minute()));
    }
    names
        .iter()
        .filter_map(|n| prompts.get_in(lang, n).cloned())
        .collect()
}

impl IvrCall {
    /// The language of the number's built-in prompts.
    fn lang(&self) -> BuiltinLanguage {
        match self.number.config.language {
            ura_ivr::Lang::En => BuiltinLanguage::En,
            _ => BuiltinLanguage::PtBr,
        }
    }

    /// A call to `number`; the flow starts when the call is up.
    pub fn new(number: Arc<Number>) -> IvrCall {
        IvrCall {
            number,
            flow: None,
            plays: HashMap::new(),
            queue_until: None,
        }
    }

    /// The call is up: decide open/closed now and start the flow.
    pub fn start(
        &mut self,
        now: Instant,
        player: &mut Player<'_>,
        record: &mut CallRecord,
    ) -> Drive {
        let n = &self.number;
        let at = chrono::Utc::now();
        let decision = Decision::evaluate(&n.schedule, &n.service_schedules, at, n.config.language);
        let open = matches!(decision.hours, Hours::Open);
        // The instant the schedule was evaluated at, to check a decision.
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        tracing::info!(number = %n.config.number, open, %at, "schedule decision");
        let mut flow = Flow::new(n.ivr.clone(), decision);
        flow.answered(now);
        self.flow = Some(flow);
        self.drive(now, player, record)
    }

    /// A key press.
    pub fn digit(
        &mut self,
        now: Instant,
        key: char,
        player: &mut Player<'_>,
        record: &mut CallRecord,
    ) -> Drive {
        if let Some(f) = self.flow.as_mut() {
            f.digit(now, key);
        }
        self.drive(now, player, record)
    }

    /// A clip finished; if it ended a prompt, the flow hears of it.
    pub fn play_finished(
        &mut self,
        now: Instant,
        play: PlayId,
        player: &mut Player<'_>,
        record: &mut CallRecord,
    ) -> Drive {
        if let (Some(token), Some(f)) = (self.plays.remove(&play), self.flow.as_mut()) {
            f.prompt_finished(now, token);
        }
        self.drive(now, player, record)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flow = self.flow.as_ref().and_then(Flow::poll_timeout);
        [flow, self.queue_until].into_iter().flatten().min()
    }

    /// The service has no agent queue: hold music for its `hold_seconds`,
    /// then the flow hears that nobody could take the call.
    pub fn stub_queue(
        &mut self,
        now: Instant,
        service: &ura_ivr::ServiceId,
        player: &mut Player<'_>,
    ) {
        let hold = self
            .number
            .services
            .get(service)
            .map_or(20, |s| s.hold_seconds);
        tracing::info!(%service, hold, "no queue for the service: hold music, then no agents");
        if let Some(music) = player.prompts.get_in(self.lang(), "hold-music") {
            player.play(std::slice::from_ref(music), true);
        }
        self.queue_until = Some(now + Duration::from_secs(hold));
    }

    /// The agent queue is done with the caller: answered (the flow is
    /// over) or not (the flow plays the no-answer prompt, then its
    /// fallback).
    pub fn queue_result(
        &mut self,
        now: Instant,
        result: QueueResult,
        player: &mut Player<'_>,
        record: &mut CallRecord,
    ) -> Drive {
        if let Some(f) = self.flow.as_mut() {
            f.queue_result(now, result);
        }
        self.drive(now, player, record)
    }

    /// The agent queue of a service of this number, if it has one.
    pub fn queue_of(&self, service: &ura_ivr::ServiceId) -> Option<String> {
        self.number.queues.get(service).cloned()
    }

    /// The language of what the caller hears.
    pub fn language(&self) -> BuiltinLanguage {
        self.lang()
    }

    /// Runs the flow's timers and the stub queue.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        player: &mut Player<'_>,
        record: &mut CallRecord,
    ) -> Drive {
        if self.queue_until.is_some_and(|t| t <= now) {
            self.queue_until = None;
            player.media.stop_play(player.stream);
            if let Some(f) = self.flow.as_mut() {
                f.queue_result(now, QueueResult::NoAgents);
            }
        }
        if let Some(f) = self.flow.as_mut() {
            if f.poll_timeout().is_some_and(|t| t <= now) {
                f.handle_timeout(now);
            }
        }
        self.drive(now, player, record)
    }

    fn drive(&mut self, now: Instant, player: &mut Player<'_>, record: &mut CallRecord) -> Drive {
        let mut result = Drive::default();
        let lang = self.lang();
        let Some(flow) = self.flow.as_mut() else {
            return result;
        };
        while let Some(out) = flow.poll_output() {
            match out {
                Output::Play { token, prompt } => {
                    let clips = match prompt {
                        PromptRef::NextOpening { .. } => next_opening_clips(
                            player.prompts,
                            lang,
                            &self.number.schedule,
                            Utc::now(),
                        ),
                        other => clips(player.prompts, lang, &other),
                    };
                    match player.play(&clips, false) {
                        Some(last) => {
                            self.plays.insert(last, token);
                        }
                        // Nothing to say: as if it had been said.
                        None => flow.prompt_finished(now, token),
                    }
                }
                Output::StopPlay { .. } => {
                    player.media.stop_play(player.stream);
                    self.plays.clear();
                }
                Output::Enqueue { service } => result.enqueue = Some(service),
                Output::Hangup { cause } => {
                    record.hangup_cause = format!("ivr-{cause:?}").to_lowercase();
                    result.hangup_at = Some(now + HANGUP_GRACE);
                }
                Output::Event(Event::ScheduleDecision { open }) => {
                    record.schedule = Some(if open { "open" } else { "closed" }.to_string());
                }
                Output::Event(Event::ServiceChosen { service }) => {
                    let name = self
                        .number
                        .services
                        .get(&service)
                        .map_or(service.to_string(), |s| s.name.clone());
                    record.service = Some(name);
                }
                Output::Event(Event::InvalidOption { menu, digits }) => {
                    tracing::info!(%menu, %digits, "invalid option")
                }
                Output::Event(e) => tracing::debug!(event = ?e, "ivr"),
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn names(prompts: &PromptSet, clips: &[PromptFrames]) -> Vec<String> {
        clips
            .iter()
            .map(|c| {
                prompts
                    .names()
                    .find(|n| prompts.get(n).is_some_and(|p| p.ptr_eq(c)))
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn next_opening_is_said_with_day_hour_and_minutes() {
        let prompts = PromptSet::new(std::sync::Arc::new(
            ura_prompts::BuiltinPrompts::load().unwrap(),
        ));
        let schedule: Schedule = toml::from_str(
            "timezone = \"America/Sao_Paulo\"\nweekly = { mon = [\"08:30-18:00\"], fri = [\"08:00-18:00\"] }\n",
        )
        .unwrap();
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        // Friday 20th, 19:00 -03 (22:00 UTC): Monday 08:30.
        let said = names(
            &prompts,
            &next_opening_clips(&prompts, BuiltinLanguage::PtBr, &schedule, at(20, 22)),
        );
        assert_eq!(said, ["next-opening", "weekday-1", "hour-8", "minute-30"]);
        // Monday 23rd, 07:00 -03: today at 08:30.
        let said = names(
            &prompts,
            &next_opening_clips(&prompts, BuiltinLanguage::PtBr, &schedule, at(23, 10)),
        );
        assert_eq!(said, ["next-opening", "day-today", "hour-8", "minute-30"]);
        // Thursday 26th, 20:00 -03: tomorrow (Friday) at 8.
        let said = names(
            &prompts,
            &next_opening_clips(&prompts, BuiltinLanguage::PtBr, &schedule, at(26, 23)),
        );
        assert_eq!(said, ["next-opening", "day-tomorrow", "hour-8"]);
        // Never open: nothing to say.
        let never: Schedule = toml::from_str("timezone = \"UTC\"\nalways_open = false\n").unwrap();
        assert!(next_opening_clips(&prompts, BuiltinLanguage::PtBr, &never, at(23, 10)).is_empty());
    }

    #[test]
    fn a_menu_is_joined_from_its_pieces() {
        let prompts = PromptSet::new(std::sync::Arc::new(
            ura_prompts::BuiltinPrompts::load().unwrap(),
        ));
        let menu = PromptRef::Menu {
            menu: ura_ivr::MenuId::root(),
            intro: None,
            items: vec![ura_ivr::MenuEntry {
                digits: "12".into(),
                label: "vendas".into(),
            }],
            operator_key: Some('0'),
        };
        let said = names(&prompts, &clips(&prompts, BuiltinLanguage::PtBr, &menu));
        assert_eq!(
            said,
            [
                "menu-para",
                "label-vendas",
                "menu-tecle",
                "digit-1",
                "digit-2",
                "menu-operator",
                "digit-0"
            ]
        );
    }
}
