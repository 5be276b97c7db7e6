//! A waiting caller's ways out of the queue other than an agent: the
//! queue's exit key (a callback request, or a recorded message), and the
//! queue's periodic message while they wait.

use std::time::{Duration, Instant};

use ura_media::{PlayId, PlayMode, PromptFrames};
use ura_sip::DialogId;

use super::{wall_clock, App, Calls, HANGUP_GRACE};
use crate::queues::ExitAction;

/// The longest message a caller may leave.
const MAX_MESSAGE: Duration = Duration::from_secs(120);

/// Where a caller who pressed the exit key is.
#[derive(Debug)]
pub(super) enum Leaving {
    /// The callback confirmation plays; then hang up.
    Callback(PlayId),
    /// The instructions and the beep play; then record.
    MessageIntro(PlayId),
    /// Recording the message (`#` or the limit ends it).
    Recording,
    /// "Mensagem recebida"; then hang up.
    Saved(PlayId),
}

impl Calls {
    /// The clips offering the exit key, when the caller's queue has one.
    pub(super) fn exit_offer(&self, dialog: DialogId) -> Vec<PromptFrames> {
        let Some(call) = self.calls.get(&dialog) else {
            return Vec::new();
        };
        let Some(q) = call
            .record
            .queue
            .as_ref()
            .and_then(|q| self.queues.settings(&q.queue))
        else {
            return Vec::new();
        };
        let Some(key) = q.exit_key else {
            return Vec::new();
        };
        let lang = self.language_of(dialog);
        let offer = match q.exit {
            ExitAction::Callback => "queue-offer-callback",
            ExitAction::Message => "queue-offer-message",
        };
        self.prompts
            .get_in(lang, offer)
            .cloned()
            .into_iter()
            .chain(self.prompts.digit_in(lang, key).cloned())
            .collect()
    }

    /// The built-in language of a call's number.
    pub(super) fn language_of(&self, dialog: DialogId) -> ura_prompts::BuiltinLanguage {
        match self.calls.get(&dialog).map(|c| &c.app) {
            Some(App::Ivr(ivr)) => ivr.language(),
            _ => ura_prompts::BuiltinLanguage::PtBr,
        }
    }

    /// Plays `names` (built-in clips) back to back; the last one's id.
    fn say(&mut self, dialog: DialogId, names: &[&str]) -> Option<PlayId> {
        let lang = self.language_of(dialog);
        let stream = self.calls.get(&dialog)?.stream;
        let mut last = None;
        for (i, name) in names.iter().enumerate() {
            let Some(clip) = self.prompts.get_in(lang, name).cloned() else {
                continue;
            };
            let play = PlayId(self.next_play);
            self.next_play += 1;
            let mode = if i == 0 {
                PlayMode::Replace
            } else {
                PlayMode::Append
            };
            self.media.play(stream, play, clip, mode, false);
            last = Some(play);
        }
        last
    }

