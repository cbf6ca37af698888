//! Transport-neutral HTTP: the decoded request, its parameters, and the
//! response (JSON, JSONP, headers).

pub mod params;
pub mod request;
pub mod response;
