package credentials

import (
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// Credential is one set of credentials for an image's registry.
type Credential struct {
	Username string
	Password string
	// Secret is the image pull secret it came from (namespace/name).
	Secret string
}

// Keyring holds registry credentials by the registry key (host, or host
// and path) they are for. The zero value is empty and ready to use.
type Keyring struct {
	// keys are sorted so that the more specific of two overlapping keys
	// comes first (quay.io/team before quay.io): reverse lexical order,
	// as upstream sorts its index.
	keys  []string
	creds map[string][]Credential
}

// defaultRegistryKey is the key of the credentials docker.io images fall
// back to when no key matches them: the docker CLI writes its login for
// Docker Hub as https://index.docker.io/v1/.
const defaultRegistryKey = "index.docker.io"

// FromSecrets builds the keyring of a pod's image pull secrets, in the
// order the pod lists them. Secrets of other types are skipped; one whose
// config does not parse is an error naming it.
func FromSecrets(secrets []*corev1.Secret) (*Keyring, error) {
	k := &Keyring{}
	for _, s := range secrets {
		cfg, ok, err := FromSecret(s)
		if err != nil {
			return nil, err
		}
		if ok {
			k.Add(s.Namespace+"/"+s.Name, cfg)
		}
	}
	return k, nil
}

// Add indexes the entries of cfg, which came from source. Entries that do
// not parse as a registry are skipped, as upstream does.
func (k *Keyring) Add(source string, cfg DockerConfig) {
	if k.creds == nil {
		k.creds = map[string][]Credential{}
	}
	// Two entries may come to one key (example.com and
	// https://example.com/v1/): in name order, not map order.
	registries := make([]string, 0, len(cfg))
	for r := range cfg {
		registries = append(registries, r)
	}
	sort.Strings(registries)
	for _, r := range registries {
		key, ok := registryKey(r)
		if !ok {
			continue
		}
		if _, seen := k.creds[key]; !seen {
			k.keys = append(k.keys, key)
		}
		e := cfg[r]
		k.creds[key] = append(k.creds[key], Credential{Username: e.Username, Password: e.Password, Secret: source})
	}
	sort.Sort(sort.Reverse(sort.StringSlice(k.keys)))
}

// registryKey is the index key of a registry as a docker config spells it:
// the scheme goes, a /v1/ or /v2/ path means the host itself, another path
// stays.
func registryKey(registry string) (string, bool) {
	if !strings.HasPrefix(registry, "https://") && !strings.HasPrefix(registry, "http://") {
		registry = "https://" + registry
	}
	u, err := url.Parse(registry)
	if err != nil || u.Host == "" {
		return "", false
	}
	path := u.Path
	if strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v2/") {
		path = path[3:]
	}
	if path == "" || path == "/" {
		return u.Host, true
	}
	return u.Host + path, true
}

// Lookup returns the credentials to try for image, in order: those of every
// key that matches it, most specific key first, and, for a docker.io image
// no key matched, those of index.docker.io. Identical credentials are
// returned once. An image that does not parse has none.
func (k *Keyring) Lookup(image string) []Credential {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil
	}
	repo := named.Name()
	var out []Credential
	for _, key := range k.keys {
		if Matches(key, repo) {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) == 0 && reference.Domain(named) == "docker.io" {
		out = k.creds[defaultRegistryKey]
	}
	return dedupe(out)
}

func dedupe(creds []Credential) []Credential {
	var out []Credential
	for _, c := range creds {
		if !slices.ContainsFunc(out, func(o Credential) bool { return o.Username == c.Username && o.Password == c.Password }) {
			out = append(out, c)
		}
	}
	return out
}

// Matches reports whether a registry key (host[:port][/path], the host
// possibly with globs per dot-separated part, as *.example.com) covers a
// repository (host[:port]/path, as image names spell it): the ports are
// equal, the hosts have as many parts and each matches its glob, and the
// key's path is a prefix of the repository's.
func Matches(key, repo string) bool {
	k, err := url.Parse("https://" + key)
	if err != nil {
		return false
	}
	r, err := url.Parse("https://" + repo)
	if err != nil {
		return false
	}
	kParts, kPort := hostParts(k.Host)
	rParts, rPort := hostParts(r.Host)
	if kPort != rPort || len(kParts) != len(rParts) || !strings.HasPrefix(r.Path, k.Path) {
		return false
	}
	for i, glob := range kParts {
		if ok, err := filepath.Match(glob, rParts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func hostParts(hostport string) ([]string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}
