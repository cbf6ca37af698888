//! The endpoint itself, free of AWS: a decoded [`Request`] in, a [`Response`]
//! out, and one log line per request (here: routing and the log trace);
//! `transport` reads JSONP, AJAX and preflight requests and writes their
//! answers, `authorize` decides and signs.

use std::time::Instant;

use crate::config::{AppView, Settings};
use crate::error::Refusal;
use crate::identity::validators::AuthMode;
use crate::support::metrics;
use crate::web::request::{Method, Request, Route};
use crate::web::response::Response;

mod authorize;
pub(crate) mod explain;
mod transport;

/// Largest query string or body accepted, in bytes (tokens travel in the query).
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// What the log line records about a request.
#[derive(Debug, Default)]
struct Trace {
    route: Option<Route>,
    transport: &'static str,
    channel: Option<String>,
    /// A batch's decisions, `<channel>:<reason>` separated by spaces (channel
    /// names hold neither); an invalid name is written `-`, never echoed.
    batch: Option<String>,
    /// The status the outcome stands for (a JSONP denial is sent as 200).
    status: u16,
    reason: &'static str,
}

/// The endpoint: settings plus the user validator they select.
#[derive(Debug)]
pub struct Endpoint {
    settings: Settings,
}

impl Endpoint {
    /// An endpoint serving with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings in use.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The app settings in force for `req`, its stage variables applied.
    fn app<'a>(&'a self, req: &Request<'a>) -> Result<AppView<'a>, Refusal> {
        let demo = matches!(self.settings.auth, AuthMode::Demo);
        self.settings.app.resolve(demo, req.stage, req.stage_variables)
    }

    /// Answers one request and writes its log line.
    pub async fn handle(&self, req: &Request<'_>) -> Response {
        let started = Instant::now();
        let mut trace = Trace { transport: "none", ..Trace::default() };
        let response = self.answer(req, &mut trace).await;
        let decision = if trace.status == 200 || trace.status == 204 { "allowed" } else { "refused" };
        let duration_us = started.elapsed().as_micros() as u64;
        // A dimension value only when it is a stage name (bounded, the operator's).
        let stage = req.stage.filter(|s| metrics::valid_stage_name(s));
        let emf = self.settings.metrics.as_ref().map(|m| m.directive(stage.is_some()));
        let (requests, duration) = if emf.is_some() { (Some(1u64), Some(duration_us)) } else { (None, None) };
        tracing::info!(
            request_id = req.request_id,
            route = trace.route.map_or("none", Route::as_str),
            transport = trace.transport,
            channel = trace.channel.as_deref(),
            batch = trace.batch.as_deref(),
            decision,
            reason = trace.reason,
            status = trace.status,
            stage,
            duration_us,
            _aws = emf,
            Requests = requests,
            Duration = duration,
        );
        response
    }

    async fn answer(&self, req: &Request<'_>, trace: &mut Trace) -> Response {
        let result = match Route::of(req.path) {
            None => Err(Refusal::NotFound),
            Some(route) => {
                trace.route = Some(route);
                match req.method {
                    Method::Get => {
                        trace.transport = "jsonp";
                        return self.jsonp(route, req, trace).await;
                    }
                    Method::Post => {
                        trace.transport = "ajax";
                        return self.ajax(route, req, trace).await;
                    }
                    Method::Options => {
                        trace.transport = "preflight";
                        self.preflight(req)
                    }
                    Method::Other => Err(Refusal::MethodNotAllowed),
                }
            }
        };
        match result {
            Ok(response) => {
                trace.status = response.status;
                trace.reason = "ok";
                response
            }
            Err(refusal) => {
                trace.status = refusal.status();
                trace.reason = refusal.log_reason();
                let response = Response::error(refusal);
                if refusal == Refusal::MethodNotAllowed {
                    response.with_header("Allow", "GET, POST, OPTIONS")
                } else {
                    response
                }
            }
        }
    }
}

fn refuse_plain(refusal: Refusal, trace: &mut Trace) -> Response {
    trace.status = refusal.status();
    trace.reason = refusal.log_reason();
    Response::error(refusal)
}
