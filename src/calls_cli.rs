//! `ura calls list`: the call records as an aligned table, CSV or JSON.

use std::fmt::Write;

use ura_store::CallRecord;

/// How `ura calls list` prints the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CallsFormat {
    /// Columns aligned to their widest value, for people.
    #[default]
    Table,
    /// RFC 4180 CSV with a header line, for spreadsheets.
    Csv,
    /// One JSON array of objects, for programs.
    Json,
}

/// The table's and CSV's columns, in order (the caller last: it may hold
/// spaces).
pub const COLUMNS: [&str; 14] = [
    "id",
    "started",
    "number",
    "answer",
    "sched",
    "digits",
    "service",
    "cause",
    "side",
    "queue",
    "agent",
    "wait",
    "queue-outcome",
    "caller",
];

/// The caller as people read it, from a From header value: the display
/// name and the number (the URI's user part), without the URI's host,
/// parameters or tag. `"Ana" <sip:2001@10.0.0.5>;tag=x` is `Ana <2001>`;
/// `<sip:+551130000000@carrier>;tag=y` is `+551130000000`.
pub fn caller_label(from: &str) -> String {
    let from = from.trim();
    let (display, uri) = match (from.find('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => (from[..open].trim(), &from[open + 1..close]),
        // A bare URI: its parameters (the tag) follow the first ';'.
        _ => ("", from.split(';').next().unwrap_or("")),
    };
    let display = display
        .strip_prefix('"')
        .and_then(|d| d.strip_suffix('"'))
        .map_or(display.to_string(), |d| {
            d.replace("\\\"", "\"").replace("\\\\", "\\")
        });
    let uri = uri.trim();
    let rest = ["sips:", "sip:", "tel:"]
        .iter()
        .find_map(|scheme| {
            uri.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &uri[scheme.len()..])
        })
        .unwrap_or(uri);
    // The user part; a URI without one (sip:host) names the host.
    let number = match rest.split_once('@') {
        Some((user, _)) => user.split(';').next().unwrap_or(user),
        None => rest.split([';', '?']).next().unwrap_or(rest),
    };
    match (display.is_empty(), number.is_empty()) {
        (true, true) => "-".to_string(),
        (true, false) => number.to_string(),
        (false, true) => display,
        (false, false) => format!("{display} <{number}>"),
    }
}

/// One record's values, in [`COLUMNS`] order (`-` for none).
fn row(c: &CallRecord) -> [String; 14] {
    let q = c.queue.as_ref();
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    [
        c.id.to_string(),
        c.started_at.clone(),
        c.number.clone(),
        if c.answered_at.is_some() { "yes" } else { "no" }.to_string(),
        or_dash(c.schedule.as_deref()),
        if c.digits.is_empty() {
            "-".to_string()
        } else {
            c.digits.clone()
        },
        or_dash(c.service.as_deref()),
        c.hangup_cause.clone(),
        c.hangup_side.as_str().to_string(),
        or_dash(q.map(|q| q.queue.as_str())),
        or_dash(q.and_then(|q| q.agent.as_deref())),
        q.and_then(|q| q.wait_ms)
            .map_or("-".to_string(), |ms| format!("{:.1}", ms as f64 / 1000.0)),
        or_dash(q.and_then(|q| q.outcome.as_deref())),
        caller_label(&c.caller),
    ]
}

