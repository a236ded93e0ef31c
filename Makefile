# The platform's entry points. Everything takes ENVIRONMENT (a folder under environments/).
#   make all                       bundle, then every layer of the embedded `local` default (AWS emulator)
#   make all ENVIRONMENT=prod      the same against the real account of environments/prod
#   make render ENVIRONMENT=prod   every helm_release rendered with Helm 3 into cdktf.out/rendered/, schema- and policy-checked
#   make diff STACK=post-install   plan of one stack (bootstrap|cluster|post-install|route53|workload-<name>|workload-<name>-apps)
#   make plan ENVIRONMENT=prod     saved plans of every stack (or STACK=...) with summaries; make apply-plan applies exactly them
#   make drift ENVIRONMENT=prod    plan every stack; exit 1 and list what differs when any plan is not empty
#   make destroy AUTO_APPROVE=1    every stack in reverse order, without asking
ENVIRONMENT ?= local
STACK ?= cluster
# plan, apply-plan, drift and destroy take every stack unless STACK is given.
PLAN_STACK := $(if $(filter command line environment environment override,$(origin STACK)),$(STACK),all)
AUTO_APPROVE ?=
# No call to HashiCorp's version-check service from cdktf or terraform (offline runs stay quiet).
CHECKPOINT_DISABLE := 1
export ENVIRONMENT AUTO_APPROVE CONFIRM CHECKPOINT_DISABLE PLAN_DIR TO WORKLOAD PROVISIONER_URL TIME

NODE_BIN := node_modules/.bin
TSX := $(NODE_BIN)/tsx
DEPLOY := $(TSX) scripts/deploy.ts

.DEFAULT_GOAL := help
.PHONY: help install bundle synth render validate upgrade upgrade-check test diff plan apply-plan drift bootstrap cluster post-install route53 workloads register-workloads restore-db decommission all destroy local-down clean bench

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

install: ## install the pinned toolchain and libraries (npm ci)
	npm ci

$(TSX):
	@echo "Dependencies are not installed: run 'make install' (npm ci) first." >&2; exit 1

bundle: $(TSX) ## build the Lambda and CronJob bundles and the precompiled cdktf app with esbuild (dist/)
	$(TSX) scripts/bundle.ts

synth: $(TSX) ## synthesize the stacks of ENVIRONMENT into cdktf.out/ and list them (the app cdktf runs; rebuilds stale bundles)
	$(shell node -p "require('./cdktf.json').app")

render: bundle ## render every helm_release of ENVIRONMENT with Helm 3 into cdktf.out/rendered/<stack>/<release>.yaml, then schema and policy checks
	$(TSX) scripts/render.ts

validate: bundle ## deploy-order, policy, render + schema + Kubernetes policy check + terraform init + validate every stack of ENVIRONMENT against the offline AWS provider
	$(TSX) scripts/validate.ts

upgrade: bundle ## ordered Kubernetes minor upgrade of ENVIRONMENT (or WORKLOAD=<name>): per cluster the control plane, add-ons, node groups, then the rest and its Kubernetes phase; shows each plan, asks, waits for ACTIVE
	$(DEPLOY) upgrade $(or $(WORKLOAD),all)

upgrade-check: bundle ## offline: can ENVIRONMENT (or WORKLOAD) move to Kubernetes TO=<minor> (or TO=next)? removed APIs, chart kubeVersion, releases per minor, version skew; exit 1 on any
	$(TSX) scripts/upgrade-check.ts

test: $(TSX) ## the full test suite (typecheck, bundle, jest, terraform validate of all environments)
	npm test

diff: bundle ## plan of STACK in ENVIRONMENT (e.g. make diff STACK=route53 ENVIRONMENT=prod; on local, against a KEEP_EMULATOR=1 rehearsal)
	$(DEPLOY) diff $(STACK)

plan: bundle ## saved plans of STACK (default: every stack) of ENVIRONMENT into .state/<env>/plans (PLAN_DIR=...), with a readable summary of each and summary.md
	$(DEPLOY) plan $(PLAN_STACK)

apply-plan: bundle ## apply exactly the saved plans of make plan (refuses another commit, changed code or a stale state; asks unless AUTO_APPROVE=1)
	$(DEPLOY) apply-plan $(PLAN_STACK)

drift: bundle ## plan every stack of ENVIRONMENT against what exists; exit 1 and list the stacks and resources that differ (on local, against a KEEP_EMULATOR=1 rehearsal)
	$(DEPLOY) drift $(PLAN_STACK)

bootstrap: $(TSX) ## create the state bucket of ENVIRONMENT; on a real account its own state then moves into that bucket
	$(DEPLOY) apply bootstrap

cluster: bundle ## C&C layer 1: VPC, EKS, IAM, KMS, DNS-registration Lambda
	$(DEPLOY) apply cluster

post-install: bundle ## C&C layer 2: monitoring, logging, ingress/auth, provisioner, store discovery
	$(DEPLOY) apply post-install

route53: $(TSX) ## C&C layer 3: DNS names for every app (prints the URLs)
	$(DEPLOY) apply route53

workloads: bundle ## every workload cluster of ENVIRONMENT (AWS phase, then -apps), route53 for their names, then registration with the provisioner
	$(DEPLOY) apply workloads

register-workloads: $(TSX) ## store each workload's kubeconfig in Secrets Manager and import it into the provisioner (idempotent; DRY_RUN=1 prints only)
	$(DEPLOY) register all

restore-db: bundle ## restore the provisioner's database of ENVIRONMENT to TIME=<RFC3339> as a new instance and switch the provisioner to it (a reviewed post-install plan; writes environments/<env>/database-restores.json: commit it)
	$(DEPLOY) restore-db

decommission: bundle ## remove workload WORKLOAD of ENVIRONMENT: refused while installations run on it; else unregister it, delete its kubeconfig secret, destroy -apps then its AWS phase, check its DNS names are gone (real: CONFIRM=<env>-<workload>)
	$(DEPLOY) decommission $(WORKLOAD)

all: bundle ## bundle, then bootstrap, cluster, post-install, each workload (AWS phase, then apps), route53, in order (full output in .state/<env>/logs/; VERBOSE=1 prints it)
	$(DEPLOY) apply all

destroy: $(TSX) ## destroy every stack of ENVIRONMENT (or STACK=...) in reverse order (asks unless AUTO_APPROVE=1; a real environment also needs CONFIRM=<env>; bootstrap's state is moved out of its bucket first)
	$(DEPLOY) destroy $(PLAN_STACK)

local-down: $(TSX) ## stop a left-over local AWS emulator started by make all
	$(DEPLOY) local-down

bench: $(TSX) ## synth, bundle and service benchmarks (prints figures)
	npm run bench

clean: ## remove build output (cdktf.out, dist); state in .state/ is kept
	rm -rf cdktf.out dist node_modules/.cache/cnc-platform/rehearsal
