//! Where instances live: wasmtime's pooling allocator, sized for the calls
//! one plugin can have running at once.
//!
//! Slots are reserved once when the engine starts; a fresh instance takes a
//! slot whose linear memory is a copy-on-write mapping of the component's
//! initial memory image, so instantiating costs page-table work, not a copy
//! of the image. A freed slot gives its pages back (`madvise`), so a burst of
//! calls leaves no memory behind, and keeps its image mapped for the next
//! instance of the same component.

use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::PluginSpec;
// A slot's table is reserved, not committed, so room for the most the
// memory limiter allows is cheap.
use super::limits::MAX_TABLE_ELEMENTS;

/// How many instances may be alive at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstancePool {
    pub instances: u32,
}

/// Core modules one component may instantiate: JavaScript and Python
/// components are a dozen or more (the engine, libc, adapters, shims).
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 8;

impl InstancePool {
    /// Room for every call the plugin's lanes admit at once, its idle
    /// instances, and the trial instance made at load.
    pub fn for_plugin(spec: &PluginSpec) -> Self {
        let lanes = &spec.lanes;
        let calls = 3 * lanes.join.concurrent
            + lanes.logins.concurrent
            + lanes.static_requests.concurrent
            + lanes.timers.concurrent;
        let instances = calls + spec.idle_instances + 2;
        Self {
            instances: u32::try_from(instances).unwrap_or(u32::MAX),
        }
    }

    /// Sets `config` to allocate from this pool.
    pub fn configure(self, config: &mut Config) {
        let n = self.instances.max(1);
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(n)
            .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
            .total_memories(n.saturating_mul(MEMORIES_PER_COMPONENT))
            .total_tables(n.saturating_mul(TABLES_PER_COMPONENT))
            .total_stacks(n)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_tables_per_module(2)
            .table_elements(MAX_TABLE_ELEMENTS);
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
            .memory_init_cow(true);
    }
}

impl Default for InstancePool {
    fn default() -> Self {
        Self::for_plugin(&PluginSpec::mock())
    }
}
