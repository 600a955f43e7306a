package podworker

import (
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiServiceName is the Service in the default namespace that fronts the
// API server. Every pod gets its variables whatever enableServiceLinks
// says, because client-go's in-cluster configuration reads
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
const apiServiceName = "kubernetes"

// ServiceEnv returns the service environment variables of a pod in
// namespace: those of the default namespace's kubernetes Service always,
// and, when serviceLinks is set (pod.spec.enableServiceLinks, default
// true), those of every Service of the pod's own namespace. Services
// without a cluster IP (headless, ExternalName) give none. A Service of
// the pod's namespace named kubernetes takes the place of the default
// one, as upstream's kubelet does.
func ServiceEnv(services []*corev1.Service, namespace string, serviceLinks bool) map[string]string {
	chosen := map[string]*corev1.Service{}
	for _, svc := range services {
		if !hasClusterIP(svc) {
			continue
		}
		switch {
		case svc.Namespace == namespace && serviceLinks:
			chosen[svc.Name] = svc
		case svc.Namespace == metav1.NamespaceDefault && svc.Name == apiServiceName:
			if _, ok := chosen[svc.Name]; !ok {
				chosen[svc.Name] = svc
			}
		}
	}
	env := map[string]string{}
	for _, svc := range chosen {
		serviceVars(svc, env)
	}
	return env
}

// ServiceLinks reports whether pod asks for the service variables of its
// namespace; the API defaults enableServiceLinks to true, and so does a
// pod that reaches the agent without it.
func ServiceLinks(pod *corev1.Pod) bool {
	return pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
}

func hasClusterIP(svc *corev1.Service) bool {
	ip := svc.Spec.ClusterIP
	return ip != "" && ip != corev1.ClusterIPNone && len(svc.Spec.Ports) > 0
}

// serviceVars adds one Service's variables to env: the Kubernetes ones
// (NAME_SERVICE_HOST, NAME_SERVICE_PORT and NAME_SERVICE_PORT_<PORTNAME>
// per named port) and the Docker links ones containers written for Docker
// still read (NAME_PORT, NAME_PORT_<port>_<PROTO> with _PROTO, _PORT and
// _ADDR).
func serviceVars(svc *corev1.Service, env map[string]string) {
	prefix := envName(svc.Name)
	ip := svc.Spec.ClusterIP
	env[prefix+"_SERVICE_HOST"] = ip
	env[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(svc.Spec.Ports[0].Port))
	for i, p := range svc.Spec.Ports {
		port := strconv.Itoa(int(p.Port))
		if p.Name != "" {
			env[prefix+"_SERVICE_PORT_"+envName(p.Name)] = port
		}
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			// Docker names the first port's URL without its number.
			env[prefix+"_PORT"] = url
		}
		link := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		env[link] = url
		env[link+"_PROTO"] = strings.ToLower(proto)
		env[link+"_PORT"] = port
		env[link+"_ADDR"] = ip
	}
}

// envName turns a Service or port name into the variable name part
// upstream uses: upper case, '-' becoming '_'.
func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
