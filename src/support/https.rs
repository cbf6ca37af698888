//! The one client set-up for the two outbound calls the function may make
//! on first use (a JWKS fetch, a Secrets Manager read): HTTP/1.1 over rustls
//! with the system's root certificates; plain HTTP only where the caller has
//! already checked the URL is loopback.
//!
//! Both calls use the one client, body type included (a GET sends an empty
//! [`Full`]): hyper's client is generic over both, and one instantiation
//! instead of two keeps duplicated HTTP and TLS code out of the binary.

use std::sync::LazyLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The client type of every outbound call.
pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The client, built on first use, or `None` when the system has no usable
/// root certificates. It keeps no idle connection: each call opens its own on
/// the runtime it runs on (the calls come minutes apart, and a pooled
/// connection would belong to the runtime of the call that opened it).
pub(crate) fn client() -> Option<&'static HttpsClient> {
    static CLIENT: LazyLock<Option<HttpsClient>> = LazyLock::new(|| {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(tls_provider())
            .ok()?
            .https_or_http()
            .enable_http1()
            .build();
        Some(Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector))
    });
    CLIENT.as_ref()
}

/// rustls on ring, offering what every AWS endpoint and identity provider
/// accepts: AES-GCM suites and P-256/P-384 key exchange. Leaving out X25519
/// and ChaCha20-Poly1305 keeps their code out of the binary
/// (docs/benchmarks.md, binary size).
fn tls_provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::{cipher_suite, kx_group};
    rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        kx_groups: vec![kx_group::SECP256R1, kx_group::SECP384R1],
        ..rustls::crypto::ring::default_provider()
    }
}

/// Whether `uri` is `https://…`, or `http://` to a loopback host (local runs
/// and tests): the rule for every URL the configuration names (the JWKS, the
/// issuer, the Secrets Manager endpoint).
pub(crate) fn https_or_loopback(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => uri.host().is_some_and(|h| !h.is_empty()),
        Some("http") => matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{CipherSuite, NamedGroup};

    #[test]
    fn the_provider_offers_only_what_public_servers_need() {
        let p = tls_provider();
        let suites: Vec<CipherSuite> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites,
            [
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ]
        );
        let groups: Vec<NamedGroup> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::secp256r1, NamedGroup::secp384r1]);
    }

    #[test]
    fn the_client_is_built_once() {
        let first = client().expect("the system's roots load");
        assert!(std::ptr::eq(first, client().unwrap()));
    }
}
