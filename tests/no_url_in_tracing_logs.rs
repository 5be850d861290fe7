//! No presigned URL reaches a log record through tracing-subscriber with
//! its `tracing-log` bridge (which forwards `log` records: ureq's) at TRACE,
//! while a store works in both modes. One test: the subscriber and the
//! bridge are global.

#![allow(clippy::duplicate_mod)] // the workload is compiled once per mode

mod common;

#[path = "no_url_in_logs/harness.rs"]
mod harness;

use harness::check;

#[test]
fn tracing_subscriber_with_the_log_bridge_sees_no_presigned_url() {
    let captured = check::Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .init();
    check::run_workload("nolog-tracing");
    let logs = captured.text();
    assert!(logs.contains("ureq"), "log records are bridged: {logs}");
    check::assert_no_secrets(&logs);
}
