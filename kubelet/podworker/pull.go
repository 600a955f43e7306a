package podworker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Reasons of image trouble upstream reports beside the pull ones.
const (
	ReasonImageInspectError = "ImageInspectError"
	ReasonInvalidImageName  = "InvalidImageName"
)

// NewPullBackoff returns upstream's image pull back-off: 10 s after a failed
// pull, doubling up to 5 min.
func NewPullBackoff() *Backoff {
	return &Backoff{Initial: 10 * time.Second, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}
}

// PullPolicy is a container's imagePullPolicy, defaulted as the API does
// for pods that did not pass through it (static pods): Always for a
// :latest or untagged image, IfNotPresent otherwise.
func PullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	named, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		return corev1.PullIfNotPresent
	}
	if _, ok := named.(reference.Digested); ok {
		if t, ok := named.(reference.Tagged); !ok || t.Tag() != "latest" {
			return corev1.PullIfNotPresent
		}
	}
	if t, ok := named.(reference.Tagged); ok && t.Tag() != "latest" {
		return corev1.PullIfNotPresent
	}
	return corev1.PullAlways
}

// PullNeeded applies a pull policy to whether the image is on the node.
func PullNeeded(policy corev1.PullPolicy, present bool) bool {
	switch policy {
	case corev1.PullNever:
		return false
	case corev1.PullIfNotPresent:
		return !present
	default:
		return true
	}
}

// pullBackoffMessage is the waiting message of a container whose pull backs
// off: upstream keeps the error of the failed pull in it.
func pullBackoffMessage(image string, prev *corev1.ContainerStateWaiting) string {
	msg := fmt.Sprintf("Back-off pulling image %q", image)
	switch {
	case prev == nil:
		return msg
	case prev.Reason == ReasonErrImagePull:
		return msg + ": " + ReasonErrImagePull + ": " + prev.Message
	case prev.Reason == ReasonImagePullBackOff:
		return prev.Message
	}
	return msg
}

// ensureImage makes the image of c available as its pull policy says, with
// upstream's events (Pulling, Pulled, Failed, BackOff) and waiting reasons
// (ErrImagePull, then ImagePullBackOff while the back-off lasts;
// ErrImageNeverPull). ok is false when the container must wait.
func (ws *Workers) ensureImage(ctx context.Context, w *worker, pod *corev1.Pod, c *corev1.Container) (kruntime.Image, bool) {
	rt, rec := ws.cfg.Runtime, ws.cfg.Recorder
	wait := func(reason, msg string) (kruntime.Image, bool) {
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
		return kruntime.Image{}, false
	}
	if _, err := reference.ParseNormalizedNamed(c.Image); err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name %q: %v", c.Image, c.Image, err)
		rec.Eventf(pod, corev1.EventTypeWarning, ReasonInvalidImageName, "%s", msg)
		return wait(ReasonInvalidImageName, msg)
	}
	policy := PullPolicy(c)
	present := false
	var img kruntime.Image
	if policy != corev1.PullAlways {
		var err error
		img, err = rt.ImageStatus(ctx, c.Image)
		switch {
		case err == nil:
			present = true
		case errors.Is(err, kruntime.ErrImageNotPresent):
		default:
			msg := fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err)
			rec.Eventf(pod, corev1.EventTypeWarning, "InspectFailed", "%s", msg)
			return wait(ReasonImageInspectError, msg)
		}
	}
	if !PullNeeded(policy, present) {
		if present {
			rec.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
			return img, true
		}
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		rec.Eventf(pod, corev1.EventTypeWarning, ReasonErrImageNeverPull, "%s", msg)
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ReasonErrImageNeverPull)
		return wait(ReasonErrImageNeverPull, msg)
	}
	// As upstream, the back-off is per pod and image, from the last failure.
	key := string(pod.UID) + "_" + c.Image
	if in, delay := ws.cfg.PullBackoff.InBackoffSinceUpdate(key, time.Now()); in {
		eventKey := "pull/" + c.Name
		if last, ok := w.backoffEvent[eventKey]; !ok || time.Since(last) >= delay {
			w.backoffEvent[eventKey] = time.Now()
			rec.Eventf(pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ReasonImagePullBackOff)
		}
		return wait(ReasonImagePullBackOff, pullBackoffMessage(c.Image, w.waiting[c.Name]))
	}
	rec.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	img, err := rt.PullImage(ctx, c.Image)
	if err != nil {
		ws.cfg.PullBackoff.Next(key, time.Now())
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ReasonErrImagePull)
		return wait(ReasonErrImagePull, err.Error())
	}
	// No queue in front of pulls: the time including waiting is the pull's.
	took := time.Since(start).Round(time.Millisecond)
	rec.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", c.Image, took, took, img.Size)
	return img, true
}
