//! The scale-out gateway: `objseal_server::Server` over a [`RemoteStore`] backed by moto's S3
//! server on loopback, driven with the AWS SDK for Rust — every SSE mode written, read whole and
//! by ranges, listed, copied and deleted; bucket configuration kept in the backend across a
//! restart; two gateways on one backend reading each other's objects; objects written straight
//! to the backend served as stored; and the backend, read directly, holding neither plaintext
//! nor customer keys.
//!
//! Needs moto from the peers' virtualenv (`scripts/peers`); skips with a loud notice without it,
//! unless `OBJSEAL_REQUIRE_PEERS=1`.

#[path = "../../objseal-kms/tests/common/peers.rs"]
mod peers;

/// This binary's backend: moto's S3 server on loopback (`None` without the peers).
fn start_site() -> Option<harness::Site> {
    let moto = peers::MotoServer::start()?;
    Some(harness::Site {
        endpoint: moto.endpoint(),
        access_key_id: peers::TEST_ACCESS_KEY_ID.to_owned(),
        secret_access_key: peers::TEST_SECRET_ACCESS_KEY.to_owned(),
        keep: Box::new(moto),
    })
}

#[path = "gateway/configuration.rs"]
mod configuration;
#[path = "gateway/copies.rs"]
mod copies;
#[path = "gateway/failures.rs"]
mod failures;
#[path = "gateway/forgery.rs"]
mod forgery;
#[path = "gateway/harness.rs"]
mod harness;
#[path = "gateway/health.rs"]
mod health;
#[path = "gateway/listing.rs"]
mod listing;
#[path = "gateway/modes.rs"]
mod modes;
#[path = "gateway/multipart.rs"]
mod multipart;
#[path = "gateway/policies.rs"]
mod policies;
#[path = "gateway/sealed_only.rs"]
mod sealed_only;
