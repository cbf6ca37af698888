//! CloudWatch metrics without an API call: the one log line per request
//! carries an Embedded Metric Format block (`_aws`), from which CloudWatch
//! Logs makes the metrics.
//!
//! The line gets, beside its usual fields (`route`, `transport`, `decision`,
//! `reason`, and `stage` when the request came through an API Gateway stage):
//!
//! ```json
//! "_aws":{"Timestamp":1763726744836,"CloudWatchMetrics":[{"Namespace":"PusherAuth",
//!   "Dimensions":[["decision"],["route","transport","decision","reason"]],
//!   "Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Duration","Unit":"Microseconds"}]}]},
//! "Requests":1,"Duration":12
//! ```
//!
//! and, with a stage, a third dimension set
//! `["stage","route","transport","decision","reason"]`. Every dimension value
//! comes from a fixed vocabulary (routes, transports, decisions and reasons
//! are codes in the source; a stage name is written only when it is a valid
//! API Gateway stage name, and stages are the operator's), so the number of
//! metrics stays bounded whatever clients send.
//!
//! Everything but the timestamp and the two values is fixed at cold start:
//! [`Metrics`] holds the directive, and the log line
//! ([`crate::support::logging`]) adds the line's own time in milliseconds
//! (see [`crate::support::logging::EMF_FIELD`]).

/// `METRICS_NAMESPACE` when unset.
pub(crate) const DEFAULT_NAMESPACE: &str = "PusherAuth";

/// The EMF directive for one namespace, without and with the stage dimension:
/// two metrics, `Requests` (one per log line; the refusal alarm reads it) and
/// `Duration` (the handler's time in microseconds), which the endpoint's log
/// line carries as fields of the same names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metrics([Box<str>; 2]);

impl Metrics {
    /// The directive for `namespace` (checked by [`valid_namespace`]).
    pub(crate) fn new(namespace: &str) -> Self {
        let namespace = serde_json::Value::from(namespace);
        let directive = |stage: &str| {
            format!(
                r#"{{"CloudWatchMetrics":[{{"Namespace":{namespace},"Dimensions":[["decision"],["route","transport","decision","reason"]{stage}],"Metrics":[{{"Name":"Requests","Unit":"Count"}},{{"Name":"Duration","Unit":"Microseconds"}}]}}]}}"#
            )
            .into_boxed_str()
        };
        Self([directive(""), directive(r#",["stage","route","transport","decision","reason"]"#)])
    }

    /// The `_aws` object without its `Timestamp`, with the stage dimension
    /// set when the line has a `stage`.
    pub(crate) fn directive(&self, with_stage: bool) -> &str {
        &self.0[usize::from(with_stage)]
    }
}

/// CloudWatch's namespace rules, narrowed: 1–255 characters, ASCII letters,
/// digits and `.-_/#:`, not starting with `:` nor with `AWS/` (reserved for
/// AWS's own services).
pub(crate) fn valid_namespace(namespace: &str) -> bool {
    (1..=255).contains(&namespace.len())
        && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#' | b':'))
        && !namespace.starts_with(':')
        && !namespace.starts_with("AWS/")
}

/// Whether an API Gateway stage name (`requestContext.stage`) may become a
/// dimension value: letters, digits, `-` and `_`, at most 128 (API Gateway's
/// own rule), or HTTP API's and function URLs' `$default`.
pub(crate) fn valid_stage_name(stage: &str) -> bool {
    stage == "$default"
        || ((1..=128).contains(&stage.len())
            && stage.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        for good in ["PusherAuth", "PusherAuth/staging", "a", "My.App-1_x/#:y", &"n".repeat(255)] {
            assert!(valid_namespace(good), "{good}");
        }
        for bad in ["", "AWS/Lambda", ":x", "a b", "a\"b", "é", "a\nb", &"n".repeat(256)] {
            assert!(!valid_namespace(bad), "{bad}");
        }
        // Only "AWS/" is reserved.
        assert!(valid_namespace("AWSome") && valid_namespace("aws/x"));
    }

    #[test]
    fn stage_names() {
        for good in ["staging", "prod", "$default", "v1_2-x", &"s".repeat(128)] {
            assert!(valid_stage_name(good), "{good}");
        }
        for bad in ["", "$other", "a b", "a/b", "<script>", &"s".repeat(129)] {
            assert!(!valid_stage_name(bad), "{bad}");
        }
    }

    #[test]
    fn directives_are_json_objects() {
        let m = Metrics::new("PusherAuth/staging");
        for staged in [false, true] {
            let value: serde_json::Value = serde_json::from_str(m.directive(staged)).unwrap();
            let directive = &value["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "PusherAuth/staging");
            assert_eq!(directive["Dimensions"][0], serde_json::json!(["decision"]));
            assert_eq!(directive["Dimensions"].as_array().unwrap().len(), if staged { 3 } else { 2 });
            assert_eq!(directive["Metrics"][0], serde_json::json!({"Name": "Requests", "Unit": "Count"}));
        }
    }
}
