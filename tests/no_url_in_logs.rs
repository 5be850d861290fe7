//! No presigned URL reaches a `log` record, whatever the level: env_logger
//! at TRACE for every crate (ureq and ureq-proto log request lines and
//! hex-dump request heads at TRACE) while a store works in both modes.
//! One test: a process can install env_logger only once.

#![allow(clippy::duplicate_mod)] // the workload is compiled once per mode

mod common;

#[path = "no_url_in_logs/harness.rs"]
mod harness;

use harness::check;

use std::io::Write;

#[test]
fn env_logger_at_trace_sees_no_presigned_url() {
    let captured = check::Captured::default();
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Trace)
        .format(|buf, record| {
            let line = format!("{}", record.args());
            writeln!(buf, "{} {}: {line}", record.level(), record.target())
        })
        .target(env_logger::Target::Pipe(Box::new(captured.clone())))
        .init();
    check::run_workload("nolog-env");
    check::assert_no_secrets(&captured.text());
}
