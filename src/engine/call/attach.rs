//! Files in conversations, the core's decisions: who may send one and
//! where it goes (before its body is read), its message once written, and
//! who may fetch it. See `engine/attachments.rs`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ura_channels::{Attachment, ChannelsError, ConversationId, Now, Seq};

use super::Calls;
use crate::engine::attachments::{Admitted, AttachmentInput, Found, Kept, Party, Refused};

fn clock(now: Instant) -> Now {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Now { mono: now, unix_ms }
}

fn refused(e: &ChannelsError) -> Refused {
    match e {
        ChannelsError::Closed => Refused::new(409, "closed", e.to_string()),
        ChannelsError::NotYourConversation => Refused::new(403, "not_yours", e.to_string()),
        ChannelsError::TooManyAttachments { .. } => {
            Refused::new(409, "too_many_files", e.to_string())
        }
        _ => Refused::new(400, "refused", e.to_string()),
    }
}

impl Calls {
    /// Where attachments are kept, and the janitor of ended conversations'
    /// files ([`crate::engine::attachments::spawn_janitor`]).
    pub fn set_attachments(
        &mut self,
        (dir, janitor): (
            std::path::PathBuf,
            tokio::sync::mpsc::Sender<Vec<std::path::PathBuf>>,
        ),
    ) {
        self.chats.files.dir = Some(dir);
        self.chats.files.janitor = Some(janitor);
    }

    /// One question from the web side about files.
    pub(super) fn attachment_input(&mut self, now: Instant, input: AttachmentInput) {
        match input {
            AttachmentInput::Admit {
                party,
                conversation,
                mime,
                length,
                reply,
            } => {
                let _ = reply.send(self.attachment_admit(&party, conversation, &mime, length));
            }
            AttachmentInput::Add {
                party,
                conversation,
                file,
                client_id,
                reply,
            } => {
                let answer = self.attachment_add(now, &party, conversation, file, client_id);
                let _ = reply.send(answer);
                self.chat_flush(now, conversation);
            }
            AttachmentInput::Find { party, id, reply } => {
                let _ = reply.send(self.attachment_find(&party, &id));
            }
        }
    }

    /// The conversation `party` speaks in, with the agent's name for an
    /// agent; refused when it is not theirs.
    fn attachment_party(
        &self,
        party: &Party,
        conversation: Option<ConversationId>,
    ) -> Result<(ConversationId, Option<String>), Refused> {
        let unknown = || {
            Refused::new(
                404,
                "unknown_conversation",
                "no such conversation (it ended long ago, or ura restarted)",
            )
        };
        match party {
            Party::Visitor { channel, token } => {
                let c = *self.chats.by_token.get(token).ok_or_else(unknown)?;
                let conv = self.chats.convs.get(&c).ok_or_else(unknown)?;
                if conv.channel != *channel {
                    return Err(unknown());
                }
                Ok((c, None))
            }
            Party::Agent { ext } => {
                let agent = self
                    .queues
                    .agent(ext)
                    .ok_or_else(|| Refused::new(401, "unauthorized", "no such agent"))?;
                let c = conversation.ok_or_else(unknown)?;
                let conv = self.chats.convs.get(&c).ok_or_else(unknown)?;
                if conv.agent != Some(agent) {
                    return Err(Refused::new(
                        403,
                        "not_yours",
                        "the conversation is not with you",
                    ));
                }
                let name = self
                    .config
                    .routing
                    .agents
                    .get(ext)
                    .map_or(ext.to_string(), |a| a.name.clone());
                Ok((c, Some(name)))
            }
        }
    }

    /// The channel's rules for files, and what it keeps on disk now.
    fn attachment_rules(
        &self,
        c: ConversationId,
    ) -> Result<(String, ura_channels::AttachmentSettings, u64), Refused> {
        let conv = self
            .chats
            .convs
            .get(&c)
            .ok_or_else(|| Refused::new(404, "unknown_conversation", "no such conversation"))?;
        let channel = self.routing.channel(&conv.channel).ok_or_else(|| {
            Refused::new(409, "closed", "the chat channel is gone: no more files")
        })?;
        let used = self
            .chats
            .files
            .bytes
            .get(&conv.channel)
            .copied()
            .unwrap_or(0);
        Ok((
            conv.channel.clone(),
            channel.config.webchat.attachments.clone(),
            used,
        ))
    }

