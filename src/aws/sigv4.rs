//! AWS Signature Version 4 for the calls the function makes to AWS
//! (Secrets Manager, DynamoDB): POSTs with a JSON body.
//!
//! Written here rather than taken from the AWS SDK, whose client stack would
//! double the binary and slow the cold start for a single request. Checked
//! against the AWS SigV4 test suite and against botocore (`tests/fixtures/sigv4.json`, checked in `call`'s tests).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Static credentials (on Lambda: the execution role's, from the environment).
#[derive(Clone)]
pub(crate) struct AwsCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub(crate) access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub(crate) secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, sent as `X-Amz-Security-Token`.
    pub(crate) session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// One request to sign.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub(crate) method: &'a str,
    /// The URI path, already URI-encoded (`/` for AWS JSON APIs).
    pub(crate) path: &'a str,
    /// The canonical query string (empty for AWS JSON APIs).
    pub(crate) query: &'a str,
    /// Headers to sign, names lowercase, sorted by name, values trimmed; must include `host`.
    pub(crate) headers: &'a [(&'a str, &'a str)],
    /// The payload.
    pub(crate) body: &'a [u8],
}

/// Where and when the signature applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// `YYYYMMDDTHHMMSSZ`, the value of `X-Amz-Date`.
    pub(crate) amz_date: &'a str,
    /// The region, e.g. `eu-west-1`.
    pub(crate) region: &'a str,
    /// The signing name, e.g. `secretsmanager`.
    pub(crate) service: &'a str,
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The `Authorization` header value for `request`.
pub(crate) fn authorization(request: &SignedRequest<'_>, scope: &Scope<'_>, credentials: &AwsCredentials) -> String {
    let date = &scope.amz_date[..8];
    let mut canonical = format!("{}\n{}\n{}\n", request.method, request.path, request.query);
    let mut signed_headers = String::new();
    for (i, (name, value)) in request.headers.iter().enumerate() {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
        if i > 0 {
            signed_headers.push(';');
        }
        signed_headers.push_str(name);
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex::encode(Sha256::digest(request.body)));

    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{}", credentials.secret_access_key).as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    )
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds (UTC).
pub(crate) fn amz_date(unix_seconds: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds);
    humantime::format_rfc3339_seconds(time).to_string().replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    #[test]
    fn aws_test_suite_get_vanilla() {
        // aws-sig-v4-test-suite/get-vanilla.
        let request = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")],
            body: b"",
        };
        let scope = Scope { amz_date: "20150830T123600Z", region: "us-east-1", service: "service" };
        assert_eq!(
            authorization(&request, &scope, &example_credentials()),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_795_262_399), "20261121T115959Z");
    }

    #[test]
    fn debug_shows_the_key_id_only() {
        let mut credentials = example_credentials();
        credentials.session_token = Some("session-token-value".into());
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKIDEXAMPLE") && shown.contains(".."), "{shown}");
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("session-token-value"), "{shown}");
    }
}
