//go:build !(wasip1 && wasm)

package plugin

// Outside WebAssembly (`go test` of a plugin on the build machine) the host
// functions work on a configuration set by SetTestConfig and log to stderr.

import (
	"fmt"
	"os"
	"sort"
)

var testConfig map[string]string

// SetTestConfig sets the values ConfigGet and ConfigAll return in native
// builds, for unit tests of a provider. It does not exist in wasm builds.
func SetTestConfig(values map[string]string) {
	testConfig = make(map[string]string, len(values))
	for k, v := range values {
		testConfig[k] = v
	}
}

// Log writes one line to the host's log, tagged with the plugin's name.
func Log(level Level, message string) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", level, message)
}

// ConfigGet returns the operator's value for key in this plugin's section
// of the host config, and whether it is set.
func ConfigGet(key string) (string, bool) {
	v, ok := testConfig[key]
	return v, ok
}

// ConfigAll returns every configuration value, sorted by key.
func ConfigAll() []ConfigEntry {
	out := make([]ConfigEntry, 0, len(testConfig))
	for k, v := range testConfig {
		out = append(out, ConfigEntry{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