    /// A key from a caller: true when it was the queue's exit key (or a
    /// key ending a message being recorded).
    pub(super) fn leave_key(&mut self, now: Instant, dialog: DialogId, key: char) -> bool {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return false;
        };
        if matches!(call.leaving, Some(Leaving::Recording)) {
            if key == '#' {
                self.media.stop_record(call.stream);
            }
            return true;
        }
        if call.leaving.is_some() {
            return true;
        }
        let Some(w) = call.waiting.as_ref() else {
            return false;
        };
        if w.leg.is_some() || w.answered_leg.is_some() {
            return false;
        }
        let Some(q) = call.record.queue.as_ref() else {
            return false;
        };
        let Some(settings) = self.queues.settings(&q.queue) else {
            return false;
        };
        if settings.exit_key != Some(key) {
            return false;
        }
        let action = settings.exit;
        let task = w.task;
        let entered = w.entered;
        // Out of the router first, so its TaskLeft finds no caller to send
        // to the no-answer prompt.
        self.tasks.remove(&task);
        let _ = self.queues.router.abandon(now, task);
        call.waiting = None;
        let outcome = match action {
            ExitAction::Callback => "callback",
            ExitAction::Message => "message",
        };
        if let Some(q) = call.record.queue.as_mut() {
            q.outcome = Some(outcome.into());
            q.left_at = Some(wall_clock());
            q.wait_ms = Some(now.duration_since(entered).as_millis() as i64);
        }
        tracing::info!(%dialog, outcome, "caller left the queue with the exit key");
        let r = &call.record;
        self.events.emit(
            ura_webhooks::EventType::QueueLeft,
            ura_webhooks::Subject::Number(r.number.clone()),
            || super::legs::queue_left_data(r, outcome, None),
        );
        let leaving = match action {
            ExitAction::Callback => self.say(dialog, &["queue-callback"]).map(Leaving::Callback),
            ExitAction::Message => self
                .say(dialog, &["rec-instructions", "beep"])
                .map(Leaving::MessageIntro),
        };
        if let Some(call) = self.calls.get_mut(&dialog) {
            match leaving {
                Some(l) => call.leaving = Some(l),
                None => call.hangup_at = Some(now + HANGUP_GRACE),
            }
        }
        self.schedule(dialog);
        true
    }

    /// A clip ended: true when it belonged to a caller leaving the queue.
    pub(super) fn leave_play_finished(
        &mut self,
        now: Instant,
        dialog: DialogId,
        play: PlayId,
    ) -> bool {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return false;
        };
        match call.leaving {
            Some(Leaving::Callback(p)) | Some(Leaving::Saved(p)) if p == play => {
                call.hangup_at = Some(now + HANGUP_GRACE);
                self.schedule(dialog);
                true
            }
            Some(Leaving::MessageIntro(p)) if p == play => {
                call.leaving = Some(Leaving::Recording);
                self.media.record(call.stream, MAX_MESSAGE);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// The message was recorded: write it (off the core task) and thank
    /// the caller.
    pub(super) fn leave_recorded(&mut self, now: Instant, dialog: DialogId, pcm: Vec<i16>) -> bool {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return false;
        };
        if !matches!(call.leaving, Some(Leaving::Recording)) {
            return false;
        }
        let dir = self.config.data_dir.join("messages");
        let name = format!(
            "{}-{}.wav",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            dialog
        );
        if let Some(q) = call.record.queue.as_mut() {
            q.recording = Some(format!("messages/{name}"));
        }
        tracing::info!(%dialog, seconds = pcm.len() as f32 / 8000.0, file = %name, "message left in the queue");
        let wav = crate::prompt_admin::wav_bytes(&pcm);
        tokio::task::spawn_blocking(move || {
            let written =
                std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join(&name), wav));
            if let Err(e) = written {
                tracing::warn!(file = %name, error = %e, "message not written");
            }
        });
        let saved = self.say(dialog, &["queue-message-saved"]);
        if let Some(call) = self.calls.get_mut(&dialog) {
            match saved {
                Some(p) => call.leaving = Some(Leaving::Saved(p)),
                None => call.hangup_at = Some(now + HANGUP_GRACE),
            }
        }
        self.schedule(dialog);
        true
    }

    /// When the caller's periodic message is due, if any.
    pub(super) fn periodic_due(&self, dialog: DialogId) -> Option<Instant> {
        self.calls.get(&dialog)?.waiting.as_ref()?.periodic_at
    }

    /// Plays the queue's periodic message to a waiting caller, then the
    /// hold music again, and arms the next one.
    pub(super) fn periodic(&mut self, now: Instant, dialog: DialogId) {
        let Some(call) = self.calls.get_mut(&dialog) else {
            return;
        };
        let Some(queue) = call.record.queue.as_ref().map(|q| q.queue.clone()) else {
            return;
        };
        let Some(settings) = self.queues.settings(&queue) else {
            return;
        };
        let every = Duration::from_secs(settings.periodic_seconds);
        let name = settings.periodic_prompt.clone();
        let Some(w) = call.waiting.as_mut() else {
            return;
        };
        if w.leg.is_some() || w.answered_leg.is_some() {
            w.periodic_at = None;
            return;
        }
        w.periodic_at = Some(now + every);
        let lang = self.language_of(dialog);
        let clip = name.and_then(|n| self.prompts.get_in(lang, &n).cloned());
        self.hold_music(dialog, &queue, clip.into_iter().collect());
        self.schedule(dialog);
    }
}
