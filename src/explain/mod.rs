//! `pusher-auth explain`: why the function would allow or refuse a channel
//! (or a signin) for a user, through the library's public API only
//! ([`Endpoint::user`], [`Endpoint::decide`]), so its verdict is the
//! function's. It prints no secret, token, signature or shared secret.
//! `--check` runs a file of policy tests against every samconfig environment.
//!
//! The configuration it decides with is the process environment, or a
//! samconfig environment's `parameter_overrides` as the template passes them
//! to the function; for `AUTH_MODE=authorizer`, `FRONT_DOOR` (samconfig's
//! `FrontDoor`, or `--front-door`) names the front door whose authorizer
//! hands the function its claims.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Parser;
use pusher_auth_lambda::{membership_store_from_lookup, ChannelName, ClaimRules, ConfigError, Credentials, Endpoint};
use pusher_auth_lambda::{Miss, Refusal, Settings, User};
use serde::Deserialize;
use serde_json::{Map, Value};

const EXIT_STATUS: &str = "Exit status: 0 allowed (or every test held), 1 refused (or a test failed), 2 bad input.";

/// Why the function would allow or refuse a channel or a signin, with its own code.
#[derive(Parser, Default)]
#[command(bin_name = "pusher-auth explain", after_help = EXIT_STATUS)]
struct Args {
    /// The configuration of this samconfig environment (default: the process environment)
    #[arg(long, value_name = "ENV")]
    samconfig_env: Option<String>,
    /// The samconfig file
    #[arg(long, value_name = "FILE", default_value = "samconfig.toml")]
    samconfig: String,
    /// A token, checked as the function checks it; `-` reads it from standard input
    #[arg(long, required_unless_present_any = ["claims", "check"], conflicts_with_all = ["claims", "check"], value_parser = |t: &str| if t == "-" { std::io::read_to_string(std::io::stdin()) } else { Ok(t.to_owned()) })]
    token: Option<String>,
    /// The claims of a verified token (a JSON object)
    #[arg(long, value_name = "JSON", conflicts_with = "check", value_parser = |claims: &str| serde_json::from_str::<Map<String, Value>>(claims))]
    claims: Option<Map<String, Value>>,
    /// A channel name
    #[arg(long, value_name = "NAME", required_unless_present_any = ["signin", "check"], conflicts_with_all = ["signin", "check"], value_parser = |name: &str| ChannelName::parse(name).map(|_| name.to_owned()).map_err(|r| format!("not a channel name the function accepts ({})", r.log_reason())))]
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
    /// Membership items for ?member rules, a JSON array of {"channel", "user_id"} (default: the
    /// table itself, read with the caller's AWS credentials)
    #[arg(long, value_name = "FILE", conflicts_with = "check", value_parser = read_items)]
    items: Option<Items>,
}

/// Membership items given instead of the table: (channel, user id; `None`: the asker's).
#[derive(Clone)]
struct Items(Vec<(String, Option<String>)>);

/// `--items FILE`.
fn read_items(path: &str) -> Result<Items, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let items: Vec<BTreeMap<String, String>> = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(Items(
        items.into_iter().filter_map(|mut item| Some((item.remove("channel")?, item.remove("user_id")))).collect(),
    ))
}

/// `pusher-auth explain ARGS…`: the report on stdout; exit 0 allowed, 1 refused, 2 bad input.
#[tokio::main(flavor = "current_thread")]
pub(crate) async fn run() -> ExitCode {
    let args = Args::parse_from(std::env::args_os().skip(1));
    let result =
        if let Some(tests) = &args.check { check(&args.samconfig, tests).await } else { explain_one(&args).await };
    ExitCode::from(result.inspect_err(|message| eprintln!("{message}")).unwrap_or(2))
}

async fn explain_one(args: &Args) -> Result<u8, String> {
    let (path, claims_only) = (&args.samconfig, args.token.is_none());
    let mut config = match &args.samconfig_env {
        None => std::env::vars().collect(),
        Some(env) => {
            let line = samconfig(path)?.remove(env);
            let line = line.ok_or_else(|| format!("{path} has no [{env}.deploy.parameters] parameter_overrides"))?;
            variables(&line, claims_only).map_err(|e| format!("{path} [{env}]: {e}"))?
        }
    };
    config.extend(args.front_door.clone().map(|door| ("FRONT_DOOR".to_owned(), door)));
    let mut endpoint = endpoint(&config, claims_only, "").map_err(|error| error.to_string())?;
    if let (None, Ok(Some(store))) = (&args.items, membership_store_from_lookup(&|name| std::env::var(name).ok())) {
        endpoint = endpoint.with_membership_store(Some(store)).map_err(|error| error.to_string())?;
    }
    let (code, report) = explain(&endpoint, &config, args).await;
    report.iter().for_each(|line| println!("{line}"));
    Ok(code)
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
    /// The channels of which the user is a member (an item in the membership table).
    #[serde(default)]
    members: Vec<String>,
}

