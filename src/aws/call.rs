//! What the two AWS clients share: one signed call in AWS's JSON protocol (a
//! POST to the endpoint with an `X-Amz-Target`), and the retry schedule.
//!
//! Configured from the standard AWS variables Lambda sets: `AWS_REGION` (or
//! `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, and optionally `AWS_ENDPOINT_URL_<SERVICE>` or
//! `AWS_ENDPOINT_URL` (local emulators such as moto; `http://` only to a
//! loopback host).

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use crate::aws::sigv4::{self, Signer};
use crate::error::ConfigError;

/// One AWS service as the clients call it.
#[derive(Debug)]
pub(crate) struct Service {
    /// For log lines, e.g. `Secrets Manager`.
    pub(crate) name: &'static str,
    /// The signing name, also the first label of the regional host.
    pub(crate) signing_name: &'static str,
    /// The service's own endpoint variable, tried before `AWS_ENDPOINT_URL`.
    pub(crate) endpoint_variable: &'static str,
    /// `application/x-amz-json-1.0` or `-1.1`, as the service speaks.
    pub(crate) content_type: &'static str,
    /// Largest answer accepted.
    pub(crate) max_answer_bytes: usize,
}

/// The wait before each attempt: 3 attempts, 100 ms then 200 ms apart,
/// each of at most [`ATTEMPT_TIMEOUT`]: under 5 s in all.
const WAITS: [Duration; 3] = [Duration::ZERO, Duration::from_millis(100), Duration::from_millis(200)];
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Error types worth another try, whatever the status.
const THROTTLED: [&str; 5] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServiceError",
    "InternalServiceErrorException",
];

/// One attempt's failure: worth another try, or final; saying why.
#[derive(Debug)]
pub(crate) enum Attempt {
    Again(String),
    Final(String),
}

/// A client of one service. Its `Debug` output shows no credential.
#[derive(Debug)]
pub(crate) struct AwsJson {
    service: &'static Service,
    endpoint: http::Uri,
    host: String,
    signer: Signer,
}

