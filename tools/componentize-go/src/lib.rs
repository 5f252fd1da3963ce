//! Turns a core WebAssembly module built by stock Go (`GOOS=wasip1
//! GOARCH=wasm go build -buildmode=c-shared`) with the d-back Go SDK into a
//! d-back provider component.
//!
//! Three steps:
//!
//! 1. [`add_adapter_allocator`]: the WASI preview1 adapter needs some of the
//!    module's linear memory for its stack and its state. It must not get it
//!    from Go's own `cabi_realloc` (the adapter runs while Go's runtime is
//!    still starting, when a `go:wasmexport` function traps) nor from
//!    `memory.grow` (Go's allocator owns everything past its data up to the
//!    memory size it last saw, and grows memory assuming nobody else does).
//!    The SDK therefore reserves a zero-filled byte array, the *arena*, in
//!    Go's initialised data, marked by [`ARENA_MAGIC`] and followed by its
//!    size. This step finds the arena and adds a small bump allocator over it,
//!    exported as `cabi_realloc_adapter`, which wit-component hands to the
//!    adapter instead of `cabi_realloc`.
//! 2. The component type of the WIT world is embedded as a custom section.
//! 3. wit-component's `ComponentEncoder` wraps the module and the WASI
//!    preview1 reactor adapter into a component.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use wasm_encoder::{
    BlockType, ConstExpr, Encode, ExportKind, Function, GlobalType, Instruction, ValType,
};
use wasmparser::{BinaryReader, CompositeInnerType, DataKind, Operator, Parser, Payload, TypeRef};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

/// The first 16 bytes of the SDK's adapter arena. All of them are non-zero
/// so the Go linker never splits them across two data segments.
pub const ARENA_MAGIC: [u8; 16] = [
    0xb5, 0xb9, 0x0d, 0xb5, 0x22, 0xe8, 0x1a, 0x7f, 0xab, 0x14, 0xe7, 0xe6, 0x59, 0x21, 0x8e, 0x9f,
];

/// Bytes at the start of the arena that are not handed out: the magic, the
/// arena's total size (u32, little endian) at offset 16, and reserved bytes.
pub const ARENA_HEADER: u32 = 32;

/// The export wit-component prefers when it needs memory for an adapter.
pub const ADAPTER_REALLOC: &str = "cabi_realloc_adapter";

/// Where the adapter arena lies in linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arena {
    /// Address of the first byte of the magic.
    pub start: u32,
    /// Total size in bytes, header included.
    pub size: u32,
}

impl Arena {
    /// First address the allocator hands out.
    pub fn first_free(&self) -> u32 {
        self.start + ARENA_HEADER
    }

    /// One past the last usable address.
    pub fn end(&self) -> u32 {
        self.start + self.size
    }
}

/// Builds a provider component from a Go core module.
///
/// `wit_dir` is the directory (or file) holding the `d-back:plugin` WIT
/// package and `world` the world to target (`provider`).
pub fn componentize(core: &[u8], wit_dir: &Path, world: &str) -> Result<Vec<u8>> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit_dir)
        .with_context(|| format!("cannot read the WIT package at {}", wit_dir.display()))?;
    let world = resolve
        .select_world(&[package], Some(world))
        .with_context(|| format!("no world `{world}` in {}", wit_dir.display()))?;

    let mut module = add_adapter_allocator(core)?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .context("cannot embed the component type")?;

    ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .context("the core module does not fit the world")?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("cannot load the WASI preview1 adapter")?
        .encode()
        .context("cannot encode the component")
}

/// Linear memory as the module's active data segments initialise it; bytes
/// no segment covers are zero.
struct DataImage<'a> {
    /// (start address, contents) of each active segment of memory 0, in
    /// the order of the data section.
    segments: Vec<(u32, &'a [u8])>,
}

