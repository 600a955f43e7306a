package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/proxy"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// NodeTransport is how the API server reaches node agents (kubelets) for
// logs, exec, attach and port-forward: HTTPS with the API server's client
// certificate, at the node's address and status.daemonEndpoints port, on
// upstream kubelet's paths (/containerLogs, /exec, /attach, /portForward).
type NodeTransport struct {
	Transport http.RoundTripper
}

// defaultKubeletPort is used when a node does not publish its port.
const defaultKubeletPort = 10250

// podProxy locates pods' node agents.
type podProxy struct {
	pods, nodes *genericregistry.Store
	transport   http.RoundTripper
}

// location returns the node URL for path (e.g. "containerLogs") and the pod's
// container (the only one when the request names none).
func (p *podProxy) location(ctx context.Context, name, container, path string) (*url.URL, string, error) {
	obj, err := p.pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	pod := obj.(*corev1.Pod)
	if container == "" && path != "portForward" {
		if len(pod.Spec.Containers) != 1 {
			var names []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			return nil, "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names))
		}
		container = pod.Spec.Containers[0].Name
	} else if container != "" && !hasContainer(pod, container) {
		return nil, "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", container, pod.Name))
	}
	if pod.Spec.NodeName == "" {
		return nil, "", apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	nodeCtx := genericapirequest.WithNamespace(ctx, "")
	nobj, err := p.nodes.Get(nodeCtx, pod.Spec.NodeName, &metav1.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	host, err := NodeHost(nobj.(*corev1.Node))
	if err != nil {
		return nil, "", err
	}
	u := &url.URL{Scheme: "https", Host: host, Path: "/" + path + "/" + pod.Namespace + "/" + pod.Name}
	if path != "portForward" {
		u.Path += "/" + container
	}
	return u, container, nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name {
				return true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// NodeHost picks the node's address in upstream's preference order.
func NodeHost(n *corev1.Node) (string, error) {
	port := int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = defaultKubeletPort
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeHostName, corev1.NodeInternalIP, corev1.NodeInternalDNS, corev1.NodeExternalIP, corev1.NodeExternalDNS} {
		for _, a := range n.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(port)), nil
			}
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("node %s has no address", n.Name))
}

// LogREST streams a container's log from its node.
type LogREST struct{ proxy *podProxy }

var _ rest.GetterWithOptions = &LogREST{}

func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }
func (r *LogREST) Destroy()            {}

// ProducesMIMETypes and ProducesObject tell OpenAPI the log is plain text.
func (r *LogREST) ProducesMIMETypes(string) []string { return []string{"text/plain"} }
func (r *LogREST) ProducesObject(string) any         { return "" }

func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

func (r *LogREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	o, ok := opts.(*corev1.PodLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	u, _, err := r.proxy.location(ctx, name, o.Container, "containerLogs")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.Format("2006-01-02T15:04:05Z07:00"))
	}
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.Stream != nil {
		q.Set("stream", *o.Stream)
	}
	u.RawQuery = q.Encode()
	return &genericrest.LocationStreamer{
		Location:        u,
		Transport:       r.proxy.transport,
		ContentType:     "text/plain",
		Flush:           o.Follow,
		ResponseChecker: genericrest.NewGenericHttpResponseChecker(corev1.Resource("pods/log"), name),
		RedirectChecker: genericrest.PreventRedirects,
	}, nil
}

// streamREST serves exec, attach and portforward by proxying the upgraded
// connection to the node; WebSocket clients (kubectl >= 1.30) are translated
// to SPDY as upstream's API server does, so node agents need only SPDY.
type streamREST struct {
	proxy   *podProxy
	path    string
	options func() runtime.Object
}

var _ rest.Connecter = &streamREST{}

func (r *streamREST) New() runtime.Object { return &corev1.Pod{} }
func (r *streamREST) Destroy()            {}

func (r *streamREST) NewConnectOptions() (runtime.Object, bool, string) {
	return r.options(), false, ""
}

func (r *streamREST) ConnectMethods() []string { return []string{"GET", "POST"} }

func (r *streamREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	var container string
	var streams translator.Options
	q := url.Values{}
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		container = o.Container
		streams = translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}
		for _, c := range o.Command {
			q.Add("command", c)
		}
		if len(o.Command) == 0 {
			return nil, apierrors.NewBadRequest("you must specify at least 1 command")
		}
	case *corev1.PodAttachOptions:
		container = o.Container
		streams = translator.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Tty: o.TTY}
	case *corev1.PodPortForwardOptions:
		for _, p := range o.Ports {
			q.Add("port", strconv.Itoa(int(p)))
		}
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	u, _, err := r.proxy.location(ctx, name, container, r.path)
	if err != nil {
		return nil, err
	}
	if r.path != "portForward" {
		for key, on := range map[string]bool{"input": streams.Stdin, "output": streams.Stdout, "error": streams.Stderr, "tty": streams.Tty} {
			if on {
				q.Set(key, "1")
			}
		}
	}
	u.RawQuery = q.Encode()
	handler := proxy.NewUpgradeAwareHandler(u, r.proxy.transport, false, true, proxy.NewErrorResponder(responder))
	if r.path == "portForward" {
		return translator.NewTranslatingHandler(handler, translator.NewTunnelingHandler(handler), wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
	}
	ws := translator.NewStreamTranslatorHandler(u, r.proxy.transport, 0, streams)
	return translator.NewTranslatingHandler(handler, ws, wsstream.IsWebSocketRequestWithStreamCloseProtocol), nil
}
