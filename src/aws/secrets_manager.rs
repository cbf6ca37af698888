//! A minimal AWS Secrets Manager client: `GetSecretValue` over HTTPS, signed
//! with [`sigv4`](crate::aws::sigv4), with bounded retries.
//!
//! Configured from the standard AWS variables Lambda sets: `AWS_REGION` (or
//! `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, and optionally `AWS_ENDPOINT_URL_SECRETS_MANAGER` or
//! `AWS_ENDPOINT_URL` (local emulators such as moto; `http://` only to a
//! loopback host).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;

use crate::aws::sigv4::{self, AwsCredentials, Scope, SignedRequest};
use crate::error::ConfigError;
use crate::error::{Misconfig, Outage, Refusal};
use crate::secrets::{SecretStore, StoreFuture};
use crate::support::https::HttpsClient;
use crate::support::json_text;

/// Every attempt failed: connection, timeout, throttling or a 5xx.
const UNAVAILABLE: Refusal = Refusal::Unavailable(Outage::SecretStore);

/// Largest answer accepted (a secret is at most 64 KiB).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How often and how long to try.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub(crate) attempts: u32,
    /// Limit for each attempt.
    pub(crate) attempt_timeout: Duration,
    /// Wait before the second attempt; doubled for each further one.
    pub(crate) backoff: Duration,
}

impl RetryPolicy {
    /// The wait before each attempt: none before the first, then the backoff,
    /// doubled for each further one.
    pub(crate) fn waits(self) -> impl Iterator<Item = Duration> {
        let first = std::iter::once(Duration::ZERO);
        let later = std::iter::successors(Some(self.backoff), |wait| Some(*wait * 2));
        first.chain(later).take(self.attempts.max(1) as usize)
    }
}

impl Default for RetryPolicy {
    /// 3 attempts of at most 1.5 s, 100 ms then 200 ms apart: under 5 s in all.
    fn default() -> Self {
        Self { attempts: 3, attempt_timeout: Duration::from_millis(1500), backoff: Duration::from_millis(100) }
    }
}

/// The client. Its `Debug` output shows the endpoint and region only.
pub(crate) struct SecretsManager {
    endpoint: http::Uri,
    host: String,
    region: String,
    credentials: AwsCredentials,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManager")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The store `main` hands to `Endpoint::with_store`: a client from the AWS
/// variables read through `lookup` (empty values count as unset), or `None`
/// without a region or credentials.
pub fn store_from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Arc<dyn SecretStore>>, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    Ok(SecretsManager::from_lookup(&get)?.map(|client| Arc::new(client) as Arc<dyn SecretStore>))
}

impl SecretStore for SecretsManager {
    fn secret_string<'a>(&'a self, id: &'a str) -> StoreFuture<'a> {
        Box::pin(SecretsManager::secret_string(self, id))
    }
}

