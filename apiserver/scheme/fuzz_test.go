package scheme_test

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/kubeseed/kubeseed/apiserver/scheme"
)

// FuzzDecode feeds arbitrary request bodies to the serving scheme's decoders
// (JSON, YAML and protobuf, chosen by content as the server does for a body
// it was told is any of them): malformed input must come back as an error,
// never a panic, and what decodes must encode again.
func FuzzDecode(f *testing.F) {
	s, err := scheme.New()
	if err != nil {
		f.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(s)
	decoder := codecs.UniversalDeserializer()
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`,
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 3\n",
		`{"apiVersion":"batch/v1","kind":"Job","spec":{"template":{"spec":{"restartPolicy":"Never"}}}}`,
		"k8s\x00\n\x0b\n\x02v1\x12\x05Service",
		`{"apiVersion":"v1","kind":"List","items":[{}]}`,
	} {
		f.Add([]byte(seed))
	}
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		f.Fatal("no JSON serializer")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, gvk, err := decoder.Decode(data, nil, nil)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := info.Serializer.Encode(obj, &buf); err != nil {
			t.Errorf("decoded %s does not encode: %v", gvk, err)
		}
	})
}
