#!/usr/bin/env bash
# The decommissioning rehearsal (.ci/run, after `KEEP_EMULATOR=1 make all ENVIRONMENT=<env>`),
# against the emulator that run left running and a stand-in of the provisioner's API
# (scripts/lib/provisioner-stand-in.ts):
#   1. `make register-workloads` against the stand-in: the kubeconfig secret is written to the
#      emulator and the cluster imported;
#   2. an installation on the cluster: `make decommission` must refuse, naming it, and change nothing;
#   3. a copy of the environment without the workload: `make validate` must warn about its orphaned state;
#   4. the installation moved away: `make decommission` unregisters the cluster, deletes the secret,
#      destroys both stacks, and no DNS name of the workload is left.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_NAME="${1:-local}"
TSX=node_modules/.bin/tsx
logs=".state/${ENV_NAME}/logs"
mkdir -p "$logs"
fail() { echo "decommission rehearsal: $*" >&2; exit 1; }

port=$(node -p "require('./.state/${ENV_NAME}/emulator.json').port")
unset AWS_PROFILE
export AWS_ENDPOINT_URL="http://127.0.0.1:${port}" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1

workload=$(ENVIRONMENT="$ENV_NAME" $TSX scripts/stacks.ts | sed -n "s/^${ENV_NAME}-workload-\(.*\)-apps\$/\1/p" | head -1)
[ -n "$workload" ] || fail "environment ${ENV_NAME} declares no workload"
stack="${ENV_NAME}-workload-${workload}"

work=$(mktemp -d)
$TSX scripts/provisioner-stand-in.ts 0 > "$work/url" &
standin=$!
trap 'kill $standin 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/url" ] && break; sleep 0.2; done
export PROVISIONER_URL=$(head -1 "$work/url")
[ -n "$PROVISIONER_URL" ] || fail "the provisioner API stand-in did not start"
echo "provisioner API stand-in at $PROVISIONER_URL"
api() { curl -fsS "$@"; }
json() { node -e "let t='';process.stdin.on('data',d=>t+=d).on('end',()=>{const v=JSON.parse(t);console.log($1)})"; }
resources() { node -p "const s=JSON.parse(require('fs').readFileSync('.state/${ENV_NAME}/$1.tfstate','utf8'));(s.resources||[]).filter(r=>r.mode==='managed').reduce((n,r)=>n+r.instances.length,0)"; }

# 1. registration, for real against the stand-in.
make register-workloads ENVIRONMENT="$ENV_NAME"
cluster=$(api "$PROVISIONER_URL/api/clusters" | json "v[0].ID")
secret=$(api "$PROVISIONER_URL/api/clusters" | json "v[0].ProvisionerMetadataExternal.SecretName")
aws secretsmanager describe-secret --secret-id "$secret" >/dev/null || fail "registration stored no kubeconfig secret $secret"
echo "registered: provisioner cluster $cluster, kubeconfig secret $secret"

# 2. An installation on it: refused, nothing changed.
ci=$(api -X POST "$PROVISIONER_URL/stand-in/cluster_installations" -d "{\"ClusterID\":\"$cluster\",\"InstallationID\":\"rehearsal-installation\"}" | json "v.ID")
before=$(resources "$stack")
set +e
make decommission ENVIRONMENT="$ENV_NAME" WORKLOAD="$workload" AUTO_APPROVE=1 > "$logs/decommission-refused.out" 2>&1
code=$?
set -e
cat "$logs/decommission-refused.out"
[ "$code" -ne 0 ] || fail "make decommission went ahead with an installation on the cluster"
grep -q "still runs 1 installation(s)" "$logs/decommission-refused.out" || fail "the refusal does not say why"
grep -q "installation rehearsal-installation" "$logs/decommission-refused.out" || fail "the refusal does not name the installation"
aws secretsmanager describe-secret --secret-id "$secret" >/dev/null || fail "the refused decommission deleted the kubeconfig secret"
[ "$(api "$PROVISIONER_URL/api/cluster/$cluster" | json "v.State")" = "stable" ] || fail "the refused decommission touched the provisioner's cluster"
[ "$(resources "$stack")" = "$before" ] || fail "the refused decommission changed $stack"
echo "decommission rehearsal: refused with an installation on the cluster; secret, registration and $before resources of $stack untouched"

# 3. The workload removed from a copy of the environment: validate warns about the orphaned state.
mkdir -p "$work/environments"
cp -r "environments/${ENV_NAME}" "$work/environments/"
node -e "
const f='$work/environments/${ENV_NAME}/environment.ts', fs=require('fs');
const t=fs.readFileSync(f,'utf8'), u=t.replace(/\n\s*\{ name: \"${workload}\",[^\n]*\n/, '\n');
if (t===u) { console.error('could not remove workload ${workload} from the copy'); process.exit(1); }
fs.writeFileSync(f,u);"
SKIP_TERRAFORM_VALIDATE=1 ENVIRONMENTS_DIR="$work/environments" ENVIRONMENT="$ENV_NAME" $TSX scripts/validate.ts > "$logs/orphans.out" 2>&1 || true
grep "orphan state" "$logs/orphans.out" || true
grep -q "warn orphan state in .state/${ENV_NAME}/: ${stack} (" "$logs/orphans.out" || fail "make validate did not warn about the orphaned state of $stack"
echo "decommission rehearsal: make validate warned about $stack's state once the workload was gone from the environment"

# 4. Moved away: decommissioned.
api -X DELETE "$PROVISIONER_URL/stand-in/cluster_installations/$ci" >/dev/null
make decommission ENVIRONMENT="$ENV_NAME" WORKLOAD="$workload" AUTO_APPROVE=1 2>&1 | tee "$logs/decommission.out"
[ "$(api "$PROVISIONER_URL/api/cluster/$cluster" | json "v.State")" = "deleted" ] || fail "the provisioner still has cluster $cluster"
if aws secretsmanager describe-secret --secret-id "$secret" >/dev/null 2>&1; then fail "the kubeconfig secret $secret is still there"; fi
for s in "$stack" "$stack-apps"; do
  [ ! -f ".state/${ENV_NAME}/$s.tfstate" ] || [ "$(resources "$s")" = "0" ] || fail "$s still has resources in state"
done
zones=$(aws route53 list-hosted-zones --query 'HostedZones[].Id' --output text)
for z in $zones; do
  if aws route53 list-resource-record-sets --hosted-zone-id "$z" --query 'ResourceRecordSets[].Name' --output text | tr '\t' '\n' | grep -E "^(${workload}-grpc|${workload}\.prometheus)\."; then
    fail "a DNS name of $workload is left in zone $z"
  fi
done
SKIP_TERRAFORM_VALIDATE=1 ENVIRONMENTS_DIR="$work/environments" ENVIRONMENT="$ENV_NAME" $TSX scripts/validate.ts > "$logs/orphans-after.out" 2>&1 || true
grep -q "ok   orphan state of ${ENV_NAME}: none" "$logs/orphans-after.out" || fail "make validate still reports orphaned state after the decommission"
echo "decommission rehearsal: $workload unregistered, its secret, stacks and DNS names gone, no orphaned state left"
