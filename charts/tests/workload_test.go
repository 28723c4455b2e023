package tests

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// typeName is an object's kind: its Go type's name.
func typeName(o any) string { return reflect.TypeOf(o).Elem().Name() }

// selects reports whether a label selector picks pods with these labels. A nil or empty
// selector picks nothing here: the chart never means "every pod".
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("selector %v: %v", sel, err)
		return false
	}
	return s.Matches(labels.Set(podLabels))
}

// ptrString formats an optional field: its value, or "unset".
func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// metaSelector is a Service's selector as a label selector.
func metaSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}

// flags parses a container's args ("--name=value", "--name") into a map; repeated flags
// fail the test.
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, _ := strings.Cut(a, "=")
		if _, dup := out[name]; dup {
			t.Errorf("flag %s given twice in %q", name, args)
		}
		out[name] = value
	}
	return out
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// deployment returns the schedulerd Deployment and its container, failing the test without.
func deployment(t *testing.T, r *rendered) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	d := find[appsv1.Deployment](r, fullname)
	if d == nil {
		t.Fatalf("no Deployment %s in %s", fullname, r.names())
	}
	return d, container(t, d.Spec.Template.Spec, "schedulerd")
}

func checkDeployment(t *testing.T, r *rendered, w want) {
	d, c := deployment(t, r)
	if n := len(all[appsv1.Deployment](r)); n != 1 {
		t.Errorf("%d Deployments, want 1", n)
	}
	pod := d.Spec.Template
	if got := ptrString(d.Spec.Replicas); got != strconv.Itoa(int(w.replicas)) {
		t.Errorf("Deployment replicas %s, want %d", got, w.replicas)
	}
	if !selects(t, d.Spec.Selector, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector, pod.Labels)
	}
	checkRestricted(t, "Deployment", pod.Spec)
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("Deployment pods mount a service account token; schedulerd does not use the Kubernetes API")
	}

	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("args %q do not start with serve", c.Args)
	}
	f := flags(t, c.Args)
	if f["--listen"] != "0.0.0.0:8080" {
		t.Errorf("--listen=%q, want 0.0.0.0:8080", f["--listen"])
	}
	if f["--replica-id"] != "$(POD_NAME)" {
		t.Errorf("--replica-id=%q, want the pod name", f["--replica-id"])
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
		t.Errorf("no container port http 8080 in %v", c.Ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.StartupProbe, "/healthz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: not an HTTP GET", p.name)
			continue
		}
		if g := p.probe.HTTPGet; g.Path != p.path || g.Port.String() != "http" {
			t.Errorf("%s: GET %s on port %s, want %s on http", p.name, g.Path, g.Port.String(), p.path)
		}
	}

	// On SIGTERM a replica resigns, drains for --drain-timeout and writes its runs' results:
	// the kubelet must wait for that, plus 5 s.
	drain, err := time.ParseDuration(f["--drain-timeout"])
	if err != nil {
		t.Errorf("--drain-timeout: %v", err)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < drain+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s < --drain-timeout %s + 5s", ptrString(g), drain)
	}

	// Spread over zones and nodes, and prefer different nodes.
	for _, key := range []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"} {
		i := slices.IndexFunc(pod.Spec.TopologySpreadConstraints, func(c corev1.TopologySpreadConstraint) bool { return c.TopologyKey == key })
		if i < 0 {
			t.Errorf("no topology spread constraint over %s", key)
			continue
		}
		if c := pod.Spec.TopologySpreadConstraints[i]; c.MaxSkew != 1 || !selects(t, c.LabelSelector, pod.Labels) {
			t.Errorf("spread over %s: maxSkew %d, selector %v; want 1 and the Deployment's pods", key, c.MaxSkew, c.LabelSelector)
		}
	}
	aa := pod.Spec.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("no preferred pod anti-affinity: %+v", aa)
	}
	term := aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	if term.TopologyKey != "kubernetes.io/hostname" || !selects(t, term.LabelSelector, pod.Labels) {
		t.Errorf("anti-affinity over %s selecting %v; want kubernetes.io/hostname and the Deployment's pods", term.TopologyKey, term.LabelSelector)
	}

	checkFileFlags(t, "Deployment", pod.Spec, c, f)
	checkEtcdClient(t, r, c, f, w)
}

// checkRestricted: the pod meets the PodSecurity "restricted" profile and runs as non-root
// with a read-only root file system.
func checkRestricted(t *testing.T, what string, spec corev1.PodSpec) {
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext without runAsNonRoot: %+v", what, psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile is not RuntimeDefault", what)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: container %s has no securityContext", what, c.Name)
			continue
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: container %s: runAsNonRoot not true", what, c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: container %s: readOnlyRootFilesystem not true", what, c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: container %s: allowPrivilegeEscalation not false", what, c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: container %s is privileged", what, c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: container %s: capabilities %+v, want drop ALL and add none", what, c.Name, sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: container %s: seccompProfile not RuntimeDefault", what, c.Name)
		}
	}
}

