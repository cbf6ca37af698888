//! `pusher-auth explain`: why the function would allow or refuse a channel
//! (or a signin) for a user, through the library's public API only
//! ([`Endpoint::user`], [`Endpoint::decide`]), so its verdict is the
//! function's. It prints no secret, token, signature or shared secret.
//! `--check` runs a file of policy tests against every samconfig environment.

use std::fmt::Write as _;
use std::io::Read as _;
use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Parser;
use pusher_auth_lambda::{ChannelName, ClaimRules, Credentials, Endpoint, Miss, Refusal, User};
use serde::Deserialize;
use serde_json::{Map, Value};

mod config;
use config::Config;

/// Why the function would allow or refuse a channel or a signin, with its own code.
#[derive(Parser)]
#[command(
    bin_name = "pusher-auth explain",
    after_help = "Exit status: 0 allowed (or every test held), 1 refused (or a test failed), 2 bad input."
)]
struct Args {
    /// The configuration of this samconfig environment (default: the process environment)
    #[arg(long, value_name = "ENV")]
    samconfig_env: Option<String>,
    /// The samconfig file
    #[arg(long, value_name = "FILE", default_value = "samconfig.toml")]
    samconfig: String,
    /// A token, checked as the function checks it; `-` reads it from standard input
    #[arg(long, required_unless_present_any = ["claims", "check"], conflicts_with_all = ["claims", "check"])]
    token: Option<String>,
    /// The claims of a verified token (a JSON object)
    #[arg(long, value_name = "JSON", conflicts_with = "check")]
    claims: Option<String>,
    /// A channel name
    #[arg(long, value_name = "NAME", required_unless_present_any = ["signin", "check"], conflicts_with_all = ["signin", "check"])]
    channel: Option<String>,
    /// User authentication (`pusher.signin()`)
    #[arg(long, conflicts_with = "check")]
    signin: bool,
    /// Runs these policy tests against every samconfig environment
    #[arg(long, value_name = "POLICY_TESTS", conflicts_with = "samconfig_env")]
    check: Option<String>,
    /// With AUTH_MODE=authorizer, whose authorizer passes the claims (default: samconfig's FrontDoor, else rest-api)
    #[arg(long, value_parser = ["rest-api", "http-api"], conflicts_with = "check")]
    front_door: Option<String>,
}

/// Who is asking: a token, or the claims of one already verified.
enum Asker {
    Token(String),
    Claims(Map<String, Value>),
}

/// `pusher-auth explain ARGS…`: the report on stdout; exit 0 allowed, 1 refused, 2 bad input.
pub(crate) fn run() -> ExitCode {
    let args = Args::parse_from(std::env::args_os().skip(1));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let result =
        runtime.map_err(|e| format!("cannot start the tokio runtime: {e}")).and_then(|runtime| match &args.check {
            Some(tests) => runtime.block_on(check(&args.samconfig, tests)),
            None => runtime.block_on(explain_one(&args)),
        });
    ExitCode::from(result.unwrap_or_else(|message| {
        eprintln!("{message}");
        2
    }))
}

async fn explain_one(args: &Args) -> Result<u8, String> {
    let mut token = args.token.clone().unwrap_or_default();
    if token == "-" {
        token.clear();
        std::io::stdin().read_to_string(&mut token).map_err(|e| format!("--token -: {e}"))?;
    }
    let asker = match serde_json::from_str(args.claims.as_deref().unwrap_or("null")) {
        _ if args.token.is_some() => Asker::Token(token.trim().to_owned()),
        Ok(Value::Object(claims)) => Asker::Claims(claims),
        _ => return Err("claims: not a JSON object".into()),
    };
    let claims_only = matches!(asker, Asker::Claims(_));
    let mut config = match &args.samconfig_env {
        Some(env) => Config::from_samconfig(&args.samconfig, env, claims_only)?,
        None => Config::from_env(),
    };
    if let Some(front_door) = &args.front_door {
        config.front_door.clone_from(front_door);
    }
    config.warn("");
    let endpoint = config.endpoint(claims_only).map_err(|error| error.to_string())?;
    let (code, report) = explain(&endpoint, &config, &asker, args.channel.as_deref()).await;
    print!("{report}");
    Ok(code)
}

