#!/usr/bin/env bash
# The database-restore rehearsal (.ci/run, after `KEEP_EMULATOR=1 make all ENVIRONMENT=<env>`),
# against the emulator that run left running:
#   1. a TIME in the future is refused before anything is written;
#   2. `make restore-db TIME=<seconds ago>` restores the provisioner's database as a new instance
#      (RestoreDBInstanceToPointInTime against moto), imports it in the applied post-install plan,
#      and leaves the old instance running;
#   3. `make drift STACK=post-install` is clean: the restore is stable in every later plan.
# It removes environments/<env>/database-restores.json at the end (a real restore commits it);
# `make destroy` still destroys the restored instance, which is in the state.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_NAME="${1:-local}"
logs=".state/${ENV_NAME}/logs"
record="environments/${ENV_NAME}/database-restores.json"
fail() { echo "restore rehearsal: $*" >&2; exit 1; }
[ ! -e "$record" ] || fail "$record exists already; this rehearsal writes it"
trap 'rm -f "$record"' EXIT

port=$(node -p "require('./.state/${ENV_NAME}/emulator.json').port")
unset AWS_PROFILE
export AWS_ENDPOINT_URL="http://127.0.0.1:${port}" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
# AWS CLI v1 honours AWS_ENDPOINT_URL for some services only (not for rds): name it each time.
rds() { aws --endpoint-url "$AWS_ENDPOINT_URL" rds "$@"; }

set +e
make restore-db ENVIRONMENT="$ENV_NAME" TIME=2099-01-01T00:00:00Z AUTO_APPROVE=1 > "$logs/restore-refused.out" 2>&1
code=$?
set -e
cat "$logs/restore-refused.out"
[ "$code" -ne 0 ] && grep -q "is in the future" "$logs/restore-refused.out" || fail "a future TIME was not refused"
[ ! -e "$record" ] || fail "the refused restore wrote $record"

time=$(date -u -d '-20 seconds' +%Y-%m-%dT%H:%M:%SZ)
make restore-db ENVIRONMENT="$ENV_NAME" TIME="$time" AUTO_APPROVE=1 2>&1 | tee "$logs/restore.out"
restored="${ENV_NAME}-provisioner-r$(echo "$time" | tr -d ':TZ-')"
grep -q "\"identifier\": \"$restored\"" "$record" || fail "$record does not record $restored"
status=$(rds describe-db-instances --db-instance-identifier "$restored" --query 'DBInstances[0].DBInstanceStatus' --output text) || fail "no instance $restored in the emulator"
rds describe-db-instances --db-instance-identifier "${ENV_NAME}-provisioner" --query 'DBInstances[0].DBInstanceIdentifier' --output text >/dev/null || fail "the old instance was destroyed"
state=".state/${ENV_NAME}/${ENV_NAME}-post-install.tfstate"
grep -q "aws_db_instance\..*_restore1" "$state" || fail "the restored instance is not in post-install's state"
secret=$(rds describe-db-instances --db-instance-identifier "$restored" --query 'DBInstances[0].MasterUserSecret.SecretArn' --output text)
old_secret=$(rds describe-db-instances --db-instance-identifier "${ENV_NAME}-provisioner" --query 'DBInstances[0].MasterUserSecret.SecretArn' --output text)
node -e '
  const [file, secret, old] = process.argv.slice(1);
  const state = JSON.parse(require("fs").readFileSync(file, "utf8"));
  const policy = state.resources.find((r) => r.type === "aws_iam_role_policy" && r.name.startsWith("provisioner_role_policy")).instances[0].attributes.policy;
  if (!policy.includes(secret) || policy.includes(old)) { console.error(`the provisioner role reads ${policy.includes(old) ? "the old secret " + old : "not " + secret}`); process.exit(1); }
' "$state" "$secret" "$old_secret" || fail "the provisioner was not switched to the restored instance's secret"
echo "restore rehearsal: the provisioner's role reads $secret (the restored instance's), no longer $old_secret"
echo "restore rehearsal: $restored is $status, restored to $time; ${ENV_NAME}-provisioner still runs, unmanaged"

make drift STACK=post-install ENVIRONMENT="$ENV_NAME"
echo "restore rehearsal: the next plan of post-install is empty"
