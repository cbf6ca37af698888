//! The one connector set-up for the two outbound calls the function may make
//! on first use (a JWKS fetch, a Secrets Manager read): HTTP/1.1 over rustls
//! with the system's root certificates; plain HTTP only where the caller has
//! already checked the URL is loopback.

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

/// The connector, or `None` when the system has no usable root certificates.
pub(crate) fn connector() -> Option<HttpsConnector<HttpConnector>> {
    Some(hyper_rustls::HttpsConnectorBuilder::new().with_native_roots().ok()?.https_or_http().enable_http1().build())
}
