//! `/metrics`: the Prometheus text format (version 0.0.4) of calls, media,
//! DTMF, call records, queues, agents and the admin API.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::engine::inputs::Shed;
use crate::engine::Counters;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics text; `live` is the engine's view of queues and agents
/// (`None` while it stops).
pub fn render(c: &Counters, live: Option<&Value>) -> String {
    let mut out = String::new();
    family(&mut out, "ura_calls_active", "gauge", "Calls up now.");
    let _ = writeln!(
        out,
        "ura_calls_active {}",
        c.active_calls.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_chats_open",
        "gauge",
        "Text conversations (web chat) open now.",
    );
    let _ = writeln!(
        out,
        "ura_chats_open {}",
        c.chats_open.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_chats_started_total",
        "counter",
        "Text conversations started since start.",
    );
    let _ = writeln!(
        out,
        "ura_chats_started_total {}",
        c.chats_started.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_chat_transcripts_sent_total",
        "counter",
        "Web chat transcripts the SMTP server took.",
    );
    let _ = writeln!(
        out,
        "ura_chat_transcripts_sent_total {}",
        c.transcripts.sent.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_chat_transcripts_failed_total",
        "counter",
        "Web chat transcripts not sent (every try failed, a bad address, or the mailer's queue was full).",
    );
    let _ = writeln!(
        out,
        "ura_chat_transcripts_failed_total {}",
        c.transcripts.failed.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_calls_answered_total",
        "counter",
        "Calls answered since start.",
    );
    let _ = writeln!(
        out,
        "ura_calls_answered_total {}",
        c.answered_calls.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_calls_ended_total",
        "counter",
        "Calls ended since start, by how they ended (the call record's hangup cause).",
    );
    if let Some(records) = c.records.get() {
        if let Ok(by) = records.by_cause.lock() {
            for (cause, n) in by.iter() {
                let _ = writeln!(
                    out,
                    "ura_calls_ended_total{{outcome=\"{}\"}} {n}",
                    label(cause)
                );
            }
        }
        family(
            &mut out,
            "ura_call_records_total",
            "counter",
            "Call records by fate.",
        );
        for (fate, n) in [
            ("written", records.written.load(Ordering::Relaxed)),
            ("lost", records.lost.load(Ordering::Relaxed)),
        ] {
            let _ = writeln!(out, "ura_call_records_total{{fate=\"{fate}\"}} {n}");
        }
        family(
            &mut out,
            "ura_call_records_pending",
            "gauge",
            "Call records queued, not yet written.",
        );
        let _ = writeln!(
            out,
            "ura_call_records_pending {}",
            records.pending.load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "ura_rtp_packets_total",
        "counter",
        "RTP packets of ended calls, by direction.",
    );
    let _ = writeln!(
        out,
        "ura_rtp_packets_total{{direction=\"sent\"}} {}",
        c.rtp_sent.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "ura_rtp_packets_total{{direction=\"received\"}} {}",
        c.rtp_received.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "ura_media_late_ticks_total",
        "counter",
        "Media ticks (20 ms) processed more than 2 ms late.",
    );
    let late = c.media.get().map_or(0, |m| m.late_ticks());
    let _ = writeln!(out, "ura_media_late_ticks_total {late}");
    family(
        &mut out,
        "ura_media_workers_polling",
        "gauge",
        "Media workers reading their sockets every 0.5 ms (many packets a second) instead of waking for each packet.",
    );
    // One look at the workers for both gauges.
    let workers = c.media.get().map(|m| m.worker_stats()).unwrap_or_default();
    let polling = workers.iter().filter(|w| w.polled).count();
    let _ = writeln!(out, "ura_media_workers_polling {polling}");
    family(
        &mut out,
        "ura_media_workers_over_budget",
        "gauge",
        "Media workers that used more than 90% of a core over a second and run at normal priority until under 70%.",
    );
    let over = workers.iter().filter(|w| w.over_budget).count();
    let _ = writeln!(out, "ura_media_workers_over_budget {over}");
    if let Some(media) = c.media.get() {
        family(
            &mut out,
            "ura_rtp_port_pairs_free",
            "gauge",
            "RTP/RTCP port pairs on the free list.",
        );
        let _ = writeln!(out, "ura_rtp_port_pairs_free {}", media.free_port_pairs());
    }
    sip(&mut out, c);
    family(
        &mut out,
        "ura_dtmf_digits_total",
        "counter",
        "DTMF digits callers pressed.",
    );
    let _ = writeln!(
        out,
        "ura_dtmf_digits_total {}",
        c.dtmf_digits.load(Ordering::Relaxed)
    );
    if let Some(live) = live {
        family(
            &mut out,
            "ura_queue_waiting",
            "gauge",
            "Tasks waiting, calls and chats alike, per queue (the live view tells them apart).",
        );
        for (queue, q) in live["queues"].as_object().into_iter().flatten() {
            let _ = writeln!(
                out,
                "ura_queue_waiting{{queue=\"{}\"}} {}",
                label(queue),
                q["waiting"].as_array().map_or(0, Vec::len)
            );
        }
        family(&mut out, "ura_agents", "gauge", "Agents, per state.");
        let mut states = std::collections::BTreeMap::<String, u64>::new();
        for a in live["agents"].as_array().into_iter().flatten() {
            let state = a["state"].as_str().unwrap_or("unknown");
            // `paused (lunch)`: the state without the reason.
            let state = state.split(' ').next().unwrap_or(state);
            *states.entry(state.to_string()).or_default() += 1;
        }
        for (state, n) in states {
            let _ = writeln!(out, "ura_agents{{state=\"{}\"}} {n}", label(&state));
        }
    }
    family(
        &mut out,
        "ura_api_requests_total",
        "counter",
        "Admin API requests answered, by status code.",
    );
    if let Ok(by) = c.api_requests.lock() {
        for (status, n) in by.iter() {
            let _ = writeln!(out, "ura_api_requests_total{{status=\"{status}\"}} {n}");
        }
    }
    out
}

/// The SIP endpoint's sizes and what the input lanes shed.
fn sip(out: &mut String, c: &Counters) {
    family(
        out,
        "ura_sip_transactions",
        "gauge",
        "SIP transactions held now.",
    );
    let txs = c.sip_transactions.load(Ordering::Relaxed);
    let _ = writeln!(out, "ura_sip_transactions {txs}");
    family(out, "ura_sip_dialogs", "gauge", "SIP dialogs held now.");
    let dialogs = c.sip_dialogs.load(Ordering::Relaxed);
    let _ = writeln!(out, "ura_sip_dialogs {dialogs}");
    let Some(shed) = c.shed.get() else {
        return;
    };
    family(
        out,
        "ura_sip_shed_total",
        "counter",
        "New SIP requests answered 503 without reaching the core, by reason.",
    );
    for why in Shed::ALL {
        let n = shed.by_reason[why as usize].load(Ordering::Relaxed);
        let _ = writeln!(out, "ura_sip_shed_total{{reason=\"{}\"}} {n}", why.label());
    }
    family(
        out,
        "ura_sip_dropped_total",
        "counter",
        "SIP messages dropped unanswered (a lane full, or unparsable).",
    );
    let dropped = shed.dropped.load(Ordering::Relaxed) + shed.high_full.load(Ordering::Relaxed);
    let _ = writeln!(out, "ura_sip_dropped_total {dropped}");
    family(
        out,
        "ura_sip_sources_tracked",
        "gauge",
        "Source addresses the per-source rate limit tracks (capped).",
    );
    let tracked = shed.sources_tracked.load(Ordering::Relaxed);
    let _ = writeln!(out, "ura_sip_sources_tracked {tracked}");
    family(
        out,
        "ura_sip_shed_call_ids",
        "gauge",
        "Call-IDs the shedder remembers (capped).",
    );
    let remembered = shed.remembered.load(Ordering::Relaxed);
    let _ = writeln!(out, "ura_sip_shed_call_ids {remembered}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_line_belongs_to_a_declared_family() {
        let c = Counters::default();
        c.dtmf_digits.fetch_add(3, Ordering::Relaxed);
        c.api_requests.lock().unwrap().insert(404, 2);
        let live = serde_json::json!({
            // A call and a chat: both count.
            "queues": {"vendas": {"waiting": [{"task": 1, "channel": "voice"},
                                              {"task": 2, "channel": "chat"}]}},
            "agents": [{"agent": "2001", "state": "available"},
                       {"agent": "2002", "state": "paused (almoço \"já\")"}],
        });
        let text = render(&c, Some(&live));
        assert!(text.contains("ura_dtmf_digits_total 3\n"), "{text}");
        assert!(
            text.contains("ura_queue_waiting{queue=\"vendas\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("ura_agents{state=\"paused\"} 1\n"), "{text}");
        assert!(
            text.contains("ura_api_requests_total{status=\"404\"} 2\n"),
            "{text}"
        );
        let declared: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(declared.contains(&name), "{line}");
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
