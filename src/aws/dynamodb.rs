//! A minimal DynamoDB client for the membership table: `GetItem` for one
//! channel, `BatchGetItem` for a batch (up to 25 keys, the batch limit; keys
//! DynamoDB leaves unprocessed are asked again), in DynamoDB's JSON protocol
//! over the HTTPS client, signed with [`sigv4`](crate::aws::sigv4), retried
//! as the Secrets Manager client retries.
//!
//! Region and credentials as `secrets_manager` reads them; the endpoint from
//! `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` (local emulators such as
//! moto; `http://` only to a loopback host).
//!
//! An item is keyed by `channel` (partition key: the full channel name) and
//! `user_id` (sort key), both strings; its optional `user_info` map becomes
//! plain JSON (`S`, `N`, `BOOL`, `NULL`, `M`, `L`; another type makes the
//! answer unreadable, which refuses the channel).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{json, Map, Value};

use crate::aws::secrets_manager::{host_header, RetryPolicy};
use crate::aws::sigv4::{self, AwsCredentials, Scope, SignedRequest};
use crate::error::ConfigError;
use crate::membership::{Item, ItemsFuture, MembershipStore};
use crate::support::https::HttpsClient;

/// Largest answer accepted: 25 items of at most 400 KB would be 10 MB; a
/// membership item is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The client (its credentials' `Debug` output hides them).
#[derive(Debug)]
pub(crate) struct DynamoDb {
    endpoint: http::Uri,
    host: String,
    region: String,
    credentials: AwsCredentials,
    retry: RetryPolicy,
}

/// The store `main` hands to `Endpoint::with_membership_store`: a client
/// from the AWS variables read through `lookup` (empty values count as
/// unset), or `None` without a region or credentials. `main` builds the
/// Secrets Manager store first, which refuses an invalid `AWS_REGION`.
pub fn membership_store_from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn MembershipStore>>, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) else { return Ok(None) };
    let (Some(access_key_id), Some(secret_access_key)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"))
    else {
        return Ok(None);
    };
    let credentials = AwsCredentials { access_key_id, secret_access_key, session_token: get("AWS_SESSION_TOKEN") };
    let (variable, url) = match (get("AWS_ENDPOINT_URL_DYNAMODB"), get("AWS_ENDPOINT_URL")) {
        (Some(url), _) => ("AWS_ENDPOINT_URL_DYNAMODB", url),
        (None, Some(url)) => ("AWS_ENDPOINT_URL", url),
        (None, None) => ("AWS_REGION", format!("https://dynamodb.{region}.amazonaws.com")),
    };
    let endpoint: http::Uri = url.parse().map_err(|_| ConfigError::new(variable, "is not a URL"))?;
    let host =
        Some(host_header(&endpoint)).filter(|h| !h.is_empty() && crate::support::https::https_or_loopback(&endpoint));
    let host = host.ok_or_else(|| {
        ConfigError::new(variable, "must be an https:// URL (http:// only to 127.0.0.1 or localhost)")
    })?;
    let client = DynamoDb { endpoint, host, region, credentials, retry: RetryPolicy::default() };
    Ok(Some(Arc::new(client)))
}

impl MembershipStore for DynamoDb {
    fn items<'a>(
        &'a self,
        table: &'a str,
        user: &'a str,
        channels: &'a [&'a str],
        consistent: bool,
    ) -> ItemsFuture<'a> {
        Box::pin(self.read(table, user, channels, consistent))
    }
}

/// One attempt's failure: worth another try, or final.
enum Attempt {
    Retry(String),
    Final(String),
}

impl DynamoDb {
    /// The items of `user` for `channels`: `GetItem` for one, else
    /// `BatchGetItem`, asking again for unprocessed keys on the retry
    /// schedule. Any key still unanswered fails the whole lookup.
    async fn read(
        &self,
        table: &str,
        user: &str,
        channels: &[&str],
        consistent: bool,
    ) -> Result<Vec<Option<Item>>, String> {
        let client = crate::support::https::client().ok_or("no root certificates")?;
        let mut found: Vec<Option<Item>> = vec![None; channels.len()];
        let mut pending: Vec<&str> = channels.to_vec();
        let mut problem = String::new();
        for (attempt, wait) in (1u64..).zip(self.retry.waits()) {
            tokio::time::sleep(wait).await;
            let key = |channel: &str| json!({"channel": {"S": channel}, "user_id": {"S": user}});
            let (target, body) = match channels {
                [one] => ("GetItem", json!({"TableName": table, "Key": key(one), "ConsistentRead": consistent})),
                _ => {
                    let keys: Vec<Value> = pending.iter().map(|c| key(c)).collect();
                    let request = json!({table: {"Keys": keys, "ConsistentRead": consistent}});
                    ("BatchGetItem", json!({"RequestItems": request}))
                }
            };
            let body = body.to_string();
            let answer =
                match tokio::time::timeout(self.retry.attempt_timeout, self.attempt(client, target, &body)).await {
                    Err(_) => Err(Attempt::Retry("timeout".into())),
                    Ok(answer) => answer.and_then(|bytes| {
                        let answer = serde_json::from_slice(&bytes).unwrap_or_default();
                        answer_items(&answer, table, user).ok_or(Attempt::Final("unreadable answer".into()))
                    }),
                };
            match answer {
                Ok((items, unprocessed)) => {
                    for (channel, item) in items {
                        let at = channels.iter().position(|c| *c == channel).ok_or("an item of another channel")?;
                        found[at] = Some(item);
                    }
                    pending.retain(|channel| unprocessed.iter().any(|u| u == channel));
                    if pending.is_empty() {
                        return Ok(found);
                    }
                    problem = format!("{} keys unprocessed", pending.len());
                }
                Err(Attempt::Retry(why)) => problem = why,
                Err(Attempt::Final(why)) => return Err(why),
            }
            tracing::warn!(attempt, problem, "DynamoDB call failed");
        }
        Err(problem)
    }

