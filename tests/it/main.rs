//! The integration tests, as one binary: each module drives the library
//! through its public surface (and the hidden `testing` module) or the real
//! bootstrap; `helpers` holds what they share.

mod bootstrap;
mod docs;
mod events;
mod explain;
mod faults;
mod helpers;
mod identity;
mod layers;
mod membership;
mod secrets_manager;
mod soak;
mod tls;
mod troubleshooting;