impl<'a> DataImage<'a> {
    fn read(core: &'a [u8]) -> Result<Self> {
        let mut segments = Vec::new();
        for payload in Parser::new(0).parse_all(core) {
            let Payload::DataSection(reader) = payload? else {
                continue;
            };
            for data in reader {
                let data = data?;
                let DataKind::Active {
                    memory_index: 0,
                    offset_expr,
                } = data.kind
                else {
                    continue;
                };
                let mut ops = offset_expr.get_operators_reader();
                let Operator::I32Const { value } = ops.read()? else {
                    // Offsets computed from imported globals cannot be
                    // located statically; the arena is never in one.
                    continue;
                };
                if !data.data.is_empty() {
                    segments.push((value as u32, data.data));
                }
            }
        }
        Ok(Self { segments })
    }

    /// Runs of adjacent segments merged, as (address, bytes).
    fn runs(&self) -> Vec<(u32, Vec<u8>)> {
        let mut sorted = self.segments.clone();
        sorted.sort_by_key(|&(address, _)| address);
        let mut runs: Vec<(u32, Vec<u8>)> = Vec::new();
        for (address, bytes) in sorted {
            match runs.last_mut() {
                Some((start, run))
                    if u64::from(*start) + run.len() as u64 == u64::from(address) =>
                {
                    run.extend_from_slice(bytes)
                }
                _ => runs.push((address, bytes.to_vec())),
            }
        }
        runs
    }

    /// `len` bytes at `address`; later segments win where they overlap, as
    /// they do at instantiation.
    fn bytes(&self, address: u32, len: u32) -> Vec<u8> {
        let mut out = vec![0u8; len as usize];
        let want = u64::from(address)..u64::from(address) + u64::from(len);
        for &(start, bytes) in &self.segments {
            let have = u64::from(start)..u64::from(start) + bytes.len() as u64;
            let from = want.start.max(have.start);
            let to = want.end.min(have.end);
            for a in from..to {
                out[(a - want.start) as usize] = bytes[(a - have.start) as usize];
            }
        }
        out
    }
}

/// Finds the SDK's adapter arena in the module's data segments.
pub fn find_arena(core: &[u8]) -> Result<Arena> {
    let image = DataImage::read(core)?;
    let mut found = Vec::new();
    for (address, run) in image.runs() {
        let mut from = 0;
        while let Some(at) = run[from..]
            .windows(ARENA_MAGIC.len())
            .position(|w| w == ARENA_MAGIC)
        {
            found.push(address + (from + at) as u32);
            from += at + 1;
        }
    }
    let start = match found.as_slice() {
        [] => bail!(
            "no adapter arena in the module's data: build it with the d-back Go SDK \
             (import its package from your main package)"
        ),
        [one] => *one,
        many => bail!("the adapter arena's marker occurs {} times", many.len()),
    };
    let size_bytes = image.bytes(start + 16, 4);
    let size = u32::from_le_bytes(size_bytes.try_into().expect("4 bytes"));
    ensure!(
        size >= ARENA_HEADER + 64 * 1024,
        "the adapter arena at {start:#x} is too small ({size} bytes)"
    );
    ensure!(
        start.checked_add(size).is_some(),
        "the adapter arena at {start:#x} ({size} bytes) leaves the 32-bit address space"
    );
    Ok(Arena { start, size })
}

/// One section of a module, as raw contents.
struct Section {
    id: u8,
    contents: Vec<u8>,
}

/// Order of the known sections in a module (custom sections aside).
fn section_rank(id: u8) -> u8 {
    match id {
        1 => 1,   // type
        2 => 2,   // import
        3 => 3,   // function
        4 => 4,   // table
        5 => 5,   // memory
        13 => 6,  // tag
        6 => 7,   // global
        7 => 8,   // export
        8 => 9,   // start
        9 => 10,  // element
        12 => 11, // data count
        10 => 12, // code
        11 => 13, // data
        _ => 0,
    }
}

/// The items of a vector section: its count and the encoded items after it.
fn vector_items(contents: &[u8]) -> Result<(u32, &[u8])> {
    let mut reader = BinaryReader::new(contents, 0);
    let count = reader.read_var_u32()?;
    Ok((count, &contents[reader.original_position()..]))
}

