//! The Pusher Channels protocol: names (socket ids, channels, JSONP
//! callbacks) and the signer.

pub mod names;
pub mod signer;
