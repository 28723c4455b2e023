package tests

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pod is a pod as NetworkPolicies see it: its namespace and labels, and a name for messages.
type pod struct {
	name      string
	namespace string
	labels    map[string]string
}

func (p pod) String() string { return p.namespace + "/" + p.name }

var (
	clusterDNS = pod{"kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"}}
	stranger   = pod{"stranger", "elsewhere", map[string]string{"app": "stranger"}}
)

// matches is a label selector as NetworkPolicies read it: empty selects everything.
func matches(t *testing.T, sel metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(&sel)
	if err != nil {
		t.Errorf("selector %v: %v", sel, err)
		return false
	}
	return s.Matches(labels.Set(set))
}

// peerMatches reports whether a NetworkPolicy peer of a policy in namespace ns is pod p. A
// namespace is labelled with its name only (kubernetes.io/metadata.name), as every namespace is.
func peerMatches(t *testing.T, peer networkingv1.NetworkPolicyPeer, ns string, p pod) bool {
	if peer.IPBlock != nil {
		return false
	}
	if peer.NamespaceSelector == nil && p.namespace != ns {
		return false
	}
	if peer.NamespaceSelector != nil && !matches(t, *peer.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": p.namespace}) {
		return false
	}
	return peer.PodSelector == nil || matches(t, *peer.PodSelector, p.labels)
}

func portMatches(ports []networkingv1.NetworkPolicyPort, port int, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	return slices.ContainsFunc(ports, func(np networkingv1.NetworkPolicyPort) bool {
		pr := corev1.ProtocolTCP
		if np.Protocol != nil {
			pr = *np.Protocol
		}
		return pr == proto && (np.Port == nil || np.Port.IntValue() == port)
	})
}

// allowedOneWay reports whether the policies let subject send (egress) to, or receive
// (ingress) from, peer on port: yes when no policy of that type selects subject, or when a
// rule of one that does admits peer.
func allowedOneWay(t *testing.T, policies []*networkingv1.NetworkPolicy, typ networkingv1.PolicyType, subject, peer pod, port int, proto corev1.Protocol) bool {
	selected := false
	for _, np := range policies {
		if np.Namespace != subject.namespace || !slices.Contains(np.Spec.PolicyTypes, typ) || !matches(t, np.Spec.PodSelector, subject.labels) {
			continue
		}
		selected = true
		type rule struct {
			ports []networkingv1.NetworkPolicyPort
			peers []networkingv1.NetworkPolicyPeer
		}
		var rules []rule
		for _, r := range np.Spec.Ingress {
			if typ == networkingv1.PolicyTypeIngress {
				rules = append(rules, rule{r.Ports, r.From})
			}
		}
		for _, r := range np.Spec.Egress {
			if typ == networkingv1.PolicyTypeEgress {
				rules = append(rules, rule{r.Ports, r.To})
			}
		}
		for _, r := range rules {
			if portMatches(r.ports, port, proto) &&
				(len(r.peers) == 0 || slices.ContainsFunc(r.peers, func(p networkingv1.NetworkPolicyPeer) bool { return peerMatches(t, p, np.Namespace, peer) })) {
				return true
			}
		}
	}
	return !selected
}

// allowed reports whether from may open a connection to to on port.
func allowed(t *testing.T, policies []*networkingv1.NetworkPolicy, from, to pod, port int, proto corev1.Protocol) bool {
	return allowedOneWay(t, policies, networkingv1.PolicyTypeEgress, from, to, port, proto) &&
		allowedOneWay(t, policies, networkingv1.PolicyTypeIngress, to, from, port, proto)
}

