//! Operating a running server: a new version of the plugin (or of its
//! `[plugin]` config) swapped in without dropping a browser ([`reload`]),
//! on request, on `SIGHUP`, or when its files change ([`watch`]).

pub mod reload;
pub mod watch;

pub use reload::{ReloadError, Reloader, Serving, SpecSource, Swapped};