    /// One signed call; the answer's bytes, or why not.
    async fn attempt(&self, client: &HttpsClient, target: &str, body: &str) -> Result<Bytes, Attempt> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let amz_date = sigv4::amz_date(now);
        let target = format!("DynamoDB_20120810.{target}");
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", "application/x-amz-json-1.0"),
            ("host", &self.host),
            ("x-amz-date", &amz_date),
            ("x-amz-target", &target),
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
        let scope = Scope { amz_date: &amz_date, region: &self.region, service: "dynamodb" };
        let mut request = http::Request::post(self.endpoint.clone());
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let request = request
            .header(http::header::AUTHORIZATION, sigv4::authorization(&signed, &scope, &self.credentials))
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .map_err(|_| Attempt::Final("request".into()))?;
        let response = client.request(request).await.map_err(|_| Attempt::Retry("connect".into()))?;
        let status = response.status().as_u16();
        let limited = Limited::new(response.into_body(), MAX_ANSWER_BYTES);
        let bytes = limited.collect().await.map_err(|_| Attempt::Retry("body".into()))?.to_bytes();
        if status == 200 {
            return Ok(bytes);
        }
        let error: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let error_type = error["__type"].as_str().unwrap_or("").rsplit('#').next().unwrap_or("");
        let problem = format!("{status} {error_type}").trim_end().to_owned();
        let throttled = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];
        Err(if status >= 500 || throttled.contains(&error_type) {
            Attempt::Retry(problem)
        } else {
            Attempt::Final(problem)
        })
    }
}

/// The items of an answer by channel, and the channels left unprocessed.
type Answer = (Vec<(String, Item)>, Vec<String>);

/// The items of an answer (`GetItem`'s or `BatchGetItem`'s) by channel, and
/// the channels left unprocessed; `None` unless it is a JSON object whose
/// every item is `user`'s, with a `user_info` map JSON can carry.
fn answer_items(answer: &Value, table: &str, user: &str) -> Option<Answer> {
    answer.as_object()?;
    let batch = answer["Responses"][table].as_array().into_iter().flatten();
    let read = |item: &Value| {
        (item["user_id"]["S"] == user).then_some(())?;
        let info = match item.get("user_info").map(plain) {
            None => Map::new(),
            Some(Some(Value::Object(info))) => info,
            Some(_) => return None,
        };
        Some((item["channel"]["S"].as_str()?.to_owned(), info))
    };
    let items = answer.get("Item").into_iter().chain(batch).map(read).collect::<Option<_>>()?;
    let keys = answer["UnprocessedKeys"][table]["Keys"].as_array().into_iter().flatten();
    Some((items, keys.filter_map(|key| Some(key["channel"]["S"].as_str()?.to_owned())).collect()))
}

/// A DynamoDB attribute value as plain JSON, or `None` for a type JSON
/// cannot carry (sets, binary).
fn plain(typed: &Value) -> Option<Value> {
    let object = typed.as_object().filter(|o| o.len() == 1)?;
    let (tag, value) = object.iter().next()?;
    Some(match (tag.as_str(), value) {
        ("S", Value::String(_)) | ("BOOL", Value::Bool(_)) => value.clone(),
        ("NULL", Value::Bool(true)) => Value::Null,
        ("N", Value::String(number)) => Value::Number(number.parse().ok()?),
        ("M", Value::Object(map)) => {
            Value::Object(map.iter().map(|(k, v)| Some((k.clone(), plain(v)?))).collect::<Option<_>>()?)
        }
        ("L", Value::Array(list)) => Value::Array(list.iter().map(plain).collect::<Option<_>>()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_become_plain_json() {
        let typed = json!({"M": {
            "role": {"S": "moderator"}, "n": {"N": "42"}, "ok": {"BOOL": true}, "none": {"NULL": true},
            "tags": {"L": [{"S": "a"}, {"N": "1.5"}]},
        }});
        assert_eq!(
            plain(&typed),
            Some(json!({"role": "moderator", "n": 42, "ok": true, "none": null, "tags": ["a", 1.5]}))
        );
        for bad in [json!({"SS": ["a"]}), json!({"B": "AA=="}), json!({"N": "x"}), json!({"S": 1}), json!({})] {
            assert_eq!(plain(&json!({"M": {"x": bad}})), None, "{bad}");
        }
    }

    #[test]
    fn an_answer_for_another_user_or_unreadable_is_final() {
        let item = |user: &str| json!({"Item": {"channel": {"S": "c"}, "user_id": {"S": user}}});
        assert_eq!(answer_items(&item("u"), "t", "u"), Some((vec![("c".to_owned(), Item::new())], vec![])));
        assert_eq!(answer_items(&item("v"), "t", "u"), None);
        assert_eq!(answer_items(&Value::Null, "t", "u"), None, "not JSON");
        let info = |typed: Value| json!({"Item": {"channel": {"S": "c"}, "user_id": {"S": "u"}, "user_info": typed}});
        assert_eq!(answer_items(&info(json!({"S": "x"})), "t", "u"), None, "not a map");
        assert_eq!(answer_items(&info(json!({"M": {"x": {"SS": ["a"]}}})), "t", "u"), None);
        assert_eq!(answer_items(&json!({}), "t", "u"), Some((vec![], vec![])), "no Item: not a member");
    }
}
