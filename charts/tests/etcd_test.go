package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// memberHost is the DNS name of embedded etcd member i: the StatefulSet's pod through its
// headless Service.
func memberHost(i int) string {
	return fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local", etcdName, i, etcdName, namespace)
}

// checkEtcd: the embedded etcd is a StatefulSet of w.etcdMembers members, each of which knows
// every peer by the name its pod gets, behind a headless Service that publishes members
// before they are ready. An external etcd: no StatefulSet and no etcd Service.
func checkEtcd(t *testing.T, r *rendered, w want) {
	s := find[appsv1.StatefulSet](r, etcdName)
	svc := find[corev1.Service](r, etcdName)
	if w.etcdMembers == 0 {
		if s != nil || svc != nil || len(all[appsv1.StatefulSet](r)) > 0 {
			t.Errorf("external etcd, and the chart renders its own: %s", r.names())
		}
		return
	}
	if s == nil || svc == nil {
		t.Fatalf("no StatefulSet and Service %s: %s", etcdName, r.names())
	}
	if got := ptrString(s.Spec.Replicas); got != fmt.Sprint(w.etcdMembers) {
		t.Errorf("etcd StatefulSet replicas %s, want %d", got, w.etcdMembers)
	}
	if s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("etcd podManagementPolicy %q, want Parallel: a member is not ready before a quorum forms", s.Spec.PodManagementPolicy)
	}
	pod := s.Spec.Template
	if !selects(t, s.Spec.Selector, pod.Labels) {
		t.Error("etcd StatefulSet selector does not select its pods")
	}
	if d, _ := deployment(t, r); selects(t, d.Spec.Selector, pod.Labels) || selects(t, s.Spec.Selector, d.Spec.Template.Labels) {
		t.Error("the schedulerd Deployment's and the etcd StatefulSet's selectors overlap")
	}
	if s.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("etcd serviceName %q, Service clusterIP %q publishNotReadyAddresses %v; want %s, None, true",
			s.Spec.ServiceName, svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses, svc.Name)
	}
	if !selects(t, metaSelector(svc.Spec.Selector), pod.Labels) {
		t.Error("etcd Service does not select the etcd pods")
	}
	checkRestricted(t, "etcd StatefulSet", pod.Spec)

	c := container(t, pod.Spec, "etcd")
	f := flags(t, c.Args)
	var peers []string
	for i := range w.etcdMembers {
		peers = append(peers, fmt.Sprintf("%s-%d=http://%s:2380", etcdName, i, memberHost(i)))
	}
	if got := strings.Split(f["--initial-cluster"], ","); !slices.Equal(got, peers) {
		t.Errorf("--initial-cluster lists %d peers %q, want %q", len(got), got, peers)
	}
	domain := fmt.Sprintf("%s.%s.svc.cluster.local", etcdName, namespace)
	for flag, want := range map[string]string{
		"--name":                        "$(POD_NAME)",
		"--initial-advertise-peer-urls": "http://$(POD_NAME)." + domain + ":2380",
		"--advertise-client-urls":       "http://$(POD_NAME)." + domain + ":2379",
		"--initial-cluster-state":       "new",
	} {
		if f[flag] != want {
			t.Errorf("etcd %s=%q, want %q", flag, f[flag], want)
		}
	}
	// The data directory is on the member's volume claim.
	i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(f["--data-dir"], m.MountPath+"/") })
	if i < 0 || !slices.ContainsFunc(s.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == c.VolumeMounts[i].Name }) {
		t.Errorf("etcd --data-dir=%s is not on a volume claim template", f["--data-dir"])
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("etcd %s probe %+v, want HTTP on the metrics port", name, probe)
		}
	}
	if !strings.HasSuffix(f["--listen-metrics-urls"], ":2381") ||
		!slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" && p.ContainerPort == 2381 }) {
		t.Errorf("etcd metrics port: --listen-metrics-urls=%s, ports %v", f["--listen-metrics-urls"], c.Ports)
	}
}

// checkEtcdClient: schedulerd connects to the etcd w names, with its TLS files and user.
func checkEtcdClient(t *testing.T, r *rendered, c corev1.Container, f map[string]string, w want) {
	want := w.etcdEndpoints
	for i := range w.etcdMembers {
		want = append(want, fmt.Sprintf("http://%s:2379", memberHost(i)))
	}
	if got := strings.Split(f["--etcd-endpoints"], ","); !slices.Equal(got, want) {
		t.Errorf("--etcd-endpoints=%q, want %q", got, want)
	}
	tlsFlags := map[string]string{}
	if w.etcdTLS != "" {
		tlsFlags["--etcd-cacert"] = "ca.crt"
		if w.clientCert {
			tlsFlags["--etcd-cert"], tlsFlags["--etcd-key"] = "tls.crt", "tls.key"
		}
	}
	d, _ := deployment(t, r)
	for _, flag := range []string{"--etcd-cacert", "--etcd-cert", "--etcd-key"} {
		key, want := tlsFlags[flag]
		file, got := f[flag]
		if got != want {
			t.Errorf("%s given %v, want %v", flag, got, want)
			continue
		}
		if !got {
			continue
		}
		if s, k := secretVolumeFor(d.Spec.Template.Spec, c, file); s != w.etcdTLS || k != key {
			t.Errorf("%s=%s from Secret %q key %q, want %q key %q", flag, file, s, k, w.etcdTLS, key)
		}
	}
	env := map[string]*corev1.SecretKeySelector{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	for name, key := range map[string]string{"SCHEDULERD_ETCD_USERNAME": "username", "SCHEDULERD_ETCD_PASSWORD": "password"} {
		ref, has := env[name]
		switch {
		case w.etcdUser == "" && has:
			t.Errorf("%s from %s, want none", name, ref.Name)
		case w.etcdUser != "" && (!has || ref.Name != w.etcdUser || ref.Key != key):
			t.Errorf("%s from %+v, want Secret %s key %s", name, ref, w.etcdUser, key)
		}
	}
}