/// Appends encoded items to a vector section's contents.
fn append_items(contents: &[u8], added: u32, items: &[u8]) -> Result<Vec<u8>> {
    let (count, old) = vector_items(contents)?;
    let mut out = Vec::with_capacity(contents.len() + items.len() + 5);
    (count + added).encode(&mut out);
    out.extend_from_slice(old);
    out.extend_from_slice(items);
    Ok(out)
}

fn empty_vector() -> Vec<u8> {
    vec![0]
}

/// Adds a bump allocator over the SDK's adapter arena, exported as
/// `cabi_realloc_adapter`. Existing functions, globals and exports keep
/// their indices: the function, global and export are appended.
///
/// A module that already exports `cabi_realloc_adapter` is returned as is.
pub fn add_adapter_allocator(core: &[u8]) -> Result<Vec<u8>> {
    let arena = find_arena(core)?;

    let mut sections = Vec::new();
    let mut imported_funcs = 0u32;
    let mut imported_globals = 0u32;
    let mut defined_funcs = 0u32;
    let mut defined_globals = 0u32;
    let mut memories = 0u32;
    let mut realloc_type = None;
    let mut type_count = 0u32;
    let mut export_names = Vec::new();

    for payload in Parser::new(0).parse_all(core) {
        let payload = payload?;
        match &payload {
            Payload::Version { encoding, .. } => {
                ensure!(
                    *encoding == wasmparser::Encoding::Module,
                    "expected a core module, found a component"
                );
            }
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    let group = group?;
                    let explicit = group.is_explicit_rec_group();
                    for sub in group.types() {
                        if let CompositeInnerType::Func(f) = &sub.composite_type.inner {
                            let i32s = |v: &[wasmparser::ValType]| {
                                v.iter().all(|t| *t == wasmparser::ValType::I32)
                            };
                            if realloc_type.is_none()
                                && !explicit
                                && sub.is_final
                                && sub.supertype_idx.is_none()
                                && !sub.composite_type.shared
                                && f.params().len() == 4
                                && f.results().len() == 1
                                && i32s(f.params())
                                && i32s(f.results())
                            {
                                realloc_type = Some(type_count);
                            }
                        }
                        type_count += 1;
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    match import?.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => imported_funcs += 1,
                        TypeRef::Global(_) => imported_globals += 1,
                        TypeRef::Memory(m) => {
                            ensure!(!m.memory64, "64-bit memories are not supported");
                            memories += 1;
                        }
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => defined_funcs = reader.count(),
            Payload::MemorySection(reader) => {
                for memory in reader.clone() {
                    ensure!(!memory?.memory64, "64-bit memories are not supported");
                    memories += 1;
                }
            }
            Payload::GlobalSection(reader) => defined_globals = reader.count(),
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    export_names.push(export?.name.to_string());
                }
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            sections.push(Section {
                id,
                contents: core[range].to_vec(),
            });
        }
    }

    if export_names.iter().any(|name| name == ADAPTER_REALLOC) {
        return Ok(core.to_vec());
    }
    ensure!(
        memories == 1,
        "expected exactly one linear memory, found {memories}"
    );
    // Reuse a type (i32, i32, i32, i32) -> i32 when there is one (Go's own
    // `cabi_realloc` has it); otherwise append it.
    let mut new_type = None;
    let type_index = match realloc_type {
        Some(index) => index,
        None => {
            let mut ty = Vec::new();
            ty.push(0x60);
            [ValType::I32; 4].as_slice().encode(&mut ty);
            [ValType::I32].as_slice().encode(&mut ty);
            new_type = Some(ty);
            type_count
        }
    };
    let func_index = imported_funcs + defined_funcs;
    let global_index = imported_globals + defined_globals;

    let mut function_item = Vec::new();
    type_index.encode(&mut function_item);

    let mut global_item = Vec::new();
    GlobalType {
        val_type: ValType::I32,
        mutable: true,
        shared: false,
    }
    .encode(&mut global_item);
    ConstExpr::i32_const(arena.first_free() as i32).encode(&mut global_item);

    let mut export_item = Vec::new();
    ADAPTER_REALLOC.encode(&mut export_item);
    ExportKind::Func.encode(&mut export_item);
    func_index.encode(&mut export_item);

    let mut code_item = Vec::new();
    bump_allocator(global_index, arena.end()).encode(&mut code_item);

    let mut additions: Vec<(u8, Vec<u8>)> = vec![
        (3, function_item),
        (6, global_item),
        (7, export_item),
        (10, code_item),
    ];
    if let Some(ty) = new_type {
        additions.push((1, ty));
    }

    for (id, item) in additions {
        match sections.iter_mut().find(|s| s.id == id) {
            Some(section) => section.contents = append_items(&section.contents, 1, &item)?,
            None => {
                let contents = append_items(&empty_vector(), 1, &item)?;
                let rank = section_rank(id);
                let at = sections
                    .iter()
                    .position(|s| section_rank(s.id) > rank)
                    .unwrap_or(sections.len());
                sections.insert(at, Section { id, contents });
            }
        }
    }

    let mut out = Vec::with_capacity(core.len() + 256);
    out.extend_from_slice(&core[..8]);
    for section in &sections {
        out.push(section.id);
        section.contents.encode(&mut out);
    }
    Ok(out)
}

