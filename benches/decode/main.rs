//! Event decoding alone, in process: the event's bytes → the fields the
//! endpoint reads, for every fixture of tests/fixtures/events and perf/events.
//!
//! Run: `cargo bench --bench decode --features decode-bench`. Candidates, interleaved batch by batch
//! (the order rotating each round) so the VM's drift hits them alike:
//! - `serde`: serde structs that borrow (`serde_event.rs` beside this file);
//! - `lambda_http`: `serde_json::from_slice::<lambda_http::request::LambdaRequest>`,
//!   the decode alone (no mapping into `ApiEvent`); proxy shapes only;
//! - `reader`: `ApiEvent::from_slice`, the lazy reader (`src/aws/json.rs`).
//!
//! Prints, per fixture, the median and minimum ns per event of each, and the
//! median over rounds of each round's ratio to the reader. `ROUNDS` and
//! `BATCH` in the environment change the defaults (301, 100).

use std::hint::black_box;
use std::time::Instant;

mod serde_event;

use lambda_http::request::LambdaRequest;
use pusher_auth_lambda::testing::ApiEvent;

#[derive(Clone, Copy)]
enum Candidate {
    Serde,
    LambdaHttp,
    Reader,
}

const CANDIDATES: [Candidate; 3] = [Candidate::Serde, Candidate::LambdaHttp, Candidate::Reader];

fn decode(candidate: Candidate, event: &[u8]) {
    match candidate {
        Candidate::Serde => drop(black_box(serde_event::from_slice(black_box(event)))),
        Candidate::LambdaHttp => drop(black_box(serde_json::from_slice::<LambdaRequest>(black_box(event)))),
        Candidate::Reader => drop(black_box(ApiEvent::from_slice(black_box(event)))),
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let (rounds, batch) = (env_or("ROUNDS", 301), env_or("BATCH", 100));
    let root = env!("CARGO_MANIFEST_DIR");
    let mut fixtures: Vec<(String, Vec<u8>)> = ["tests/fixtures/events", "perf/events"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(format!("{root}/{dir}")).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| (path.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect();
    fixtures.sort();

    // Check before timing: the serde structs decode what the reader decodes; lambda_http
    // decodes each proxy event (the mapping-template event is not one of its shapes).
    let mut lambda_http_ok = Vec::new();
    for (name, event) in &fixtures {
        let reader = format!("{:?}", ApiEvent::from_slice(event).expect("the reader decodes every fixture"));
        let serde = format!("{:?}", serde_event::from_slice(event).expect("serde decodes every fixture"));
        assert_eq!(reader, serde, "{name}");
        let variant = match serde_json::from_slice::<LambdaRequest>(event) {
            Ok(LambdaRequest::ApiGatewayV1(_)) => "v1",
            Ok(LambdaRequest::ApiGatewayV2(_)) => "v2",
            Ok(_) => "other",
            Err(_) => "-",
        };
        lambda_http_ok.push(matches!(variant, "v1" | "v2") && !name.starts_with("rest-mapping"));
        eprintln!("{name}: lambda_http reads it as {variant}");
    }

    // times[fixture][candidate][round], ns per event.
    let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); 3]; fixtures.len()];
    let warm = |c: Candidate, event: &[u8]| {
        for _ in 0..batch {
            decode(c, event);
        }
    };
    for (i, (_, event)) in fixtures.iter().enumerate() {
        for c in CANDIDATES {
            if lambda_http_ok[i] || !matches!(c, Candidate::LambdaHttp) {
                warm(c, event);
            }
        }
    }
    for round in 0..rounds {
        for (i, (_, event)) in fixtures.iter().enumerate() {
            for k in 0..3 {
                let c = CANDIDATES[(round + k) % 3];
                if matches!(c, Candidate::LambdaHttp) && !lambda_http_ok[i] {
                    continue;
                }
                let start = Instant::now();
                for _ in 0..batch {
                    decode(c, event);
                }
                times[i][c as usize].push(start.elapsed().as_nanos() as f64 / batch as f64);
            }
        }
    }

    println!("{rounds} rounds of {batch} decodes per candidate and fixture, interleaved; ns per event");
    println!(
        "{:<40} {:>6} {:>14} {:>14} {:>14} {:>11} {:>11}",
        "fixture", "bytes", "reader med/min", "serde med/min", "l_http med/min", "serde/rdr", "l_http/rdr"
    );
    let mut ratios: Vec<(String, f64, Option<f64>)> = Vec::new();
    for (i, (name, event)) in fixtures.iter().enumerate() {
        let [serde, lambda_http, reader] = &times[i][..] else { unreachable!() };
        // Each round's ratio (the candidates ran side by side), then the median over rounds.
        let ratio = |of: &[f64]| median(&mut of.iter().zip(reader).map(|(a, b)| a / b).collect::<Vec<_>>());
        let cell = |v: &[f64]| {
            let mut v = v.to_vec();
            let m = median(&mut v);
            format!("{m:.0}/{:.0}", v[0])
        };
        let serde_ratio = ratio(serde);
        let lambda_http_ratio = (!lambda_http.is_empty()).then(|| ratio(lambda_http));
        println!(
            "{name:<40} {:>6} {:>14} {:>14} {:>14} {:>11.2} {:>11}",
            event.len(),
            cell(reader),
            cell(serde),
            if lambda_http.is_empty() { "n/a".into() } else { cell(lambda_http) },
            serde_ratio,
            lambda_http_ratio.map_or("n/a".into(), |r| format!("{r:.2}")),
        );
        ratios.push((name.clone(), serde_ratio, lambda_http_ratio));
    }
    // Per shape: the geometric mean of the fixtures' ratios.
    for (shape, prefix) in [
        ("REST proxy (1.0)", "apigw-v1-"),
        ("HTTP API (2.0)", "apigw-v2-"),
        ("function URL (2.0)", "function-url-"),
        ("mapping template", "rest-mapping-"),
        ("HTTP API batch of 10", "http-api-v2-"),
    ] {
        let of: Vec<_> = ratios.iter().filter(|(name, ..)| name.starts_with(prefix)).collect();
        let geo = |values: Vec<f64>| (values.iter().map(|v| v.ln()).sum::<f64>() / values.len() as f64).exp();
        let serde = geo(of.iter().map(|r| r.1).collect());
        let lambda_http: Vec<f64> = of.iter().filter_map(|r| r.2).collect();
        let lambda_http = if lambda_http.is_empty() { "n/a".into() } else { format!("{:.2}", geo(lambda_http)) };
        println!("{shape:<24} ({} fixtures) serde/reader {serde:.2}  lambda_http/reader {lambda_http}", of.len());
    }
}
