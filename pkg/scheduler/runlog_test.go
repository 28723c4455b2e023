package scheduler

import (
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/store"
)

var logRun = store.Run{Job: "backup", ID: "backup@2026-11-23T23:00:00Z", Token: fence.Token(42)}

// TestRunLogFields: every line of a run's log carries its job, run and token, and names the
// line that logged it as its caller (not runLog's own), as Logger.With did.
func TestRunLogFields(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	log := newRunLog(runLogger(zap.New(core, zap.AddCaller())), logRun)

	log.Info("run succeeded", zap.Int("status", 204))
	log.Warn("run failed", zap.Error(errors.New("boom")))
	log.Error("run result not recorded")
	log.logger().Warn("recording run result failing")

	entries := logs.All()
	if len(entries) != 4 {
		t.Fatalf("logged %d lines, want 4", len(entries))
	}
	for _, e := range entries {
		fields := e.ContextMap()
		if fields["job"] != logRun.Job || fields["run"] != logRun.ID || fields["token"] != "42" {
			t.Errorf("%q: fields %v, want job, run and token of %+v", e.Message, fields, logRun)
		}
		if file := filepath.Base(e.Caller.File); !e.Caller.Defined || file != "runlog_test.go" {
			t.Errorf("%q: caller %s, want this test", e.Message, e.Caller)
		}
	}
	if got := entries[0].ContextMap()["status"]; got != int64(204) {
		t.Errorf("status field = %v, want 204", got)
	}
}

// TestRunLogBelowLevel: a line below the logger's level is not written.
func TestRunLogBelowLevel(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	log := newRunLog(runLogger(zap.New(core)), logRun)
	log.Info("run succeeded")
	log.Warn("run failed")
	if n := logs.Len(); n != 1 {
		t.Fatalf("logged %d lines, want 1 (the warning)", n)
	}
}

// BenchmarkRunLog compares a run's usual logging (one line) through runLog with binding the
// fields once with Logger.With, as dispatches did before, into a production JSON encoder.
func BenchmarkRunLog(b *testing.B) {
	base := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel),
		zap.AddCaller())
	b.Run("runLog", func(b *testing.B) {
		runLogs := runLogger(base)
		b.ReportAllocs()
		for b.Loop() {
			newRunLog(runLogs, logRun).Info("run succeeded", zap.Int("status", 204), zap.Int("attempt", 1), zap.Duration("duration", time.Millisecond))
		}
	})
	b.Run("With", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			base.With(zap.String("job", logRun.Job), zap.String("run", logRun.ID), zap.Stringer("token", logRun.Token)).
				Info("run succeeded", zap.Int("status", 204), zap.Int("attempt", 1), zap.Duration("duration", time.Millisecond))
		}
	})
}
