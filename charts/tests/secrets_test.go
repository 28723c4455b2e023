package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// checkFileFlags: every flag naming a file under /etc/schedulerd names a file a read-only
// Secret volume mount provides (a Secret volume with items provides only those keys).
func checkFileFlags(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container, f map[string]string) {
	for _, name := range []string{"--auth-tokens-file", "--etcd-cacert", "--etcd-cert", "--etcd-key"} {
		file, ok := f[name]
		if !ok {
			continue
		}
		dir, base := path.Split(file)
		i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == path.Clean(dir) })
		if i < 0 {
			t.Errorf("%s: %s=%s: no volume mounted at %s", what, name, file, dir)
			continue
		}
		m := c.VolumeMounts[i]
		if !m.ReadOnly || m.SubPath != "" {
			t.Errorf("%s: mount %s: readOnly %v subPath %q, want read-only, whole volume", what, m.MountPath, m.ReadOnly, m.SubPath)
		}
		j := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if j < 0 || spec.Volumes[j].Secret == nil {
			t.Errorf("%s: %s=%s: volume %s is not a Secret volume", what, name, file, m.Name)
			continue
		}
		if items := spec.Volumes[j].Secret.Items; len(items) > 0 && !slices.ContainsFunc(items, func(k corev1.KeyToPath) bool { return k.Path == base }) {
			t.Errorf("%s: %s=%s: Secret volume %s does not provide %s (items %v)", what, name, file, m.Name, base, items)
		}
	}
}

// secretVolumeFor returns the Secret and key a file in container c comes from; "" when no
// Secret volume provides it.
func secretVolumeFor(spec corev1.PodSpec, c corev1.Container, file string) (secret, key string) {
	dir, base := path.Split(file)
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Path == base {
					return v.Secret.SecretName, it.Key
				}
			}
			if len(v.Secret.Items) > 0 {
				return "", ""
			}
			return v.Secret.SecretName, base
		}
	}
	return "", ""
}

// checkAuth: the API's tokens file is mounted from the Secret w names, and a Secret the chart
// writes holds a valid tokens file.
func checkAuth(t *testing.T, r *rendered, w want) {
	d, c := deployment(t, r)
	f := flags(t, c.Args)
	_, noAuth := f["--insecure-no-auth"]
	file, hasFile := f["--auth-tokens-file"]
	if w.auth == "none" {
		if !noAuth || hasFile {
			t.Errorf("auth off: --insecure-no-auth %v, --auth-tokens-file %q; want the first only", noAuth, file)
		}
		if find[corev1.Secret](r, authSecret) != nil {
			t.Errorf("auth off, and Secret %s rendered", authSecret)
		}
		return
	}
	if noAuth || !hasFile {
		t.Fatalf("auth %s: --insecure-no-auth %v, --auth-tokens-file %q; want the second only", w.auth, noAuth, file)
	}
	secretName, key := secretVolumeFor(d.Spec.Template.Spec, c, file)
	if secretName != w.authSecret || key != "tokens" {
		t.Errorf("tokens file from Secret %q key %q, want %q key tokens", secretName, key, w.authSecret)
	}
	s := find[corev1.Secret](r, authSecret)
	switch w.auth {
	case "existing":
		if s != nil {
			t.Errorf("auth.existingSecret given, and the chart writes Secret %s too", authSecret)
		}
	case "tokens":
		if s == nil {
			t.Fatalf("no Secret %s", authSecret)
		}
		lines := strings.Split(strings.TrimSpace(s.StringData["tokens"]), "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		checkTokenLines(t, lines)
		if d.Spec.Template.Annotations["checksum/auth-tokens"] == "" {
			t.Error("auth.tokens: no checksum/auth-tokens pod annotation, so a change would not roll the pods")
		}
	case "generated":
		if s == nil {
			t.Fatalf("no Secret %s", authSecret)
		}
		token := string(s.Data["admin-token"])
		if len(token) < 32 {
			t.Errorf("generated admin token %q is short", token)
		}
		sum := sha256.Sum256([]byte(token))
		if got, want := string(s.Data["tokens"]), hex.EncodeToString(sum[:])+" admin helm-admin\n"; got != want {
			t.Errorf("generated tokens file %q, want %q: the sha256 of admin-token", got, want)
		}
	default:
		t.Fatalf("unknown auth %q", w.auth)
	}
}

// checkTokenLines: each line is `<sha256 hex> <viewer|operator|admin> <name>` (docs/api.md).
func checkTokenLines(t *testing.T, lines []string) {
	for _, l := range lines {
		fs := strings.Fields(l)
		if len(fs) != 3 || len(fs[0]) != 64 || !slices.Contains([]string{"viewer", "operator", "admin"}, fs[1]) {
			t.Errorf("tokens file line %q is not <sha256> <role> <name>", l)
			continue
		}
		if _, err := hex.DecodeString(fs[0]); err != nil {
			t.Errorf("tokens file line %q: %v", l, err)
		}
	}
}
