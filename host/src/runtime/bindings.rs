//! The one place the host generates bindings from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "provider",
    exports: { default: async },
});

pub use self::d_back::plugin::host::Level;
pub use self::d_back::plugin::types as wit;
