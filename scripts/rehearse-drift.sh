#!/usr/bin/env bash
# The drift rehearsal (.ci/run, after `KEEP_EMULATOR=1 make all ENVIRONMENT=<env>`), against the
# emulator that run left running:
#   1. an out-of-band change with the AWS CLI: a tag added by hand to the C&C VPC;
#   2. `make drift` must exit non-zero and name that VPC;
#   3. `make plan STACK=cluster` saves the plan that puts it back, `make apply-plan` applies exactly it;
#   4. `make drift STACK=cluster` is clean again.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_NAME="${1:-local}"
port=$(node -p "require('./.state/${ENV_NAME}/emulator.json').port")
unset AWS_PROFILE
export AWS_ENDPOINT_URL="http://127.0.0.1:${port}" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
vpc=$(aws ec2 describe-vpcs --filters "Name=tag:Stack,Values=${ENV_NAME}-cluster" --query 'Vpcs[0].VpcId' --output text)
[ -n "$vpc" ] && [ "$vpc" != "None" ] || { echo "drift rehearsal: no VPC of ${ENV_NAME}-cluster in the emulator" >&2; exit 1; }
echo "out-of-band change: aws ec2 create-tags --resources $vpc --tags Key=ChangedBy,Value=hand"
aws ec2 create-tags --resources "$vpc" --tags Key=ChangedBy,Value=hand

set +e
make drift ENVIRONMENT="$ENV_NAME" > ".state/${ENV_NAME}/logs/drift-rehearsal.out" 2>&1
code=$?
set -e
cat ".state/${ENV_NAME}/logs/drift-rehearsal.out"
if [ "$code" -eq 0 ]; then echo "drift rehearsal: make drift exited 0 after an out-of-band change" >&2; exit 1; fi
grep -q "${ENV_NAME}-cluster: 0 to add, 1 to change, 0 to destroy" ".state/${ENV_NAME}/logs/drift-rehearsal.out" || { echo "drift rehearsal: the report does not name the changed stack" >&2; exit 1; }
grep -q "aws_vpc\." ".state/${ENV_NAME}/logs/drift-rehearsal.out" || { echo "drift rehearsal: the report does not name the VPC" >&2; exit 1; }
echo "drift rehearsal: make drift exited $code and named the VPC, as it should"

make plan STACK=cluster ENVIRONMENT="$ENV_NAME"
make apply-plan STACK=cluster ENVIRONMENT="$ENV_NAME" AUTO_APPROVE=1
make drift STACK=cluster ENVIRONMENT="$ENV_NAME"
echo "drift rehearsal: the reviewed saved plan put the VPC back; no drift left"
