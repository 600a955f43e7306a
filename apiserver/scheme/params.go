package scheme

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// addParameterConversions decodes the query parameters of pods/log, exec,
// attach and portforward into their option types; k8s.io/api ships the types
// but not these conversions.
func addParameterConversions(s *runtime.Scheme) error {
	for _, f := range []struct {
		into any
		fn   func(url.Values, any) error
	}{
		{(*corev1.PodLogOptions)(nil), func(v url.Values, o any) error { return podLogOptions(v, o.(*corev1.PodLogOptions)) }},
		{(*corev1.PodExecOptions)(nil), func(v url.Values, o any) error { return podExecOptions(v, o.(*corev1.PodExecOptions)) }},
		{(*corev1.PodAttachOptions)(nil), func(v url.Values, o any) error { return podAttachOptions(v, o.(*corev1.PodAttachOptions)) }},
		{(*corev1.PodPortForwardOptions)(nil), func(v url.Values, o any) error {
			return podPortForwardOptions(v, o.(*corev1.PodPortForwardOptions))
		}},
	} {
		fn := f.fn
		if err := s.AddConversionFunc((*url.Values)(nil), f.into, func(a, b any, _ conversion.Scope) error {
			return fn(*a.(*url.Values), b)
		}); err != nil {
			return err
		}
	}
	return nil
}

func boolParam(v url.Values, key string, out *bool) error {
	if s := v.Get(key); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("parameter %s: %w", key, err)
		}
		*out = b
	}
	return nil
}

func int64Param(v url.Values, key string) (*int64, error) {
	s := v.Get(key)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parameter %s: %w", key, err)
	}
	return &n, nil
}

func podLogOptions(v url.Values, o *corev1.PodLogOptions) error {
	o.Container = v.Get("container")
	for key, p := range map[string]*bool{"follow": &o.Follow, "previous": &o.Previous, "timestamps": &o.Timestamps,
		"insecureSkipTLSVerifyBackend": &o.InsecureSkipTLSVerifyBackend} {
		if err := boolParam(v, key, p); err != nil {
			return err
		}
	}
	var err error
	if o.SinceSeconds, err = int64Param(v, "sinceSeconds"); err != nil {
		return err
	}
	if o.TailLines, err = int64Param(v, "tailLines"); err != nil {
		return err
	}
	if o.LimitBytes, err = int64Param(v, "limitBytes"); err != nil {
		return err
	}
	if s := v.Get("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("parameter sinceTime: %w", err)
		}
		o.SinceTime = &metav1.Time{Time: t}
	}
	if s := v.Get("stream"); s != "" {
		o.Stream = &s
	}
	return nil
}

func podExecOptions(v url.Values, o *corev1.PodExecOptions) error {
	o.Container, o.Command = v.Get("container"), v["command"]
	for key, p := range map[string]*bool{"stdin": &o.Stdin, "stdout": &o.Stdout, "stderr": &o.Stderr, "tty": &o.TTY} {
		if err := boolParam(v, key, p); err != nil {
			return err
		}
	}
	return nil
}

func podAttachOptions(v url.Values, o *corev1.PodAttachOptions) error {
	o.Container = v.Get("container")
	for key, p := range map[string]*bool{"stdin": &o.Stdin, "stdout": &o.Stdout, "stderr": &o.Stderr, "tty": &o.TTY} {
		if err := boolParam(v, key, p); err != nil {
			return err
		}
	}
	return nil
}

func podPortForwardOptions(v url.Values, o *corev1.PodPortForwardOptions) error {
	for _, s := range v["ports"] {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("parameter ports: %w", err)
		}
		o.Ports = append(o.Ports, int32(n))
	}
	return nil
}
