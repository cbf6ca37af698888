//! Per-request overrides: the stage variables API Gateway sends, checked and
//! applied over the environment's settings.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::IgnoredAny;

use crate::error::{Misconfig, Refusal};
use crate::secrets::valid_secret_id;

use super::{is_production, origins, valid_app_id, valid_cluster, valid_key, valid_origin_list, AuthMode, Settings};

impl Settings {
    /// The configuration in force for one request: stage variables override
    /// the non-secret settings. An invalid override refuses the request with a
    /// configuration error naming the stage variable.
    pub fn resolve<'a>(&'a self, stage: &'a StageVariables) -> Result<AppView<'a>, Refusal> {
        if self.auth_mode == AuthMode::Demo && stage.stage_name.as_deref().is_some_and(is_production) {
            return Err(Refusal::Misconfigured(Misconfig::DemoOnProductionStage));
        }
        if stage.pusher_secret.is_some() {
            warn_once(&SECRET_WARNED, "PUSHER_SECRET");
        }
        if stage.master_key.is_some() {
            warn_once(&MASTER_KEY_WARNED, "PUSHER_ENCRYPTION_MASTER_KEY_BASE64");
        }
        let key = match stage.pusher_key.as_deref() {
            Some(key) if !valid_key(key) => return Err(Refusal::Misconfigured(Misconfig::StageKey)),
            Some(key) => key,
            None => &self.key,
        };
        let app_id = match stage.pusher_app_id.as_deref() {
            Some(id) if !valid_app_id(id) => return Err(Refusal::Misconfigured(Misconfig::StageAppId)),
            Some(id) => Some(id),
            None => self.app_id.as_deref(),
        };
        let allowed_origins = match stage.allowed_origins.as_deref() {
            Some(list) if !valid_origin_list(list) => {
                return Err(Refusal::Misconfigured(Misconfig::StageAllowedOrigins))
            }
            Some(list) => list,
            None => &self.allowed_origins,
        };
        if stage.pusher_cluster.as_deref().is_some_and(|c| !valid_cluster(c)) {
            return Err(Refusal::Misconfigured(Misconfig::StageCluster));
        }
        let secret_id = match stage.pusher_secret_id.as_deref() {
            Some(id) if !valid_secret_id(id) => return Err(Refusal::Misconfigured(Misconfig::StageSecretId)),
            id => id,
        };
        Ok(AppView { key, app_id, allowed_origins, secret_id })
    }
}

/// The settings in force for one request, after stage-variable overrides.
#[derive(Debug, Clone, Copy)]
pub struct AppView<'a> {
    /// The app key that prefixes `auth`.
    pub key: &'a str,
    /// The app id, if known.
    pub app_id: Option<&'a str>,
    /// The stage's `PUSHER_SECRET_ID`, overriding the environment's secret.
    pub secret_id: Option<&'a str>,
    allowed_origins: &'a str,
}

impl AppView<'_> {
    /// Whether `origin` is listed in `ALLOWED_ORIGINS` (ASCII case-insensitive).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        origins(self.allowed_origins).any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// The stage variables the function reads. Secret names are recognised only
/// to be ignored (their values are never kept).
#[derive(Debug, Default, Clone)]
pub struct StageVariables {
    /// `PUSHER_APP_ID`.
    pub pusher_app_id: Option<String>,
    /// `PUSHER_KEY`.
    pub pusher_key: Option<String>,
    /// `PUSHER_CLUSTER`.
    pub pusher_cluster: Option<String>,
    /// `ALLOWED_ORIGINS`.
    pub allowed_origins: Option<String>,
    /// `PUSHER_SECRET_ID`: the Secrets Manager secret holding this stage's
    /// app secret (an id, not a secret).
    pub pusher_secret_id: Option<String>,
    /// Present when a stage variable tries to set `PUSHER_SECRET`.
    pub pusher_secret: Option<IgnoredAny>,
    /// Present when a stage variable tries to set the master key.
    pub master_key: Option<IgnoredAny>,
    /// The API Gateway stage the request came through (`requestContext.stage`).
    pub stage_name: Option<String>,
}

static SECRET_WARNED: AtomicBool = AtomicBool::new(false);
static MASTER_KEY_WARNED: AtomicBool = AtomicBool::new(false);

fn warn_once(flag: &AtomicBool, variable: &'static str) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!(variable, "stage variable ignored: secrets are read only from the environment");
    }
}