    fn attachment_admit(
        &self,
        party: &Party,
        conversation: Option<ConversationId>,
        mime: &str,
        length: u64,
    ) -> Result<Admitted, Refused> {
        let Some(dir) = &self.chats.files.dir else {
            return Err(Refused::new(503, "unavailable", "this ura keeps no files"));
        };
        let (c, agent) = self.attachment_party(party, conversation)?;
        if let Some(conv) = self.chats.convs.get(&c) {
            conv.conv
                .attachment_allowed(agent.is_some())
                .map_err(|e| refused(&e))?;
        }
        let (_, rules, used) = self.attachment_rules(c)?;
        ura_channels::attachments::admit(&rules, mime, length).map_err(|r| {
            let (status, message) = match r {
                ura_channels::AttachmentRefusal::TooLarge => (
                    413,
                    format!("the file is larger than {} bytes", rules.max_bytes),
                ),
                _ => (
                    415,
                    format!(
                        "{mime:?} is not allowed here: send {}",
                        rules.types.join(", ")
                    ),
                ),
            };
            Refused::new(status, r.code(), message)
        })?;
        if used.saturating_add(length) > rules.max_total_bytes {
            return Err(full());
        }
        let id = crate::engine::chats::token();
        Ok(Admitted {
            conversation: c,
            path: dir.join(&id),
            id,
            max_bytes: rules.max_bytes,
        })
    }

    fn attachment_add(
        &mut self,
        now: Instant,
        party: &Party,
        conversation: ConversationId,
        file: Attachment,
        client_id: Option<String>,
    ) -> Result<(u64, bool), Refused> {
        let (c, agent) = self.attachment_party(party, Some(conversation))?;
        if c != conversation {
            return Err(Refused::new(
                403,
                "not_yours",
                "the conversation is not yours",
            ));
        }
        let (channel, rules, used) = self.attachment_rules(c)?;
        if used.saturating_add(file.size) > rules.max_total_bytes {
            return Err(full());
        }
        let Some(conv) = self.chats.convs.get_mut(&c) else {
            return Err(Refused::new(
                404,
                "unknown_conversation",
                "no such conversation",
            ));
        };
        let id = file.id.clone();
        let size = file.size;
        let kept = file.clone();
        let seq = conv
            .conv
            .attachment(clock(now), agent.as_deref(), file, client_id.as_deref())
            .map_err(|e| refused(&e))?;
        // A resend (the same client id) is the message already taken: the
        // new copy is not kept (the web side removes it).
        let new = conv
            .conv
            .after(Seq(seq.0.saturating_sub(1)))
            .first()
            .and_then(|m| m.attachment.as_ref())
            .is_some_and(|a| a.id == id);
        if new {
            let files = &mut self.chats.files;
            *files.bytes.entry(channel.clone()).or_default() += size;
            files.by_conversation.entry(c).or_default().push(id.clone());
            files.by_id.insert(
                id,
                Kept {
                    conversation: c,
                    channel,
                    file: kept,
                },
            );
            tracing::info!(conversation = %c, size, "attachment sent");
        }
        Ok((seq.0, new))
    }

    fn attachment_find(&self, party: &Party, id: &str) -> Result<Found, Refused> {
        let gone = || {
            Refused::new(
                404,
                "not_found",
                "no such file (files go when their conversation ends)",
            )
        };
        let k = self.chats.files.by_id.get(id).ok_or_else(gone)?;
        let dir = self.chats.files.dir.as_ref().ok_or_else(gone)?;
        let conv = self.chats.convs.get(&k.conversation).ok_or_else(gone)?;
        let allowed = match party {
            Party::Visitor { channel, token } => conv.token == *token && conv.channel == *channel,
            Party::Agent { ext } => {
                self.queues.agent(ext).is_some() && conv.agent == self.queues.agent(ext)
            }
        };
        if !allowed {
            return Err(Refused::new(
                403,
                "not_yours",
                "this file is not in a conversation of yours",
            ));
        }
        Ok(Found {
            path: dir.join(id),
            file: k.file.clone(),
        })
    }
}

fn full() -> Refused {
    Refused::new(
        507,
        "storage_full",
        "the chat channel keeps as many files as it may now: try later",
    )
}
