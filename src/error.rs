//! The one error type: every way a request can be refused, with its HTTP status,
//! the fixed public message and the reason written to the log, all in one place;
//! and the one configuration error, which names a variable, never its value.

/// An enum of log reasons, each mapped once to its text, with the list of all.
macro_rules! reasons {
    ($(#[$outer:meta])* $name:ident { $($(#[$doc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$outer])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            /// Every reason, in the table's order.
            #[cfg(test)]
            pub(crate) const ALL: &[Self] = &[$(Self::$variant,)*];

            /// The reason as written to the log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

reasons! {
    /// Why no user could be established (`unauthenticated`, 401).
    AuthFailure {
        /// The authorizer's user id breaks the user-id rules.
        AuthorizerSubjectInvalid => "authorizer_subject_invalid",
        /// The authorizer's user id is too long.
        AuthorizerSubjectTooLong => "authorizer_subject_too_long",
        /// The authorizer's user id is an unverified e-mail or phone number.
        AuthorizerIdentityUnverified => "authorizer_identity_unverified",
        /// The authorizer context has no user id.
        AuthorizerWithoutSubject => "authorizer_without_subject",
        /// The JWKS could not be fetched.
        JwksUnavailable => "jwks_unavailable",
        /// No (usable) `requestContext.authorizer`.
        NoAuthorizerContext => "no_authorizer_context",
        /// The token's algorithm is not in `JWT_ALGORITHMS`.
        TokenAlgorithmNotAllowed => "token_algorithm_not_allowed",
        /// A required claim is missing or malformed.
        TokenBadClaims => "token_bad_claims",
        /// The token header is not valid.
        TokenBadHeader => "token_bad_header",
        /// The signature does not verify.
        TokenBadSignature => "token_bad_signature",
        /// The user id claim is an unverified e-mail or phone number.
        TokenIdentityUnverified => "token_identity_unverified",
        /// The header lists `crit` extensions.
        TokenCriticalHeader => "token_critical_header",
        /// `exp` has passed.
        TokenExpired => "token_expired",
        /// Any other token failure.
        TokenInvalid => "token_invalid",
        /// The key does not fit the algorithm.
        TokenKeyMismatch => "token_key_mismatch",
        /// Not a compact JWS.
        TokenMalformed => "token_malformed",
        /// No token came.
        TokenMissing => "token_missing",
        /// The header names a key by URL or embeds one (`jku`, `x5u`, `jwk`, `x5c`).
        TokenNamesItsKey => "token_names_its_key",
        /// `nbf` is in the future.
        TokenNotYetValid => "token_not_yet_valid",
        /// The user id breaks the user-id rules.
        TokenSubjectInvalid => "token_subject_invalid",
        /// The user id is too long.
        TokenSubjectTooLong => "token_subject_too_long",
        /// The token is longer than accepted.
        TokenTooLarge => "token_too_large",
        /// An audience while none is configured.
        TokenUnexpectedAudience => "token_unexpected_audience",
        /// No key with the token's `kid`.
        TokenUnknownKey => "token_unknown_key",
        /// No `aud` while one is configured.
        TokenWithoutAudience => "token_without_audience",
        /// No `iss` while one is configured.
        TokenWithoutIssuer => "token_without_issuer",
        /// No user id claim.
        TokenWithoutSubject => "token_without_subject",
        /// `aud` is not the configured audience.
        TokenWrongAudience => "token_wrong_audience",
        /// `iss` is not the configured issuer.
        TokenWrongIssuer => "token_wrong_issuer",
        /// A Cognito token of the wrong `token_use`.
        TokenWrongUse => "token_wrong_use",
    }
}

reasons! {
    /// What in the effective configuration is wrong (`server_error`, 500); a
    /// variable is named, never its value.
    Misconfig {
        /// The stored secret does not exist.
        SecretNotFound => "secret_not_found",
        /// The function may not read the stored secret.
        SecretAccessDenied => "secret_access_denied",
        /// The stored secret is not a secret string.
        SecretNotAString => "secret_not_a_string",
        /// The stored secret's value is not usable.
        SecretInvalid => "secret_invalid",
        /// A stage's `PUSHER_SECRET_ID` without a secret store.
        SecretIdWithoutAws => "PUSHER_SECRET_ID needs AWS_REGION and credentials",
        /// `AUTH_MODE=demo` reached through a production stage.
        DemoOnProductionStage => "AUTH_MODE=demo on a production stage",
        /// An invalid `PUSHER_APP_ID` stage variable.
        StageAppId => "invalid stage variable PUSHER_APP_ID",
        /// An invalid `PUSHER_KEY` stage variable.
        StageKey => "invalid stage variable PUSHER_KEY",
        /// An invalid `PUSHER_CLUSTER` stage variable.
        StageCluster => "invalid stage variable PUSHER_CLUSTER",
        /// An invalid `ALLOWED_ORIGINS` stage variable.
        StageAllowedOrigins => "invalid stage variable ALLOWED_ORIGINS",
        /// An invalid `PUSHER_SECRET_ID` stage variable.
        StageSecretId => "invalid stage variable PUSHER_SECRET_ID",
        /// An invalid `MEMBERSHIP_TABLE` stage variable.
        StageMembershipTable => "invalid stage variable MEMBERSHIP_TABLE",
    }
}

reasons! {
    /// Which service the function depends on did not answer (`service_unavailable`, 503).
    Outage {
        /// Secrets Manager.
        SecretStore => "secret_unavailable",
        /// The membership table (DynamoDB).
        Membership => "membership_unavailable",
    }
}

/// `Refusal` and its one table, from each plain variant's row: HTTP status,
/// the public code a client sees (fixed words, never input) and, for the
/// operator's log line, the reason when it says more than the code. The
/// three variants that carry a reason log that reason (their rows are here).
macro_rules! refusals {
    ($($(#[$doc:meta])* $variant:ident => $row:expr,)*) => {
        /// Why a request was refused. Variants carry no client input, so nothing a
        /// client sent can be echoed back through an error.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Refusal {
            $($(#[$doc])* $variant,)*
            /// No valid user could be established.
            Unauthenticated(AuthFailure),
            /// The effective configuration (e.g. a stage variable) is invalid.
            Misconfigured(Misconfig),
            /// A service the function depends on (Secrets Manager) did not answer.
            Unavailable(Outage),
        }

        impl Refusal {
            /// The one table: status, public code and, when it differs, log reason.
            fn table(self) -> (u16, &'static str, Option<&'static str>) {
                match self {
                    $(Self::$variant => $row,)*
                    // An expired token is the one failure a page can fix by itself
                    // (refresh the token and retry), so it has its own code.
                    Self::Unauthenticated(AuthFailure::TokenExpired) => (401, "token_expired", Some("token_expired")),
                    Self::Unauthenticated(reason) => (401, "unauthenticated", Some(reason.as_str())),
                    Self::Misconfigured(reason) => (500, "server_error", Some(reason.as_str())),
                    Self::Unavailable(reason) => (503, "service_unavailable", Some(reason.as_str())),
                }
            }
        }
    };
}

refusals! {
    /// The path is not one of the endpoint's routes.
    NotFound => (404, "not_found", None),
    /// The route exists but not for this HTTP method.
    MethodNotAllowed => (405, "method_not_allowed", None),
    /// The query string or body is larger than the endpoint accepts.
    PayloadTooLarge => (413, "payload_too_large", None),
    /// A POST whose body is not `application/x-www-form-urlencoded`.
    UnsupportedMediaType => (415, "unsupported_media_type", None),
    /// A parameter appeared more than once (or `channel_name` beside a batch).
    DuplicateParameter => (400, "duplicate_parameter", None),
    /// A batch naming more channels than the batch limit (`web::params::MAX_BATCH`).
    BatchTooLarge => (413, "batch_too_large", None),
    /// Bad percent-encoding, bad base64 body, or a value that is not UTF-8.
    InvalidEncoding => (400, "invalid_encoding", None),
    /// A JSONP request without a `callback`.
    MissingCallback => (400, "missing_callback", None),
    /// A callback other than `Pusher.auth_callbacks['N']`.
    InvalidCallback => (400, "invalid_callback", None),
    /// No `socket_id`.
    MissingSocketId => (400, "missing_socket_id", None),
    /// A `socket_id` that is not `digits.digits`.
    InvalidSocketId => (400, "invalid_socket_id", None),
    /// No `channel_name` on a channel authorization request.
    MissingChannelName => (400, "missing_channel_name", None),
    /// A channel name with invalid characters or length.
    InvalidChannelName => (400, "invalid_channel_name", None),
    /// A public channel: it needs no authorization.
    PublicChannel => (400, "public_channel", None),
    /// A `private-encrypted-` channel while no master key is configured.
    EncryptionNotConfigured => (403, "encryption_not_configured", None),
    /// A cross-origin AJAX request or preflight from an origin not in `ALLOWED_ORIGINS`.
    OriginNotAllowed => (403, "origin_not_allowed", None),
    /// The user's `user_info` is larger than Pusher accepts (1 KB).
    UserInfoTooLarge => (403, "user_info_too_large", None),
    /// The watchlist claim is not a list of at most 100 valid user ids.
    InvalidWatchlist => (403, "invalid_watchlist", None),
    /// The user may not join this channel.
    Forbidden => (403, "forbidden", Some("channel_not_allowed")),
    /// A rule would grant the channel through an e-mail or phone number the
    /// provider has not verified.
    ClaimUnverified => (403, "forbidden", Some("channel_claim_unverified")),
    /// Only a `?member` rule matches, and the table has no item for the user.
    NotAMember => (403, "forbidden", Some("channel_not_a_member")),
}

impl Refusal {
    /// The HTTP status this refusal stands for (over JSONP, the one logged).
    pub fn status(self) -> u16 {
        self.table().0
    }

    /// The code the client sees: `{"error":"<code>","status":…}`.
    pub fn public_code(self) -> &'static str {
        self.table().1
    }

    /// The reason in the log line: the code, or what it hides from the client.
    pub fn log_reason(self) -> &'static str {
        let (_, code, reason) = self.table();
        reason.unwrap_or(code)
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): no error
    /// code when no token came, `invalid_token` when one was refused.
    pub(crate) fn bearer_challenge(self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated(AuthFailure::TokenMissing) => Some("Bearer"),
            Self::Unauthenticated(AuthFailure::TokenExpired) => {
                Some("Bearer error=\"invalid_token\", error_description=\"The token expired\"")
            }
            Self::Unauthenticated(_) => Some("Bearer error=\"invalid_token\""),
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.log_reason(), self.status())
    }
}

impl std::error::Error for Refusal {}

/// A configuration problem found at cold start. Its message is one line that
/// names the variable and never shows the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub(crate) problem: String,
}

impl ConfigError {
    /// The problem `problem` with the variable `variable`.
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration error: {} {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_mapped_once_and_snake_case() {
        let refusals = AuthFailure::ALL
            .iter()
            .map(|r| Refusal::Unauthenticated(*r))
            .chain(Misconfig::ALL.iter().map(|r| Refusal::Misconfigured(*r)))
            .chain(Outage::ALL.iter().map(|r| Refusal::Unavailable(*r)));
        let mut seen = std::collections::BTreeSet::new();
        for refusal in refusals {
            let reason = refusal.log_reason();
            assert!(seen.insert(reason), "{reason} twice");
            // Configuration reasons may name a variable; the others are codes.
            if !matches!(refusal, Refusal::Misconfigured(_)) {
                assert!(reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{reason}");
            }
        }
        assert_eq!(seen.len(), AuthFailure::ALL.len() + Misconfig::ALL.len() + Outage::ALL.len());
    }

    /// Every refusal: the variants without a reason, then each reason of the
    /// three tables.
    fn every_refusal() -> Vec<Refusal> {
        use Refusal::*;
        let plain = [
            NotFound,
            MethodNotAllowed,
            PayloadTooLarge,
            UnsupportedMediaType,
            DuplicateParameter,
            BatchTooLarge,
            InvalidEncoding,
            MissingCallback,
            InvalidCallback,
            MissingSocketId,
            InvalidSocketId,
            MissingChannelName,
            InvalidChannelName,
            PublicChannel,
            EncryptionNotConfigured,
            OriginNotAllowed,
            UserInfoTooLarge,
            InvalidWatchlist,
            Forbidden,
            ClaimUnverified,
            NotAMember,
        ];
        // No wildcard: a new variant fails to compile here until it is listed.
        for refusal in plain {
            match refusal {
                NotFound
                | MethodNotAllowed
                | PayloadTooLarge
                | UnsupportedMediaType
                | DuplicateParameter
                | BatchTooLarge
                | InvalidEncoding
                | MissingCallback
                | InvalidCallback
                | MissingSocketId
                | InvalidSocketId
                | MissingChannelName
                | InvalidChannelName
                | PublicChannel
                | EncryptionNotConfigured
                | OriginNotAllowed
                | UserInfoTooLarge
                | InvalidWatchlist
                | Forbidden
                | ClaimUnverified
                | NotAMember => {}
                Unauthenticated(_) | Misconfigured(_) | Unavailable(_) => unreachable!(),
            }
        }
        plain
            .into_iter()
            .chain(AuthFailure::ALL.iter().map(|r| Unauthenticated(*r)))
            .chain(Misconfig::ALL.iter().map(|r| Misconfigured(*r)))
            .chain(Outage::ALL.iter().map(|r| Unavailable(*r)))
            .collect()
    }

    #[test]
    fn the_docs_list_every_reason_as_the_table_maps_it() {
        let readme = include_str!("../docs/operations.md");
        let start = readme.find("<!-- reasons -->").expect("docs/operations.md's reasons table");
        let end = readme.find("<!-- /reasons -->").expect("the end of docs/operations.md's reasons table");
        let mut listed = std::collections::BTreeSet::new();
        for row in readme[start..end].lines().skip(3) {
            let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "{row}");
            for reason in cells[2].split(", ") {
                listed.insert((cells[0].to_owned(), cells[1].to_owned(), reason.trim_matches('`').to_owned()));
            }
        }
        let mapped: std::collections::BTreeSet<_> = every_refusal()
            .into_iter()
            .map(|r| {
                let shown = if r.public_code() == r.log_reason() {
                    "(the reason)".to_owned()
                } else {
                    format!("`{}`", r.public_code())
                };
                (r.status().to_string(), shown, r.log_reason().to_owned())
            })
            .collect();
        assert_eq!(listed, mapped);
    }
}