/// `cabi_realloc_adapter(old_ptr, old_len, align, new_len) -> ptr`: a bump
/// allocator whose cursor is global `cursor`, handing out memory below
/// `end`. Shrinking (or keeping the size of) a block returns it unchanged;
/// growing one copies it to a new block. Running out traps.
fn bump_allocator(cursor: u32, end: u32) -> Function {
    const OLD_PTR: u32 = 0;
    const OLD_LEN: u32 = 1;
    const ALIGN: u32 = 2;
    const NEW_LEN: u32 = 3;
    const PTR: u32 = 4;
    let end = end as i32;
    let mut f = Function::new([(1, ValType::I32)]);
    use Instruction as I;
    let body = [
        // A block that does not grow stays where it is.
        I::LocalGet(OLD_PTR),
        I::If(BlockType::Empty),
        I::LocalGet(NEW_LEN),
        I::LocalGet(OLD_LEN),
        I::I32LeU,
        I::If(BlockType::Empty),
        I::LocalGet(OLD_PTR),
        I::Return,
        I::End,
        I::End,
        // An alignment of zero means one.
        I::LocalGet(ALIGN),
        I::I32Eqz,
        I::If(BlockType::Empty),
        I::I32Const(1),
        I::LocalSet(ALIGN),
        I::End,
        // ptr = (cursor + align - 1) & -align
        I::GlobalGet(cursor),
        I::LocalGet(ALIGN),
        I::I32Add,
        I::I32Const(1),
        I::I32Sub,
        I::I32Const(0),
        I::LocalGet(ALIGN),
        I::I32Sub,
        I::I32And,
        I::LocalSet(PTR),
        // Trap when rounding wrapped around, when ptr is past the end, or
        // when new_len does not fit between ptr and the end.
        I::LocalGet(PTR),
        I::GlobalGet(cursor),
        I::I32LtU,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        I::LocalGet(PTR),
        I::I32Const(end),
        I::I32GtU,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        I::LocalGet(NEW_LEN),
        I::I32Const(end),
        I::LocalGet(PTR),
        I::I32Sub,
        I::I32GtU,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        // cursor = ptr + new_len
        I::LocalGet(PTR),
        I::LocalGet(NEW_LEN),
        I::I32Add,
        I::GlobalSet(cursor),
        // Growing: copy the old contents.
        I::LocalGet(OLD_PTR),
        I::If(BlockType::Empty),
        I::LocalGet(PTR),
        I::LocalGet(OLD_PTR),
        I::LocalGet(OLD_LEN),
        I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        I::End,
        I::LocalGet(PTR),
        I::End,
    ];
    for instruction in &body {
        f.instruction(instruction);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{ExternalKind, Validator, WasmFeatures};

    /// `ARENA_MAGIC` as a wat string.
    fn magic_wat() -> String {
        ARENA_MAGIC.iter().map(|b| format!("\\{b:02x}")).collect()
    }

    /// A module shaped like Go's: imported functions, a realloc, globals,
    /// the arena's marker and size in the data.
    fn go_like(data: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
                (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32)))
                (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
                (type $other (func (param i64) (result i64)))
                (memory (export "memory") 4)
                (global $sp (mut i32) (i32.const 65536))
                (global $g2 (mut i64) (i64.const 0))
                (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                    i32.const 8)
                (func $start (export "_initialize"))
                {data}
            )"#
        ))
        .unwrap()
    }

    fn arena_data(at: u32, size: u32) -> String {
        let s = size.to_le_bytes();
        format!(
            r#"(data (i32.const {at}) "{}\{:02x}\{:02x}\{:02x}\{:02x}")"#,
            magic_wat(),
            s[0],
            s[1],
            s[2],
            s[3]
        )
    }

    fn validate(module: &[u8]) {
        Validator::new_with_features(WasmFeatures::default())
            .validate_all(module)
            .expect("the rewritten module validates");
    }

    struct Summary {
        exports: Vec<(String, ExternalKind, u32)>,
        func_types: Vec<u32>,
        imported_funcs: u32,
        globals: Vec<(bool, Option<i32>)>,
        types: usize,
    }

    fn summarize(module: &[u8]) -> Summary {
        let mut s = Summary {
            exports: Vec::new(),
            func_types: Vec::new(),
            imported_funcs: 0,
            globals: Vec::new(),
            types: 0,
        };
        for payload in Parser::new(0).parse_all(module) {
            match payload.unwrap() {
                Payload::TypeSection(r) => s.types = r.count() as usize,
                Payload::ImportSection(r) => {
                    for i in r.into_imports() {
                        if let TypeRef::Func(t) = i.unwrap().ty {
                            s.imported_funcs += 1;
                            s.func_types.push(t);
                        }
                    }
                }
                Payload::FunctionSection(r) => {
                    for t in r {
                        s.func_types.push(t.unwrap());
                    }
                }
                Payload::GlobalSection(r) => {
                    for g in r {
                        let g = g.unwrap();
                        let init = match g.init_expr.get_operators_reader().read().unwrap() {
                            Operator::I32Const { value } => Some(value),
                            _ => None,
                        };
                        s.globals.push((g.ty.mutable, init));
                    }
                }
                Payload::ExportSection(r) => {
                    for e in r {
                        let e = e.unwrap();
                        s.exports.push((e.name.to_string(), e.kind, e.index));
                    }
                }
                _ => {}
            }
        }
        s
    }

    #[test]
    fn finds_the_arena() {
        let module = go_like(&arena_data(0x1234, 0x40000));
        assert_eq!(
            find_arena(&module).unwrap(),
            Arena {
                start: 0x1234,
                size: 0x40000
            }
        );
    }

    #[test]
    fn finds_the_arena_across_segments_and_zero_runs() {
        // The marker split over two adjacent segments, the size's zero bytes
        // in no segment at all (as Go's linker leaves zero runs out).
        let (a, b) = ARENA_MAGIC.split_at(5);
        let hex = |bytes: &[u8]| {
            bytes
                .iter()
                .map(|b| format!("\\{b:02x}"))
                .collect::<String>()
        };
        let data = format!(
            r#"(data (i32.const 100) "xx") (data (i32.const 2000) "{}") (data (i32.const 2005) "{}")
               (data (i32.const 2018) "\04")"#,
            hex(a),
            hex(b)
        );
        let module = go_like(&data);
        assert_eq!(
            find_arena(&module).unwrap(),
            Arena {
                start: 2000,
                size: 0x40000
            }
        );
    }

    #[test]
    fn rejects_missing_duplicate_or_tiny_arenas() {
        let err = find_arena(&go_like(r#"(data (i32.const 8) "hello")"#)).unwrap_err();
        assert!(err.to_string().contains("no adapter arena"), "{err}");
        let two = format!(
            "{} {}",
            arena_data(64, 0x40000),
            arena_data(0x9000, 0x40000)
        );
        let err = find_arena(&go_like(&two)).unwrap_err();
        assert!(err.to_string().contains("2 times"), "{err}");
        let err = find_arena(&go_like(&arena_data(64, 1000))).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }

    #[test]
    fn appends_the_allocator_without_moving_anything() {
        let module = go_like(&arena_data(0x1000, 0x40000));
        let before = summarize(&module);
        let out = add_adapter_allocator(&module).unwrap();
        validate(&out);
        let after = summarize(&out);

        // Existing exports keep their indices; one export is new.
        for export in &before.exports {
            assert!(after.exports.contains(export), "{export:?} moved");
        }
        let new: Vec<_> = after
            .exports
            .iter()
            .filter(|e| !before.exports.contains(e))
            .collect();
        assert_eq!(new.len(), 1);
        let (name, kind, index) = new[0];
        assert_eq!(name, ADAPTER_REALLOC);
        assert_eq!(*kind, ExternalKind::Func);
        assert_eq!(*index as usize, before.func_types.len(), "appended last");

        // It reuses cabi_realloc's type instead of adding one.
        assert_eq!(after.types, before.types);
        let realloc = before
            .exports
            .iter()
            .find(|e| e.0 == "cabi_realloc")
            .unwrap()
            .2;
        assert_eq!(
            after.func_types[*index as usize],
            before.func_types[realloc as usize]
        );

        // One new mutable global: the cursor, past the arena's header.
        assert_eq!(after.globals.len(), before.globals.len() + 1);
        assert_eq!(
            *after.globals.last().unwrap(),
            (true, Some(0x1000 + ARENA_HEADER as i32))
        );
        assert_eq!(after.imported_funcs, before.imported_funcs);
    }

    #[test]
    fn adds_missing_sections_in_order() {
        // No types matching realloc, no globals, no other functions.
        let module = wat::parse_str(format!(
            r#"(module (memory 2) {})"#,
            arena_data(0x100, 0x20000)
        ))
        .unwrap();
        let out = add_adapter_allocator(&module).unwrap();
        validate(&out);
        let s = summarize(&out);
        assert_eq!(s.types, 1);
        assert_eq!(s.globals, vec![(true, Some(0x120))]);
        assert_eq!(
            s.exports,
            vec![(ADAPTER_REALLOC.to_string(), ExternalKind::Func, 0)]
        );
    }

    #[test]
    fn leaves_a_module_that_has_one_alone() {
        let module = wat::parse_str(format!(
            r#"(module (memory 2) {}
                (func (export "cabi_realloc_adapter") (param i32 i32 i32 i32) (result i32) i32.const 0))"#,
            arena_data(0x100, 0x20000)
        ))
        .unwrap();
        assert_eq!(add_adapter_allocator(&module).unwrap(), module);
    }

    /// Runs the allocator's body: just enough of a wasm interpreter for the
    /// instructions it uses. `Err` when it traps.
    struct Machine {
        code: Vec<u8>,
        cursor: i32,
        memory: Vec<u8>,
    }

    impl Machine {
        fn new(start: u32, end: u32) -> Self {
            let mut code = Vec::new();
            bump_allocator(0, end).encode(&mut code);
            Machine {
                code,
                cursor: start as i32,
                memory: vec![0; end as usize + 64],
            }
        }

        fn realloc(&mut self, old: u32, old_len: u32, align: u32, len: u32) -> Result<u32, ()> {
            let mut reader = BinaryReader::new(&self.code, 0);
            let size = reader.read_var_u32().unwrap() as usize;
            let at = reader.original_position();
            assert_eq!(at + size, self.code.len());
            let body = wasmparser::FunctionBody::new(BinaryReader::new(&self.code[at..], at));
            let ops: Vec<Operator> = body
                .get_operators_reader()
                .unwrap()
                .into_iter()
                .map(|op| op.unwrap())
                .collect();
            let mut locals = [old as i32, old_len as i32, align as i32, len as i32, 0];
            let mut stack: Vec<i32> = Vec::new();
            let mut pc = 0;
            while pc < ops.len() {
                let op = &ops[pc];
                pc += 1;
                let mut pop = || stack.pop().unwrap();
                match *op {
                    Operator::LocalGet { local_index } => stack.push(locals[local_index as usize]),
                    Operator::LocalSet { local_index } => locals[local_index as usize] = pop(),
                    Operator::GlobalGet { global_index: 0 } => stack.push(self.cursor),
                    Operator::GlobalSet { global_index: 0 } => self.cursor = pop(),
                    Operator::I32Const { value } => stack.push(value),
                    Operator::I32Eqz => {
                        let a = pop();
                        stack.push((a == 0) as i32)
                    }
                    Operator::I32Add
                    | Operator::I32Sub
                    | Operator::I32And
                    | Operator::I32LeU
                    | Operator::I32LtU
                    | Operator::I32GtU => {
                        let (b, a) = (pop(), pop());
                        let (ua, ub) = (a as u32, b as u32);
                        stack.push(match op {
                            Operator::I32Add => a.wrapping_add(b),
                            Operator::I32Sub => a.wrapping_sub(b),
                            Operator::I32And => a & b,
                            Operator::I32LeU => (ua <= ub) as i32,
                            Operator::I32LtU => (ua < ub) as i32,
                            _ => (ua > ub) as i32,
                        })
                    }
                    Operator::If { .. } => {
                        if pop() == 0 {
                            let mut depth = 1;
                            while depth > 0 {
                                match ops[pc] {
                                    Operator::If { .. } => depth += 1,
                                    Operator::End => depth -= 1,
                                    _ => {}
                                }
                                pc += 1;
                            }
                        }
                    }
                    Operator::End => {}
                    Operator::Return => break,
                    Operator::Unreachable => return Err(()),
                    Operator::MemoryCopy { .. } => {
                        let (n, src, dst) = (pop() as usize, pop() as usize, pop() as usize);
                        self.memory.copy_within(src..src + n, dst);
                    }
                    ref other => panic!("unexpected instruction {other:?}"),
                }
            }
            Ok(stack.pop().unwrap() as u32)
        }
    }

    #[test]
    fn the_allocator_bumps_aligns_copies_and_traps_when_full() {
        let mut m = Machine::new(1001, 0x3000);
        // Aligned, consecutive, never overlapping.
        assert_eq!(m.realloc(0, 0, 8, 24), Ok(1008));
        assert_eq!(m.realloc(0, 0, 1, 3), Ok(1032));
        assert_eq!(m.realloc(0, 0, 4, 4), Ok(1036));
        assert_eq!(m.realloc(0, 0, 0, 1), Ok(1040), "alignment 0 means 1");
        // Zero bytes: a valid, aligned address, nothing taken past it.
        assert_eq!(m.realloc(0, 0, 8, 0), Ok(1048));
        assert_eq!(m.realloc(0, 0, 1, 1), Ok(1048));
        // Shrinking keeps the block; growing moves and copies it.
        m.memory[1008..1032].copy_from_slice(&[7; 24]);
        assert_eq!(m.realloc(1008, 24, 8, 16), Ok(1008));
        let moved = m.realloc(1008, 24, 8, 64).unwrap();
        assert_eq!(moved, 1056);
        assert_eq!(&m.memory[1056..1080], &[7; 24]);
        // A big block, then running out.
        assert_eq!(m.realloc(0, 0, 8, 0x1000), Ok(1120));
        assert_eq!(
            m.realloc(0, 0, 8, 0x3000 - 1120 - 0x1000),
            Ok(1120 + 0x1000)
        );
        assert_eq!(m.realloc(0, 0, 1, 1), Err(()), "full");
    }

    #[test]
    fn the_allocator_traps_on_sizes_that_wrap() {
        let mut m = Machine::new(0x100, 0x2000);
        assert_eq!(m.realloc(0, 0, 4, u32::MAX), Err(()));
        assert_eq!(m.realloc(0, 0, 4, 0x2000 - 0x100 + 1), Err(()));
        assert_eq!(m.realloc(0, 0, 1 << 31, 8), Err(()), "rounding up wraps");
        assert_eq!(
            m.realloc(0, 0, 4, 0x2000 - 0x100),
            Ok(0x100),
            "exactly full"
        );
    }
}
