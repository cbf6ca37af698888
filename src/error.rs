//! The one error type: every way a request can be refused, with its HTTP status,
//! the fixed public message and the reason written to the log, all in one place.

/// Why a request was refused. Variants carry no client input, so nothing a
/// client sent can be echoed back through an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path is not one of the endpoint's routes.
    NotFound,
    /// The route exists but not for this HTTP method.
    MethodNotAllowed,
    /// The query string or body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// A POST whose body is not `application/x-www-form-urlencoded`.
    UnsupportedMediaType,
    /// A parameter appeared more than once (or `channel_name` beside a batch).
    DuplicateParameter,
    /// A batch naming more channels than the batch limit (`web::params::MAX_BATCH`).
    BatchTooLarge,
    /// Bad percent-encoding, bad base64 body, or a value that is not UTF-8.
    InvalidEncoding,
    /// A JSONP request without a `callback`.
    MissingCallback,
    /// A callback other than `Pusher.auth_callbacks['N']`.
    InvalidCallback,
    /// No `socket_id`.
    MissingSocketId,
    /// A `socket_id` that is not `digits.digits`.
    InvalidSocketId,
    /// No `channel_name` on a channel authorization request.
    MissingChannelName,
    /// A channel name with invalid characters or length.
    InvalidChannelName,
    /// A public channel: it needs no authorization.
    PublicChannel,
    /// A `private-encrypted-` channel while no master key is configured.
    EncryptionNotConfigured,
    /// A cross-origin AJAX request or preflight from an origin not in `ALLOWED_ORIGINS`.
    OriginNotAllowed,
    /// No valid user could be established; the text is the log reason.
    Unauthenticated(&'static str),
    /// The user's `user_info` is larger than Pusher accepts (1 KB).
    UserInfoTooLarge,
    /// The watchlist claim is not a list of at most 100 valid user ids.
    InvalidWatchlist,
    /// The user may not join this channel.
    Forbidden,
    /// The effective configuration (e.g. a stage variable) is invalid; the text (the log reason) names the variable.
    Misconfigured(&'static str),
    /// A service the function depends on (Secrets Manager) did not answer; the text is the log reason.
    Unavailable(&'static str),
}

impl Refusal {
    /// The HTTP status this refusal stands for.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge | Self::BatchTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::DuplicateParameter
            | Self::InvalidEncoding
            | Self::MissingCallback
            | Self::InvalidCallback
            | Self::MissingSocketId
            | Self::InvalidSocketId
            | Self::MissingChannelName
            | Self::InvalidChannelName
            | Self::PublicChannel => 400,
            Self::Unauthenticated(_) => 401,
            Self::EncryptionNotConfigured
            | Self::OriginNotAllowed
            | Self::Forbidden
            | Self::UserInfoTooLarge
            | Self::InvalidWatchlist => 403,
            Self::Misconfigured(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The fixed code shown to the client (in `{"error":…,"status":…}`).
    pub fn public_code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BatchTooLarge => "batch_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::DuplicateParameter => "duplicate_parameter",
            Self::InvalidEncoding => "invalid_encoding",
            Self::MissingCallback => "missing_callback",
            Self::InvalidCallback => "invalid_callback",
            Self::MissingSocketId => "missing_socket_id",
            Self::InvalidSocketId => "invalid_socket_id",
            Self::MissingChannelName => "missing_channel_name",
            Self::InvalidChannelName => "invalid_channel_name",
            Self::PublicChannel => "public_channel",
            Self::EncryptionNotConfigured => "encryption_not_configured",
            Self::OriginNotAllowed => "origin_not_allowed",
            // An expired token is the one failure a page can fix by itself
            // (refresh the token and retry), so it has its own code.
            Self::Unauthenticated("token_expired") => "token_expired",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::UserInfoTooLarge => "user_info_too_large",
            Self::InvalidWatchlist => "invalid_watchlist",
            Self::Forbidden => "forbidden",
            Self::Misconfigured(_) => "server_error",
            Self::Unavailable(_) => "service_unavailable",
        }
    }

    /// The reason written to the log. For configuration errors it names the
    /// variable (never its value).
    pub fn log_reason(self) -> &'static str {
        match self {
            Self::Misconfigured(reason) | Self::Unauthenticated(reason) | Self::Unavailable(reason) => reason,
            Self::Forbidden => "channel_not_allowed",
            other => other.public_code(),
        }
    }
}

impl Refusal {
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): no error
    /// code when no token came, `invalid_token` when one was refused.
    pub fn bearer_challenge(self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated("token_missing") => Some("Bearer"),
            Self::Unauthenticated("token_expired") => {
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
