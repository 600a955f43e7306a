package credentials

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Entry is one registry's credentials in a docker config.
type Entry struct {
	Username string
	Password string
}

// DockerConfig maps a registry, as docker config files spell it (a host,
// host/path, a URL, a glob such as *.example.com), to its credentials.
type DockerConfig map[string]Entry

// entryJSON is an entry as the files hold it.
type entryJSON struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// ParseDockercfg reads the legacy .dockercfg form: the map of registries.
func ParseDockercfg(data []byte) (DockerConfig, error) {
	var raw map[string]entryJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	return entries(raw)
}

// ParseDockerConfigJSON reads the .dockerconfigjson form (a docker CLI
// config.json): the map of registries under "auths".
func ParseDockerConfigJSON(data []byte) (DockerConfig, error) {
	var raw struct {
		Auths map[string]entryJSON `json:"auths"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	return entries(raw.Auths)
}

func entries(raw map[string]entryJSON) (DockerConfig, error) {
	cfg := DockerConfig{}
	for registry, e := range raw {
		entry := Entry{Username: e.Username, Password: e.Password}
		if e.Auth != "" {
			user, password, err := decodeAuth(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry %q: %w", registry, err)
			}
			entry = Entry{Username: user, Password: password}
		}
		cfg[registry] = entry
	}
	return cfg, nil
}

// decodeAuth splits the auth field, base64 of user:password, padded or not
// (both circulate).
func decodeAuth(field string) (string, string, error) {
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(field), "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(field)
	if err != nil {
		return "", "", fmt.Errorf("decoding auth field: %w", err)
	}
	user, password, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errors.New("unable to parse auth field, must be formatted as base64(username:password)")
	}
	return user, password, nil
}

// FromSecret reads the docker config of an image pull secret. ok is false
// for a secret of another type or without its key (which upstream ignores);
// a config that does not parse is an error naming the secret.
func FromSecret(s *corev1.Secret) (cfg DockerConfig, ok bool, err error) {
	var key string
	var parse func([]byte) (DockerConfig, error)
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		key, parse = corev1.DockerConfigJsonKey, ParseDockerConfigJSON
	case corev1.SecretTypeDockercfg:
		key, parse = corev1.DockerConfigKey, ParseDockercfg
	default:
		return nil, false, nil
	}
	data := s.Data[key]
	if len(data) == 0 {
		return nil, false, nil
	}
	cfg, err = parse(data)
	if err != nil {
		return nil, false, fmt.Errorf("image pull secret %s/%s: reading %s: %w", s.Namespace, s.Name, key, err)
	}
	return cfg, true, nil
}