// checkPDBs: one replica at a time may be disrupted, schedulerd's and the embedded etcd's.
func checkPDBs(t *testing.T, r *rendered, w want) {
	d, _ := deployment(t, r)
	pdbs := map[string]map[string]string{fullname: d.Spec.Template.Labels}
	if w.etcdMembers > 0 {
		if s := find[appsv1.StatefulSet](r, etcdName); s != nil {
			pdbs[etcdName] = s.Spec.Template.Labels
		}
	}
	for name, podLabels := range pdbs {
		p := find[policyv1.PodDisruptionBudget](r, name)
		if p == nil {
			t.Errorf("no PodDisruptionBudget %s", name)
			continue
		}
		if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.String() != "1" || p.Spec.MinAvailable != nil {
			t.Errorf("PodDisruptionBudget %s: maxUnavailable %v minAvailable %v, want maxUnavailable 1", name, p.Spec.MaxUnavailable, p.Spec.MinAvailable)
		}
		if !selects(t, p.Spec.Selector, podLabels) {
			t.Errorf("PodDisruptionBudget %s does not select its pods", name)
		}
	}
	if n := len(all[policyv1.PodDisruptionBudget](r)); n != len(pdbs) {
		t.Errorf("%d PodDisruptionBudgets, want %d", n, len(pdbs))
	}
}

// checkService: the schedulerd Service reaches the schedulerd pods' http port, and only them.
func checkService(t *testing.T, r *rendered) {
	d, c := deployment(t, r)
	s := find[corev1.Service](r, fullname)
	if s == nil {
		t.Fatalf("no Service %s", fullname)
	}
	if !selects(t, metaSelector(s.Spec.Selector), d.Spec.Template.Labels) {
		t.Errorf("Service %s does not select the schedulerd pods", fullname)
	}
	if e := find[appsv1.StatefulSet](r, etcdName); e != nil && selects(t, metaSelector(s.Spec.Selector), e.Spec.Template.Labels) {
		t.Errorf("Service %s selects the etcd pods too", fullname)
	}
	i := slices.IndexFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "http" })
	if i < 0 {
		t.Fatalf("Service %s has no port http", fullname)
	}
	target := s.Spec.Ports[i].TargetPort.String()
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == target }) {
		t.Errorf("Service port http targets %q, which the container does not name", target)
	}
}

// checkTestHook: `helm test` runs one restricted Pod that the Deployment does not adopt, and
// that reads its token from the Secret w names.
func checkTestHook(t *testing.T, r *rendered, w want) {
	if len(r.hooks) != 1 {
		t.Fatalf("%d hooks, want the test Pod only", len(r.hooks))
	}
	h := r.hooks[0]
	p, ok := r.hookObjects[0].(*corev1.Pod)
	if !ok || !slices.Contains(h.Events, release.HookTest) {
		t.Fatalf("hook %s %s for %v, want a Pod for test", h.Kind, h.Name, h.Events)
	}
	if p.Annotations["helm.sh/hook"] != "test" {
		t.Errorf("test Pod annotation helm.sh/hook=%q, want test", p.Annotations["helm.sh/hook"])
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("test Pod restartPolicy %q, want Never", p.Spec.RestartPolicy)
	}
	checkRestricted(t, "test Pod", p.Spec)
	d, _ := deployment(t, r)
	if selects(t, d.Spec.Selector, p.Labels) {
		t.Error("the Deployment's selector matches the test Pod: its ReplicaSet would adopt it")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range container(t, p.Spec, "check").Env {
		env[e.Name] = e
	}
	if got, want := env["API"].Value, "http://"+fullname+":8080"; got != want {
		t.Errorf("test API=%q, want %q", got, want)
	}
	if got := env["REPLICAS"].Value; got != strconv.Itoa(int(w.replicas)) {
		t.Errorf("test REPLICAS=%q, want %d", got, w.replicas)
	}
	tok, has := env["TOKEN"]
	switch {
	case w.testToken == [2]string{}:
		if has {
			t.Errorf("test TOKEN from %+v, want none", tok.ValueFrom)
		}
	case !has || tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil:
		t.Errorf("test has no TOKEN from a Secret, want %v", w.testToken)
	default:
		ref := tok.ValueFrom.SecretKeyRef
		if [2]string{ref.Name, ref.Key} != w.testToken {
			t.Errorf("test TOKEN from %s/%s, want %v", ref.Name, ref.Key, w.testToken)
		}
	}
}
