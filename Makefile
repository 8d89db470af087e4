# The daily commands, as the original's Makefile had them. STACK picks the stack:
#   make up STACK=production
STACK ?= development
# Production's Grafana password lives only in the Mac's stack file; offline commands
# take it as set.
OFFLINE_SECRETS := --assume-secret lamina:grafana.adminPassword
LAMINA := go run ./cmd/lamina

.DEFAULT_GOAL := help
.PHONY: help doctor up recover preview destroy test tools e2e install-time compact-time check format render graph hosts endpoints kubeconfig smoke promote build-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

doctor: ## check this Mac for the stack before anything changes
	$(LAMINA) doctor -s $(STACK)

up: doctor ## lamina doctor, lamina recover (after a killed run), then pulumi up the stack (STACK=development; created when missing) with the policy pack
	pulumi stack select --create $(STACK)
	$(LAMINA) recover -s $(STACK)
	pulumi up -s $(STACK) --policy-pack policy

recover: ## repair the stack after a pulumi up was killed (docs/operations.md); make up runs it first
	$(LAMINA) recover -s $(STACK)

preview: ## pulumi preview the stack with the policy pack and a diff
	pulumi preview -s $(STACK) --policy-pack policy --diff

destroy: ## pulumi destroy the stack; host data stays (docs/how-it-works.md)
	pulumi destroy -s $(STACK)

test: ## go test ./... (the README's test command)
	go test ./...

# The tool cache (internal/e2e/toolcache.sh): one entry per tool, outside the clone.
TOOL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/lamina

tools: ## build every tool the engine and conformance tests run into the tool cache, in the background; first thing on a fresh machine
	@mkdir -p $(TOOL_CACHE)
	@setsid nohup nice -n 19 internal/e2e/build-tools.sh internal/e2e/bin >$(TOOL_CACHE)/build-tools.log 2>&1 </dev/null &
	@echo "building the tools in the background (about 40 minutes cold on 2 cores; nothing when cached): tail -f $(TOOL_CACHE)/build-tools.log"

e2e: ## the stacks through the real Pulumi CLI and providers on a simulated cluster (internal/e2e); tools from the cache
	internal/e2e/run.sh

install-time: ## time pulumi up from nothing with realistic step durations on the simulated cluster (PROGRAM=<checkout>, IMAGE_PULL=10s)
	cd internal/e2e && ./build-tools.sh bin && go test -v -run '^$$' -bench UpFromNothing -benchtime 1x -timeout 90m \
		-args -delays realistic $(if $(PROGRAM),-program $(abspath $(PROGRAM))) $(if $(IMAGE_PULL),-image-pull $(IMAGE_PULL))

compact-time: ## time the compact stack's up from nothing and with no change on a real Docker engine, with where the time goes (as root)
	cd internal/e2e && ./build-tools.sh bin && go test -v -run '^$$' -bench CompactUp -benchtime 3x -timeout 60m

check: ## gofmt, go vet, the tests, and the policy pack on every stack
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: run make format"; exit 1; }
	go vet ./...
	go test ./...
	$(LAMINA) check -s development $(OFFLINE_SECRETS)
	$(LAMINA) check -s production $(OFFLINE_SECRETS)
	$(LAMINA) check -s staging $(OFFLINE_SECRETS)
	$(LAMINA) check -s compact $(OFFLINE_SECRETS)

format: ## gofmt -w every Go file
	gofmt -w .

render: ## print every Kubernetes object the stack declares, offline
	$(LAMINA) render -s $(STACK) --format yaml $(OFFLINE_SECRETS)

graph: ## the stack's install order and critical path (Mermaid)
	$(LAMINA) graph -s $(STACK) $(OFFLINE_SECRETS)

hosts: ## write the stack's hostnames into /etc/hosts (through sudo)
	pulumi stack output --json --show-secrets -s $(STACK) | $(LAMINA) hosts --apply --sudo

endpoints: ## the stack's URLs
	pulumi stack output --json -s $(STACK) | $(LAMINA) endpoints

kubeconfig: ## write ~/.kube/lamina-$(STACK), mode 0600
	pulumi stack output --json --show-secrets -s $(STACK) | $(LAMINA) kubeconfig

smoke: ## request every URL through the gateway; fails when a service does not answer
	pulumi stack output --json -s $(STACK) | $(LAMINA) smoke $(SMOKE_FLAGS)

promote: ## smoke-test staging, then pulumi up production on the images staging ran (lamina:images.promoteFrom staging)
	pulumi stack output --json -s staging | $(LAMINA) smoke $(SMOKE_FLAGS)
	@test "$$(pulumi config get --path lamina:images.promoteFrom -s production 2>/dev/null)" = staging || \
		{ echo "production does not promote from staging; once: pulumi config set --path lamina:images.promoteFrom staging -s production"; exit 1; }
	pulumi up -s production --policy-pack policy

build-check: ## make check of a commit of the Lamina checkout (COMMIT=<id>, default HEAD) in the build tier's image on production's daemon, as CI and the Job run it
	pulumi stack output --json -s production | $(LAMINA) build-check -s production $(if $(COMMIT),--commit $(COMMIT))
