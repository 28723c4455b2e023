package tests

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Names as long as Helm and the schema allow: a 53-character release name (Helm's limit),
// and 63-character nameOverride and fullnameOverride (the schema's).
func TestLongNames(t *testing.T) {
	long := strings.Repeat("n", 63)
	for _, tc := range []struct{ name, release, values string }{
		{"release name of 53", strings.Repeat("r", 53), ""},
		{"nameOverride of 63", releaseName, "nameOverride: " + long},
		{"fullnameOverride of 63", releaseName, "fullnameOverride: " + long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := render(tc.values+"\nnetworkPolicy: {enabled: true}", renderOptions{release: tc.release})
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			checkValidNames(t, r)
		})
	}
}

// checkValidNames: every object's name, labels and annotations are ones the API server
// accepts, and so are its pod template's labels, container, port and variable names and its
// label selectors; a StatefulSet's pods get valid host names and revision-hash labels.
func checkValidNames(t *testing.T, r *rendered) {
	for _, o := range append(append([]metav1.Object(nil), r.objects...), r.hookObjects...) {
		id := typeName(o) + "/" + o.GetName()
		nameOK := apivalidation.NameIsDNSSubdomain
		if _, ok := o.(*corev1.Service); ok {
			nameOK = apivalidation.NameIsDNS1035Label
		}
		errs := apivalidation.ValidateObjectMetaAccessor(o, true, nameOK, field.NewPath("metadata"))
		var pod *corev1.PodTemplateSpec
		var selector *metav1.LabelSelector
		switch x := o.(type) {
		case *appsv1.Deployment:
			pod, selector = &x.Spec.Template, x.Spec.Selector
		case *appsv1.StatefulSet:
			pod, selector = &x.Spec.Template, x.Spec.Selector
			// Each pod is <name>-<ordinal>, a host name under the headless Service, and
			// carries controller-revision-hash=<name>-<10 characters>.
			last := fmt.Sprintf("%s-%d", x.Name, ptrValue(x.Spec.Replicas)-1)
			for _, msg := range validation.IsDNS1123Label(last) {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), last, "pod name: "+msg))
			}
			if len(x.Name) > 52 {
				errs = append(errs, field.TooLong(field.NewPath("metadata", "name"), x.Name, 52))
			}
		case *corev1.Pod: // its labels are its metadata's, checked above
			pod = &corev1.PodTemplateSpec{Spec: x.Spec}
		}
		if selector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(selector, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("spec", "selector"))...)
		}
		if pod != nil {
			p := field.NewPath("spec", "template")
			errs = append(errs, metav1validation.ValidateLabels(pod.Labels, p.Child("metadata", "labels"))...)
			errs = append(errs, apivalidation.ValidateAnnotations(pod.Annotations, p.Child("metadata", "annotations"))...)
			for _, c := range pod.Spec.Containers {
				cp := p.Child("spec", "containers").Key(c.Name)
				for _, msg := range validation.IsDNS1123Label(c.Name) {
					errs = append(errs, field.Invalid(cp, c.Name, msg))
				}
				for _, port := range c.Ports {
					for _, msg := range validation.IsValidPortName(port.Name) {
						errs = append(errs, field.Invalid(cp.Child("ports"), port.Name, msg))
					}
				}
				for _, e := range c.Env {
					for _, msg := range validation.IsEnvVarName(e.Name) {
						errs = append(errs, field.Invalid(cp.Child("env"), e.Name, msg))
					}
				}
			}
		}
		for _, e := range errs {
			t.Errorf("%s: %v", id, e)
		}
	}
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
