//! The Pusher Channels protocol: names (socket ids, channels, JSONP
//! callbacks) and the signer.

pub(crate) mod names;
pub(crate) mod signer;
