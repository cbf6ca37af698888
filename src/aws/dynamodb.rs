//! A minimal DynamoDB client for the membership table: `GetItem` for one
//! channel, `BatchGetItem` for a batch (up to 25 keys, the batch limit; keys
//! DynamoDB leaves unprocessed are asked again, on the retry schedule),
//! through [`AwsJson`](crate::aws::call::AwsJson), which reads the AWS
//! variables (the endpoint from `AWS_ENDPOINT_URL_DYNAMODB`), signs and retries.
//!
//! An item is keyed by `channel` (partition key: the full channel name) and
//! `user_id` (sort key), both strings; its optional `user_info` map becomes
//! plain JSON (`S`, `N`, `BOOL`, `NULL`, `M`, `L`; another type makes the
//! answer unreadable, which refuses the channel).

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::aws::call::{Attempt, AwsJson, Service};
use crate::error::ConfigError;
use crate::membership::{Item, ItemsFuture, MembershipStore};

/// The service; 25 items of at most 400 KB would be 10 MB, but a membership
/// item is a few hundred bytes, so answers are read up to 1 MiB.
pub(crate) static SERVICE: Service = Service {
    name: "DynamoDB",
    signing_name: "dynamodb",
    endpoint_variable: "AWS_ENDPOINT_URL_DYNAMODB",
    content_type: "application/x-amz-json-1.0",
    max_answer_bytes: 1024 * 1024,
};

/// The client (its `Debug` output shows no credential).
#[derive(Debug)]
pub(crate) struct DynamoDb(AwsJson);

/// The store `main` hands to `Endpoint::with_membership_store`: a client
/// from the AWS variables read through `lookup` (empty values count as
/// unset), or `None` without a region or credentials.
pub fn membership_store_from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn MembershipStore>>, ConfigError> {
    Ok(AwsJson::from_lookup(lookup, &SERVICE)?.map(|client| Arc::new(DynamoDb(client)) as Arc<dyn MembershipStore>))
}

impl MembershipStore for DynamoDb {
    /// The items of `user` for `channels`: `GetItem` for one, else
    /// `BatchGetItem`, asking again for unprocessed keys on the retry
    /// schedule. Any key still unanswered fails the whole lookup.
    fn items<'a>(
        &'a self,
        table: &'a str,
        user: &'a str,
        channels: &'a [&'a str],
        consistent: bool,
    ) -> ItemsFuture<'a> {
        // What was found and what is still to ask, across attempts; in a
        // Mutex because each attempt is a future, which cannot borrow the
        // closure that makes it.
        let state = Mutex::new((vec![None; channels.len()], channels.to_vec()));
        let key = move |channel: &str| json!({"channel": {"S": channel}, "user_id": {"S": user}});
        Box::pin(async move {
            let state = &state;
            let attempt = move || async move {
                let (target, body) = match channels {
                    [one] => ("GetItem", json!({"TableName": table, "Key": key(one), "ConsistentRead": consistent})),
                    _ => {
                        let keys: Vec<Value> = state.lock().unwrap().1.iter().map(|c| key(c)).collect();
                        let request = json!({table: {"Keys": keys, "ConsistentRead": consistent}});
                        ("BatchGetItem", json!({"RequestItems": request}))
                    }
                };
                let bytes = self.0.call(&format!("DynamoDB_20120810.{target}"), &body.to_string()).await?;
                let answer = serde_json::from_slice(&bytes).unwrap_or_default();
                let (items, unprocessed) =
                    answer_items(&answer, table, user).ok_or(Attempt::Final("unreadable answer".to_owned()))?;
                let (found, pending) = &mut *state.lock().unwrap();
                for (channel, item) in items {
                    let at = channels.iter().position(|c| *c == channel);
                    found[at.ok_or(Attempt::Final("an item of another channel".to_owned()))?] = Some(item);
                }
                pending.retain(|channel| unprocessed.iter().any(|u| u == channel));
                match pending.len() {
                    0 => Ok(std::mem::take(found)),
                    n => Err(Attempt::Again(format!("{n} keys unprocessed"))),
                }
            };
            self.0.retried(attempt).await.map_err(|(Attempt::Again(problem) | Attempt::Final(problem))| problem)
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
    let (tag, value) = typed.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    Some(match (tag.as_str(), value) {
        ("S", Value::String(_)) | ("BOOL", Value::Bool(_)) => value.clone(),
        ("NULL", Value::Bool(true)) => Value::Null,
        ("N", Value::String(number)) => Value::Number(number.parse().ok()?),
        ("M", Value::Object(map)) => map.iter().map(|(k, v)| Some((k.clone(), plain(v)?))).collect::<Option<_>>()?,
        ("L", Value::Array(list)) => list.iter().map(plain).collect::<Option<_>>()?,
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
