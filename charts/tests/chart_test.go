package tests

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Every render is one install of release acme in namespace batch on Kubernetes 1.26, the oldest
// the chart supports (charts/schedulerd/README.md).
const (
	chartDir    = "../schedulerd"
	releaseName = "acme"
	namespace   = "batch"
	kubeVersion = "v1.26.0"

	// The names the chart gives acme's objects.
	fullname = "acme-schedulerd"
	etcdName = "acme-schedulerd-etcd"
)

// kinds are the objects the chart may render, by apiVersion and kind, with the Go type each
// decodes into. Anything else fails the render: a new kind needs a row here and its checks.
var kinds = map[string]func() metav1.Object{
	"v1/ConfigMap":                            func() metav1.Object { return new(corev1.ConfigMap) },
	"v1/Pod":                                  func() metav1.Object { return new(corev1.Pod) },
	"v1/Secret":                               func() metav1.Object { return new(corev1.Secret) },
	"v1/Service":                              func() metav1.Object { return new(corev1.Service) },
	"v1/ServiceAccount":                       func() metav1.Object { return new(corev1.ServiceAccount) },
	"apps/v1/Deployment":                      func() metav1.Object { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":                     func() metav1.Object { return new(appsv1.StatefulSet) },
	"policy/v1/PodDisruptionBudget":           func() metav1.Object { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/Ingress":            func() metav1.Object { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1/NetworkPolicy":      func() metav1.Object { return new(networkingv1.NetworkPolicy) },
	"monitoring.coreos.com/v1/PrometheusRule": func() metav1.Object { return new(monitoringv1.PrometheusRule) },
	"monitoring.coreos.com/v1/ServiceMonitor": func() metav1.Object { return new(monitoringv1.ServiceMonitor) },
}

// rendered is one install as Helm would apply it: its objects in install order, its hooks, and
// its notes.
type rendered struct {
	objects []metav1.Object
	hooks   []*release.Hook
	// hookObjects[i] is hooks[i]'s object, decoded.
	hookObjects []metav1.Object
	notes       string
}

// renderOptions are the install flags a render uses.
type renderOptions struct {
	// skipSchema is --skip-schema-validation: only the templates' own checks run.
	skipSchema bool
	// release is the release's name; default releaseName.
	release string
}

// render renders the chart with valuesYAML over its defaults, as `helm install --dry-run`
// would, and decodes every object strictly. The error is the first problem: the schema's, a
// template's `fail`, or an object that does not decode.
func render(valuesYAML string, o renderOptions) (*rendered, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := chartutil.ReadValues([]byte(valuesYAML))
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	opts := chartutil.ReleaseOptions{Name: cmp.Or(o.release, releaseName), Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, caps, o.skipSchema)
	if err != nil {
		return nil, err
	}
	// Strict: a template that reads a value the chart does not define fails, instead of
	// rendering it empty.
	files, err := engine.Engine{Strict: true}.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	r := &rendered{}
	for name, content := range files {
		if strings.HasSuffix(name, "/NOTES.txt") {
			r.notes = content
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range manifests {
		obj, err := decodeObject(m.Content)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		r.objects = append(r.objects, obj)
	}
	for _, h := range hooks {
		obj, err := decodeObject(h.Manifest)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.Path, err))
			continue
		}
		r.hooks = append(r.hooks, h)
		r.hookObjects = append(r.hookObjects, obj)
	}
	return r, errors.Join(errs...)
}

// decodeObject decodes one manifest into the Go type of its apiVersion and kind. Strict: a
// duplicate key, an unknown field, or a field spelt in another case fails (encoding/json would
// accept "Replicas" for "replicas"; Kubernetes' own decoder, used here, does not).
func decodeObject(manifest string) (metav1.Object, error) {
	var head metav1.TypeMeta
	if err := decodeStrictYAML([]byte(manifest), &head, false); err != nil {
		return nil, err
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q: not a kind these tests know; add it to kinds with its checks", head.APIVersion, head.Kind)
	}
	obj := newObj()
	if err := decodeStrictYAML([]byte(manifest), obj, true); err != nil {
		return nil, fmt.Errorf("%s %s: %w", head.Kind, head.APIVersion, err)
	}
	return obj, nil
}

// decodeStrictYAML decodes YAML into v through JSON, failing on duplicate keys and, when
// unknownFails, on fields v has no place for.
func decodeStrictYAML(doc []byte, v any, unknownFails bool) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	opts := []sigsjson.StrictOption{sigsjson.DisallowDuplicateFields}
	if unknownFails {
		opts = append(opts, sigsjson.DisallowUnknownFields)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, v, opts...)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// all returns the release's objects of type T (not its hooks), in install order.
func all[T any](r *rendered) []*T {
	var out []*T
	for _, o := range r.objects {
		if x, ok := any(o).(*T); ok {
			out = append(out, x)
		}
	}
	return out
}

// find returns the release's object of type T named name, or nil.
func find[T any](r *rendered, name string) *T {
	for _, o := range r.objects {
		if x, ok := any(o).(*T); ok && o.GetName() == name {
			return x
		}
	}
	return nil
}

// names lists the objects of a release as "Kind/name", sorted, for messages.
func (r *rendered) names() string {
	var out []string
	for _, o := range r.objects {
		out = append(out, typeName(o)+"/"+o.GetName())
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
