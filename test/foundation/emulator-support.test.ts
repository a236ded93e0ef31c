import { lostCreations } from "../../scripts/lib/emulator-support";

// What terraform printed when moto created an alias but the response was lost (a real CI run).
const alreadyExists = `
Error: creating KMS Alias (alias/local-logs-opensearch): operation error KMS: CreateAlias, https response error StatusCode: 400, RequestID: dlRK, AlreadyExistsException: An alias with the name arn:aws:kms:us-east-1:123456789012:alias/local-logs-opensearch already exists

  with aws_kms_alias.logs_key_alias_08EB6E12,
  on cdk.tf.json line 2046, in resource.aws_kms_alias.logs_key_alias_08EB6E12:
`;
const otherError = `
Error: creating S3 Bucket (x): operation error S3: CreateBucket, https response error StatusCode: 403, AccessDenied

  with aws_s3_bucket.x,
`;

describe("a creation whose response the emulator lost", () => {
  it("is recognised with the address and the id to import it by", () => {
    expect(lostCreations(alreadyExists)).toEqual([{ address: "aws_kms_alias.logs_key_alias_08EB6E12", id: "alias/local-logs-opensearch" }]);
  });
  it("is not assumed when any failure is of another kind", () => {
    expect(lostCreations(otherError)).toEqual([]);
    expect(lostCreations(alreadyExists + otherError)).toEqual([]);
  });
});
