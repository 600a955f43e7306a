package podworker

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

// apiVars are the variables of default/kubernetes at 10.96.0.1:443.
var apiVars = map[string]string{
	"KUBERNETES_SERVICE_HOST":       "10.96.0.1",
	"KUBERNETES_SERVICE_PORT":       "443",
	"KUBERNETES_SERVICE_PORT_HTTPS": "443",
	"KUBERNETES_PORT":               "tcp://10.96.0.1:443",
	"KUBERNETES_PORT_443_TCP":       "tcp://10.96.0.1:443",
	"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
	"KUBERNETES_PORT_443_TCP_PORT":  "443",
	"KUBERNETES_PORT_443_TCP_ADDR":  "10.96.0.1",
}

func with(base map[string]string, more map[string]string) map[string]string {
	out := maps.Clone(base)
	maps.Copy(out, more)
	return out
}

func TestServiceEnv(t *testing.T) {
	api := svc("default", "kubernetes", "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	web := svc("shop", "web-front", "10.96.0.20",
		corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP})
	webVars := map[string]string{
		"WEB_FRONT_SERVICE_HOST":         "10.96.0.20",
		"WEB_FRONT_SERVICE_PORT":         "80",
		"WEB_FRONT_SERVICE_PORT_HTTP":    "80",
		"WEB_FRONT_SERVICE_PORT_DNS_UDP": "53",
		"WEB_FRONT_PORT":                 "tcp://10.96.0.20:80",
		"WEB_FRONT_PORT_80_TCP":          "tcp://10.96.0.20:80",
		"WEB_FRONT_PORT_80_TCP_PROTO":    "tcp",
		"WEB_FRONT_PORT_80_TCP_PORT":     "80",
		"WEB_FRONT_PORT_80_TCP_ADDR":     "10.96.0.20",
		"WEB_FRONT_PORT_53_UDP":          "udp://10.96.0.20:53",
		"WEB_FRONT_PORT_53_UDP_PROTO":    "udp",
		"WEB_FRONT_PORT_53_UDP_PORT":     "53",
		"WEB_FRONT_PORT_53_UDP_ADDR":     "10.96.0.20",
	}
	// One unnamed port with no protocol: TCP, and no _SERVICE_PORT_<NAME>.
	db := svc("shop", "db", "10.96.0.30", corev1.ServicePort{Port: 5432})
	dbVars := map[string]string{
		"DB_SERVICE_HOST":        "10.96.0.30",
		"DB_SERVICE_PORT":        "5432",
		"DB_PORT":                "tcp://10.96.0.30:5432",
		"DB_PORT_5432_TCP":       "tcp://10.96.0.30:5432",
		"DB_PORT_5432_TCP_PROTO": "tcp",
		"DB_PORT_5432_TCP_PORT":  "5432",
		"DB_PORT_5432_TCP_ADDR":  "10.96.0.30",
	}
	headless := svc("shop", "cache", corev1.ClusterIPNone, corev1.ServicePort{Port: 6379})
	external := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"}}
	other := svc("other", "elsewhere", "10.96.0.40", corev1.ServicePort{Port: 1})
	defaultWeb := svc("default", "web", "10.96.0.50", corev1.ServicePort{Port: 8080})
	shadow := svc("shop", "kubernetes", "10.96.0.60", corev1.ServicePort{Port: 8443})
	shadowVars := map[string]string{
		"KUBERNETES_SERVICE_HOST":        "10.96.0.60",
		"KUBERNETES_SERVICE_PORT":        "8443",
		"KUBERNETES_PORT":                "tcp://10.96.0.60:8443",
		"KUBERNETES_PORT_8443_TCP":       "tcp://10.96.0.60:8443",
		"KUBERNETES_PORT_8443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_8443_TCP_PORT":  "8443",
		"KUBERNETES_PORT_8443_TCP_ADDR":  "10.96.0.60",
	}
	all := []*corev1.Service{api, web, db, headless, external, other, defaultWeb}

	for _, tc := range []struct {
		name     string
		services []*corev1.Service
		ns       string
		links    bool
		want     map[string]string
	}{
		{"own namespace and the API", all, "shop", true, with(with(apiVars, webVars), dbVars)},
		{"links off: the API only", all, "shop", false, apiVars},
		{"default namespace", all, "default", true, with(apiVars, map[string]string{
			"WEB_SERVICE_HOST": "10.96.0.50", "WEB_SERVICE_PORT": "8080", "WEB_PORT": "tcp://10.96.0.50:8080",
			"WEB_PORT_8080_TCP": "tcp://10.96.0.50:8080", "WEB_PORT_8080_TCP_PROTO": "tcp",
			"WEB_PORT_8080_TCP_PORT": "8080", "WEB_PORT_8080_TCP_ADDR": "10.96.0.50",
		})},
		{"default namespace, links off", all, "default", false, apiVars},
		{"no services", nil, "shop", true, map[string]string{}},
		{"no API service yet", []*corev1.Service{db}, "shop", true, dbVars},
		// The pod's own kubernetes Service wins, whichever the list has first.
		{"namespace's kubernetes first", []*corev1.Service{shadow, api}, "shop", true, shadowVars},
		{"namespace's kubernetes last", []*corev1.Service{api, shadow}, "shop", true, shadowVars},
		{"namespace's kubernetes, links off", []*corev1.Service{shadow, api}, "shop", false, apiVars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ServiceEnv(tc.services, tc.ns, tc.links)
			if !maps.Equal(got, tc.want) {
				for _, k := range slices.Sorted(maps.Keys(with(got, tc.want))) {
					if got[k] != tc.want[k] {
						t.Errorf("%s = %q, want %q", k, got[k], tc.want[k])
					}
				}
			}
		})
	}
}

func TestServiceLinks(t *testing.T) {
	for _, tc := range []struct {
		set  *bool
		want bool
	}{{nil, true}, {ptr.To(true), true}, {ptr.To(false), false}} {
		if got := ServiceLinks(&corev1.Pod{Spec: corev1.PodSpec{EnableServiceLinks: tc.set}}); got != tc.want {
			t.Errorf("enableServiceLinks %v: %v, want %v", tc.set, got, tc.want)
		}
	}
}

// The container's own variables win over service ones and may refer to
// them; the rest of the service variables follow, sorted.
func TestEnvWithServices(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}}
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "KUBERNETES_SERVICE_PORT", Value: "6443"},
		{Name: "API", Value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
	}}
	services := map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "B_SERVICE_HOST": "10.96.0.2"}
	env, err := Env(t.Context(), nil, pod, c, "10.244.0.9", "192.0.2.1", services)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"KUBERNETES_SERVICE_PORT=6443", "API=https://10.96.0.1:6443", "B_SERVICE_HOST=10.96.0.2", "KUBERNETES_SERVICE_HOST=10.96.0.1"}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q\nwant  %q", env, want)
	}
}
