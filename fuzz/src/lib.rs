//! The host's pure input-handling modules, compiled from `host/src` as they
//! are, for the fuzz targets.

#[path = "../../host/src/model.rs"]
pub mod model;

#[path = "../../host/src/protocol/mod.rs"]
pub mod protocol;

#[path = "../../host/src/http/static_path.rs"]
pub mod static_path;
