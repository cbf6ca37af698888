//! The `pusher-auth explain` command line: arguments in, the report on
//! stdout, an exit status out (0 allowed or every test held, 1 refused or a
//! test failed, 2 bad input).

const EXPLAIN_USAGE: &str = "usage: pusher-auth explain [--samconfig-env ENV] [--samconfig FILE] \
(--token TOKEN | --claims JSON) (--channel NAME | --signin)
       pusher-auth explain --check POLICY_TESTS [--samconfig FILE]
Exit status: 0 allowed (or every test held), 1 refused (or a test failed), 2 bad input.";

/// `pusher-auth explain ARGS…`: the report on stdout, the exit status returned.
pub fn run(args: Vec<String>) -> u8 {
    use super as ex;
    use super::{Asked, Asker};
    let bad = |message: &str| {
        eprintln!("{message}\n{EXPLAIN_USAGE}");
        2
    };
    let mut options = std::collections::HashMap::new();
    let mut signin = false;
    let mut rest = args.into_iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--signin" => signin = true,
            "--samconfig-env" | "--samconfig" | "--token" | "--claims" | "--channel" | "--check" => {
                let Some(value) = rest.next() else { return bad(&format!("{flag} needs a value")) };
                options.insert(flag, value);
            }
            other => return bad(&format!("unknown argument {other:?}")),
        }
    }
    let samconfig_path = options.get("--samconfig").cloned().unwrap_or_else(|| "samconfig.toml".into());
    let samconfig_path = samconfig_path.as_str();
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return bad(&format!("cannot start the tokio runtime: {error}")),
    };
    // Every samconfig environment's endpoint, for --check.
    if let Some(tests) = options.get("--check") {
        let built = read(samconfig_path).and_then(|samconfig| {
            let mut all = Vec::new();
            for env in ex::samconfig_environments(&samconfig)? {
                let vars = ex::samconfig_variables(&samconfig, &env)?;
                let endpoint = ex::endpoint_for_explain(|name| lookup(&vars, name), true)
                    .map_err(|error| format!("{samconfig_path} [{env}]: {error}"))?;
                all.push((env, endpoint));
            }
            Ok((read(tests)?, all))
        });
        let (tests, environments) = match built {
            Ok(built) => built,
            Err(message) => return bad(&message),
        };
        return match runtime.block_on(ex::check(&tests, &environments)) {
            Ok((all_held, report)) => {
                print!("{report}");
                if all_held {
                    0
                } else {
                    1
                }
            }
            Err(message) => bad(&message),
        };
    }
    let asker = match (options.remove("--token"), options.remove("--claims")) {
        (Some(token), None) => Asker::Token(token),
        (None, Some(claims)) => Asker::Claims(claims),
        _ => return bad("give one of --token and --claims"),
    };
    let asked = match (options.remove("--channel"), signin) {
        (Some(channel), false) => Asked::Channel(channel),
        (None, true) => Asked::Signin,
        _ => return bad("give one of --channel and --signin"),
    };
    let claims_only = matches!(asker, Asker::Claims(_));
    let endpoint = match options.get("--samconfig-env") {
        Some(env) => read(samconfig_path).and_then(|samconfig| {
            let vars = ex::samconfig_variables(&samconfig, env)?;
            ex::endpoint_for_explain(|name| lookup(&vars, name), claims_only).map_err(|error| error.to_string())
        }),
        None => {
            ex::endpoint_for_explain(|name| std::env::var(name).ok(), claims_only).map_err(|error| error.to_string())
        }
    };
    let endpoint = match endpoint {
        Ok(endpoint) => endpoint,
        Err(message) => return bad(&message),
    };
    let (verdict, report) = runtime.block_on(ex::explain(&endpoint, &asker, &asked));
    print!("{report}");
    verdict as u8
}

fn lookup(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().find(|(variable, _)| variable == name).map(|(_, value)| value.clone())
}
