//! Stopping ura: SIGTERM hangs up every call with BYE, and every call still
//! leaves its record.

mod common;

use std::time::Duration;

use common::caller::Caller;
use common::Ura;

#[test]
fn sigterm_hangs_up_every_call_and_keeps_their_records() {
    let mut ura = Ura::start(&[]);
    let mut echo = Caller::new(ura.sip, false);
    assert_eq!(echo.call("9000").status(), Some(200));
    echo.silence(5);
    let mut ivr = Caller::new(ura.sip, true);
    assert_eq!(ivr.call("1000").status(), Some(200));
    ivr.silence(5);
    // Answered, but its ACK never comes: the call is still up at SIGTERM.
    let mut no_ack = Caller::new(ura.sip, false);
    let invite = no_ack.invite_bytes("9000", true);
    no_ack.send_raw(invite.as_bytes());
    let ok = no_ack.recv_final(Duration::from_secs(5));
    assert_eq!(ok.and_then(|m| m.status()), Some(200));
    std::thread::sleep(Duration::from_millis(500));

    let status = ura.terminate();
    assert!(status.success(), "exit status {status:?}");
    for caller in [&mut echo, &mut ivr] {
        assert!(
            caller
                .expect_request("BYE", Duration::from_secs(2))
                .is_some(),
            "BYE before ura stops; logs: {:?}",
            ura.logs()
        );
    }
    // The store is read after ura has exited: nothing was left in flight.
    let rows = ura.calls_list();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut numbers: Vec<&str> = rows.iter().map(|r| r.number()).collect();
    numbers.sort();
    assert_eq!(numbers, ["1000", "9000", "9000"]);
    for row in &rows {
        assert_eq!(row.ending(), "shutdown/ura", "{row:?}");
    }
}
