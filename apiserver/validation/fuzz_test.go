package validation_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/kubeseed/kubeseed/apiserver/defaults"
	"github.com/kubeseed/kubeseed/apiserver/validation"
)

// The fuzz targets feed arbitrary JSON, as a client could send it, through
// what the API server does with a decoded object: defaulting, then create
// and update validation. A panic here is a request that crashes a handler;
// they also check that an object valid at create is a valid no-op update,
// since `kubectl apply` of an unchanged manifest must never be refused.

// seed adds the project's sample manifests of kind to f's corpus, as JSON.
func seed(f *testing.F, kind string) {
	files, _ := filepath.Glob("../../config/samples/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err == nil && strings.Contains(string(j), `"kind":"`+kind+`"`) {
				f.Add(j)
			}
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"metadata":{"name":"x","namespace":"default"},"spec":{}}`))
}

// fuzzKind runs the create-then-noop-update property over objects of one kind.
func fuzzKind[T any](f *testing.F, kind string, def func(*T), create func(*T) field.ErrorList, update func(*T, *T) field.ErrorList) {
	seed(f, kind)
	f.Fuzz(func(t *testing.T, data []byte) {
		obj := new(T)
		if err := json.Unmarshal(data, obj); err != nil {
			return
		}
		def(obj)
		if errs := create(obj); len(errs) > 0 {
			_ = errs.ToAggregate().Error() // the 422 body must render too
			return
		}
		again := new(T)
		if err := json.Unmarshal(data, again); err != nil {
			t.Fatal(err)
		}
		def(again)
		if errs := update(again, obj); len(errs) > 0 {
			t.Errorf("a valid %s is refused as an unchanged update: %v", kind, errs)
		}
	})
}

func FuzzPod(f *testing.F) {
	fuzzKind(f, "Pod", defaults.Pod, validation.PodCreate, validation.PodUpdate)
}

func FuzzDeployment(f *testing.F) {
	fuzzKind(f, "Deployment", defaults.Deployment, validation.Deployment, validation.DeploymentUpdate)
}

func FuzzService(f *testing.F) {
	fuzzKind(f, "Service", defaults.Service, validation.Service, validation.ServiceUpdate)
}

func FuzzStatefulSet(f *testing.F) {
	fuzzKind(f, "StatefulSet", defaults.StatefulSet, validation.StatefulSet, validation.StatefulSetUpdate)
}

func FuzzJob(f *testing.F) {
	fuzzKind(f, "Job", defaults.Job, validation.Job, validation.JobUpdate)
}