impl SecretsManager {
    /// A client from the AWS variables, or `None` when no region or no
    /// credentials are set (then secrets cannot be read from AWS).
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) else {
            return Ok(None);
        };
        if !crate::config::valid_region(&region) {
            return Err(ConfigError::new("AWS_REGION", "is not a region name"));
        }
        let (Some(access_key_id), Some(secret_access_key)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"))
        else {
            return Ok(None);
        };
        let credentials = AwsCredentials { access_key_id, secret_access_key, session_token: get("AWS_SESSION_TOKEN") };
        let (variable, url) = match (get("AWS_ENDPOINT_URL_SECRETS_MANAGER"), get("AWS_ENDPOINT_URL")) {
            (Some(url), _) => ("AWS_ENDPOINT_URL_SECRETS_MANAGER", url),
            (None, Some(url)) => ("AWS_ENDPOINT_URL", url),
            (None, None) => ("AWS_REGION", format!("https://secretsmanager.{region}.amazonaws.com")),
        };
        let endpoint: http::Uri = url.parse().map_err(|_| ConfigError::new(variable, "is not a URL"))?;
        if !crate::support::https::https_or_loopback(&endpoint) {
            return Err(ConfigError::new(variable, "must be an https:// URL (http:// only to 127.0.0.1 or localhost)"));
        }
        Ok(Some(Self { host: host_header(&endpoint), endpoint, region, credentials, retry: RetryPolicy::default() }))
    }

    /// The `SecretString` of the secret `id` (a name or ARN), current version.
    pub(crate) async fn secret_string(&self, id: &str) -> Result<String, Refusal> {
        let mut body = String::with_capacity(id.len() + 16);
        body.push_str("{\"SecretId\":");
        json_text::push_string(&mut body, id);
        body.push('}');
        let client = crate::support::https::client().ok_or(UNAVAILABLE)?;
        let mut outcome = Err(Attempt::Retry("no attempt"));
        for (attempt, wait) in (0u32..).zip(self.retry.waits()) {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            outcome = match tokio::time::timeout(self.retry.attempt_timeout, self.attempt(client, &body)).await {
                Ok(result) => result,
                Err(_) => Err(Attempt::Retry("timeout")),
            };
            match outcome {
                Err(Attempt::Retry(why)) => {
                    tracing::warn!(attempt = u64::from(attempt) + 1, problem = why, "Secrets Manager call failed")
                }
                _ => break,
            }
        }
        match outcome {
            Ok(secret) => Ok(secret),
            Err(Attempt::Final(error)) => Err(Refusal::Misconfigured(error)),
            Err(Attempt::Retry(_)) => Err(UNAVAILABLE),
        }
    }

    async fn attempt(&self, client: &HttpsClient, body: &str) -> Result<String, Attempt> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let request = self.request(&sigv4::amz_date(now), body).map_err(|_| Attempt::Retry("request"))?;
        let response = client.request(request).await.map_err(|_| Attempt::Retry("connect"))?;
        let status = response.status().as_u16();
        let header_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|_| Attempt::Retry("body"))?
            .to_bytes();
        if status == 200 {
            let answer: Answer =
                serde_json::from_slice(&bytes).map_err(|_| Attempt::Final(Misconfig::SecretNotAString))?;
            return answer.secret_string.ok_or(Attempt::Final(Misconfig::SecretNotAString));
        }
        let error_type = serde_json::from_slice::<ErrorAnswer>(&bytes).ok().and_then(|e| e.error_type).or(header_type);
        let error_type = error_type.as_deref().unwrap_or("");
        let error_type = error_type.rsplit('#').next().unwrap_or(error_type);
        Err(match (status, error_type) {
            (_, "ResourceNotFoundException") => Attempt::Final(Misconfig::SecretNotFound),
            (429 | 500.., _)
            | (_, "ThrottlingException" | "InternalServiceError" | "InternalServiceErrorException") => {
                Attempt::Retry("throttled or server error")
            }
            _ => Attempt::Final(Misconfig::SecretAccessDenied),
        })
    }
}

/// The `Host` a request to `endpoint` carries, and so the one SigV4 signs:
/// the host, with the port only when it is not the scheme's default
/// (`https://…:443` is sent and signed as plain `…`, as HTTP clients and
/// AWS's own SDKs do).
pub(crate) fn host_header(endpoint: &http::Uri) -> String {
    let host = endpoint.host().unwrap_or_default();
    let default_port = if endpoint.scheme_str() == Some("https") { 443 } else { 80 };
    match endpoint.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    }
}

impl SecretsManager {
    /// The signed `GetSecretValue` request: exactly the signed headers
    /// (`Host` among them, set here rather than left to the HTTP client, so
    /// what is sent is what was signed), the `Authorization` and the body.
    fn request(&self, amz_date: &str, body: &str) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let mut headers = vec![
            ("content-type", "application/x-amz-json-1.1"),
            ("host", &self.host),
            ("x-amz-date", amz_date),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token", token));
            headers.sort_by_key(|(name, _)| *name);
        }
        let path = match self.endpoint.path() {
            "" => "/",
            path => path,
        };
        let signed = SignedRequest { method: "POST", path, query: "", headers: &headers, body: body.as_bytes() };
        let scope = Scope { amz_date, region: &self.region, service: "secretsmanager" };
        let mut request = http::Request::post(self.endpoint.clone())
            .header(http::header::AUTHORIZATION, sigv4::authorization(&signed, &scope, &self.credentials));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
    }
}

