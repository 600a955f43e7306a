package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/apiserver/allocator"
)

// ServiceAllocators hands out cluster IPs and node ports to services.
type ServiceAllocators struct {
	IPs   *allocator.Allocator
	Ports *allocator.Allocator
}

// install hooks allocation into the services store: claim on create and
// update, release when a create fails or a service goes away.
func (a *ServiceAllocators) install(store *genericregistry.Store) {
	store.BeginCreate = a.beginCreate
	store.BeginUpdate = a.beginUpdate
	store.AfterDelete = a.afterDelete
}

var serviceKind = corev1.SchemeGroupVersion.WithKind("Service").GroupKind()

func owner(ctx context.Context, svc *corev1.Service) string {
	ns := svc.Namespace
	if ns == "" {
		ns, _ = genericapirequest.NamespaceFrom(ctx)
	}
	return ns + "/" + svc.Name
}

// claims records what one request allocated, to undo it if the request fails.
type claims struct {
	a          *ServiceAllocators
	ips, ports []string
}

func (c *claims) release(ctx context.Context) {
	for _, ip := range c.ips {
		if err := c.a.IPs.Release(ctx, ip); err != nil {
			klog.FromContext(ctx).Error(err, "Releasing service IP", "ip", ip)
		}
	}
	for _, p := range c.ports {
		if err := c.a.Ports.Release(ctx, p); err != nil {
			klog.FromContext(ctx).Error(err, "Releasing node port", "port", p)
		}
	}
}

func (c *claims) finish(dryRun bool) genericregistry.FinishFunc {
	return func(ctx context.Context, success bool) {
		if !success || dryRun {
			c.release(context.WithoutCancel(ctx))
		}
	}
}

func (a *ServiceAllocators) beginCreate(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	svc := obj.(*corev1.Service)
	c := &claims{a: a}
	if err := a.allocate(ctx, svc, nil, c); err != nil {
		c.release(context.WithoutCancel(ctx))
		return nil, err
	}
	return c.finish(len(options.DryRun) > 0), nil
}

func (a *ServiceAllocators) beginUpdate(ctx context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
	keepAllocated(svc, oldSvc)
	c := &claims{a: a}
	if err := a.allocate(ctx, svc, oldSvc, c); err != nil {
		c.release(context.WithoutCancel(ctx))
		return nil, err
	}
	dryRun := len(options.DryRun) > 0
	return func(ctx context.Context, success bool) {
		c.finish(dryRun)(ctx, success)
		if success && !dryRun {
			// Values the old service held and the new one dropped go back to the pool.
			drop := &claims{a: a}
			if !hasClusterIP(svc) || svc.Spec.ClusterIP != oldSvc.Spec.ClusterIP {
				if hasClusterIP(oldSvc) {
					drop.ips = append(drop.ips, oldSvc.Spec.ClusterIP)
				}
			}
			kept := map[int32]bool{}
			for _, p := range svc.Spec.Ports {
				kept[p.NodePort] = true
			}
			for _, p := range oldSvc.Spec.Ports {
				if p.NodePort != 0 && !kept[p.NodePort] {
					drop.ports = append(drop.ports, strconv.Itoa(int(p.NodePort)))
				}
			}
			drop.release(context.WithoutCancel(ctx))
		}
	}, nil
}

func (a *ServiceAllocators) afterDelete(obj runtime.Object, _ *metav1.DeleteOptions) {
	svc := obj.(*corev1.Service)
	c := &claims{a: a}
	if hasClusterIP(svc) {
		c.ips = append(c.ips, svc.Spec.ClusterIP)
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			c.ports = append(c.ports, strconv.Itoa(int(p.NodePort)))
		}
	}
	c.release(context.Background())
}

func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone && s.Spec.Type != corev1.ServiceTypeExternalName
}

