# kubeseed: a lightweight Kubernetes in one binary.
# `make help` lists the targets. The two you need: `make up` and `make test`.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

K8S_VERSION      ?= 1.37.1
K8S_MINOR        := $(word 2,$(subst ., ,$(K8S_VERSION)))
KUBESEED_VERSION ?= v0.1.0-dev
GIT_COMMIT       := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

BIN              := $(CURDIR)/bin
ENVTEST_DIR      := $(BIN)/k8s/$(K8S_VERSION)
CONTROLLER_GEN   := $(BIN)/controller-gen
CONTROLLER_TOOLS_VERSION ?= v0.23.0
DATA_DIR         ?= /var/lib/kubeseed
# `make up` keeps every image pull on this machine (the node's mirror of
# what it imported); REGISTRY_FALLBACK=true lets the node reach real registries.
REGISTRY_FALLBACK ?= false
GO_TEST_FLAGS    ?= -count=1 -timeout=30m
# BenchmarkSimulatedScale's size under `make bench` and `make bench-scale`:
# simulated nodes and pods per node (README, Benchmarks; the issue's full
# size is SCALE_NODES=5000 SCALE_PODS_PER_NODE=30).
SCALE_NODES         ?= 1000
SCALE_PODS_PER_NODE ?= 10
SCALE_ENV := KUBESEED_SCALE_NODES=$(SCALE_NODES) KUBESEED_SCALE_PODS_PER_NODE=$(SCALE_PODS_PER_NODE)

# The component-base and client-go versions are what `kubectl version` and the
# API server's /version report; they must be a real v1.37.x, not v0.0.0-master.
LDFLAGS := -X github.com/kubeseed/kubeseed/version.Version=$(KUBESEED_VERSION) \
	-X github.com/kubeseed/kubeseed/version.GitCommit=$(GIT_COMMIT)
$(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	$(eval LDFLAGS += -X $(p).gitVersion=v$(K8S_VERSION) -X $(p).gitMajor=1 \
	-X $(p).gitMinor=$(K8S_MINOR) -X $(p).gitTreeState=clean))

IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## List every target with a one-line description.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Run

.PHONY: up
up: deps build ## Install what is missing, build, and run a whole cluster (`kubeseed up`).
	$(BIN)/kubeseed up --data-dir $(DATA_DIR) --images-dir $(BIN)/images --registry-fallback=$(REGISTRY_FALLBACK)

.PHONY: deps
deps: ## Install the Debian packages kubeseed needs (containerd, runc, CNI plugins); idempotent.
	@if [ "$(IS_ROOT)" = yes ]; then hack/install-deps.sh; \
	else hack/install-deps.sh || echo "deps: continuing without them: root-only suites and 'kubeseed up' need them"; fi

##@ Build

.PHONY: build
build: images ## Build bin/kubeseed and the demo images (bin/images).
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/kubeseed .

.PHONY: images
images: ## Build the demo images (kubeseed/echo, kubeseed/nginx-proxy, kubeseed/incluster) into bin/images.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/demo/echo ./demo/echo
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.variant=patched" -o $(BIN)/demo/echo-patched ./demo/echo
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/demo/nginx-proxy ./demo/nginx-proxy
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(BIN)/demo/incluster ./demo/incluster
	go run ./demo/mkimages -out $(BIN)/images -echo $(BIN)/demo/echo \
		-echo-patched $(BIN)/demo/echo-patched -nginx-proxy $(BIN)/demo/nginx-proxy -incluster $(BIN)/demo/incluster

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate committed generated code (deepcopy of apis/, go generate ./...).
	$(CONTROLLER_GEN) object paths="./apis/..."
	go generate ./...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Regenerate config/rbac from the +kubebuilder:rbac markers in controllers/.
	$(CONTROLLER_GEN) rbac:roleName=kubeseed-controllers paths="./controllers/..." output:rbac:artifacts:config=config/rbac

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl (v1.37.x) from the Go module proxy into bin/k8s/.
	@K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh

.PHONY: clean
clean: ## Remove build outputs (keeps bin/k8s, which is slow to rebuild; `rm -rf bin` for all).
	rm -f $(BIN)/kubeseed $(BIN)/controller-gen
	go clean -testcache

##@ Test

.PHONY: fmt
fmt: ## Format the Go sources.
	gofmt -w $$(git ls-files '*.go')

.PHONY: fmt-check
fmt-check: ## Fail when a Go source is not gofmt-clean.
	@bad=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change:"; echo "$$bad"; exit 1; fi

.PHONY: vet
vet: ## Run go vet on every package (including the e2e suites).
	go vet ./...
	go vet -tags e2e ./test/e2e/...

.PHONY: verify
verify: manifests ## Check that generated files are current (config/rbac, deepcopy of apis/, the proxy's BPF objects).
	$(CONTROLLER_GEN) object paths="./apis/..."
	@if ! git diff --quiet -- config/rbac apis; then \
		echo "verify: generated files are stale: run 'make manifests generate' and commit them"; git diff --stat -- config/rbac apis; exit 1; fi
	hack/check-bpf-generate.sh

.PHONY: test
test: deps envtest fmt-check vet verify ## Run everything: format, vet and generated-file checks, unit and envtest suites (controllers against both API servers), and the e2e suites when root.
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) go test $(GO_TEST_FLAGS) ./...
	$(MAKE) --no-print-directory test-differential
	@if [ "$(IS_ROOT)" = yes ]; then $(MAKE) --no-print-directory test-e2e; \
	else echo "test: not root: skipping the e2e suites (containers, netns, eBPF need root)"; fi

.PHONY: test-differential
test-differential: envtest ## Run the controller envtest suites against kubeseed's API server (`make test` runs them against upstream's too).
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) KUBESEED_TEST_APISERVER=kubeseed go test $(GO_TEST_FLAGS) ./controllers/... ./test/controllertest/...

.PHONY: test-e2e
test-e2e: envtest build ## Run the end-to-end suites in test/e2e (root: containers, netns, eBPF).
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) KUBESEED_BIN=$(BIN)/kubeseed KUBESEED_IMAGES=$(BIN)/images \
		go test -tags e2e $(GO_TEST_FLAGS) ./test/e2e/...

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## Fuzz the API server's decoding and validation entry points, FUZZTIME (30s) each.
	go test ./apiserver/scheme/ -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	@for t in FuzzPod FuzzDeployment FuzzService FuzzStatefulSet FuzzJob; do \
		go test ./apiserver/validation/ -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; done

.PHONY: bench
bench: envtest build ## Run the benchmarks and print their figures (as root also kubeseed up's start, BenchmarkUp).
	@ENVTEST_EXTRA="kube-scheduler kube-controller-manager" K8S_VERSION=$(K8S_VERSION) hack/setup-envtest.sh >/dev/null
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) $(SCALE_ENV) go test -run '^$$' -bench . -benchmem -timeout 2h ./...
	@if [ "$(IS_ROOT)" = yes ]; then KUBEBUILDER_ASSETS=$(ENVTEST_DIR) KUBESEED_BIN=$(BIN)/kubeseed KUBESEED_IMAGES=$(BIN)/images \
		go test -tags e2e -run '^$$' -bench . -benchtime 1x ./test/e2e/...; \
	else echo "bench: not root: skipping BenchmarkUp"; fi

.PHONY: bench-scale
bench-scale: ## Run only BenchmarkSimulatedScale: SCALE_NODES simulated nodes x SCALE_PODS_PER_NODE pods in one process.
	$(SCALE_ENV) go test -run '^$$' -bench '^BenchmarkSimulatedScale$$' -benchtime 1x -timeout 4h ./test/bench/
