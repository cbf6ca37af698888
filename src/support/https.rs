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
    let connector =
        hyper_rustls::HttpsConnectorBuilder::new().with_native_roots().ok()?.https_or_http().enable_http1().build();
    Some(Client::builder(TokioExecutor::new()).build(connector))
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
