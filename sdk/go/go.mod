module dback.dev/plugin

go 1.24
