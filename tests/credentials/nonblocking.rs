//! The async mode of the credential suite.

use konserve_s3::nonblocking::{
    CredentialsProvider, DefaultCredentialsChain, S3Backing, S3Client, Store, connect_store,
    create_store, delete_store,
};
use maybe_async::must_be_async as io;

/// Runs `n` copies of `f`'s future at once.
async fn concurrently<F, Fut>(n: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures_util::future::join_all((0..n).map(|_| f())).await;
}

async fn sleep(d: std::time::Duration) {
    tokio::time::sleep(d).await;
}

#[path = "suite.rs"]
mod suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_via_moto_rereads_the_token_file() {
    suite::web_identity_via_moto_rereads_the_token_file().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_chain_of_two_signed_and_checked_by_moto() {
    suite::assume_role_chain_of_two_signed_and_checked_by_moto().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_static_cycles_unknown_and_missing_files() {
    suite::profiles_static_cycles_unknown_and_missing_files().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_process_success_failure_bad_json_and_expiry() {
    suite::credential_process_success_failure_bad_json_and_expiry().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_v2_and_the_fall_through_time() {
    suite::imds_v2_and_the_fall_through_time().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_endpoint_with_token_token_file_and_refusals() {
    suite::container_endpoint_with_token_token_file_and_refusals().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_profile_with_cached_token() {
    suite::sso_profile_with_cached_token().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_seaweedfs_signed_by_each_source() {
    suite::stores_on_seaweedfs_signed_by_each_source().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_credentials_are_refreshed_during_a_long_running_store() {
    suite::expiring_credentials_are_refreshed_during_a_long_running_store().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_unsigned() {
    suite::anonymous_requests_are_unsigned().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_on_one_existing_bucket() {
    suite::least_privilege_on_one_existing_bucket().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_a_public_bucket() {
    suite::anonymous_reads_a_public_bucket().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_credentials_are_refreshed_during_a_long_running_store() {
    suite::sts_credentials_are_refreshed_during_a_long_running_store().await;
}