/// Runs the policy tests against every samconfig environment: a line per failure and a summary.
async fn check(path: &str, tests: &str) -> Result<u8, String> {
    let text = std::fs::read_to_string(tests).map_err(|e| format!("cannot read {tests}: {e}"))?;
    let cases: Cases = toml::from_str(&text).map_err(|e| format!("policy tests are not valid: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    for (env, line) in samconfig(path)? {
        let config = variables(&line, true).map_err(|e| format!("{path} [{env}]: {e}"))?;
        let endpoint = endpoint(&config, true, &format!("[{env}] ")).map_err(|e| format!("{path} [{env}]: {e}"))?;
        let applies = |case: &Case| case.environments.as_ref().is_none_or(|envs| envs.contains(&env));
        for (n, row) in cases.case.iter().enumerate().filter(|(_, row)| applies(row)) {
            let items = Some(Items(row.members.iter().map(|channel| (channel.clone(), None)).collect()));
            let ask =
                Args { claims: Some(row.claims.clone()), channel: Some(row.channel.clone()), items, ..Args::default() };
            let (code, report) = explain(&endpoint, &config, &ask).await;
            let held = (code == 0) == row.allowed;
            (passed, failed) = (passed + usize::from(held), failed + usize::from(!held));
            if held {
                continue;
            }
            let [expected, got] = [!row.allowed, code == 1].map(|refused| if refused { "refused" } else { "allowed" });
            println!("FAIL {env} case {} ({}): expected {expected}, got {got}", n + 1, row.channel);
            report.iter().for_each(|line| println!("    {line}"));
        }
    }
    println!("policy tests: {passed} passed, {failed} failed");
    Ok(u8::from(failed > 0))
}

/// Explains one decision (a channel, or a signin): the exit code and the report.
async fn explain(e: &Endpoint, config: &Config, ask: &Args) -> (u8, Vec<String>) {
    let mut out = Vec::new();
    let Some(user) = user_of(e, config, ask, &mut out).await else { return (1, out) };
    out.push(format!("user: {:?}", user.id));
    let verdict = match ask.channel.as_deref().map(ChannelName::parse) {
        None => e.signin(&user).map(|data| format!("signin: allowed; user_data that would be signed: {data}")),
        Some(Ok(channel)) => decide(e, config, &user, &channel, ask.items.as_ref(), &mut out).await,
        Some(Err(refusal)) => Err(refusal),
    };
    let code = u8::from(verdict.is_err());
    out.push(verdict.unwrap_or_else(|r| format!("refused: {} ({} {})", r.log_reason(), r.status(), r.public_code())));
    (code, out)
}

/// Each rule's outcome and the membership item a `?member` rule needs, into `out`; the verdict.
async fn decide(
    e: &Endpoint,
    c: &Config,
    user: &User,
    ch: &ChannelName<'_>,
    items: Option<&Items>,
    out: &mut Vec<String>,
) -> Result<String, Refusal> {
    out.push(format!("channel: {} ({:?})", ch.as_str(), ch.kind()));
    let decision = e.decide(user, ch);
    for (rule, outcome) in decision.rules {
        out.push(format!("  rule {rule}: {}", describe(outcome, user, ch.as_str())));
    }
    if decision.needs_item && decision.signed.is_ok() {
        let found = match items {
            Some(Items(items)) => {
                let listed =
                    |(c, u): &(String, Option<String>)| c == ch.as_str() && u.as_ref().is_none_or(|u| *u == user.id);
                items.iter().any(listed).then_some(()).ok_or(Refusal::NotAMember)
            }
            None => e.member(user, *ch).await,
        };
        let said = match found {
            Ok(()) => "found",
            Err(Refusal::NotAMember) => "not found",
            Err(_) => "cannot be read (AWS credentials and region, or --items FILE)",
        };
        let table = c.get("MEMBERSHIP_TABLE").map_or("", String::as_str);
        out.push(format!("  item (channel {:?}, user_id {:?}) in {table}: {said}", ch.as_str(), user.id));
        found?;
    }
    Ok(match decision.signed? {
        Some(data) => format!("allowed; channel_data that would be signed: {data}"),
        None if c.contains_key("PUSHER_SECRET_ID") && ch.as_str().starts_with("private-encrypted-") => {
            "allowed (when the stored secret holds encryptionMasterKeyBase64; else encryption_not_configured)".into()
        }
        None => "allowed".into(),
    })
}

/// The user the asker is, as the configured `AUTH_MODE` establishes it.
async fn user_of(e: &Endpoint, config: &Config, ask: &Args, out: &mut Vec<String>) -> Option<User> {
    let Some(token) = ask.token.as_deref().map(str::trim) else {
        let mut claims = ask.claims.clone().unwrap_or_default();
        as_received(config, &mut claims, out);
        let user = e.user_from_claims(claims).await;
        return user.inspect_err(|refusal| out.push(format!("claims: refused: {}", refusal.log_reason()))).ok();
    };
    let user = e.user(Credentials { token: Some(token), ..Credentials::default() }).await;
    out.push(user.as_ref().map_or_else(|r| token_refused(token, *r, e.token_rules()), |_| "token: accepted".into()));
    user.ok()
}

/// The refusal, and what an operator needs to fix it, read from the token's
/// header and claims without checking them again (the verdict is the function's).
fn token_refused(token: &str, refusal: Refusal, rules: Option<&ClaimRules>) -> String {
    let reason = refusal.log_reason();
    let Some(rules) = rules else { return format!("token: refused: {reason}") };
    // The claims, and the header's fields over them.
    let json = |n| serde_json::from_slice::<Map<_, _>>(&URL_SAFE_NO_PAD.decode(token.split('.').nth(n)?).ok()?).ok();
    let token: Map<String, Value> = [1, 0].into_iter().filter_map(json).flatten().collect();
    let (now, leeway) = (jsonwebtoken::get_current_timestamp(), rules.leeway);
    let since = |name: &str| now.abs_diff(token.get(name).and_then(Value::as_u64).unwrap_or(now));
    let has = |name: &str| format!("{name} {}", token.get(name).map_or("none".into(), Value::to_string));
    let (iss, aud) = (rules.issuer.as_deref().unwrap_or(""), rules.audience.as_deref().unwrap_or(""));
    let audience = ["aud", "token_use", "client_id"].map(has).join(", ");
    let detail = match reason {
        "token_expired" => format!("expired {} s ago; leeway {leeway} s", since("exp")),
        "token_not_yet_valid" => format!("valid in {} s; leeway {leeway} s", since("nbf")),
        r if r.contains("issuer") => format!("expected iss {iss:?}; the token has {}", has("iss")),
        r if r.contains("audience") => format!("expected aud {aud:?}; the token has {audience}"),
        "token_unknown_key" => format!("{} is in no key of the key set in force", has("kid")),
        "token_algorithm_not_allowed" => format!("{}; JWT_ALGORITHMS allows {:?}", has("alg"), rules.algorithms),
        "token_without_subject" | "token_identity_unverified" => format!("USER_ID_CLAIM is {:?}", rules.user_id_claim),
        _ => return format!("token: refused: {reason}"),
    };
    format!("token: refused: {reason} ({detail})")
}

/// One rule's outcome, in words.
fn describe(outcome: Option<Result<(), Miss<'_>>>, user: &User, name: &str) -> String {
    let Some(Err(miss)) = outcome else {
        return if outcome.is_some() { "matches" } else { "another kind of channel" }.into();
    };
    let why = match miss {
        Miss::Literal(literal, at) => format!("the name has no {literal:?} at byte {at}"),
        Miss::TrailingText(at) => format!("the rule ends at byte {at}, the name goes on"),
        Miss::TooShort => "the name is shorter than the rule's start and end".to_owned(),
        Miss::NoDelimiter(c, d, i) => {
            format!("{{{c}}} ends at a {:?}, and the name has none after byte {i}", d as char)
        }
        Miss::NotTheUsers(claim, read) => not_the_users(claim, read, user, name),
        Miss::Unverified(c) => format!("{{{c}}} is the user's, but not verified ({c}_verified is not true)"),
        Miss::NotBetweenStars(literal) => format!("{literal:?} is not in the name between the stars"),
    };
    format!("no match: {why}")
}

/// A placeholder read `read` off `name`, which is not the user's value; the
/// likely cause: a `custom:` claim by that name, or the rule's delimiter in the value.
fn not_the_users(claim: &str, read: &[u8], user: &User, name: &str) -> String {
    let held = if claim == "sub" { Some(Value::from(user.id.as_str())) } else { user.claims.get(claim).cloned() };
    let (shown, read_text) = (held.as_ref().map_or("absent".into(), Value::to_string), String::from_utf8_lossy(read));
    let mut line = format!("{{{claim}}} read {read_text:?} from the name; the user's {claim} is {shown}");
    if held.is_none() && user.claims.contains_key(&format!("custom:{claim}")) {
        line += &format!(" (did you mean `custom:{claim}`?)");
    }
    if let Some(d) = held.and_then(|held| delimiter_inside(&held, read, name.as_bytes())) {
        line += &format!(" (the user's value contains {d:?}, the character that ends {{{claim}}} in this rule: it never matches; write the rule with a delimiter the values never contain)");
    }
    line
}

/// The delimiter that cut the user's value short: `read` is a slice of
/// `name` that stopped at a character the user's value (a string or a list
/// element) goes on with, after it or before it.
fn delimiter_inside(held: &Value, read: &[u8], name: &[u8]) -> Option<char> {
    let at = (read.as_ptr() as usize).checked_sub(name.as_ptr() as usize)?;
    let (before, after) = (name.get(..at)?.last().copied(), name.get(at + read.len()).copied());
    let on = |value: &[u8]| {
        let next = value.strip_prefix(read).and_then(<[u8]>::first).copied().filter(|c| Some(*c) == after);
        next.or_else(|| value.strip_suffix(read).and_then(<[u8]>::last).copied().filter(|c| Some(*c) == before))
    };
    let values = held.as_array().map_or(std::slice::from_ref(held), Vec::as_slice);
    values.iter().filter_map(Value::as_str).find_map(|value| on(value.as_bytes())).map(char::from)
}

/// The function's variables (and `FRONT_DOOR`), by name.
type Config = BTreeMap<String, String>;

/// Template parameter = function variable (template.yaml's `Environment.Variables`).
const PARAMETERS: &str = "PusherAppId=PUSHER_APP_ID PusherKey=PUSHER_KEY PusherCluster=PUSHER_CLUSTER \
    PusherSecretArn=PUSHER_SECRET_ID AllowedOrigins=ALLOWED_ORIGINS AuthMode=AUTH_MODE ChannelRules=CHANNEL_RULES \
    UserInfoClaims=USER_INFO_CLAIMS UserIdClaim=USER_ID_CLAIM WatchlistClaim=WATCHLIST_CLAIM \
    JwtAlgorithms=JWT_ALGORITHMS JwtJwksUrl=JWT_JWKS_URL JwtJwksTtlSeconds=JWT_JWKS_TTL_SECONDS JwtJwksMaxStaleSeconds=JWT_JWKS_MAX_STALE_SECONDS \
    JwtIssuer=JWT_ISSUER JwtAudience=JWT_AUDIENCE JwtLeewaySeconds=JWT_LEEWAY_SECONDS \
    MetricsNamespace=METRICS_NAMESPACE FrontDoor=FRONT_DOOR MembershipTable=MEMBERSHIP_TABLE \
    MemberChannelRules=MEMBER_CHANNEL_RULES";

/// What decides who may join what once a user's claims are known: all a
/// `--claims` explanation or a policy test reads (the master key and whether
/// the secret is stored decide encrypted channels).
fn is_policy_variable(name: &str) -> bool {
    "AUTH_MODE CHANNEL_RULES USER_ID_CLAIM USER_INFO_CLAIMS WATCHLIST_CLAIM PUSHER_ENCRYPTION_MASTER_KEY_BASE64 \
     MEMBERSHIP_TABLE MEMBER_CHANNEL_RULES"
        .split_whitespace()
        .any(|variable| variable == name)
}

/// Each samconfig environment's `parameter_overrides` (a list of `Name=value`, or one line of them) as one line.
fn samconfig(path: &str) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let all: toml::Table = toml::from_str(&text).map_err(|e| format!("samconfig is not TOML as SAM reads it: {e}"))?;
    let overrides = |environment: toml::Value| {
        let overrides = environment.get("deploy")?.get("parameters")?.get("parameter_overrides")?;
        let items = overrides.as_array().map_or(vec![overrides], |items| items.iter().collect());
        Some(items.into_iter().filter_map(toml::Value::as_str).collect::<Vec<_>>().join(" "))
    };
    Ok(all.into_iter().filter_map(|(env, environment)| Some((env, overrides(environment)?))).collect())
}

