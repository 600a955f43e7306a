package serviceaccount

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestFixRootCA(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	tests := []struct {
		name        string
		cm          *corev1.ConfigMap
		wantChanged bool
	}{
		{"as published", RootCAConfigMapFor("ns", ca), false},
		{"stale CA", RootCAConfigMapFor("ns", []byte("old")), true},
		{"annotation removed", func() *corev1.ConfigMap {
			cm := RootCAConfigMapFor("ns", ca)
			cm.Annotations = nil
			return cm
		}(), true},
		{"extra key added", func() *corev1.ConfigMap {
			cm := RootCAConfigMapFor("ns", ca)
			cm.Data["other"] = "x"
			return cm
		}(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FixRootCA(tt.cm, ca); got != tt.wantChanged {
				t.Errorf("FixRootCA changed = %v, want %v", got, tt.wantChanged)
			}
			if tt.cm.Data[RootCAKey] != string(ca) || len(tt.cm.Data) != 1 || tt.cm.Annotations[DescriptionAnnotation] != Description {
				t.Errorf("after FixRootCA: data %v annotations %v", tt.cm.Data, tt.cm.Annotations)
			}
		})
	}
}
