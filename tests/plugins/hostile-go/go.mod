module example.com/hostile-go

go 1.24

require dback.dev/plugin v0.0.0

replace dback.dev/plugin => ../../../sdk/go
