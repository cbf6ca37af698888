//! Where the app secret comes from: `PUSHER_SECRET` in the environment, or a
//! Secrets Manager secret named by `PUSHER_SECRET_ID` (in the environment, or
//! per stage as a stage variable).
//!
//! A stored secret is read on first use by a request that needs a signature
//! (never during the cold start, never for a refused request), then cached
//! per id for the life of the execution environment: the warm path is a
//! lookup in a short list. Failures are not cached, so a secret created or
//! fixed later is picked up by the next request.
//!
//! The secret's `SecretString` is either the app secret itself or JSON:
//! `{"secret":"…","encryptionMasterKeyBase64":"…"}` (the second key enables
//! `private-encrypted-` channels).

use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::aws::secrets_manager::{FetchError, SecretsManager};
use crate::error::Refusal;
use crate::signer::{AppSecret, MasterKey};

/// What signing needs: the app secret and, for encrypted channels, the master key.
#[derive(Debug, Clone)]
pub struct AppSecrets {
    /// The app secret.
    pub secret: AppSecret,
    /// The encryption master key, if configured.
    pub master_key: Option<MasterKey>,
}

/// Why a `SecretString` was not usable (names no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormatError {
    /// Empty, or surrounded by whitespace.
    BadSecret,
    /// JSON without a string `secret`, or with other unknown content.
    BadJson,
    /// `encryptionMasterKeyBase64` is not base64 of 32 bytes.
    BadMasterKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredJson {
    secret: String,
    #[serde(rename = "encryptionMasterKeyBase64")]
    master_key: Option<String>,
}

impl AppSecrets {
    /// Parses a stored `SecretString`: the plain secret, or the JSON form.
    pub fn parse(text: &str) -> Result<Self, SecretFormatError> {
        let (secret, master_key) = if text.trim_start().starts_with('{') {
            let stored: StoredJson = serde_json::from_str(text).map_err(|_| SecretFormatError::BadJson)?;
            let key = match stored.master_key.as_deref().filter(|k| !k.is_empty()) {
                None => None,
                Some(encoded) => Some(MasterKey::from_base64(encoded).ok_or(SecretFormatError::BadMasterKey)?),
            };
            (stored.secret, key)
        } else {
            (text.to_owned(), None)
        };
        if secret.is_empty() || secret.trim() != secret {
            return Err(SecretFormatError::BadSecret);
        }
        Ok(Self { secret: AppSecret::new(secret.as_bytes()), master_key })
    }
}

/// The configured secret source, with its cache.
#[derive(Debug)]
pub struct Secrets {
    /// From `PUSHER_SECRET` (and `PUSHER_ENCRYPTION_MASTER_KEY_BASE64`).
    fixed: Option<Arc<AppSecrets>>,
    /// `PUSHER_SECRET_ID` from the environment.
    default_id: Option<String>,
    /// The client, when AWS credentials and a region are set.
    store: Option<SecretsManager>,
    /// Secrets read so far, by id.
    cache: Mutex<Vec<(String, Arc<AppSecrets>)>>,
}

impl Secrets {
    /// A fixed secret from the environment.
    pub fn fixed(secrets: AppSecrets, store: Option<SecretsManager>) -> Self {
        Self { fixed: Some(Arc::new(secrets)), default_id: None, store, cache: Mutex::default() }
    }

    /// Secrets read from Secrets Manager, by default the secret `default_id`.
    pub fn stored(default_id: String, store: SecretsManager) -> Self {
        Self { fixed: None, default_id: Some(default_id), store: Some(store), cache: Mutex::default() }
    }

    /// The fixed secret, if there is one.
    pub fn fixed_secrets(&self) -> Option<&AppSecrets> {
        self.fixed.as_deref()
    }

    /// The secrets for a request: the stage's `PUSHER_SECRET_ID` if it names
    /// one, else the environment's.
    pub async fn get(&self, stage_id: Option<&str>) -> Result<Arc<AppSecrets>, Refusal> {
        let id = match (stage_id, &self.default_id, &self.fixed) {
            (Some(id), _, _) => id,
            (None, Some(id), _) => id.as_str(),
            (None, None, Some(fixed)) => return Ok(fixed.clone()),
            (None, None, None) => return Err(Refusal::Misconfigured("no PUSHER_SECRET or PUSHER_SECRET_ID")),
        };
        if let Some((_, found)) = self.cache.lock().expect("secret cache").iter().find(|(known, _)| known == id) {
            return Ok(found.clone());
        }
        let store =
            self.store.as_ref().ok_or(Refusal::Misconfigured("PUSHER_SECRET_ID needs AWS_REGION and credentials"))?;
        let text = store.secret_string(id).await.map_err(|error| {
            let refusal = match error {
                FetchError::NotFound => Refusal::Misconfigured("secret_not_found"),
                FetchError::Denied => Refusal::Misconfigured("secret_access_denied"),
                FetchError::NotAString => Refusal::Misconfigured("secret_not_a_string"),
                FetchError::Unavailable => Refusal::Unavailable("secret_unavailable"),
            };
            tracing::error!(secret_id = id, reason = refusal.log_reason(), "cannot read the Pusher secret");
            refusal
        })?;
        let parsed = AppSecrets::parse(&text).map_err(|problem| {
            tracing::error!(secret_id = id, problem = ?problem, "the stored Pusher secret is not usable");
            Refusal::Misconfigured("secret_invalid")
        })?;
        tracing::info!(secret_id = id, "Pusher secret read from Secrets Manager");
        let parsed = Arc::new(parsed);
        self.cache.lock().expect("secret cache").push((id.to_owned(), parsed.clone()));
        Ok(parsed)
    }
}

