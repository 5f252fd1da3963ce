//! The whole pipeline: core module in, provider component out.

use std::path::PathBuf;
use std::process::Command;

use componentize_go::{ADAPTER_REALLOC, ARENA_MAGIC, componentize};
use wasmparser::{ComponentExternalKind, Parser, Payload, Validator, WasmFeatures};

/// The workspace, from the package folder cargo names when it runs the
/// test (a build cache shared between checkouts may hold this test built
/// in another folder).
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..")
}

fn wit() -> PathBuf {
    root().join("wit")
}

/// A core module with the provider world's exports, WASI imports (so the
/// adapter is needed) and the SDK's arena marker.
fn minimal_provider(with_arena: bool) -> Vec<u8> {
    let magic: String = ARENA_MAGIC.iter().map(|b| format!("\\{b:02x}")).collect();
    let arena = if with_arena {
        format!(r#"(data (i32.const 1024) "{magic}\00\00\04\00")"#)
    } else {
        String::new()
    };
    let ret = |name: &str, params: usize| {
        let params = "i32 ".repeat(params);
        format!(
            r#"(func (export "{name}") (param {params}) (result i32)
                 i32.const 100 i32.const 1 i32.const 8 i32.const 2 call $write drop
                 i32.const 0 i64.const 0 i32.const 64 call $clock drop
                 i32.const 512)
               (func (export "cabi_post_{name}") (param i32))"#
        )
    };
    let cb = "d-back:plugin/callbacks@0.1.0#";
    let act = "d-back:plugin/activity@0.1.0#";
    let text = format!(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
            (import "d-back:plugin/host@0.1.0" "log" (func (param i32 i32 i32)))
            (memory (export "memory") 8)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 4096)
            (func (export "_initialize"))
            {}
            {}
            {}
            {}
            {}
            {}
            {}
            {arena}
        )"#,
        ret(&format!("{cb}get-server-data"), 0),
        ret(&format!("{cb}get-user-data"), 2),
        ret(&format!("{cb}static-request"), 2),
        ret(&format!("{cb}validate-discord-user"), 10),
        ret(&format!("{cb}get-client-id"), 2),
        ret(&format!("{act}timers"), 0),
        ret(&format!("{act}on-timer"), 4),
    );
    wat::parse_str(text).unwrap()
}

/// Validates a component and returns the names of its imports and exports.
fn check_component(component: &[u8]) -> (Vec<String>, Vec<String>) {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(component)
        .expect("the component validates");
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut depth = 0;
    for payload in Parser::new(0).parse_all(component) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth -= 1,
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    imports.push(import.unwrap().name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.unwrap();
                    if export.kind == ComponentExternalKind::Instance {
                        exports.push(export.name.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn a_minimal_provider_becomes_a_valid_component() {
    let component = componentize(&minimal_provider(true), &wit(), "provider").unwrap();
    let (imports, exports) = check_component(&component);
    assert_eq!(
        exports,
        [
            "d-back:plugin/callbacks@0.1.0",
            "d-back:plugin/activity@0.1.0"
        ]
    );
    assert!(
        imports.contains(&"d-back:plugin/host@0.1.0".to_string()),
        "{imports:?}"
    );
    // The adapter turned the preview1 imports into WASI 0.2 ones.
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:cli/stdout@0.2")),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:clocks/wall-clock@0.2")),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.contains("wasi_snapshot_preview1")),
        "{imports:?}"
    );
    // The adapter's allocator is in there, under the name wit-component uses.
    let text = String::from_utf8_lossy(&component);
    assert!(text.contains(ADAPTER_REALLOC));
}

#[test]
fn a_module_without_the_sdk_is_refused_with_a_reason() {
    let err = componentize(&minimal_provider(false), &wit(), "provider").unwrap_err();
    assert!(format!("{err:#}").contains("Go SDK"), "{err:#}");
}

#[test]
fn an_unknown_world_is_refused() {
    let err = componentize(&minimal_provider(true), &wit(), "nope").unwrap_err();
    assert!(format!("{err:#}").contains("nope"), "{err:#}");
}

/// Builds the Go example with the installed Go toolchain and componentizes
/// it. Skipped (with a note) where `go` is not installed.
#[test]
fn the_go_example_becomes_a_valid_component() {
    let Ok(version) = Command::new("go").arg("version").output() else {
        eprintln!("skipped: no `go` on PATH");
        return;
    };
    assert!(version.status.success());
    let out = std::env::temp_dir().join(format!("componentize-go-test-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let core = out.join("core.wasm");
    let status = Command::new("go")
        .args(["build", "-buildmode=c-shared", "-o"])
        .arg(&core)
        .arg(".")
        .current_dir(root().join("examples/go-plugin"))
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .status()
        .unwrap();
    assert!(status.success(), "go build failed");
    let core = std::fs::read(&core).unwrap();
    let component = componentize(&core, &wit(), "provider").unwrap();
    let (imports, exports) = check_component(&component);
    assert_eq!(
        exports,
        [
            "d-back:plugin/callbacks@0.1.0",
            "d-back:plugin/activity@0.1.0"
        ]
    );
    assert!(imports.contains(&"d-back:plugin/host@0.1.0".to_string()));
    std::fs::remove_dir_all(&out).ok();
}
