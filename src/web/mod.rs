//! Transport-neutral HTTP: the decoded request, its parameters, and the
//! response (JSON, JSONP, headers).

pub(crate) mod params;
pub(crate) mod request;
pub(crate) mod response;
