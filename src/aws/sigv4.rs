//! AWS Signature Version 4 for the calls the function makes to AWS
//! (Secrets Manager, DynamoDB): POSTs with a JSON body.
//!
//! Written here rather than taken from the AWS SDK, whose client stack would
//! double the binary and slow the cold start for a single request. Checked
//! against the AWS SigV4 test suite and against botocore (`tests/fixtures/sigv4.json`, checked in `call`'s tests).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Who signs, and for where: static credentials (on Lambda: the execution
/// role's, from the environment), the region and the service's signing name.
/// Its `Debug` output shows the region and service only.
pub(crate) struct Signer {
    /// `AWS_ACCESS_KEY_ID`.
    pub(crate) access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub(crate) secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, sent as `X-Amz-Security-Token`.
    pub(crate) session_token: Option<String>,
    /// The region, e.g. `eu-west-1`.
    pub(crate) region: String,
    /// The signing name, e.g. `secretsmanager`.
    pub(crate) service: &'static str,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("region", &self.region).field("service", &self.service).finish_non_exhaustive()
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl Signer {
    /// The `Authorization` header value for a POST to `path` (URI-encoded, no
    /// query) with `headers` (names lowercase, sorted by name, values trimmed;
    /// `host` among them) and `body`, at `amz_date` (`YYYYMMDDTHHMMSSZ`, the
    /// value of `X-Amz-Date`).
    pub(crate) fn authorization(&self, path: &str, headers: &[(&str, &str)], body: &[u8], amz_date: &str) -> String {
        let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let signed_headers = headers.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
        let payload_hash = hex::encode(Sha256::digest(body));
        let canonical = format!("POST\n{path}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
        let credential_scope = format!("{}/{}/{}/aws4_request", &amz_date[..8], self.region, self.service);
        let canonical_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
        let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{credential_scope}\n{canonical_hash}");
        // The signing key: the secret through each part of the scope in turn.
        let secret = format!("AWS4{}", self.secret_access_key).into_bytes();
        let key = credential_scope.split('/').fold(secret, |key, part| hmac(&key, part.as_bytes()).to_vec());
        let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id
        )
    }
}

/// `YYYYMMDDTHHMMSSZ` for a time (UTC, to the second; a clock before 1970 as 1970).
pub(crate) fn amz_date(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(time.max(std::time::UNIX_EPOCH)).to_string().replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn aws_test_suite_post_vanilla() {
        // aws-sig-v4-test-suite/post-vanilla.
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            region: "us-east-1".into(),
            service: "service",
        };
        let headers = [("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")];
        assert_eq!(
            signer.authorization("/", &headers, b"", "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn dates() {
        let date = |seconds| amz_date(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(date(0), "19700101T000000Z");
        assert_eq!(date(1_440_938_160), "20150830T123600Z");
        assert_eq!(date(951_782_400), "20000229T000000Z");
        assert_eq!(date(1_795_262_399), "20261121T115959Z");
        assert_eq!(amz_date(UNIX_EPOCH + Duration::from_millis(1_795_262_399_999)), "20261121T115959Z");
        assert_eq!(amz_date(UNIX_EPOCH - Duration::from_secs(1)), "19700101T000000Z");
    }
}