// checkNetworkPolicies: with networkPolicy on, schedulerd still reaches the cluster DNS and
// its etcd, etcd members reach each other, the helm test and w.apiFrom reach the API; nobody
// but schedulerd and the members reaches the embedded etcd.
func checkNetworkPolicies(t *testing.T, r *rendered, w want) {
	policies := all[networkingv1.NetworkPolicy](r)
	if !w.networkPolicy {
		if len(policies) > 0 {
			t.Errorf("networkPolicy off, and %d NetworkPolicies rendered", len(policies))
		}
		return
	}
	if find[networkingv1.NetworkPolicy](r, fullname) == nil {
		t.Fatalf("no NetworkPolicy %s: %s", fullname, r.names())
	}
	d, _ := deployment(t, r)
	sched := pod{"schedulerd", namespace, d.Spec.Template.Labels}
	test := pod{"helm-test", namespace, r.hookObjects[0].GetLabels()}
	type conn struct {
		from, to pod
		port     int
		proto    corev1.Protocol
		what     string
	}
	must := []conn{
		{test, sched, 8080, corev1.ProtocolTCP, "helm test → API"},
		{sched, clusterDNS, 53, corev1.ProtocolUDP, "schedulerd → DNS"},
		{sched, clusterDNS, 53, corev1.ProtocolTCP, "schedulerd → DNS over TCP"},
	}
	for _, p := range w.apiFrom {
		must = append(must, conn{p, sched, 8080, corev1.ProtocolTCP, "client → API"})
	}
	var mustNot []conn
	if w.etcdMembers > 0 {
		if find[networkingv1.NetworkPolicy](r, etcdName) == nil {
			t.Errorf("no NetworkPolicy %s for the embedded etcd", etcdName)
		}
		s := find[appsv1.StatefulSet](r, etcdName)
		if s == nil {
			t.Fatal("no etcd StatefulSet")
		}
		etcd := pod{"etcd", namespace, s.Spec.Template.Labels}
		must = append(must,
			conn{sched, etcd, 2379, corev1.ProtocolTCP, "schedulerd → etcd"},
			conn{etcd, etcd, 2380, corev1.ProtocolTCP, "etcd peers"},
			conn{etcd, clusterDNS, 53, corev1.ProtocolUDP, "etcd → DNS"})
		mustNot = append(mustNot,
			conn{stranger, etcd, 2379, corev1.ProtocolTCP, "another namespace → etcd"},
			conn{test, etcd, 2379, corev1.ProtocolTCP, "helm test → etcd"},
			conn{sched, etcd, 2380, corev1.ProtocolTCP, "schedulerd → etcd peer port"})
	}
	if w.externalEtcd != nil {
		must = append(must, conn{sched, *w.externalEtcd, 2379, corev1.ProtocolTCP, "schedulerd → external etcd"})
	}
	if !w.apiOpen {
		mustNot = append(mustNot, conn{stranger, sched, 8080, corev1.ProtocolTCP, "another namespace → API"})
	}
	for _, c := range must {
		if !allowed(t, policies, c.from, c.to, c.port, c.proto) {
			t.Errorf("NetworkPolicies block %s: %s → %s %d/%s", c.what, c.from, c.to, c.port, c.proto)
		}
	}
	for _, c := range mustNot {
		if allowed(t, policies, c.from, c.to, c.port, c.proto) {
			t.Errorf("NetworkPolicies allow %s: %s → %s %d/%s", c.what, c.from, c.to, c.port, c.proto)
		}
	}
}

// checkIngress: an Ingress for w's hosts to the Service's http port, or none.
func checkIngress(t *testing.T, r *rendered, w want) {
	ing := find[networkingv1.Ingress](r, fullname)
	if len(w.ingressHosts) == 0 {
		if len(all[networkingv1.Ingress](r)) > 0 {
			t.Error("ingress off, and an Ingress rendered")
		}
		return
	}
	if ing == nil {
		t.Fatalf("no Ingress %s", fullname)
	}
	svc := find[corev1.Service](r, fullname)
	var hosts []string
	for _, rule := range ing.Spec.Rules {
		hosts = append(hosts, rule.Host)
		if rule.HTTP == nil || len(rule.HTTP.Paths) == 0 {
			t.Errorf("Ingress host %s has no paths", rule.Host)
			continue
		}
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != fullname || svc == nil ||
				!slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == b.Port.Name && b.Port.Name != "" }) {
				t.Errorf("Ingress %s%s: backend %+v is not the Service %s's http port", rule.Host, p.Path, b, fullname)
			}
		}
	}
	if !slices.Equal(hosts, w.ingressHosts) {
		t.Errorf("Ingress hosts %q, want %q", hosts, w.ingressHosts)
	}
}