/// Whether `PUSHER_SECRET_ID` (environment or stage variable) can be a
/// Secrets Manager secret name or ARN, by AWS's rules: a name is 1–512 of
/// ASCII letters, digits and `/_+=.@-`; an ARN is
/// `arn:<partition>:secretsmanager:<region>:<12-digit account>:secret:<name>`.
///
/// A Pusher app secret pasted here by mistake (20 lowercase hex digits, the
/// shape Pusher issues) is refused too: it would otherwise be logged as the
/// secret id and sent to AWS. Callers never log a value this refuses.
pub fn valid_secret_id(id: &str) -> bool {
    let name_ok = |name: &str| {
        (1..=512).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'+' | b'=' | b'.' | b'@' | b'-'))
    };
    let looks_like_pusher_secret =
        id.len() == 20 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if looks_like_pusher_secret {
        return false;
    }
    let Some(rest) = id.strip_prefix("arn:") else { return name_ok(id) };
    match rest.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        [partition, "secretsmanager", region, account, "secret", name] => {
            partition_ok(partition) && region_ok(region) && account_ok(account) && name_ok(name)
        }
        _ => false,
    }
}

fn partition_ok(partition: &str) -> bool {
    partition.starts_with("aws") && partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

fn region_ok(region: &str) -> bool {
    !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn account_ok(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_formats() {
        assert!(AppSecrets::parse("7ad3773142a6692b25b8").unwrap().master_key.is_none());
        let key = "ZGVtby1tYXN0ZXIta2V5LWZvci1sb2NhbC1ydW5zISE=";
        let json = format!(r#"{{"secret":"7ad3773142a6692b25b8","encryptionMasterKeyBase64":"{key}"}}"#);
        assert!(AppSecrets::parse(&json).unwrap().master_key.is_some());
        assert!(AppSecrets::parse(r#"{"secret":"abc"}"#).unwrap().master_key.is_none());
        assert_eq!(AppSecrets::parse("").unwrap_err(), SecretFormatError::BadSecret);
        assert_eq!(AppSecrets::parse(" abc\n").unwrap_err(), SecretFormatError::BadSecret);
        assert_eq!(AppSecrets::parse(r#"{"key":"abc"}"#).unwrap_err(), SecretFormatError::BadJson);
        assert_eq!(AppSecrets::parse(r#"{"secret":"abc","extra":1}"#).unwrap_err(), SecretFormatError::BadJson);
        let short = r#"{"secret":"abc","encryptionMasterKeyBase64":"c2hvcnQ="}"#;
        assert_eq!(AppSecrets::parse(short).unwrap_err(), SecretFormatError::BadMasterKey);
    }

    #[test]
    fn secret_ids() {
        assert!(valid_secret_id("pusher/staging"));
        assert!(valid_secret_id("arn:aws:secretsmanager:eu-west-1:123456789012:secret:pusher/prod-AbCdEf"));
        assert!(!valid_secret_id(""));
        assert!(!valid_secret_id("a b"));
        assert!(!valid_secret_id("a\"b"));
        assert!(valid_secret_id("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:p-AbCdEf"));
        assert!(valid_secret_id("pusher-auth/7ad3773142a6692b25b8"));
        // AWS's rules: at most 512 characters for a name, no ':' in it, a real ARN shape.
        assert!(!valid_secret_id(&"a".repeat(513)));
        assert!(valid_secret_id(&"a".repeat(512)));
        for bad in [
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:p",
            "arn:aws:s3:eu-west-1:123456789012:secret:p",
            "arn:aws:secretsmanager:eu-west-1:123456789012:parameter:p",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a:b",
            "pusher:staging",
            "{\"secret\":\"7ad3773142a6692b25b8\"}",
            "c2VjcmV0IHNlY3JldA== ",
            // A Pusher app secret pasted by mistake.
            "7ad3773142a6692b25b8",
        ] {
            assert!(!valid_secret_id(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn fixed_secret_without_a_store() {
        let secrets = Secrets::fixed(AppSecrets::parse("abc").unwrap(), None);
        assert!(secrets.get(None).await.is_ok());
        assert_eq!(
            secrets.get(Some("pusher/staging")).await.unwrap_err(),
            Refusal::Misconfigured("PUSHER_SECRET_ID needs AWS_REGION and credentials")
        );
    }
}