/// Explains one decision (a channel, or a signin when `channel` is `None`); the exit code and the report.
async fn explain(endpoint: &Endpoint, config: &Config, asker: &Asker, channel: Option<&str>) -> (u8, String) {
    let mut out = String::new();
    let channel = match channel.map(ChannelName::parse).transpose() {
        Ok(channel) => channel,
        Err(refusal) => {
            let _ = writeln!(out, "channel: not a channel name the function accepts ({})", refusal.log_reason());
            return (2, out);
        }
    };
    let user = match user_of(endpoint, config, asker, &mut out).await {
        Ok(user) => user,
        Err(code) => return (code, out),
    };
    let _ = writeln!(out, "user: {:?}", user.id);
    let Some(channel) = channel else {
        return match endpoint.signin(&user) {
            Ok(data) => (0, out + &format!("signin: allowed; user_data that would be signed: {data}\n")),
            Err(refusal) => refused(out, refusal),
        };
    };
    let _ = writeln!(out, "channel: {} ({:?})", channel.as_str(), channel.kind());
    let decision = endpoint.decide(&user, &channel);
    for (rule, outcome) in decision.rules {
        let line = match outcome {
            None => "another kind of channel".to_owned(),
            Some(Ok(())) => "matches".to_owned(),
            Some(Err(miss)) => describe(miss, &user, channel.as_str()),
        };
        let _ = writeln!(out, "  rule {rule}: {line}");
    }
    match decision.signed {
        Err(refusal) => return refused(out, refusal),
        Ok(Some(data)) => out += &format!("allowed; channel_data that would be signed: {data}\n"),
        Ok(None) if config.get("PUSHER_SECRET_ID").is_some() && channel.as_str().starts_with("private-encrypted-") => {
            out += "allowed (when the stored secret holds encryptionMasterKeyBase64; else encryption_not_configured)\n"
        }
        Ok(None) => out += "allowed\n",
    }
    (0, out)
}

fn refused(out: String, refusal: Refusal) -> (u8, String) {
    let (reason, status, code) = (refusal.log_reason(), refusal.status(), refusal.public_code());
    (1, out + &format!("refused: {reason} ({status} {code})\n"))
}

/// The user the asker is, as the configured `AUTH_MODE` establishes it.
async fn user_of(endpoint: &Endpoint, config: &Config, asker: &Asker, out: &mut String) -> Result<User, u8> {
    let (user, what) = match asker {
        Asker::Token(token) => {
            (endpoint.user(Credentials { token: Some(token), ..Credentials::default() }).await, "token")
        }
        Asker::Claims(claims) => {
            if config.get("AUTH_MODE").as_deref() == Some("demo") {
                out.push_str("claims: ignored (AUTH_MODE=demo: every request is the demo user)\n");
            }
            (endpoint.user_from_claims(config.as_received(claims.clone(), out)).await, "claims")
        }
    };
    match (user, asker, endpoint.token_rules()) {
        (Ok(user), Asker::Token(_), _) => Ok(user).inspect(|_| out.push_str("token: accepted\n")),
        (Ok(user), ..) => Ok(user),
        (Err(refusal), Asker::Token(token), Some(rules)) => {
            let _ = writeln!(out, "token: refused: {}{}", refusal.log_reason(), token_detail(token, refusal, rules));
            Err(1)
        }
        (Err(refusal), ..) => {
            let _ = writeln!(out, "{what}: refused: {}", refusal.log_reason());
            Err(1)
        }
    }
}

/// What an operator needs to fix a token refusal, read from the token's
/// header and claims without checking them again (the verdict is the function's).
fn token_detail(token: &str, refusal: Refusal, rules: &ClaimRules) -> String {
    let part = |n: usize| -> Map<String, Value> {
        let bytes = token.split('.').nth(n).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    };
    let (header, claims, leeway) = (part(0), part(1), rules.leeway);
    let now = jsonwebtoken::get_current_timestamp();
    let date = |name: &str| claims.get(name).and_then(Value::as_u64).unwrap_or(now);
    let (iss, aud) = (rules.issuer.as_deref().unwrap_or(""), rules.audience.as_deref().unwrap_or(""));
    match refusal.log_reason() {
        "token_expired" => format!(" (expired {} s ago; leeway {leeway} s)", now.saturating_sub(date("exp"))),
        "token_not_yet_valid" => format!(" (valid in {} s; leeway {leeway} s)", date("nbf").saturating_sub(now)),
        "token_wrong_issuer" | "token_without_issuer" => {
            format!(" (expected iss {iss:?}; the token has {})", shown(&claims, "iss"))
        }
        "token_wrong_audience" | "token_without_audience" | "token_unexpected_audience" => format!(
            " (expected aud {aud:?}; the token has aud {}, token_use {}, client_id {})",
            shown(&claims, "aud"),
            shown(&claims, "token_use"),
            shown(&claims, "client_id")
        ),
        "token_unknown_key" => format!(" (kid {} is in no key of the key set in force)", shown(&header, "kid")),
        "token_algorithm_not_allowed" => {
            format!(" (alg {}; JWT_ALGORITHMS allows {:?})", shown(&header, "alg"), rules.algorithms)
        }
        "token_without_subject" | "token_identity_unverified" => {
            format!(" (USER_ID_CLAIM is {:?})", rules.user_id_claim)
        }
        _ => String::new(),
    }
}

