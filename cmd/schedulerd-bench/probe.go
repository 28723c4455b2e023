package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// metrics is one scrape of a Prometheus text page: series ("name{labels}") → value.
type metrics map[string]float64

// scrape reads url (a /metrics page in the text format).
func scrape(ctx context.Context, client *http.Client, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces, so split after the '}'.
		head, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			head, rest = line[:i+1], line[i+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			head, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		m[head] = v
	}
	return m, sc.Err()
}

// sum adds up the series of name whose labels contain every one of labels (`k="v"` each).
func (m metrics) sum(name string, labels ...string) float64 {
	var s float64
series:
	for k, v := range m {
		n, l, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		for _, want := range labels {
			if !strings.Contains(l, want) {
				continue series
			}
		}
		s += v
	}
	return s
}

// procStats is what /proc says about a process.
type procStats struct {
	RSS int64 // resident set, bytes (VmRSS)
	// RSSAnon and RSSFile split RSS: anonymous memory (the heap, stacks) and file-backed
	// pages (the binary's code and data, as far as it has run).
	RSSAnon, RSSFile int64
	CPUSecs          float64 // user + system CPU time, seconds
}

// clockTicks is Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat (fixed at 100
// on every architecture Go supports on Linux).
const clockTicks = 100

// readProc reads /proc/<pid>/status (VmRSS, RssAnon, RssFile) and /proc/<pid>/stat (utime,
// stime).
func readProc(pid int) (procStats, error) {
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	fields := map[string]*int64{"VmRSS": &s.RSS, "RssAnon": &s.RSSAnon, "RssFile": &s.RSSFile}
	for line := range strings.Lines(string(status)) {
		name, v, ok := strings.Cut(line, ":")
		out := fields[name]
		if !ok || out == nil {
			continue
		}
		f := strings.Fields(v) // "123456 kB"
		if len(f) == 2 && f[1] == "kB" {
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return s, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
			}
			*out = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// pid (comm) state ppid … : utime and stime are fields 14 and 15, counted from 1; the
	// command name may hold spaces and parentheses, so count from after its last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: utime/stime do not parse", pid)
	}
	s.CPUSecs = float64(utime+stime) / clockTicks
	return s, nil
}

// liveHeap is a replica's HeapInuse right after a garbage collection: its text heap profile
// with gc=1 ends with the runtime's MemStats.
func (c *cluster) liveHeap(ctx context.Context, r *replica) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.pprof+"/debug/pprof/heap?gc=1&debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var inuse int64 = -1
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			inuse, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if inuse < 0 {
		return 0, fmt.Errorf("%s: no HeapInuse in its heap profile", r.id)
	}
	return inuse, nil
}

// etcdWrites are etcd's own counts over a window, and per run dispatched in it.
type etcdWrites struct {
	Runs            int     `json:"runs"`
	Puts            float64 `json:"puts"`
	Deletes         float64 `json:"deletes"`
	Proposals       float64 `json:"proposals"`
	PutsPerRun      float64 `json:"putsPerRun"`
	DeletesPerRun   float64 `json:"deletesPerRun"`
	ProposalsPerRun float64 `json:"proposalsPerRun"`
}

// writesBetween computes etcdWrites from two scrapes of etcd's metrics and the runs between.
func writesBetween(before, after metrics, runs int) etcdWrites {
	w := etcdWrites{Runs: runs,
		Puts:      after.sum("etcd_mvcc_put_total") - before.sum("etcd_mvcc_put_total"),
		Deletes:   after.sum("etcd_mvcc_delete_total") - before.sum("etcd_mvcc_delete_total"),
		Proposals: after.sum("etcd_server_proposals_committed_total") - before.sum("etcd_server_proposals_committed_total"),
	}
	if runs > 0 {
		w.PutsPerRun = round(w.Puts/float64(runs), 2)
		w.DeletesPerRun = round(w.Deletes/float64(runs), 2)
		w.ProposalsPerRun = round(w.Proposals/float64(runs), 2)
	}
	return w
}
