//! What `benches/warm_path.rs` and `examples/profile_one.rs` share: the demo configuration.

/// A value of the demo configuration, `scripts/demo.env` (the one file the run
/// command, the benchmarks and the tests read it from); a value in single
/// quotes there (for `cargo lambda watch --env-file`) is unquoted.
pub(crate) fn demo_env(name: &str) -> Option<String> {
    include_str!("../../scripts/demo.env")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.split_once('=').filter(|(key, _)| *key == name))
        .map(|(_, value)| value.trim_matches('\'').to_owned())
}
