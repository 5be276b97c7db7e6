//! A crash loses no call record: a call's record is written when it is
//! answered (`in-progress`) and completed when it ends; after `kill -9`
//! the next start marks what was still up `interrupted`.

mod common;

use std::time::{Duration, Instant};

use common::caller::Caller;
use common::Ura;

#[test]
fn kill_9_with_50_calls_up_leaves_50_interrupted_records() {
    let data = std::env::temp_dir().join(format!(
        "ura-crash-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let mut ura = Ura::start_in(data.clone(), &[]);
    let callers: Vec<Caller> = (0..50)
        .map(|_| {
            let mut c = Caller::new(ura.sip, false);
            assert_eq!(c.call("9100").status(), Some(200));
            c
        })
        .collect();
    // Every answered call has its row before anything else happens to it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let open = loop {
        let rows = ura.calls_list();
        if rows.len() >= 50 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(open.len(), 50, "{open:?}");
    assert!(
        open.iter().all(|r| r.ending() == "in-progress/ura"),
        "{open:?}"
    );

    ura.signal(libc::SIGKILL);
    assert!(ura.wait_exit(Duration::from_secs(5)).is_some());
    drop(callers);

    let ura = Ura::start_in(data.clone(), &[]);
    let rows = ura.calls_list();
    assert_eq!(rows.len(), 50, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.ending() == "interrupted/ura" && r.number() == "9100"),
        "{rows:?}"
    );
    assert!(
        ura.logs()
            .iter()
            .any(|l| l.contains("last stopped without ending them") && l.contains("calls=50")),
        "{:?}",
        ura.logs()
    );
    // Life goes on: the next call is recorded as usual, in one row.
    let mut next = Caller::new(ura.sip, false);
    assert_eq!(next.call("9100").status(), Some(200));
    next.silence(5);
    assert_eq!(next.bye(), Some(200));
    let rows = ura.records(51);
    assert_eq!(rows.len(), 51, "{rows:?}");
    assert_eq!(rows[0].ending(), "caller-bye/caller", "{rows:?}");
    let _ = std::fs::remove_dir_all(&data);
}