/// One attempt's failure: worth another try, or final.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    Retry(&'static str),
    Final(Misconfig),
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type")]
    error_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn client(vars: &[(&str, &str)]) -> Result<Option<SecretsManager>, ConfigError> {
        let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SecretsManager::from_lookup(&|name: &str| env.get(name).cloned())
    }

    const KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "sk")];

    #[test]
    fn configuration() {
        assert!(client(&KEYS).unwrap().is_none(), "no region");
        assert!(client(&[("AWS_REGION", "eu-west-1")]).unwrap().is_none(), "no credentials");
        let c = client(&[KEYS[0], KEYS[1], ("AWS_REGION", "eu-west-1")]).unwrap().unwrap();
        assert_eq!(c.host, "secretsmanager.eu-west-1.amazonaws.com");
        // Default ports are neither sent nor signed; other ports are both.
        let region = ("AWS_REGION", "eu-west-1");
        for (url, host) in [
            ("https://secretsmanager.eu-west-1.amazonaws.com:443", "secretsmanager.eu-west-1.amazonaws.com"),
            ("https://secretsmanager.eu-west-1.amazonaws.com:443/", "secretsmanager.eu-west-1.amazonaws.com"),
            (
                "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com:8443",
                "vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com:8443",
            ),
            ("http://127.0.0.1:80", "127.0.0.1"),
            ("http://localhost:5000", "localhost:5000"),
        ] {
            let c = client(&[KEYS[0], KEYS[1], region, ("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)]).unwrap().unwrap();
            assert_eq!(c.host, host, "{url}");
            let request = c.request("20261201T000000Z", "{}").unwrap();
            let authorization = request.headers()[http::header::AUTHORIZATION].to_str().unwrap();
            assert!(authorization.contains("SignedHeaders=content-type;host;"), "{authorization}");
            let sent: Vec<_> = request.headers().get_all(http::header::HOST).iter().collect();
            assert_eq!(sent, [host], "{url}: the Host sent is the one signed");
        }
        let local = [KEYS[0], KEYS[1], ("AWS_REGION", "eu-west-1"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")];
        assert_eq!(client(&local).unwrap().unwrap().host, "127.0.0.1:5000");
        let remote_http = [KEYS[0], KEYS[1], ("AWS_REGION", "eu-west-1"), ("AWS_ENDPOINT_URL", "http://moto.example")];
        assert_eq!(client(&remote_http).unwrap_err().variable, "AWS_ENDPOINT_URL");
        assert_eq!(client(&[KEYS[0], KEYS[1], ("AWS_REGION", "EU WEST")]).unwrap_err().variable, "AWS_REGION");
        // The retry schedule: at once, then 100 ms, then 200 ms.
        let waits: Vec<Duration> = RetryPolicy::default().waits().collect();
        assert_eq!(waits, [Duration::ZERO, Duration::from_millis(100), Duration::from_millis(200)]);
        let one = RetryPolicy { attempts: 0, ..RetryPolicy::default() };
        assert_eq!(one.waits().collect::<Vec<_>>(), [Duration::ZERO], "at least one attempt");
        // A name that would still make a valid host is refused too: regions are lowercase.
        assert_eq!(client(&[KEYS[0], KEYS[1], ("AWS_REGION", "EU-WEST-1")]).unwrap_err().variable, "AWS_REGION");
    }

    #[test]
    fn signs_as_botocore_does() {
        let case: serde_json::Value = serde_json::from_str(include_str!("../../tests/fixtures/sigv4.json")).unwrap();
        let s = |name: &str| case[name].as_str().unwrap();
        let c = client(&[
            ("AWS_REGION", s("region")),
            ("AWS_ACCESS_KEY_ID", s("access_key_id")),
            ("AWS_SECRET_ACCESS_KEY", s("secret_access_key")),
            ("AWS_SESSION_TOKEN", s("session_token")),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(format!("https://{}/", c.host), s("url"));
        let request = c.request(s("amz_date"), s("body")).unwrap();
        assert_eq!(request.headers()[http::header::AUTHORIZATION], s("authorization"));
        assert_eq!(request.headers()["x-amz-security-token"], s("session_token"));
        assert_eq!(request.headers()["x-amz-target"], s("target"));
    }

    #[test]
    fn debug_hides_credentials() {
        let c =
            client(&[KEYS[0], ("AWS_SECRET_ACCESS_KEY", "very-secret"), ("AWS_REGION", "eu-west-1")]).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn debug_shows_endpoint_and_region() {
        let c =
            client(&[KEYS[0], ("AWS_SECRET_ACCESS_KEY", "very-secret"), ("AWS_REGION", "eu-west-1")]).unwrap().unwrap();
        let shown = format!("{c:?}");
        assert!(shown.starts_with("SecretsManager {") && shown.contains("eu-west-1"), "{shown}");
        assert!(shown.contains("secretsmanager.eu-west-1.amazonaws.com") && shown.contains(".."), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("AKID"), "{shown}");
    }
}
