//! Capturing log output, and what must never be in it.

pub use crate::common::Captured;

/// Runs the workload in both modes (those compiled in).
pub fn run_workload(tag: &str) {
    super::blocking::workload::run(&format!("{tag}-b"));
    #[cfg(feature = "async")]
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(super::nonblocking::workload::run(&format!("{tag}-a")));
}

/// Asserts that `logs` show no presigned URL's secrets: not in any record,
/// and not in ureq-proto's hex dumps read back as one stream (a dump puts
/// 16 bytes per record, so a URL is split over many).
pub fn assert_no_secrets(logs: &str) {
    assert!(
        logs.lines().count() > 20,
        "the logger captured ureq's records: {logs}"
    );
    let dumped: String = logs
        .lines()
        .filter_map(|l| {
            // `… 4745 5420 … GET /b/k?X-Amz`: the last 16 characters.
            let l = l.trim_end();
            let tail = l.get(l.len().checked_sub(16)?..)?;
            let hex = l.get(..l.len() - 17)?.trim_end();
            hex.ends_with(|c: char| c.is_ascii_hexdigit() || c == '-')
                .then_some(tail)
        })
        .collect();
    assert!(
        dumped.contains("HTTP/1.1"),
        "ureq-proto's hex dumps are read back: {dumped}"
    );
    let s = crate::common::server();
    let credential = format!("{}%2F", s.access_key);
    let token = super::blocking::workload::TOKEN;
    let encoded_token = "FwoGZXIvYXdzEJr%2F%2F";
    for (name, text) in [("records", logs), ("hex dumps", dumped.as_str())] {
        for leak in [&credential, &s.secret_key, token, encoded_token] {
            assert!(!text.contains(leak), "{leak} in the {name}:\n{text}");
        }
        // A SigV4 signature is 64 hex digits; what ureq saw is a placeholder.
        for (i, _) in text.match_indices("X-Amz-Signature=") {
            let value: String = text[i + 16..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            let is_signature = value.len() == 64 && value.chars().all(|c| c.is_ascii_hexdigit());
            assert!(!is_signature, "a signature in the {name}:\n{text}");
        }
    }
}