impl AwsJson {
    /// A client from the AWS variables read through `lookup` (empty values
    /// count as unset), or `None` when no region or no credentials are set.
    pub(crate) fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        service: &'static Service,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) else { return Ok(None) };
        if !crate::config::valid_region(&region) {
            return Err(ConfigError::new("AWS_REGION", "is not a region name"));
        }
        let Some(access_key_id) = get("AWS_ACCESS_KEY_ID") else { return Ok(None) };
        let Some(secret_access_key) = get("AWS_SECRET_ACCESS_KEY") else { return Ok(None) };
        let (variable, url) = match (get(service.endpoint_variable), get("AWS_ENDPOINT_URL")) {
            (Some(url), _) => (service.endpoint_variable, url),
            (None, Some(url)) => ("AWS_ENDPOINT_URL", url),
            (None, None) => ("AWS_REGION", format!("https://{}.{region}.amazonaws.com", service.signing_name)),
        };
        let endpoint: http::Uri = url.parse().map_err(|_| ConfigError::new(variable, "is not a URL"))?;
        if !crate::support::https::https_or_loopback(&endpoint) {
            return Err(ConfigError::new(variable, "must be an https:// URL (http:// only to 127.0.0.1 or localhost)"));
        }
        let session_token = get("AWS_SESSION_TOKEN");
        let signer = Signer { access_key_id, secret_access_key, session_token, region, service: service.signing_name };
        Ok(Some(Self { service, host: host_header(&endpoint), endpoint, signer }))
    }

    /// Runs `attempt` on the retry schedule, each within the attempt
    /// timeout, until it succeeds, fails for good, or the attempts run out
    /// (then the last `Again`), logging each failure worth another try.
    pub(crate) async fn retried<T, F>(&self, mut attempt: impl FnMut() -> F) -> Result<T, Attempt>
    where
        F: Future<Output = Result<T, Attempt>>,
    {
        let mut outcome = Err(Attempt::Again("no attempt".into()));
        for (n, wait) in (1u64..).zip(WAITS) {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            outcome =
                tokio::time::timeout(ATTEMPT_TIMEOUT, attempt()).await.unwrap_or(Err(Attempt::Again("timeout".into())));
            let Err(Attempt::Again(problem)) = &outcome else { break };
            tracing::warn!(attempt = n, problem, "{} call failed", self.service.name);
        }
        outcome
    }

    /// One signed call of `target` with `body`: the answer's bytes (status
    /// 200), or why not (e.g. `connect`, `403 AccessDeniedException`). No
    /// answer, a 429, a 5xx or a throttling error is worth another try; other
    /// answers are final.
    pub(crate) async fn call(&self, target: &str, body: &str) -> Result<Bytes, Attempt> {
        let again = |why: &str| Attempt::Again(why.to_owned());
        let client = crate::support::https::client().ok_or_else(|| again("no root certificates"))?;
        let request = self.request(&sigv4::amz_date(SystemTime::now()), target, body).map_err(|_| again("request"))?;
        let response = client.request(request).await.map_err(|_| again("connect"))?;
        let status = response.status().as_u16();
        let header_type = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        let header_type = header_type.map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let limited = Limited::new(response.into_body(), self.service.max_answer_bytes);
        let bytes = limited.collect().await.map_err(|_| again("body"))?.to_bytes();
        if status == 200 {
            return Ok(bytes);
        }
        let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let error_type = error["__type"].as_str().map(str::to_owned).or(header_type).unwrap_or_default();
        let error_type = error_type.rsplit('#').next().unwrap_or_default();
        let problem = format!("{status} {error_type}").trim_end().to_owned();
        let again = status == 429 || status >= 500 || THROTTLED.contains(&error_type);
        Err(if again { Attempt::Again(problem) } else { Attempt::Final(problem) })
    }

    /// The signed request: exactly the signed headers (`Host` among them, set
    /// here rather than left to the HTTP client, so what is sent is what was
    /// signed), the `Authorization` and the body.
    fn request(&self, amz_date: &str, target: &str, body: &str) -> Result<http::Request<Full<Bytes>>, http::Error> {
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", self.service.content_type),
            ("host", &self.host),
            ("x-amz-date", amz_date),
            ("x-amz-target", target),
        ];
        if let Some(token) = &self.signer.session_token {
            // In name order, as signed: between x-amz-date and x-amz-target.
            headers.insert(3, ("x-amz-security-token", token));
        }
        let authorization = self.signer.authorization(self.endpoint.path(), &headers, body.as_bytes(), amz_date);
        let request = http::Request::post(self.endpoint.clone()).header(http::header::AUTHORIZATION, authorization);
        let request = headers.into_iter().fold(request, |request, (name, value)| request.header(name, value));
        request.body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
    }
}

/// The `Host` a request to `endpoint` carries, and so the one SigV4 signs:
/// the host, with the port only when it is not the scheme's default
/// (`https://…:443` is sent and signed as plain `…`, as HTTP clients and
/// AWS's own SDKs do).
fn host_header(endpoint: &http::Uri) -> String {
    let host = endpoint.host().unwrap_or_default();
    let default_port = if endpoint.scheme_str() == Some("https") { 443 } else { 80 };
    match endpoint.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::secrets_manager::SERVICE;
    use std::collections::HashMap;

    fn client(vars: &[(&str, &str)]) -> Result<Option<AwsJson>, ConfigError> {
        let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AwsJson::from_lookup(&|name: &str| env.get(name).cloned(), &SERVICE)
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
            let request = c.request("20261201T000000Z", "secretsmanager.GetSecretValue", "{}").unwrap();
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
        // Each service's own endpoint variable comes before AWS_ENDPOINT_URL, another's is not read.
        let own = [("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000"), ("AWS_ENDPOINT_URL", "http://[::1]:5000")];
        let env: HashMap<&str, &str> = [KEYS[0], KEYS[1], region, own[0], own[1]].into_iter().collect();
        let lookup = |name: &str| env.get(name).map(|v| v.to_string());
        let dynamodb = AwsJson::from_lookup(&lookup, &crate::aws::dynamodb::SERVICE).unwrap().unwrap();
        assert_eq!((dynamodb.host.as_str(), dynamodb.service.signing_name), ("localhost:8000", "dynamodb"));
        assert_eq!(AwsJson::from_lookup(&lookup, &SERVICE).unwrap().unwrap().host, "[::1]:5000");
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
        let request = c.request(s("amz_date"), s("target"), s("body")).unwrap();
        assert_eq!(request.headers()[http::header::AUTHORIZATION], s("authorization"));
        assert_eq!(request.headers()["x-amz-security-token"], s("session_token"));
        assert_eq!(request.headers()["x-amz-target"], s("target"));
    }
}
