package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/schedulerd/schedulerd/internal/etcdtest"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/fence"
	"github.com/schedulerd/schedulerd/pkg/job"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
	"github.com/schedulerd/schedulerd/pkg/store"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

// The secrets of these tests: neither may appear in etcd, a run record or a log line.
const (
	envSecret  = "env-s3cr3t-4f1c"
	fileSecret = "file-s3cr3t-9b2e"
)

// headers are the headers of every request tg received.
func (tg *target) headers() []http.Header {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]http.Header(nil), tg.hdrs...)
}

// secretsDir holds fileSecret as the file "key", with a trailing newline as kubectl and
// editors leave it.
func secretsDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHTTPExecutorTargetPolicy(t *testing.T) {
	t.Setenv("SCHEDULERD_SECRET_TOKEN", envSecret)
	dir := secretsDir(t)
	tg := newTarget(t, http.StatusNoContent)
	policy, err := targets.New(targets.Config{AllowedHosts: []string{"127.0.0.1", "169.254.*"}, SecretsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	exec := scheduler.NewHTTPExecutor(scheduler.WithTargets(policy))
	d := fence.Dispatch{Job: "tick", RunID: "tick@2026-03-01T10:00:00Z", Scheduled: t0, Token: 7, Attempt: 1}
	mk := func(url string, headers map[string]job.HeaderValue) job.Job {
		return job.Job{Name: "tick", Spec: job.Spec{Schedule: "@every 1s", Target: job.Target{HTTP: &job.HTTPTarget{URL: url, Headers: headers}}}.WithDefaults()}
	}

	res := exec.Execute(context.Background(), mk(tg.srv.URL, map[string]job.HeaderValue{
		"Authorization": job.FromEnv("SCHEDULERD_SECRET_TOKEN"), "X-Api-Key": job.FromFile(filepath.Join(dir, "key")), "X-Trace": job.Literal("1"),
	}), d)
	if res.Err != nil {
		t.Fatalf("Execute: %v", res.Err)
	}
	got := tg.headers()
	if len(got) != 1 || got[0].Get("Authorization") != envSecret || got[0].Get("X-Api-Key") != fileSecret || got[0].Get("X-Trace") != "1" {
		t.Fatalf("target got %v", got)
	}

	for _, tc := range []struct {
		name    string
		url     string
		headers map[string]job.HeaderValue
		want    []string // in the error
	}{
		{"unset variable", tg.srv.URL, map[string]job.HeaderValue{"Authorization": job.FromEnv("SCHEDULERD_SECRET_UNSET"), "X-Trace": job.Literal("1")},
			[]string{`header "Authorization"`, "fromEnv SCHEDULERD_SECRET_UNSET", "not set"}},
		{"missing file", tg.srv.URL, map[string]job.HeaderValue{"X-Api-Key": job.FromFile(filepath.Join(dir, "gone"))},
			[]string{`header "X-Api-Key"`, "fromFile " + filepath.Join(dir, "gone"), "no such file"}},
		{"file outside the secrets directory", tg.srv.URL, map[string]job.HeaderValue{"X-Api-Key": job.FromFile("/etc/hostname")},
			[]string{`header "X-Api-Key"`, "--secrets-dir"}},
		{"host not allowed", strings.Replace(tg.srv.URL, "127.0.0.1", "localhost", 1) + "/?token=hunter2", nil,
			[]string{`"localhost"`, "--allowed-target-hosts (127.0.0.1, 169.254.*)"}},
		{"link-local address", "http://169.254.169.254/latest/meta-data/", nil,
			[]string{"169.254.169.254", "link-local"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tg.headers())
			res := exec.Execute(context.Background(), mk(tc.url, tc.headers), d)
			var refused *targets.Error
			if !errors.As(res.Err, &refused) || res.Status != 0 {
				t.Fatalf("result %+v, want a refusal", res)
			}
			var op *net.OpError
			if errors.As(res.Err, &op) {
				t.Errorf("refusal %v wraps a *net.OpError: it would be retried as a connection failure", res.Err)
			}
			for _, want := range tc.want {
				if !strings.Contains(res.Err.Error(), want) {
					t.Errorf("error %q does not say %q", res.Err, want)
				}
			}
			if s := res.Err.Error(); strings.Contains(s, envSecret) || strings.Contains(s, fileSecret) || strings.Contains(s, "hunter2") {
				t.Errorf("error %q leaks a secret", s)
			}
			if n := len(tg.headers()); n != before {
				t.Errorf("the target got %d requests", n-before)
			}
		})
	}
}

// secretsReplica is one leader-elected replica whose scheduler enforces policy and whose log
// lines are kept.
func secretsReplica(t *testing.T, client *clientv3.Client, policy *targets.Policy) (*store.Store, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	st := store.New(client, prefix, nil)
	cache := store.NewCache(st, log, clockwork.NewRealClock(), nil)
	sched, err := scheduler.New(scheduler.Config{
		Store: st, Cache: cache, ReplicaID: "a", Executor: scheduler.NewHTTPExecutor(scheduler.WithTargets(policy)),
		StoreTimeout: time.Second, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	elect, err := election.New(election.Config{Client: client, Prefix: st.Keys().Election(), TTL: 2 * time.Second, ReplicaID: "a", Logger: log, Lead: sched.Lead})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{cache.Run, sched.Run, elect.Run} {
		wg.Go(func() { _ = run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	etcdtest.WaitFor(t, 20*time.Second, "leadership", elect.IsLeader)
	return st, logs
}

// Secrets reach the target and nothing else: not etcd, not a run record, not a log line. A
// reference that does not resolve, a host the policy does not allow and a link-local address
// each fail the run's first attempt, with an error that says why, and are not retried.
func TestTargetPolicyAtDispatch(t *testing.T) {
	t.Setenv("SCHEDULERD_SECRET_TOKEN", envSecret)
	dir := secretsDir(t)
	e := etcdtest.Start(t)
	client := e.Client()
	tg := newTarget(t, http.StatusNoContent)
	// 169.254.* lets the metadata URL past the host check, so the dial's own check is tested.
	policy, err := targets.New(targets.Config{AllowedHosts: []string{"127.0.0.1", "169.254.*"}, SecretsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st, logs := secretsReplica(t, client, policy)

	retry := job.Retry{Attempts: 3, Backoff: job.Duration(100 * time.Millisecond), MaxBackoff: job.Duration(time.Second)}
	now := time.Now()
	put := func(name, url string, headers map[string]job.HeaderValue) string {
		sp := httpSpec(url, "@every 24h")
		sp.Target.HTTP.Headers, sp.Retry = headers, retry
		putJob(t, st, name, sp, now) // as written before the policy changed: only Validate
		id, _ := trigger(t, st, name, name, false, now)
		return id
	}
	ok := put("secrets", tg.srv.URL, map[string]job.HeaderValue{
		"Authorization": job.FromEnv("SCHEDULERD_SECRET_TOKEN"), "X-Api-Key": job.FromFile(filepath.Join(dir, "key")),
	})
	refused := map[string]struct {
		id   string
		want []string
	}{
		"unset":    {put("unset", tg.srv.URL, map[string]job.HeaderValue{"Authorization": job.FromEnv("SCHEDULERD_SECRET_UNSET")}), []string{`header "Authorization": fromEnv SCHEDULERD_SECRET_UNSET: not set`}},
		"gone":     {put("gone", tg.srv.URL, map[string]job.HeaderValue{"X-Api-Key": job.FromFile(filepath.Join(dir, "gone"))}), []string{`header "X-Api-Key": fromFile ` + filepath.Join(dir, "gone")}},
		"host":     {put("host", strings.Replace(tg.srv.URL, "127.0.0.1", "localhost", 1), nil), []string{`target host "localhost" is not allowed`, "--allowed-target-hosts"}},
		"metadata": {put("metadata", "http://169.254.169.254/latest/meta-data/", nil), []string{"refused to dial 169.254.169.254", "link-local"}},
	}

	if r := waitRun(t, st, "secrets", ok, "finished", finished); r.State != store.StateSucceeded {
		t.Errorf("run with secrets: %s %q", r.State, r.Error)
	}
	if got := tg.headers(); len(got) != 1 || got[0].Get("Authorization") != envSecret || got[0].Get("X-Api-Key") != fileSecret {
		t.Errorf("target got %v", got)
	}
	for name, rf := range refused {
		r := waitRun(t, st, name, rf.id, "finished", finished)
		if r.State != store.StateFailed || r.Attempts != 1 || len(r.AttemptLog) != 1 || r.Status != 0 {
			t.Errorf("%s: %s after %d attempts (status %d), want failed after 1: %q", name, r.State, r.Attempts, r.Status, r.Error)
		}
		for _, want := range rf.want {
			if !strings.Contains(r.Error, want) {
				t.Errorf("%s: error %q does not say %q", name, r.Error, want)
			}
		}
	}
	if n := len(tg.headers()); n != 1 {
		t.Errorf("the target got %d requests, want only the one with its secrets", n)
	}

	resp, err := client.Get(context.Background(), "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if s := string(kv.Value); strings.Contains(s, envSecret) || strings.Contains(s, fileSecret) {
			t.Errorf("etcd key %s holds a secret: %s", kv.Key, s)
		}
	}
	if logs.Len() == 0 {
		t.Fatal("no log lines observed")
	}
	for _, entry := range logs.All() {
		if line := fmt.Sprint(entry.Message, entry.ContextMap()); strings.Contains(line, envSecret) || strings.Contains(line, fileSecret) {
			t.Errorf("log line holds a secret: %s", line)
		}
	}
}