/// The records as a table whose columns are as wide as their widest value.
fn table(calls: &[CallRecord]) -> String {
    let rows: Vec<[String; 14]> = calls.iter().map(row).collect();
    let mut widths = COLUMNS.map(|c| c.chars().count());
    for r in &rows {
        for (w, v) in widths.iter_mut().zip(r) {
            *w = (*w).max(v.chars().count());
        }
    }
    let mut out = String::new();
    let header = COLUMNS.map(str::to_string);
    let warnings = std::iter::once(None).chain(calls.iter().map(|c| c.media_warning.as_deref()));
    for (r, warning) in std::iter::once(&header).chain(&rows).zip(warnings) {
        let mut line = String::new();
        for (i, v) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(v);
            } else {
                let _ = write!(line, "{v:<width$} ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        // Under its call, indented: the caller may have heard nothing.
        if let Some(w) = warning {
            let _ = writeln!(out, "       media warning: {w}");
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn csv(calls: &[CallRecord]) -> String {
    let mut out = String::new();
    let header = COLUMNS.map(str::to_string);
    for r in std::iter::once(header).chain(calls.iter().map(row)) {
        let fields: Vec<String> = r.iter().map(|v| csv_field(v)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn json(calls: &[CallRecord]) -> String {
    let items: Vec<serde_json::Value> = calls
        .iter()
        .map(|c| {
            // The API's shape, with the caller as a person reads it and the
            // From header as it came.
            let mut v = ura_api::call_json(c);
            v["caller"] = serde_json::Value::String(caller_label(&c.caller));
            v["from"] = serde_json::Value::String(c.caller.clone());
            v
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

/// The records in `format`, newest first as given.
pub fn render(calls: &[CallRecord], format: CallsFormat) -> String {
    match format {
        CallsFormat::Table => table(calls),
        CallsFormat::Csv => csv(calls),
        CallsFormat::Json => json(calls),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ura_store::{HangupSide, QueueRecord};

    fn record(id: i64, cause: &str, from: &str) -> CallRecord {
        CallRecord {
            id,
            sip_call_id: format!("call-{id}"),
            started_at: "2026-11-25T10:00:00.000Z".into(),
            answered_at: Some("2026-11-25T10:00:01.000Z".into()),
            ended_at: "2026-11-25T10:01:00.000Z".into(),
            caller: from.into(),
            number: "1000".into(),
            schedule: Some("open".into()),
            digits: "1".into(),
            service: Some("vendas".into()),
            hangup_cause: cause.into(),
            hangup_side: HangupSide::Caller,
            queue: None,
            media_warning: None,
        }
    }

    #[test]
    fn caller_is_the_display_name_and_the_number() {
        for (from, want) in [
            ("\"Ana\" <sip:2001@10.0.0.5:5060>;tag=abc", "Ana <2001>"),
            ("Ana Maria <sip:2001@10.0.0.5>;tag=abc", "Ana Maria <2001>"),
            (
                "<sip:+551130000000@carrier.example;user=phone>;tag=1",
                "+551130000000",
            ),
            ("sip:caller@127.0.0.1:40000;tag=9", "caller"),
            (
                "\"sipp\" <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001",
                "sipp <sipp>",
            ),
            ("<tel:+5511999990000>;tag=t", "+5511999990000"),
            ("\"Dr. \\\"X\\\"\" <sips:x@h>", "Dr. \"X\" <x>"),
            ("<sip:host.example>;tag=t", "host.example"),
            ("", "-"),
        ] {
            assert_eq!(caller_label(from), want, "{from}");
        }
    }

    #[test]
    fn table_columns_line_up_whatever_their_width() {
        let mut long = record(
            12345,
            "ivr-queueunavailable-and-more",
            "\"Ana\" <sip:2001@h>;tag=x",
        );
        long.queue = Some(QueueRecord {
            queue: "a-very-long-queue-name".into(),
            agent: Some("2001".into()),
            wait_ms: Some(12_345),
            outcome: Some("answered".into()),
            ..QueueRecord::default()
        });
        let calls = [long, record(7, "bye", "<sip:9@h>;tag=y")];
        let out = render(&calls, CallsFormat::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        // Every column starts at the same character in every line: where
        // the header's names start.
        for name in &COLUMNS[1..] {
            let at = lines[0].find(&format!(" {name}")).unwrap() + 1;
            for line in &lines[1..] {
                assert_eq!(&line[at - 1..at], " ", "column {name} in {line:?}\n{out}");
                assert_ne!(&line[at..at + 1], " ", "column {name} in {line:?}\n{out}");
            }
        }
        assert!(lines[1].ends_with(" Ana <2001>"), "{out}");
        assert!(lines[2].ends_with(" 9"), "{out}");
        // Split on whitespace, each row has one value per column.
        assert_eq!(lines[2].split_whitespace().count(), COLUMNS.len());
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let calls = [record(1, "bye", "\"Silva, Ana\" <sip:2001@h>;tag=x")];
        let out = render(&calls, CallsFormat::Csv);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "1,2026-11-25T10:00:00.000Z,1000,yes,open,1,vendas,bye,caller,-,-,-,-,\"Silva, Ana <2001>\""
        );
        assert_eq!(lines[2], "");
    }

    #[test]
    fn json_has_every_field() {
        let calls = [record(1, "bye", "\"Ana\" <sip:2001@h>;tag=x")];
        let out = render(&calls, CallsFormat::Json);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let c = &v[0];
        assert_eq!(c["id"], 1);
        assert_eq!(c["caller"], "Ana <2001>");
        assert_eq!(c["from"], "\"Ana\" <sip:2001@h>;tag=x");
        assert_eq!(c["hangup_side"], "caller");
        assert_eq!(c["queue"], serde_json::Value::Null);
        assert_eq!(render(&[], CallsFormat::Json).trim(), "[]");
    }
}
