module example.com/go-plugin

go 1.24

require dback.dev/plugin v0.0.0

// The d-back Go SDK, from this repository. In a copy of this example,
// point it at your copy of d-back's sdk/go.
replace dback.dev/plugin => ../../sdk/go