/// The variables SAM's `Name=value Name="value with spaces"` pairs set; a
/// placeholder left in one that is read names its parameter.
fn variables(mut line: &str, claims_only: bool) -> Result<Config, String> {
    let mut config = Config::new();
    while let Some((name, rest)) = line.split_once('=') {
        let name = name.rsplit(' ').next().unwrap_or_default();
        // SAM strips the double quotes that keep a value with spaces whole.
        let quoted = rest.strip_prefix('"');
        let (value, rest) =
            quoted.map_or(rest.split_once(' '), |q| q.split_once('"')).unwrap_or((quoted.unwrap_or(rest), ""));
        line = rest;
        let variable = PARAMETERS.split(' ').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
        let read = variable.is_some_and(|v| v != "PUSHER_SECRET_ID" && (!claims_only || is_policy_variable(v)));
        let placeholder = value.find('<').and_then(|at| value.get(at..=at + value[at..].find('>')?));
        if let (true, Some(placeholder)) = (read, placeholder) {
            return Err(format!("{name} is still the placeholder {placeholder}: replace it"));
        }
        config.extend(variable.map(|variable| (variable.to_owned(), value.to_owned())));
    }
    // The template appends MemberChannelRules to CHANNEL_RULES.
    if let Some(member_rules) = config.remove("MEMBER_CHANNEL_RULES") {
        let rules = config.entry("CHANNEL_RULES".into()).or_default();
        *rules = format!("{rules} {member_rules}");
    }
    Ok(config)
}

