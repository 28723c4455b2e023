package tests

import (
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// valueSet is one install to render: values over the chart's defaults, and what it must make.
type valueSet struct {
	name   string
	values string // YAML; or
	ciFile string // a file of charts/schedulerd/ci
	want   want
}

// want is what a value set's install must contain.
type want struct {
	replicas int32
	// etcdMembers is the embedded etcd's size; 0: an external etcd at etcdEndpoints.
	etcdMembers   int
	etcdEndpoints []string
	// etcdTLS is the Secret with the external etcd's CA; clientCert: and a client certificate.
	etcdTLS    string
	clientCert bool
	etcdUser   string // the Secret with the external etcd's username and password
	// auth is how the API authenticates: generated, tokens, existing or none; authSecret is
	// the Secret holding the tokens file.
	auth       string
	authSecret string
	// testToken is the Secret and key the helm test reads its token from; "" none.
	testToken     [2]string
	networkPolicy bool
	// With networkPolicy: apiOpen, any pod may reach the API; apiFrom are pods that must;
	// externalEtcd is where the external etcd runs.
	apiOpen      bool
	apiFrom      []pod
	externalEtcd *pod
	ingressHosts []string
	monitoring   bool // ServiceMonitor, PrometheusRule and the dashboard ConfigMap
	// dashboardNamespace is where the dashboard ConfigMap goes; "": the release's namespace.
	dashboardNamespace string
}

const authSecret = fullname + "-auth"

// prometheus is a pod in namespace monitoring.
var prometheus = pod{"prometheus", "monitoring", map[string]string{"app": "prometheus"}}

// valueSets: the defaults, every ci file, and the shapes of install docs/operations.md describes.
var valueSets = []valueSet{
	{name: "defaults", want: want{replicas: 3, etcdMembers: 3, auth: "generated", authSecret: authSecret,
		testToken: [2]string{authSecret, "admin-token"}}},
	{name: "ci embedded", ciFile: "embedded-values.yaml", want: want{replicas: 3, etcdMembers: 3,
		auth: "generated", authSecret: authSecret, testToken: [2]string{authSecret, "admin-token"},
		networkPolicy: true, apiOpen: true, apiFrom: []pod{stranger}}},
	{name: "ci external etcd", ciFile: "external-etcd-values.yaml", want: want{replicas: 3,
		etcdEndpoints: []string{"https://etcd-0.etcd.db.svc:2379", "https://etcd-1.etcd.db.svc:2379", "https://etcd-2.etcd.db.svc:2379"},
		etcdTLS:       "schedulerd-etcd-client", clientCert: true, etcdUser: "schedulerd-etcd-user",
		auth: "tokens", authSecret: authSecret, testToken: [2]string{"schedulerd-test-token", "token"},
		networkPolicy: true, ingressHosts: []string{"schedulerd.example.com"}, monitoring: true,
		apiFrom:      []pod{prometheus, {"reports", namespace, map[string]string{"app": "reports"}}},
		externalEtcd: &pod{"etcd", "db", map[string]string{"app.kubernetes.io/name": "etcd"}}}},
	{name: "ci no auth", ciFile: "no-auth-values.yaml", want: want{replicas: 1, etcdMembers: 1, auth: "none"}},
	{name: "external etcd, server TLS and a user", values: `
etcd:
  endpoints: [https://etcd.db.svc:2379]
  tls: {existingSecret: etcd-ca, clientCert: false}
  auth: {existingSecret: etcd-user}
  embedded: {enabled: false}
`, want: want{replicas: 3, etcdEndpoints: []string{"https://etcd.db.svc:2379"}, etcdTLS: "etcd-ca", etcdUser: "etcd-user",
		auth: "generated", authSecret: authSecret, testToken: [2]string{authSecret, "admin-token"}}},
	{name: "auth existingSecret", values: `
auth: {existingSecret: schedulerd-tokens}
tests: {tokenSecret: schedulerd-viewer, tokenSecretKey: viewer-token}
`, want: want{replicas: 3, etcdMembers: 3, auth: "existing", authSecret: "schedulerd-tokens",
		testToken: [2]string{"schedulerd-viewer", "viewer-token"}}},
	{name: "networkPolicy", values: `
networkPolicy:
  enabled: true
  ingress:
    from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
  egress:
    targets: {cidrs: [10.0.0.0/8], ports: [443]}
`, want: want{replicas: 3, etcdMembers: 3, auth: "generated", authSecret: authSecret,
		testToken: [2]string{authSecret, "admin-token"}, networkPolicy: true, apiFrom: []pod{prometheus}}},
	{name: "ingress", values: `
ingress:
  enabled: true
  className: nginx
  hosts:
    - host: jobs.example.com
      paths: [{path: /, pathType: Prefix}]
  tls: [{secretName: jobs-tls, hosts: [jobs.example.com]}]
`, want: want{replicas: 3, etcdMembers: 3, auth: "generated", authSecret: authSecret,
		testToken: [2]string{authSecret, "admin-token"}, ingressHosts: []string{"jobs.example.com"}}},
	{name: "monitoring", values: `
metrics:
  serviceMonitor: {enabled: true, labels: {release: prom}}
  prometheusRule: {enabled: true, labels: {release: prom}}
grafana:
  dashboard: {enabled: true, namespace: grafana}
`, want: want{replicas: 3, etcdMembers: 3, auth: "generated", authSecret: authSecret,
		testToken: [2]string{authSecret, "admin-token"}, monitoring: true, dashboardNamespace: "grafana"}},
	{name: "5 replicas", values: `replicaCount: 5`, want: want{replicas: 5, etcdMembers: 3, auth: "generated",
		authSecret: authSecret, testToken: [2]string{authSecret, "admin-token"}}},
	{name: "etcd of 1", values: `etcd: {embedded: {replicaCount: 1}}`, want: want{replicas: 3, etcdMembers: 1,
		auth: "generated", authSecret: authSecret, testToken: [2]string{authSecret, "admin-token"}}},
	{name: "etcd of 5", values: `etcd: {embedded: {replicaCount: 5}}`, want: want{replicas: 3, etcdMembers: 5,
		auth: "generated", authSecret: authSecret, testToken: [2]string{authSecret, "admin-token"}}},
}

// valuesOf returns a value set's values as YAML.
func valuesOf(t *testing.T, vs valueSet) string {
	t.Helper()
	if vs.ciFile == "" {
		return vs.values
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "ci", vs.ciFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every ci file is in valueSets: a new one must say what it installs.
func TestEveryCIFileIsRendered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in charts/schedulerd/ci")
	}
	for _, f := range files {
		found := false
		for _, vs := range valueSets {
			found = found || vs.ciFile == filepath.Base(f)
		}
		if !found {
			t.Errorf("%s is not in valueSets", f)
		}
	}
}

func TestRender(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			r, err := render(valuesOf(t, vs), renderOptions{})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if r.notes == "" {
				t.Error("NOTES.txt rendered empty")
			}
			checkMetadata(t, r, vs.want)
			checkValidNames(t, r)
			checkDeployment(t, r, vs.want)
			checkAuth(t, r, vs.want)
			checkPDBs(t, r, vs.want)
			checkService(t, r)
			checkTestHook(t, r, vs.want)
			checkEtcd(t, r, vs.want)
			checkNetworkPolicies(t, r, vs.want)
			checkIngress(t, r, vs.want)
			checkMonitoring(t, r, vs.want)
		})
	}
}

// checkMetadata: every object is in the release's namespace (the dashboard where w says),
// carries the release's labels, and is the only one of its kind and name.
func checkMetadata(t *testing.T, r *rendered, w want) {
	seen := map[string]bool{}
	objs := append(append([]metav1.Object(nil), r.objects...), r.hookObjects...)
	for _, o := range objs {
		id := typeName(o) + "/" + o.GetName()
		if seen[id] {
			t.Errorf("%s rendered twice", id)
		}
		seen[id] = true
		want := namespace
		if id == "ConfigMap/"+fullname+"-dashboard" && w.dashboardNamespace != "" {
			want = w.dashboardNamespace
		}
		if ns := o.GetNamespace(); ns != want {
			t.Errorf("%s: namespace %q, want %q", id, ns, want)
		}
		for k, v := range map[string]string{
			"app.kubernetes.io/instance":   releaseName,
			"app.kubernetes.io/managed-by": "Helm",
			"app.kubernetes.io/part-of":    "schedulerd",
		} {
			if got := o.GetLabels()[k]; got != v {
				t.Errorf("%s: label %s=%q, want %q", id, k, got, v)
			}
		}
	}
}
