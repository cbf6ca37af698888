//! The one client set-up for the two outbound calls the function may make
//! on first use (a JWKS fetch, a Secrets Manager read): HTTP/1.1 over rustls
//! with the system's root certificates; plain HTTP only where the caller has
//! already checked the URL is loopback.
//!
//! Both calls use the same client type, body type included (a GET sends an
//! empty [`Full`]): hyper's client is generic over both, and one instantiation
//! instead of two keeps about 50 KB of duplicated HTTP and TLS code out of the
//! binary.

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The client type of every outbound call.
pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client, or `None` when the system has no usable root certificates.
pub(crate) fn client() -> Option<HttpsClient> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(tls_provider())
        .ok()?
        .https_or_http()
        .enable_http1()
        .build();
    Some(Client::builder(TokioExecutor::new()).build(connector))
}

/// rustls on ring, for a client that verifies public-web servers and never
/// presents a certificate: AES-GCM suites, P-256/P-384 key exchange, and the
/// certificate signatures public CAs issue (ECDSA P-256/P-384, RSA PKCS#1 and
/// PSS; not Ed25519, which the CA/Browser Forum does not allow). Every AWS
/// endpoint and identity provider offers these; leaving out X25519,
/// ChaCha20-Poly1305, Ed25519 and ring's signing code keeps about 150 KB out
/// of the binary (`docs/benchmarks.md`, binary size).
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
        signature_verification_algorithms: SIGNATURES,
        key_provider: &NoClientCertificate,
        ..rustls::crypto::ring::default_provider()
    }
}

/// rustls's ring table of certificate signature algorithms without Ed25519.
static SIGNATURES: rustls::crypto::WebPkiSupportedAlgorithms = {
    use rustls::SignatureScheme as Scheme;
    use webpki::ring as alg;
    rustls::crypto::WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        mapping: &[
            // TLS 1.2 does not fix the curve by the scheme; TLS 1.3 does.
            (Scheme::ECDSA_NISTP384_SHA384, &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384]),
            (Scheme::ECDSA_NISTP256_SHA256, &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256]),
            (Scheme::RSA_PSS_SHA512, &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
            (Scheme::RSA_PSS_SHA384, &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
            (Scheme::RSA_PSS_SHA256, &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
            (Scheme::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
            (Scheme::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
            (Scheme::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
        ],
    }
};

/// The client never presents a certificate, so it loads no private key.
#[derive(Debug)]
struct NoClientCertificate;

impl rustls::crypto::KeyProvider for NoClientCertificate {
    fn load_private_key(
        &self,
        _: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<std::sync::Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        Err(rustls::Error::General("no client certificate".into()))
    }
}

/// Whether `uri` is `https://…`, or `http://` to a loopback host (local runs
/// and tests): the rule for every URL the configuration names.
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
    use rustls::{CipherSuite, NamedGroup, SignatureScheme};

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
        let schemes = p.signature_verification_algorithms.supported_schemes();
        assert!(!schemes.contains(&SignatureScheme::ED25519), "{schemes:?}");
        assert!(
            schemes.contains(&SignatureScheme::RSA_PSS_SHA256)
                && schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
        );
        // A throwaway P-256 key (SEC1 DER), which rustls's default provider would load.
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "MHcCAQEEIJ1FaXOw/Bl1P++8BDgBfcTsHS3JAuFtSXQbmnpPJIx2oAoGCCqGSM49AwEHoUQDQgAEs+fxwcwv+ksVrY5LNmunAojjsVwJHiwDyEaQ4jNzuMLyzhuWHOrDVl8qt4oH3b6AFSzDbNz+azvISSJQRpqx1w==",
        )
        .unwrap();
        let key = || rustls::pki_types::PrivateKeyDer::Sec1(der.clone().into());
        assert!(rustls::crypto::ring::default_provider().key_provider.load_private_key(key()).is_ok());
        assert!(p.key_provider.load_private_key(key()).is_err(), "no client key is ever loaded");
        assert!(client().is_some(), "the system's roots load");
    }
}