fn shown(map: &Map<String, Value>, name: &str) -> String {
    map.get(name).map_or_else(|| "none".to_owned(), |v| v.to_string().chars().take(200).collect())
}

/// One failed step, in words; for a value that is not the user's, the likely cause.
fn describe(miss: Miss<'_>, user: &User, name: &str) -> String {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match miss {
        Miss::Literal(literal, at) => format!("no match: the name has no {literal:?} at byte {at}"),
        Miss::TrailingText(at) => format!("no match: the rule ends at byte {at}, the name goes on"),
        Miss::TooShort => "no match: the name is shorter than the rule's start and end".to_owned(),
        Miss::NoDelimiter(claim, d, at) => {
            format!("no match: {{{claim}}} ends at a {:?}, and the name has none after byte {at}", d as char)
        }
        Miss::NotTheUsers(claim, read) => {
            let held =
                if claim == "sub" { Some(Value::from(user.id.as_str())) } else { user.claims.get(claim).cloned() };
            let shown = held.as_ref().map_or_else(|| "absent".to_owned(), Value::to_string);
            let mut line =
                format!("no match: {{{claim}}} read {:?} from the name; the user's {claim} is {shown}", text(read));
            if held.is_none() && user.claims.contains_key(&format!("custom:{claim}")) {
                let _ = write!(line, " (did you mean `custom:{claim}`?)");
            }
            if let Some(d) = held.as_ref().and_then(|held| delimiter_inside(held, read, name.as_bytes())) {
                let _ = write!(line, " (the user's value contains {d:?}, the character that ends {{{claim}}} in this rule: it never matches; write the rule with a delimiter the values never contain)");
            }
            line
        }
        Miss::Unverified(claim) => format!(
            "no match: {{{claim}}} is the user's, but not verified ({} is not true)",
            if claim == "email" { "email_verified" } else { "phone_number_verified" }
        ),
        Miss::NotBetweenStars(literal) => format!("no match: {literal:?} is not in the name between the stars"),
    }
}

/// The delimiter that cut the user's value short: `read` is a slice of
/// `name` that stopped at a character the user's value (a string or a list
/// element) goes on with.
fn delimiter_inside(held: &Value, read: &[u8], name: &[u8]) -> Option<char> {
    let at = (read.as_ptr() as usize).checked_sub(name.as_ptr() as usize)?;
    let (before, after) = (at.checked_sub(1).and_then(|i| name.get(i)), name.get(at + read.len()));
    let values = match held {
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        value => value.as_str().into_iter().collect::<Vec<_>>(),
    };
    values.into_iter().map(str::as_bytes).find_map(|value| {
        let left = value.strip_prefix(read).and_then(|rest| rest.first()).filter(|c| Some(*c) == after);
        let right = value.strip_suffix(read).and_then(|rest| rest.last()).filter(|c| Some(*c) == before);
        left.or(right).map(|c| *c as char)
    })
}

/// A policy test file: `[[case]]` rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

/// The claims of a verified token, a channel, whether it is signed, and the
/// samconfig environments the row applies to (all when absent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    claims: Map<String, Value>,
    channel: String,
    allowed: bool,
    environments: Option<Vec<String>>,
}

/// Runs the policy tests against every samconfig environment: a line per failure and a summary.
async fn check(samconfig: &str, tests: &str) -> Result<u8, String> {
    let text = std::fs::read_to_string(tests).map_err(|e| format!("cannot read {tests}: {e}"))?;
    let cases: Cases = toml::from_str(&text).map_err(|e| format!("policy tests are not valid: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    for (env, config) in Config::every_environment(samconfig)? {
        config.warn(&format!("[{env}] "));
        let endpoint = config.endpoint(true).map_err(|error| format!("{samconfig} [{env}]: {error}"))?;
        for (n, case) in cases.case.iter().enumerate() {
            if !case.environments.as_ref().is_none_or(|envs| envs.contains(&env)) {
                continue;
            }
            let asker = Asker::Claims(case.claims.clone());
            let (code, report) = explain(&endpoint, &config, &asker, Some(&case.channel)).await;
            if code < 2 && (code == 0) == case.allowed {
                passed += 1;
                continue;
            }
            failed += 1;
            let expected = if case.allowed { "allowed" } else { "refused" };
            let got = ["allowed", "refused", "bad input"][usize::from(code.min(2))];
            println!("FAIL {env} case {} ({}): expected {expected}, got {got}", n + 1, case.channel);
            report.lines().for_each(|line| println!("    {line}"));
        }
    }
    println!("policy tests: {passed} passed, {failed} failed");
    Ok(u8::from(failed > 0))
}