// keepAllocated carries allocated values into an update that left them out,
// as upstream does, so a PUT of a manifest without clusterIP works.
func keepAllocated(svc, old *corev1.Service) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = old.Spec.IPFamilies
	}
	if svc.Spec.IPFamilyPolicy == nil {
		svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
	}
	if needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, o := range old.Spec.Ports {
				if o.Port == p.Port && o.Protocol == p.Protocol {
					p.NodePort = o.NodePort
				}
			}
		}
	}
}

func needsNodePorts(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeLoadBalancer && ptr.Deref(s.Spec.AllocateLoadBalancerNodePorts, true))
}

// allocate fills in and claims the service's cluster IP and node ports; old is
// nil on create. Values already held by old are not claimed again.
func (a *ServiceAllocators) allocate(ctx context.Context, svc, old *corev1.Service, c *claims) error {
	who := owner(ctx, svc)
	spec := field.NewPath("spec")
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		switch {
		case svc.Spec.ClusterIP == "":
			ip, err := a.IPs.Allocate(ctx, who)
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %w", err))
			}
			c.ips = append(c.ips, ip)
			svc.Spec.ClusterIP = ip
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		case old == nil || old.Spec.ClusterIP != svc.Spec.ClusterIP:
			ip := svc.Spec.ClusterIP
			if err := a.IPs.Claim(ctx, ip, who); err != nil {
				msg := fmt.Sprintf("failed to allocate IP %s: %v", ip, err)
				switch {
				case errors.Is(err, allocator.ErrAllocated):
					msg = fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)
				case errors.Is(err, allocator.ErrNotInRange):
					msg = fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, a.IPs.Range)
				}
				return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(spec.Child("clusterIPs").Index(0), ip, msg)})
			}
			c.ips = append(c.ips, ip)
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
		}
	}
	if !needsNodePorts(svc) {
		// Upstream clears node ports a ClusterIP service may not have.
		if svc.Spec.Type == corev1.ServiceTypeClusterIP && old != nil && needsNodePorts(old) {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
		return nil
	}
	held := map[int32]bool{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			held[p.NodePort] = true
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := spec.Child("ports").Index(i).Child("nodePort")
		if p.NodePort == 0 {
			v, err := a.Ports.Allocate(ctx, who)
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %w", err))
			}
			c.ports = append(c.ports, v)
			n, _ := strconv.Atoi(v)
			p.NodePort = int32(n)
			continue
		}
		if held[p.NodePort] {
			continue
		}
		v := strconv.Itoa(int(p.NodePort))
		if err := a.Ports.Claim(ctx, v, who); err != nil {
			msg := err.Error()
			switch {
			case errors.Is(err, allocator.ErrAllocated):
				msg = "provided port is already allocated"
			case errors.Is(err, allocator.ErrNotInRange):
				msg = "provided port is not in the valid range. The range of valid ports is " + a.Ports.Range.String()
			}
			return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(path, p.NodePort, msg)})
		}
		c.ports = append(c.ports, v)
		held[p.NodePort] = true
	}
	return nil
}

// Repair releases allocations no service holds, e.g. after the process died
// between claiming a value and storing the service. services must have been
// listed at etcd revision rev.
func (a *ServiceAllocators) Repair(ctx context.Context, services []corev1.Service, rev int64) error {
	ips, ports := map[string]bool{}, map[string]bool{}
	for i := range services {
		if hasClusterIP(&services[i]) {
			ips[services[i].Spec.ClusterIP] = true
		}
		for _, p := range services[i].Spec.Ports {
			if p.NodePort != 0 {
				ports[strconv.Itoa(int(p.NodePort))] = true
			}
		}
	}
	for _, x := range []struct {
		alloc *allocator.Allocator
		inUse map[string]bool
	}{{a.IPs, ips}, {a.Ports, ports}} {
		claims, err := x.alloc.Claims(ctx)
		if err != nil {
			return err
		}
		for _, v := range allocator.Leaked(claims, x.inUse, rev) {
			klog.FromContext(ctx).Info("Releasing leaked service allocation", "value", v, "owner", claims[v].Owner)
			if err := x.alloc.Release(ctx, v); err != nil {
				return err
			}
		}
	}
	return nil
}
