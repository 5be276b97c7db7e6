//! `/docs` in a real browser: Debian's Chromium, driven by playwright-core
//! (`tests/browser/docs.mjs`, which never downloads a browser), opens the
//! page of a running `ura serve` and finds every operation of
//! `/openapi.json` listed ("GET /api/v1/numbers"), with no request outside
//! 127.0.0.1 and no script error.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/browser`; fails
//! saying so when one is missing (the `no-peers` nextest profile leaves it
//! out on purpose).

mod common;

use std::time::Duration;

#[test]
fn docs_page_lists_every_operation_in_chromium_and_loads_nothing_from_outside() {
    let (node, dir) = common::browser_peers();

    let ura = common::Ura::start(&[]);
    let screenshot = std::env::temp_dir().join(format!("ura-docs-{}.png", std::process::id()));
    // Bounded: the page loads in a few seconds.
    let url = format!("http://{}", ura.http);
    let out = common::run_node(
        &node,
        &dir,
        &["docs.mjs".as_ref(), url.as_ref(), screenshot.as_os_str()],
        Duration::from_secs(90),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "docs.mjs failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // What it saw: every operation, and the operations of numbers by name.
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("operations: "))
        .unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    let count = |after: &str| -> usize {
        summary
            .split(after)
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{after} in {summary}"))
    };
    let in_doc = count("operations: ");
    assert!(in_doc > 50, "{summary}");
    assert!(count(" in /openapi.json, ") >= in_doc, "{summary}");
    assert_eq!(count("outside 127.0.0.1: "), 0, "{summary}");
    assert!(stdout.contains("shown: GET /api/v1/numbers\n"), "{stdout}");
    assert!(
        std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot"
    );
    let _ = std::fs::remove_file(&screenshot);
}
