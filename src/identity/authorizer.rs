//! `AUTH_MODE=authorizer`: trust the identity API Gateway has already
//! verified, from `requestContext.authorizer`:
//!
//! | integration | where the identity is | user id |
//! | --- | --- | --- |
//! | HTTP API JWT authorizer | `authorizer.jwt.claims` | `sub` |
//! | REST API Cognito authorizer | `authorizer.claims` | `sub` |
//! | HTTP API Lambda authorizer | `authorizer.lambda` (its context) | `sub`, else `principalId` |
//! | REST API Lambda authorizer | `authorizer` (its context plus `principalId`) | `sub`, else `principalId` |
//!
//! No authorizer context, or one without a user id, is refused. With
//! `JWT_AUDIENCE` set, the claims must name it as `jwt` mode requires
//! ([`check_audience`]): a Cognito authorizer accepts an ID token of any app
//! client of the pool.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{AuthFailure, Refusal};
use crate::identity::jwt::check_audience;
use crate::identity::user::{user_from, User};

/// The user API Gateway verified, or a refusal. The id is the claim
/// `user_id_claim` (`USER_ID_CLAIM`); with the default `sub`, a Lambda
/// authorizer's `principalId` stands in when there is no `sub`.
pub(crate) fn user_from_authorizer(
    authorizer: Option<&RawValue>,
    user_id_claim: &str,
    audience: Option<&str>,
) -> Result<User, Refusal> {
    use AuthFailure::*;
    let Some(Ok(Value::Object(mut context))) = authorizer.map(|raw| serde_json::from_str(raw.get())) else {
        return Err(Refusal::Unauthenticated(NoAuthorizerContext));
    };
    let claims = match take_object(&mut context, "jwt").and_then(|mut jwt| take_object(&mut jwt, "claims")) {
        Some(claims) => claims,
        None => take_object(&mut context, "claims").or_else(|| take_object(&mut context, "lambda")).unwrap_or(context),
    };
    let names = [user_id_claim, "principalId"];
    let names = if user_id_claim == "sub" { &names[..] } else { &names[..1] };
    let refusals =
        [AuthorizerWithoutSubject, AuthorizerSubjectTooLong, AuthorizerSubjectInvalid, AuthorizerIdentityUnverified];
    let user = user_from(claims, names, refusals)?;
    if audience.is_some() {
        check_audience(&user.claims, audience).map_err(Refusal::Unauthenticated)?;
    }
    Ok(user)
}

/// The object under `key`, taken out of `map`; anything else stays.
fn take_object(map: &mut Map<String, Value>, key: &str) -> Option<Map<String, Value>> {
    let object = map.get_mut(key)?.as_object_mut().map(std::mem::take)?;
    map.remove(key);
    Some(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: &str) -> Result<User, Refusal> {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        user_from_authorizer(Some(&raw), "sub", None)
    }

    #[test]
    fn an_unverified_email_is_not_an_identity() {
        let by_email = |json: &str| {
            let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
            user_from_authorizer(Some(&raw), "email", None).map(|u| u.id).map_err(|r| r.log_reason())
        };
        assert_eq!(by_email(r#"{"claims":{"email":"a@b","email_verified":"true"}}"#), Ok("a@b".into()));
        assert_eq!(by_email(r#"{"jwt":{"claims":{"email":"a@b","email_verified":true}}}"#), Ok("a@b".into()));
        for flag in [r#""false""#, "false", "null", r#""yes""#] {
            let json = format!(r#"{{"claims":{{"email":"a@b","email_verified":{flag}}}}}"#);
            assert_eq!(by_email(&json), Err("authorizer_identity_unverified"), "{flag}");
        }
        assert_eq!(by_email(r#"{"claims":{"email":"a@b"}}"#), Err("authorizer_identity_unverified"));
    }

    #[test]
    fn every_authorizer_shape() {
        assert_eq!(user(r#"{"jwt":{"claims":{"sub":"u1","name":"A"},"scopes":null}}"#).unwrap().id, "u1");
        assert_eq!(user(r#"{"claims":{"sub":"u2","email":"a@b"}}"#).unwrap().claims["email"], "a@b");
        assert_eq!(user(r#"{"lambda":{"principalId":"u3"}}"#).unwrap().id, "u3");
        // An empty `sub` is no `sub`: a Lambda authorizer's principalId stands in.
        assert_eq!(user(r#"{"sub":"","principalId":"p5"}"#).unwrap().id, "p5");
        assert_eq!(user(r#"{"sub":"s6","principalId":"p6"}"#).unwrap().id, "s6");
        assert_eq!(user(r#"{"sub":""}"#).unwrap_err().log_reason(), "authorizer_without_subject");
        assert_eq!(user(r#"{"principalId":"u4","integrationLatency":0,"org":"o"}"#).unwrap().claims["org"], "o");
    }

    #[test]
    fn with_an_audience_the_claims_must_name_it() {
        let by = |json: &str| {
            let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
            user_from_authorizer(Some(&raw), "sub", Some("app")).map(|u| u.id).map_err(|r| r.log_reason())
        };
        assert_eq!(by(r#"{"claims":{"sub":"u","aud":"app","token_use":"id"}}"#), Ok("u".into()));
        assert_eq!(by(r#"{"jwt":{"claims":{"sub":"u","client_id":"app","token_use":"access"}}}"#), Ok("u".into()));
        assert_eq!(by(r#"{"claims":{"sub":"u","aud":"partner","token_use":"id"}}"#), Err("token_wrong_audience"));
        assert_eq!(
            by(r#"{"claims":{"sub":"u","client_id":"partner","token_use":"access"}}"#),
            Err("token_without_audience")
        );
        assert_eq!(by(r#"{"claims":{"sub":"u","client_id":"app","token_use":"id"}}"#), Err("token_without_audience"));
        assert_eq!(by(r#"{"claims":{"sub":"u","aud":"app","token_use":"refresh"}}"#), Err("token_wrong_use"));
        // The HTTP API's flattened list is not split (a comma or space may be in a name).
        assert_eq!(by(r#"{"jwt":{"claims":{"sub":"u","aud":"[app other]"}}}"#), Err("token_wrong_audience"));
        assert_eq!(by(r#"{"principalId":"u"}"#), Err("token_without_audience"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            user_from_authorizer(None, "sub", None),
            Err(Refusal::Unauthenticated(AuthFailure::NoAuthorizerContext))
        );
        for bad in [r#"{}"#, r#"{"jwt":{"claims":{}}}"#, r#"{"claims":{"sub":""}}"#, r#"{"principalId":5}"#, "[]"] {
            assert!(user(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"claims":{{"sub":"{}"}}}}"#, "x".repeat(129));
        assert_eq!(user(&long), Err(Refusal::Unauthenticated(AuthFailure::AuthorizerSubjectTooLong)));
    }
}
