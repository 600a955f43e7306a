package endpoints_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestEndpointsFollowPodReadiness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "readiness"
	setup(t, ctx, ns)
	svc := service(ns, "web")
	if err := k8sClient.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	a := runPod(t, ctx, ns, "a", "10.244.0.10", true, 8080)
	b := runPod(t, ctx, ns, "b", "10.244.0.11", false, 9090)

	eventually(t, ctx, "slices show a ready, b not ready", func() error {
		eps, slices, err := sliceEndpoints(ctx, ns, "web")
		if err != nil {
			return err
		}
		if len(eps) != 2 || !*eps["a"].Conditions.Ready || *eps["b"].Conditions.Ready {
			return fmt.Errorf("endpoints %+v", eps)
		}
		for _, s := range slices {
			if s.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" || s.AddressType != discoveryv1.AddressTypeIPv4 ||
				s.GenerateName != "web-" || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != svc.UID {
				return fmt.Errorf("slice %s: labels %v, addressType %s, generateName %q, owners %+v", s.Name, s.Labels, s.AddressType, s.GenerateName, s.OwnerReferences)
			}
			// Named target port resolved per pod: a and b are in different slices.
			if len(s.Ports) != 1 || len(s.Endpoints) != 1 {
				return fmt.Errorf("slice %s ports %+v endpoints %d: want pods with different ports apart", s.Name, s.Ports, len(s.Endpoints))
			}
			want := map[string]int32{"a": 8080, "b": 9090}[s.Endpoints[0].TargetRef.Name]
			if *s.Ports[0].Port != want || *s.Ports[0].Name != "http" {
				return fmt.Errorf("slice for %s has port %d, want %d", s.Endpoints[0].TargetRef.Name, *s.Ports[0].Port, want)
			}
		}
		if e := eps["a"]; e.NodeName == nil || *e.NodeName != "node-"+ns || e.Addresses[0] != "10.244.0.10" {
			return fmt.Errorf("endpoint a %+v", e)
		}
		return nil
	})
	eventually(t, ctx, "legacy endpoints show a ready, b not ready", func() error {
		var ep corev1.Endpoints
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(svc), &ep); err != nil {
			return err
		}
		var ready, notReady []string
		for _, s := range ep.Subsets {
			for _, a := range s.Addresses {
				ready = append(ready, a.IP)
			}
			for _, a := range s.NotReadyAddresses {
				notReady = append(notReady, a.IP)
			}
		}
		if fmt.Sprint(ready) != "[10.244.0.10]" || fmt.Sprint(notReady) != "[10.244.0.11]" {
			return fmt.Errorf("ready %v not ready %v", ready, notReady)
		}
		return nil
	})

	// b turns ready, a turns unready.
	setReady(t, ctx, b, "10.244.0.11", true)
	setReady(t, ctx, a, "10.244.0.10", false)
	eventually(t, ctx, "readiness flips follow", func() error {
		eps, _, err := sliceEndpoints(ctx, ns, "web")
		if err != nil {
			return err
		}
		if len(eps) != 2 || *eps["a"].Conditions.Ready || !*eps["b"].Conditions.Ready {
			return fmt.Errorf("endpoints %+v", eps)
		}
		return nil
	})

	// A deleted pod leaves both.
	if err := k8sClient.Delete(ctx, a, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "deleted pod leaves", func() error {
		eps, _, err := sliceEndpoints(ctx, ns, "web")
		if err != nil {
			return err
		}
		if _, ok := eps["a"]; ok || len(eps) != 1 {
			return fmt.Errorf("endpoints %+v", eps)
		}
		var ep corev1.Endpoints
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(svc), &ep); err != nil {
			return err
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != "10.244.0.11" {
			return fmt.Errorf("legacy subsets %+v", ep.Subsets)
		}
		return nil
	})
}

func TestPublishNotReadyHeadlessAndSelectorless(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "kinds"
	setup(t, ctx, ns)
	headless := service(ns, "db", func(s *corev1.Service) {
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.PublishNotReadyAddresses = true
	})
	manual := service(ns, "manual", func(s *corev1.Service) { s.Spec.Selector = nil })
	for _, s := range []*corev1.Service{headless, manual} {
		if err := k8sClient.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	runPod(t, ctx, ns, "starting", "10.244.1.10", false, 5432)
	eventually(t, ctx, "not-ready pod published for the headless service", func() error {
		eps, slices, err := sliceEndpoints(ctx, ns, "db")
		if err != nil {
			return err
		}
		e, ok := eps["starting"]
		if !ok || !*e.Conditions.Ready || *e.Conditions.Serving {
			return fmt.Errorf("endpoints %+v", eps)
		}
		if _, ok := slices[0].Labels[corev1.IsHeadlessService]; !ok {
			return fmt.Errorf("slice labels %v: want the headless label", slices[0].Labels)
		}
		var ep corev1.Endpoints
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(headless), &ep); err != nil {
			return err
		}
		if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 {
			return fmt.Errorf("legacy subsets %+v", ep.Subsets)
		}
		return nil
	})
	// The selector-less service gets nothing from the controller.
	time.Sleep(time.Second)
	var ep corev1.Endpoints
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(manual), &ep); err == nil {
		t.Errorf("controller wrote endpoints for a service without selector: %+v", ep)
	}
	if _, slices, _ := sliceEndpoints(ctx, ns, "manual"); len(slices) != 0 {
		t.Errorf("controller wrote %d slices for a service without selector", len(slices))
	}
}

func TestLargeServiceIsSplitIntoSlicesOf100(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const ns = "large"
	setup(t, ctx, ns)
	if err := k8sClient.Create(ctx, service(ns, "web")); err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		runPod(t, ctx, ns, fmt.Sprintf("p%03d", i), fmt.Sprintf("10.244.2.%d", i+1), true, 8080)
	}
	eventually(t, ctx, "150 endpoints in two slices", func() error {
		eps, slices, err := sliceEndpoints(ctx, ns, "web")
		if err != nil {
			return err
		}
		if len(eps) != 150 || len(slices) != 2 {
			return fmt.Errorf("%d endpoints in %d slices", len(eps), len(slices))
		}
		for _, s := range slices {
			if len(s.Endpoints) > 100 {
				return fmt.Errorf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
			}
		}
		return nil
	})
}
