package credentials

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func secret(name string, typ corev1.SecretType, key, data string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Type: typ,
		Data: map[string][]byte{key: []byte(data)}}
}

func TestFromSecret(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secret  *corev1.Secret
		want    DockerConfig
		ok      bool
		wantErr string
	}{
		{name: "dockerconfigjson with username and password",
			secret: secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths": {"example.test": {"username": "alice", "password": "pw"}}}`),
			want: DockerConfig{"example.test": {Username: "alice", Password: "pw"}}, ok: true},
		{name: "auth wins over username and password",
			secret: secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths": {"https://index.docker.io/v1/": {"username": "x", "password": "y", "auth": "`+b64("bob:p:w")+`"}}}`),
			want: DockerConfig{"https://index.docker.io/v1/": {Username: "bob", Password: "p:w"}}, ok: true},
		{name: "auth without padding",
			secret: secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson",
				`{"auths": {"example.test": {"auth": "`+strings.TrimRight(b64("ab:c"), "=")+`"}}}`),
			want: DockerConfig{"example.test": {Username: "ab", Password: "c"}}, ok: true},
		{name: "dockercfg, the map without auths",
			secret: secret("s", corev1.SecretTypeDockercfg, ".dockercfg",
				`{"quay.io": {"auth": "`+b64("carol:secret")+`", "email": "c@example.com"}}`),
			want: DockerConfig{"quay.io": {Username: "carol", Password: "secret"}}, ok: true},
		{name: "dockerconfigjson without auths has no entries",
			secret: secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{}`),
			want:   DockerConfig{}, ok: true},
		{name: "another type is ignored",
			secret: secret("s", corev1.SecretTypeOpaque, ".dockerconfigjson", `{"auths": {"a": {}}}`)},
		{name: "the other type's key is ignored",
			secret: secret("s", corev1.SecretTypeDockercfg, ".dockerconfigjson", `{"auths": {"a": {}}}`)},
		{name: "an empty key is ignored",
			secret: secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", ``)},
		{name: "bad JSON names the secret",
			secret:  secret("broken", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths": `),
			wantErr: "image pull secret ns/broken: reading .dockerconfigjson: unexpected end of JSON input"},
		{name: "bad dockercfg JSON names the secret",
			secret:  secret("old", corev1.SecretTypeDockercfg, ".dockercfg", `[1]`),
			wantErr: "image pull secret ns/old: reading .dockercfg: json: cannot unmarshal array"},
		{name: "auth that is not base64",
			secret:  secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths": {"example.test": {"auth": "!!!"}}}`),
			wantErr: `image pull secret ns/s: reading .dockerconfigjson: registry "example.test": decoding auth field: illegal base64`},
		{name: "auth without a colon",
			secret:  secret("s", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths": {"example.test": {"auth": "`+b64("nocolon")+`"}}}`),
			wantErr: "must be formatted as base64(username:password)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := FromSecret(tc.secret)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("FromSecret = %v, %v, %v; want %v, %v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}

func TestRegistryKey(t *testing.T) {
	for in, want := range map[string]string{
		"example.test":                "example.test",
		"https://example.test":        "example.test",
		"http://example.test:5000/":   "example.test:5000",
		"https://index.docker.io/v1/": "index.docker.io",
		"example.test/v2/":            "example.test",
		"example.test/team":           "example.test/team",
		"https://example.test/v2/app": "example.test/app",
		"*.example.test":              "*.example.test",
	} {
		if got, ok := registryKey(in); !ok || got != want {
			t.Errorf("registryKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := registryKey("https://"); ok {
		t.Errorf("an entry without a host gave key %q", got)
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		key, repo string
		want      bool
	}{
		{"example.test", "example.test/app", true},
		{"example.test", "other.test/app", false},
		{"example.test", "sub.example.test/app", false},
		{"example.test:5000", "example.test:5000/app", true},
		{"example.test:5000", "example.test/app", false},
		{"example.test", "example.test:5000/app", false},
		{"example.test/team", "example.test/team/app", true},
		{"example.test/team", "example.test/other/app", false},
		{"*.example.test", "registry.example.test/app", true},
		{"*.example.test", "example.test/app", false},
		{"*.example.test", "a.b.example.test/app", false},
		{"*.*.example.test", "a.b.example.test/app", true},
		{"reg*.example.test", "registry.example.test/app", true},
		{"docker.io", "docker.io/library/busybox", true},
		{"index.docker.io", "docker.io/library/busybox", false},
	} {
		if got := Matches(tc.key, tc.repo); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.key, tc.repo, got, tc.want)
		}
	}
}

func users(creds []Credential) []string {
	var out []string
	for _, c := range creds {
		out = append(out, c.Username)
	}
	return out
}

func TestLookup(t *testing.T) {
	k := &Keyring{}
	k.Add("ns/first", DockerConfig{
		"example.test":                 {Username: "host", Password: "1"},
		"https://example.test/team/":   {Username: "team", Password: "2"},
		"*.example.test":               {Username: "glob", Password: "3"},
		"registry.example.test":        {Username: "exact", Password: "4"},
		"https://index.docker.io/v1/":  {Username: "hub", Password: "5"},
		"quay.io":                      {Username: "quay", Password: "6"},
		"localhost:5000":               {Username: "local", Password: "7"},
		"http://registry.example.test": {Username: "exact-again", Password: "8"},
	})
	k.Add("ns/second", DockerConfig{
		"example.test": {Username: "host-second", Password: "9"},
		"quay.io":      {Username: "quay", Password: "6"}, // the same as in first
	})
	for _, tc := range []struct {
		image string
		want  []string
	}{
		// The most specific key first; a key's credentials in the order
		// their secrets came.
		{"example.test/team/app:v1", []string{"team", "host", "host-second"}},
		{"example.test/app", []string{"host", "host-second"}},
		// registry.example.test sorts before *.example.test; both keys
		// spelled registry.example.test are one, in name order.
		{"registry.example.test/app", []string{"exact-again", "exact", "glob"}},
		{"other.example.test/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", []string{"glob"}},
		// docker.io images, however spelled, fall back to index.docker.io.
		{"busybox", []string{"hub"}},
		{"library/busybox:latest", []string{"hub"}},
		{"docker.io/kubeseed/app", []string{"hub"}},
		{"index.docker.io/kubeseed/app", []string{"hub"}},
		// Identical credentials once.
		{"quay.io/org/app", []string{"quay"}},
		{"localhost:5000/app", []string{"local"}},
		{"localhost/app", nil},
		{"gcr.io/app", nil},
		{"Not A Name", nil},
	} {
		if got := users(k.Lookup(tc.image)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tc.image, got, tc.want)
		}
	}
	if c := k.Lookup("example.test/team/app")[0]; c.Password != "2" || c.Secret != "ns/first" {
		t.Errorf("credential %+v", c)
	}

	// A docker.io key matches docker.io images itself, and then the
	// index.docker.io fallback does not apply.
	hub := &Keyring{}
	hub.Add("ns/a", DockerConfig{"docker.io": {Username: "direct"}, "index.docker.io": {Username: "index"}})
	if got := users(hub.Lookup("busybox")); !reflect.DeepEqual(got, []string{"direct"}) {
		t.Errorf("docker.io key: %v", got)
	}
	if got := (&Keyring{}).Lookup("busybox"); got != nil {
		t.Errorf("empty keyring: %v", got)
	}
}

func TestFromSecretsKeepsThePodsOrder(t *testing.T) {
	k, err := FromSecrets([]*corev1.Secret{
		secret("b", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", `{"auths": {"example.test": {"auth": "`+b64("from-b:x")+`"}}}`),
		secret("opaque", corev1.SecretTypeOpaque, "token", "x"),
		secret("a", corev1.SecretTypeDockercfg, ".dockercfg", `{"https://example.test": {"username": "from-a", "password": "y"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := k.Lookup("example.test/app")
	if !reflect.DeepEqual(got, []Credential{{Username: "from-b", Password: "x", Secret: "ns/b"}, {Username: "from-a", Password: "y", Secret: "ns/a"}}) {
		t.Errorf("Lookup = %+v", got)
	}
	_, err = FromSecrets([]*corev1.Secret{secret("bad", corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", "nope")})
	if err == nil || !strings.Contains(err.Error(), "ns/bad") {
		t.Errorf("a bad secret: %v", err)
	}
}
