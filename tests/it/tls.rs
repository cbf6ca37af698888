//! The HTTPS client against real TLS servers: Python's `ssl` (OpenSSL) on
//! 127.0.0.1 serving the fixtures' JWKS, with a CA and certificates made here
//! by the `openssl` command and trusted through `SSL_CERT_FILE` (which the
//! client's root store reads). The client offers only AES-GCM suites and
//! P-256/P-384 key exchange (`src/support/https.rs`); each server takes TLS
//! 1.3 only or TLS 1.2 only, with an ECDSA or an RSA certificate, and the real
//! bootstrap must fetch the keys and sign a token they verify.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::bootstrap::run_with;
use crate::helpers::{fixture, tokens, KEY};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, and a `localhost` certificate it signed with a key of `kind` (`ec` or `rsa`).
fn certificates(dir: &Path, kind: &str) {
    let key = |name: &'static str| match kind {
        "ec" => vec!["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name],
        _ => vec!["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", name],
    };
    openssl(dir, &key("ca.key"));
    openssl(dir, &["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=test CA", "-days", "2", "-out", "ca.pem"]);
    openssl(dir, &key("leaf.key"));
    openssl(dir, &["req", "-new", "-key", "leaf.key", "-subj", "/CN=localhost", "-out", "leaf.csr"]);
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "leaf.pem",
        ],
    );
}

/// Serves `jwks` over TLS `version` (`1.2` or `1.3`) until killed; its port.
fn serve(dir: &Path, jwks: &str, version: &str) -> (Child, u16) {
    std::fs::write(dir.join("jwks.json"), jwks).unwrap();
    let script = r#"
import http.server, ssl, sys
version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[sys.argv[1]]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.minimum_version = context.maximum_version = version
context.load_cert_chain("leaf.pem", "leaf.key")
body = open("jwks.json", "rb").read()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut child =
        Command::new("python3").args(["-c", script, version]).current_dir(dir).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn the_jwks_is_fetched_over_tls_1_3_and_1_2() {
    let t = tokens();
    let token = t["tokens"]["valid_rs256"].as_str().unwrap();
    let mut event = fixture("apigw-v2-jsonp-private");
    event["rawQueryString"] = Value::from(format!(
        "callback=Pusher.auth_callbacks%5B%271%27%5D&socket_id=1.2&channel_name=private-user-user-1&token={token}"
    ));
    for (kind, version) in [("ec", "1.3"), ("rsa", "1.3"), ("ec", "1.2"), ("rsa", "1.2")] {
        let dir = std::env::temp_dir().join(format!("pusher-auth-tls-{}-{kind}-{version}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir, kind);
        let (mut server, port) = serve(&dir, &t["jwks"].to_string(), version);
        let url = format!("https://localhost:{port}/.well-known/jwks.json");
        let ca = dir.join("ca.pem");
        let extra = [("JWT_JWKS", ""), ("JWT_JWKS_URL", url.as_str()), ("SSL_CERT_FILE", ca.to_str().unwrap())];
        let (seen, log) = run_with("info", std::slice::from_ref(&event), &extra, 1);
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        let body = seen.responses.first().map(|(_, b)| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        assert!(body.contains(&format!("{KEY}:")), "TLS {version}, {kind} certificate: not signed\n{body}\n{log}");
    }
}
