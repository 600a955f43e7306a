package podworker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/credentials"
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

// holdsAny says whether one of creds is among the credential identities
// (runtime.Auth.Identity) an image was pulled with.
func holdsAny(identities []string, creds []credentials.Credential) bool {
	for _, c := range creds {
		if slices.Contains(identities, (&kruntime.Auth{Username: c.Username, Password: c.Password}).Identity()) {
			return true
		}
	}
	return false
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
	// The pod's credentials for the image, read once (Secrets from the API)
	// for the access check and the pull.
	var creds []credentials.Credential
	var missing []string
	var credsErr error
	credsRead := false
	readCreds := func() {
		if !credsRead {
			creds, missing, credsErr = ws.pullCredentials(ctx, pod, c.Image)
			credsRead = true
		}
	}
	if present && len(img.Credentials) > 0 {
		// As upstream's kubelet (KubeletEnsureSecretPulledImages, on since
		// 1.35, policy NeverVerifyPreloadedImages): an image the node
		// pulled with credentials its registry asked for is for pods that
		// hold one of them; any other pod must ask the registry itself
		// (IfNotPresent), or is told, as if the image were not there, that
		// it is not present (Never).
		readCreds()
		if credsErr != nil || !holdsAny(img.Credentials, creds) {
			present = false
		}
	}
	if !PullNeeded(policy, present) {
		if present {
			rec.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine and can be accessed by the pod", c.Image)
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
		w.wakeIn(time.Until(ws.cfg.PullBackoff.RetryAt(key)))
		eventKey := "pull/" + c.Name
		if last, ok := w.backoffEvent[eventKey]; !ok || time.Since(last) >= delay {
			w.backoffEvent[eventKey] = time.Now()
			rec.Eventf(pod, corev1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
			rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ReasonImagePullBackOff)
		}
		return wait(ReasonImagePullBackOff, pullBackoffMessage(c.Image, w.waiting[c.Name]))
	}
	failed := func(err error) (kruntime.Image, bool) {
		ws.cfg.PullBackoff.Next(key, time.Now())
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", ReasonErrImagePull)
		return wait(ReasonErrImagePull, err.Error())
	}
	readCreds()
	if err := credsErr; err != nil {
		// A secret that does not parse: no pull could use it. (Upstream
		// reports the parse error itself as the waiting reason; here it is
		// a failed pull, with its back-off, naming the secret.)
		return failed(err)
	}
	rec.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	img, err := ws.pull(ctx, c.Image, creds)
	if err != nil {
		img, ok := failed(err)
		// As upstream, after the failure: the secrets the pull went without.
		if len(missing) > 0 {
			rec.Eventf(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
				"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
		}
		return img, ok
	}
	// No queue in front of pulls: the time including waiting is the pull's.
	took := time.Since(start).Round(time.Millisecond)
	rec.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", c.Image, took, took, img.Size)
	return img, true
}

// pullCredentials reads the pod's image pull secrets (from the API, as the
// secrets of volumes and environment variables are read) and returns the
// credentials that apply to image, in the order to try them. As upstream, a
// secret that cannot be read is not fatal: it is logged and named in
// missing, and the pull goes on without it. A secret whose docker config
// does not parse is an error naming it.
func (ws *Workers) pullCredentials(ctx context.Context, pod *corev1.Pod, image string) ([]credentials.Credential, []string, error) {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return nil, nil, nil
	}
	var secrets []*corev1.Secret
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			// The API accepts entries without a name; they name nothing.
			continue
		}
		s, err := ws.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			klog.FromContext(ctx).Info("Unable to retrieve pull secret, the image pull may not succeed.",
				"pod", klog.KObj(pod), "secret", klog.KRef(pod.Namespace, ref.Name), "err", err)
			missing = append(missing, ref.Name)
			continue
		}
		secrets = append(secrets, s)
	}
	keyring, err := credentials.FromSecrets(secrets)
	if err != nil {
		return nil, missing, err
	}
	return keyring.Lookup(image), missing, nil
}

// pull pulls image anonymously when no credentials apply, else with each of
// creds in turn until one succeeds, as upstream's runtime manager does (never
// anonymously then: the registry asked for credentials these answer).
func (ws *Workers) pull(ctx context.Context, image string, creds []credentials.Credential) (kruntime.Image, error) {
	rt := ws.cfg.Runtime
	if len(creds) == 0 {
		return rt.PullImage(ctx, image, nil)
	}
	var errs []error
	for _, c := range creds {
		img, err := rt.PullImage(ctx, image, &kruntime.Auth{Username: c.Username, Password: c.Password})
		if err == nil {
			return img, nil
		}
		errs = append(errs, err)
	}
	return kruntime.Image{}, utilerrors.NewAggregate(errs)
}
