package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/internal/netproxy"
	"github.com/schedulerd/schedulerd/pkg/history"
)

const prefix = "/chaos/"

// harness owns every process, proxy and server of one chaos run.
type harness struct {
	o       *options
	out     io.Writer
	rng     *rand.Rand
	workdir string

	members  []*localcluster.Member
	replicas []*replica
	client   *clientv3.Client

	target     *http.Server
	targetDone chan struct{}
	targetURL  string
	recorder   *history.Recorder
	recFile    *os.File

	faults []history.Fault
}

func (o *options) run(ctx context.Context, out io.Writer) error {
	h := &harness{o: o, out: out, rng: rand.New(rand.NewPCG(uint64(o.seed), 0x5eed))}
	h.workdir = o.workdir
	if h.workdir != "" {
		if err := os.MkdirAll(h.workdir, 0o755); err != nil {
			return err
		}
	} else {
		dir, err := os.MkdirTemp("", "schedulerd-chaos-")
		if err != nil {
			return err
		}
		h.workdir = dir
	}
	h.say("work directory %s (logs of every process, target.jsonl)", h.workdir)
	defer h.teardown()

	report, err := h.runAll(ctx)
	if err != nil {
		// A cluster that does not recover (no leader, no dispatches) is a finding too.
		o.keep = true
		h.say("keeping %s for the post-mortem", h.workdir)
		return err
	}
	if err := report.WriteTable(out); err != nil {
		return err
	}
	if o.report != "" {
		b, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(o.report, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if !report.OK() {
		o.keep = true
		h.say("keeping %s for the post-mortem", h.workdir)
		return errPromisesBroken
	}
	return nil
}

func (h *harness) say(format string, args ...any) {
	fmt.Fprintf(h.out, "%s  %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (h *harness) runAll(ctx context.Context) (history.Report, error) {
	if err := h.startTarget(); err != nil {
		return history.Report{}, err
	}
	if err := h.startEtcd(ctx); err != nil {
		return history.Report{}, err
	}
	if err := h.startReplicas(ctx); err != nil {
		return history.Report{}, err
	}
	from := time.Now().UTC()
	if err := h.createJobs(ctx); err != nil {
		return history.Report{}, err
	}
	if _, err := h.waitLeader(ctx, "", time.Minute); err != nil {
		return history.Report{}, err
	}

	// A few seconds of calm first, so every fault has dispatches before it to compare with.
	if err := localcluster.Sleep(ctx, 3*time.Second); err != nil {
		return history.Report{}, err
	}
	deadline := time.Now().Add(h.o.duration)
	var cycle []string
	for time.Now().Before(deadline) || len(h.faults) < h.o.minFaults {
		if len(cycle) == 0 {
			cycle = append([]string(nil), h.o.faults...)
			h.rng.Shuffle(len(cycle), func(i, j int) { cycle[i], cycle[j] = cycle[j], cycle[i] })
		}
		kind := cycle[0]
		cycle = cycle[1:]
		if err := h.inject(ctx, kind); err != nil {
			return history.Report{}, fmt.Errorf("fault %s: %w", kind, err)
		}
		if err := h.recover(ctx); err != nil {
			return history.Report{}, fmt.Errorf("recovering from %s: %w", kind, err)
		}
		if err := localcluster.Sleep(ctx, time.Second+time.Duration(h.rng.Int64N(int64(2*time.Second)))); err != nil {
			return history.Report{}, err
		}
	}

	// Let the last fault settle, close the window, and give its last runs time to land.
	h.say("faults done (%d); settling", len(h.faults))
	if err := localcluster.Sleep(ctx, h.o.sessionTTL+3*time.Second); err != nil {
		return history.Report{}, err
	}
	to := time.Now().UTC().Add(-time.Second)
	if err := localcluster.Sleep(ctx, 3*time.Second); err != nil {
		return history.Report{}, err
	}
	h.stopReplicas()
	in, err := h.readHistory(ctx)
	if err != nil {
		return history.Report{}, err
	}
	in.From, in.To, in.Faults = from, to, h.faults
	report := history.Check(in)
	for _, r := range h.replicas {
		report.ClaimsFenced += r.CountLog("fenced: another replica leads now")
	}
	return report, nil
}

// startTarget serves the recording target (targetHandler) on loopback.
func (h *harness) startTarget() error {
	f, err := os.Create(filepath.Join(h.workdir, "target.jsonl"))
	if err != nil {
		return err
	}
	h.recFile = f
	h.recorder = history.NewRecorder(f, targetHandler(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h.targetURL = "http://" + ln.Addr().String()
	h.target = &http.Server{Handler: h.recorder, ReadHeaderTimeout: 5 * time.Second}
	h.targetDone = make(chan struct{})
	go func() { defer close(h.targetDone); _ = h.target.Serve(ln) }() // teardown shuts it down
	return nil
}

func (h *harness) startEtcd(ctx context.Context) error {
	members, err := localcluster.NewEtcdMembers(h.workdir, 3)
	if err != nil {
		return err
	}
	var endpoints []string
	for _, m := range members {
		if err := m.Start(); err != nil {
			return err
		}
		h.members = append(h.members, m)
		endpoints = append(endpoints, m.ClientURL)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	h.client = client
	h.say("etcd: 3 members at %s", strings.Join(endpoints, ", "))
	return localcluster.Until(ctx, time.Minute, "etcd cluster serving", func(ctx context.Context) bool {
		_, err := h.client.Get(ctx, "health")
		return err == nil
	})
}

func (h *harness) startReplicas(ctx context.Context) error {
	ports, err := localcluster.FreePorts(h.o.replicas)
	if err != nil {
		return err
	}
	for i := range h.o.replicas {
		id := fmt.Sprintf("r%d", i+1)
		r := &replica{id: id, api: fmt.Sprintf("http://127.0.0.1:%d", ports[i])}
		var endpoints []string
		for _, m := range h.members {
			p, err := netproxy.New(strings.TrimPrefix(m.ClientURL, "http://"))
			if err != nil {
				return err
			}
			r.proxies = append(r.proxies, p)
			endpoints = append(endpoints, p.URL())
		}
		r.Proc = localcluster.NewProc(h.workdir, id, []string{"serve", "--etcd-endpoints", strings.Join(endpoints, ","),
			"--listen", strings.TrimPrefix(r.api, "http://"), "--prefix", prefix, "--replica-id", id,
			"--session-ttl", h.o.sessionTTL.String(), "--log-format", "json"})
		if err := r.Start(); err != nil {
			return err
		}
		h.replicas = append(h.replicas, r)
	}
	for _, r := range h.replicas {
		if err := h.awaitReady(ctx, r); err != nil {
			return err
		}
	}
	h.say("replicas: %d, session TTL %s", len(h.replicas), h.o.sessionTTL)
	return nil
}

func (h *harness) awaitReady(ctx context.Context, r *replica) error {
	return localcluster.AwaitReady(ctx, http.DefaultClient, r.id, r.api)
}

func (h *harness) createJobs(ctx context.Context) error {
	type spec struct{ name, schedule, path, timeout, grace string }
	var specs []spec
	for i := range h.o.jobs {
		specs = append(specs, spec{fmt.Sprintf("every-%d", i+1), "@every 1s", "/ok", "", ""})
	}
	specs = append(specs,
		spec{"cron-2s", "*/2 * * * * *", "/ok", "", ""},
		spec{"slow", "@every 1s", "/slow", "5s", ""}, // longer than its interval; concurrency forbid
		spec{"failing", "@every 2s", "/fail", "", ""},
		// Outages longer than 5 s make this one skip slots as missed: the skip path is checked too.
		spec{"tight-grace", "@every 1s", "/ok", "", "5s"})
	for _, s := range specs {
		body := map[string]any{"schedule": s.schedule, "target": map[string]any{"http": map[string]any{"url": h.targetURL + s.path}},
			// The checker needs every record of the run: no pruning within it.
			"history": map[string]any{"keep": 100_000, "maxAge": "24h"}}
		if s.timeout != "" {
			body["target"].(map[string]any)["http"].(map[string]any)["timeout"] = s.timeout
		}
		if s.grace != "" {
			body["misfire"] = map[string]any{"grace": s.grace}
		}
		if s.name == "slow" {
			body["concurrency"] = "forbid"
		}
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, h.replicas[0].api+"/v1/jobs/"+s.name, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("create job %s: %d %s", s.name, resp.StatusCode, msg)
		}
	}
	h.say("jobs: %d", len(specs))
	return nil
}

// leader reads who leads from etcd: the oldest election key.
func (h *harness) leader(ctx context.Context) (*replica, error) {
	l, ok, err := localcluster.Leader(ctx, h.client, prefix+"election/")
	if err != nil || !ok {
		return nil, err
	}
	for _, r := range h.replicas {
		if r.id == l.ID {
			return r, nil
		}
	}
	return nil, fmt.Errorf("unknown leader %q", l.ID)
}

// waitLeader waits for a leader other than not (any when not is "").
func (h *harness) waitLeader(ctx context.Context, not string, timeout time.Duration) (*replica, error) {
	var l *replica
	err := localcluster.Until(ctx, timeout, "a leader", func(ctx context.Context) bool {
		var err error
		l, err = h.leader(ctx)
		return err == nil && l != nil && l.id != not
	})
	return l, err
}

func (h *harness) fault(kind, detail string) {
	h.faults = append(h.faults, history.Fault{Kind: kind, At: time.Now().UTC(), Detail: detail})
	h.say("fault %d: %s %s", len(h.faults), kind, detail)
}

func (h *harness) inject(ctx context.Context, kind string) error {
	ttl := h.o.sessionTTL
	switch kind {
	case faultKillLeader, faultTermLeader, faultStopLeader, faultPartitionLeader, faultKillFollower:
		l, err := h.waitLeader(ctx, "", time.Minute)
		if err != nil {
			return err
		}
		switch kind {
		case faultKillLeader:
			h.fault(kind, l.id)
			l.Kill()
			if _, err := h.waitLeader(ctx, l.id, time.Minute); err != nil {
				return err
			}
			return l.Start()
		case faultTermLeader:
			h.fault(kind, l.id)
			if err := l.Signal(syscall.SIGTERM); err != nil {
				return err
			}
			if err := l.Wait(10 * time.Second); err != nil {
				return err
			}
			if _, err := h.waitLeader(ctx, l.id, time.Minute); err != nil {
				return err
			}
			return l.Start()
		case faultStopLeader:
			// Freeze it just after a second boundary, while it is claiming and sending that
			// second's runs: a run claimed but not yet sent becomes a late request from a
			// deposed leader when it wakes, which the target's fence must refuse.
			if err := localcluster.Sleep(ctx, time.Until(time.Now().Truncate(time.Second).Add(time.Second+time.Duration(h.rng.IntN(8))*time.Millisecond))); err != nil {
				return err
			}
			h.fault(kind, l.id)
			if err := l.Signal(syscall.SIGSTOP); err != nil {
				return err
			}
			// Longer than the TTL by 1–3 s, so it wakes at any point of a second: sometimes
			// just before the next slot, racing its successor for it.
			if err := localcluster.Sleep(ctx, ttl+time.Second+time.Duration(h.rng.Int64N(int64(2*time.Second)))); err != nil {
				return err
			}
			return l.Signal(syscall.SIGCONT)
		case faultPartitionLeader:
			h.fault(kind, l.id)
			l.cut()
			if err := localcluster.Sleep(ctx, ttl+2*time.Second); err != nil {
				return err
			}
			l.heal()
			return nil
		case faultKillFollower:
			var followers []*replica
			for _, r := range h.replicas {
				if r != l {
					followers = append(followers, r)
				}
			}
			f := followers[h.rng.IntN(len(followers))]
			h.fault(kind, f.id)
			f.Kill()
			if err := localcluster.Sleep(ctx, time.Second); err != nil {
				return err
			}
			return f.Start()
		}
	case faultRevokeLeader:
		// The leader runs on, unaware, until its next keepalive answer; meanwhile the next
		// leader starts. Only the claim guard stops the old one from claiming in between.
		l, ok, err := localcluster.Leader(ctx, h.client, prefix+"election/")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("no leader to revoke")
		}
		// Just before a second boundary, so the old leader has slots to claim in its blind spot.
		if err := localcluster.Sleep(ctx, time.Until(time.Now().Truncate(time.Second).Add(time.Second-time.Duration(20+h.rng.IntN(200))*time.Millisecond))); err != nil {
			return err
		}
		h.fault(kind, l.ID)
		_, err = h.client.Revoke(ctx, l.Lease)
		return err
	case faultEtcdMember:
		m := h.members[h.rng.IntN(len(h.members))]
		h.fault(kind, m.Name)
		m.Kill()
		if err := localcluster.Sleep(ctx, 2*time.Second+time.Duration(h.rng.Int64N(int64(2*time.Second)))); err != nil {
			return err
		}
		return m.Start()
	case faultEtcdAllDown:
		outage := h.o.outageMin + time.Duration(h.rng.Int64N(int64(h.o.outageMax-h.o.outageMin)+1))
		h.fault(kind, outage.Round(time.Second).String())
		var wg sync.WaitGroup
		for _, m := range h.members {
			wg.Add(1)
			go func() { defer wg.Done(); m.Kill() }()
		}
		wg.Wait()
		if err := localcluster.Sleep(ctx, outage); err != nil {
			return err
		}
		for _, m := range h.members {
			if err := m.Start(); err != nil {
				return err
			}
		}
		return nil
	case faultRestartAll:
		h.fault(kind, "")
		var wg sync.WaitGroup
		for _, r := range h.replicas {
			wg.Add(1)
			go func() { defer wg.Done(); r.Kill() }()
		}
		wg.Wait()
		for _, r := range h.replicas {
			if err := r.Start(); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown fault %q", kind)
}

// recover waits until every process runs again, etcd answers, a replica leads, and runs
// scheduled after this moment reach the target.
func (h *harness) recover(ctx context.Context) error {
	since := time.Now()
	for _, m := range h.members {
		if !m.Running() {
			if err := m.Start(); err != nil {
				return err
			}
		}
	}
	for _, r := range h.replicas {
		r.heal()
		if !r.Running() {
			if err := r.Start(); err != nil {
				return err
			}
		}
	}
	if err := localcluster.Until(ctx, 2*time.Minute, "etcd serving", func(ctx context.Context) bool {
		_, err := h.client.Get(ctx, "health")
		return err == nil
	}); err != nil {
		return err
	}
	for _, r := range h.replicas {
		if err := h.awaitReady(ctx, r); err != nil {
			return err
		}
	}
	if _, err := h.waitLeader(ctx, "", time.Minute); err != nil {
		return err
	}
	return localcluster.Until(ctx, time.Minute, "dispatches again", func(context.Context) bool {
		return h.recorder.LatestScheduled().After(since)
	})
}

// stopReplicas stops every replica the way Kubernetes does: SIGTERM, then SIGKILL.
func (h *harness) stopReplicas() {
	for _, r := range h.replicas {
		if r.Running() {
			_ = r.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range h.replicas {
		if r.Wait(10*time.Second) != nil {
			r.Kill()
		}
	}
}

// readHistory reads the jobs and every run record from etcd, and the target's log.
func (h *harness) readHistory(ctx context.Context) (history.Input, error) {
	in, err := localcluster.ReadStore(ctx, h.client, prefix)
	if err != nil {
		return in, err
	}
	if err := h.recorder.Flush(); err != nil {
		return in, err
	}
	f, err := os.Open(h.recFile.Name())
	if err != nil {
		return in, err
	}
	defer f.Close()
	in.Entries, err = history.ReadEntries(f)
	return in, err
}

// teardown stops everything that still runs and removes the work directory unless kept.
func (h *harness) teardown() {
	for _, r := range h.replicas {
		r.Kill()
		for _, p := range r.proxies {
			p.Close()
		}
	}
	for _, m := range h.members {
		m.Kill()
	}
	if h.client != nil {
		h.client.Close()
	}
	if h.target != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = h.target.Shutdown(sctx)
		cancel()
		<-h.targetDone
	}
	if h.recFile != nil {
		h.recFile.Close()
	}
	if !h.o.keep {
		_ = os.RemoveAll(h.workdir)
	}
}
