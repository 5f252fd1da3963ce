pub mod model;
pub mod protocol;
pub mod runtime;
