//! Launcher for a local SeaweedFS S3 server (tests, examples, quickstart).
