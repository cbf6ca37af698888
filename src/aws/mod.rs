//! The thin AWS adapter: API Gateway event shapes in, proxy responses out;
//! Secrets Manager and DynamoDB clients for the stores.

pub(crate) mod call;
pub(crate) mod dynamodb;
pub(crate) mod event;
pub(crate) mod handler;
pub(crate) mod reply;
pub(crate) mod secrets_manager;
pub(crate) mod sigv4;
