package plugin

import "fmt"

// Level is a log level of host.log, from most to least verbose.
type Level uint8

// The five levels, in the order of the WIT enum `level`.
const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// String returns the WIT name of the level ("trace" ... "error").
func (l Level) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level(" + itoa(uint64(l)) + ")"
}

// Logf formats like fmt.Sprintf and writes the line with Log.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

// ConfigValue returns the configuration value for key, or def when the
// operator set none.
func ConfigValue(key, def string) string {
	if v, ok := ConfigGet(key); ok {
		return v
	}
	return def
}
