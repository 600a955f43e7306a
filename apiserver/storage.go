package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	serveroptions "k8s.io/apiserver/pkg/server/options"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/kubeseed/kubeseed/apiserver/registry"
)

// storageFactory stores every resource as protobuf in its group's version,
// under upstream's key layout (/registry/pods, /registry/services/specs, ...),
// so etcd's content looks like a kube-apiserver's.
type storageFactory struct {
	serveroptions.SimpleStorageFactory
	codecs   serializer.CodecFactory
	prefixes map[schema.GroupResource]string
	versions map[string]schema.GroupVersion
}

func newStorageFactory(cfg storagebackend.Config, codecs serializer.CodecFactory) *storageFactory {
	f := &storageFactory{
		SimpleStorageFactory: serveroptions.SimpleStorageFactory{StorageConfig: cfg},
		codecs:               codecs,
		prefixes:             map[schema.GroupResource]string{},
		versions:             map[string]schema.GroupVersion{},
	}
	for _, r := range registry.Resources() {
		f.prefixes[r.GroupResource()] = r.Key()
		f.versions[r.GroupVersion.Group] = r.GroupVersion
	}
	return f
}

func (f *storageFactory) NewConfig(resource schema.GroupResource, example runtime.Object) (*storagebackend.ConfigForResource, error) {
	gv, ok := f.versions[resource.Group]
	if !ok {
		return nil, fmt.Errorf("no storage version for group %q", resource.Group)
	}
	cfg := f.StorageConfig
	codec, versioner, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
		StorageMediaType:  runtime.ContentTypeProtobuf,
		StorageSerializer: f.codecs,
		StorageVersion:    gv,
		MemoryVersion:     schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal},
		Config:            cfg,
	})
	if err != nil {
		return nil, fmt.Errorf("storage codec for %s: %w", resource, err)
	}
	cfg.Codec, cfg.EncodeVersioner = codec, versioner
	return cfg.ForResource(resource), nil
}

func (f *storageFactory) ResourcePrefix(resource schema.GroupResource) string {
	if p, ok := f.prefixes[resource]; ok {
		return p
	}
	return resource.Resource
}
