// Package process is what the commands set up before they wire the
// service: the logger and the garbage collector's defaults. Both commands
// that run the service (cmd/server, and cmd/bench's server child) call it
// the same way.
package process

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger builds the process logger at LOG_LEVEL: JSON in production,
// console when LOG_FORMAT=console. It is passed to every constructor, never
// global.
func NewLogger(level zapcore.Level, format string) (*zap.Logger, error) {
	var zc zap.Config
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	} else {
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "time"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
		zc.Sampling = nil // an access log that drops lines is not an access log
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	return zc.Build()
}