/// The function's endpoint, for deciding only: explain never signs nor
/// reads a stored secret, so the app secret is a stand-in. With
/// `claims_only` only the policy variables are read and the token checks
/// are stand-ins: the rest (an app key, URLs) may still be placeholders.
/// Warns (on stderr) about each `custom:` claim a rule or `USER_ID_CLAIM` trusts.
fn endpoint(config: &Config, claims_only: bool, prefix: &str) -> Result<Endpoint, ConfigError> {
    let rules = config.get("CHANNEL_RULES").map_or("", String::as_str);
    let trusted = rules.split(['{', '}']).skip(1).step_by(2).chain(config.get("USER_ID_CLAIM").map(String::as_str));
    for claim in trusted.filter(|claim| claim.starts_with("custom:")).collect::<BTreeSet<_>>() {
        eprintln!("{prefix}warning: {claim} is trusted (CHANNEL_RULES or USER_ID_CLAIM), which is safe only when the app client cannot write it: see docs/users.md");
    }
    let stored = config.contains_key("PUSHER_SECRET_ID");
    Ok(Endpoint::new(Settings::from_lookup(|name| match name {
        "PUSHER_SECRET_ID" => stored.then(|| "explain-never-reads-it".into()),
        "PUSHER_SECRET" => (!stored).then(|| "explain-never-signs".into()),
        name if !claims_only || is_policy_variable(name) => config.get(name).cloned(),
        "PUSHER_KEY" => Some("explain".into()),
        "JWT_ALGORITHMS" => Some("HS256".into()),
        "JWT_SECRET" => Some("explain-checks-no-token-signature".into()),
        _ => None,
    })?))
}

/// The claims as the function receives them (said in `out`): ignored in demo mode; in
/// authorizer mode, each list flattened into the string the front door's authorizer passes.
fn as_received(config: &Config, claims: &mut Map<String, Value>, out: &mut Vec<String>) {
    let mode = config.get("AUTH_MODE").map_or("", String::as_str);
    if mode == "demo" {
        out.push("claims: ignored (AUTH_MODE=demo: every request is the demo user)".into());
    }
    let http = config.get("FRONT_DOOR").is_some_and(|door| door == "http-api");
    let door = if http { "HTTP API" } else { "REST API" };
    for (name, value) in claims.iter_mut().filter(|_| mode == "authorizer") {
        let Value::Array(list) = value else { continue };
        let items: Vec<String> = list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect();
        let flat = if http { format!("[{}]", items.join(" ")) } else { items.join(",") };
        out.push(format!("claims: {name} arrives as the string {flat:?} (AUTH_MODE=authorizer behind the {door}'s authorizer, which flattens lists): a rule on it matches that whole string only"));
        *value = Value::String(flat);
    }
}
