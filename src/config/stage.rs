//! Per-request overrides: the stage variables API Gateway sends, as raw
//! name/value pairs, checked and applied over the environment's settings.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Misconfig, Refusal};

use super::membership::valid_table_name;
use super::{is_production, origin_list_problem, origins, valid_app_id, valid_cluster, valid_key, valid_secret_id};

/// The settings a stage variable of the same name may override.
#[derive(Debug)]
pub(crate) struct App {
    /// `PUSHER_KEY`, the public app key that prefixes every `auth`.
    pub(crate) key: String,
    /// `ALLOWED_ORIGINS`: origins allowed to make AJAX requests.
    pub(crate) allowed_origins: String,
    /// `MEMBERSHIP_TABLE`: the table `?member` rules read.
    pub(crate) membership_table: Option<String>,
}

impl App {
    /// The configuration in force for one request through the API Gateway
    /// stage `stage` with the stage variables `vars`: they override the
    /// non-secret settings; `PUSHER_SECRET` and
    /// `PUSHER_ENCRYPTION_MASTER_KEY_BASE64` are ignored (logged once). An
    /// invalid override refuses the request with a configuration error naming
    /// the stage variable, as does `demo` on a production stage.
    pub(crate) fn resolve<'a>(
        &'a self,
        demo: bool,
        stage: Option<&str>,
        vars: &'a [(Cow<'a, str>, Cow<'a, str>)],
    ) -> Result<AppView<'a>, Refusal> {
        if demo && stage.is_some_and(is_production) {
            return Err(Refusal::Misconfigured(Misconfig::DemoOnProductionStage));
        }
        for (variable, warned) in ["PUSHER_SECRET", "PUSHER_ENCRYPTION_MASTER_KEY_BASE64"].into_iter().zip(&WARNED) {
            if vars.iter().any(|(name, _)| name == variable) && !warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(variable, "stage variable ignored: secrets are read only from the environment");
            }
        }
        // The last value of a name given twice wins.
        let var = |variable: &str, valid: fn(&str) -> bool, refusal| {
            let value = vars.iter().rev().find(|(name, _)| name == variable).map(|(_, value)| &**value);
            match value {
                Some(value) if !valid(value) => Err(Refusal::Misconfigured(refusal)),
                value => Ok(value),
            }
        };
        let key = var("PUSHER_KEY", valid_key, Misconfig::StageKey)?.unwrap_or(&self.key);
        var("PUSHER_APP_ID", valid_app_id, Misconfig::StageAppId)?;
        let valid_origins = |list: &str| origin_list_problem(list).is_none();
        let allowed_origins =
            var("ALLOWED_ORIGINS", valid_origins, Misconfig::StageAllowedOrigins)?.unwrap_or(&self.allowed_origins);
        var("PUSHER_CLUSTER", valid_cluster, Misconfig::StageCluster)?;
        let secret_id = var("PUSHER_SECRET_ID", valid_secret_id, Misconfig::StageSecretId)?;
        let membership_table = var("MEMBERSHIP_TABLE", valid_table_name, Misconfig::StageMembershipTable)?
            .or(self.membership_table.as_deref());
        Ok(AppView { key, allowed_origins, secret_id, membership_table })
    }
}

/// The settings in force for one request, after stage-variable overrides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppView<'a> {
    /// The app key that prefixes `auth`.
    pub(crate) key: &'a str,
    /// The stage's `PUSHER_SECRET_ID`, overriding the environment's secret.
    pub(crate) secret_id: Option<&'a str>,
    /// The stage's `MEMBERSHIP_TABLE`, else the environment's.
    pub(crate) membership_table: Option<&'a str>,
    allowed_origins: &'a str,
}

impl AppView<'_> {
    /// Whether `origin` is listed in `ALLOWED_ORIGINS` (ASCII case-insensitive).
    pub(crate) fn origin_allowed(&self, origin: &str) -> bool {
        origins(self.allowed_origins).any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// Whether the ignored `PUSHER_SECRET` and master-key stage variables were logged.
static WARNED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
