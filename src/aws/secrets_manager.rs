//! A minimal AWS Secrets Manager client: `GetSecretValue` through
//! [`AwsJson`](crate::aws::call::AwsJson), which reads the AWS variables
//! (the endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER`), signs and retries.

use std::sync::Arc;

use serde::Deserialize;

use crate::aws::call::{Attempt, AwsJson, Service};
use crate::error::ConfigError;
use crate::error::{Misconfig, Outage, Refusal};
use crate::secrets::{SecretStore, StoreFuture};

/// The service; a secret is at most 64 KiB, its answer is read up to 256 KiB.
pub(crate) static SERVICE: Service = Service {
    name: "Secrets Manager",
    signing_name: "secretsmanager",
    endpoint_variable: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    content_type: "application/x-amz-json-1.1",
    max_answer_bytes: 256 * 1024,
};

/// The client. Its `Debug` output shows no credential.
#[derive(Debug)]
pub(crate) struct SecretsManager(AwsJson);

/// The store `main` hands to `Endpoint::with_store`: a client from the AWS
/// variables read through `lookup` (empty values count as unset), or `None`
/// without a region or credentials.
pub fn store_from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Arc<dyn SecretStore>>, ConfigError> {
    let client = AwsJson::from_lookup(lookup, &SERVICE)?;
    Ok(client.map(|client| Arc::new(SecretsManager(client)) as Arc<dyn SecretStore>))
}

impl SecretStore for SecretsManager {
    /// The `SecretString` of the secret `id` (a name or ARN), current version:
    /// a missing secret, a refused read or an answer without a string is
    /// misconfiguration; every attempt failing is an outage.
    fn secret_string<'a>(&'a self, id: &'a str) -> StoreFuture<'a> {
        Box::pin(async move {
            let body = serde_json::json!({ "SecretId": id }).to_string();
            let body = &body;
            let read = move || async move {
                let bytes = self.0.call("secretsmanager.GetSecretValue", body).await?;
                Ok(serde_json::from_slice::<Answer>(&bytes).ok().and_then(|answer| answer.secret_string))
            };
            match self.0.retried(read).await {
                Ok(Some(secret)) => Ok(secret),
                Ok(None) => Err(Refusal::Misconfigured(Misconfig::SecretNotAString)),
                Err(Attempt::Again(_)) => Err(Refusal::Unavailable(Outage::SecretStore)),
                Err(Attempt::Final(problem)) if problem.ends_with(" ResourceNotFoundException") => {
                    Err(Refusal::Misconfigured(Misconfig::SecretNotFound))
                }
                Err(Attempt::Final(_)) => Err(Refusal::Misconfigured(Misconfig::SecretAccessDenied)),
            }
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(vars: &[(&str, &str)]) -> Arc<dyn SecretStore> {
        let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        store_from_lookup(&lookup).unwrap().unwrap()
    }

    const VARS: [(&str, &str); 3] =
        [("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "very-secret"), ("AWS_REGION", "eu-west-1")];

    #[test]
    fn debug_hides_credentials() {
        assert!(!format!("{:?}", store(&VARS)).contains("very-secret"));
    }

    #[test]
    fn debug_shows_endpoint_and_region() {
        let shown = format!("{:?}", store(&VARS));
        assert!(shown.starts_with("SecretsManager(") && shown.contains("eu-west-1"), "{shown}");
        assert!(shown.contains("secretsmanager.eu-west-1.amazonaws.com") && shown.contains(".."), "{shown}");
        assert!(!shown.contains("very-secret") && !shown.contains("AKID"), "{shown}");
    }
}
