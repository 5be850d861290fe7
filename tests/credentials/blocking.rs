//! The blocking mode of the credential suite.

use konserve_s3::blocking::{
    CredentialsProvider, DefaultCredentialsChain, S3Backing, S3Client, Store, connect_store,
    create_store, delete_store,
};
use maybe_async::must_be_sync as io;

/// Runs `n` copies of `f` at once (threads).
fn concurrently<F: Fn() + Sync>(n: usize, f: F) {
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
    });
}

fn sleep(d: std::time::Duration) {
    std::thread::sleep(d);
}

#[path = "suite.rs"]
mod suite;

#[test]
fn web_identity_via_moto_rereads_the_token_file() {
    suite::web_identity_via_moto_rereads_the_token_file();
}

#[test]
fn assume_role_chain_of_two_signed_and_checked_by_moto() {
    suite::assume_role_chain_of_two_signed_and_checked_by_moto();
}

#[test]
fn profiles_static_cycles_unknown_and_missing_files() {
    suite::profiles_static_cycles_unknown_and_missing_files();
}

#[test]
fn credential_process_success_failure_bad_json_and_expiry() {
    suite::credential_process_success_failure_bad_json_and_expiry();
}

#[test]
fn imds_v2_and_the_fall_through_time() {
    suite::imds_v2_and_the_fall_through_time();
}

#[test]
fn container_endpoint_with_token_token_file_and_refusals() {
    suite::container_endpoint_with_token_token_file_and_refusals();
}

#[test]
fn sso_profile_with_cached_token() {
    suite::sso_profile_with_cached_token();
}

#[test]
fn stores_on_seaweedfs_signed_by_each_source() {
    suite::stores_on_seaweedfs_signed_by_each_source();
}

#[test]
fn expiring_credentials_are_refreshed_during_a_long_running_store() {
    suite::expiring_credentials_are_refreshed_during_a_long_running_store();
}

#[test]
fn anonymous_requests_are_unsigned() {
    suite::anonymous_requests_are_unsigned();
}

#[test]
fn least_privilege_on_one_existing_bucket() {
    suite::least_privilege_on_one_existing_bucket();
}

#[test]
fn anonymous_reads_a_public_bucket() {
    suite::anonymous_reads_a_public_bucket();
}

#[test]
fn sts_credentials_are_refreshed_during_a_long_running_store() {
    suite::sts_credentials_are_refreshed_during_a_long_running_store();
}
