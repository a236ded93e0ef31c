/**
 * An EKS bearer token for the function's own IAM role: `k8s-aws-v1.` + base64url (no padding) of
 * a presigned STS GetCallerIdentity URL bound to the cluster name (header `x-k8s-aws-id`),
 * valid 60 s. This is what `aws eks get-token` produces.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { SignatureV4 } from "@smithy/signature-v4";

export async function eksToken(options: { clusterName: string; region: string; credentials: AwsCredentialIdentity; now?: Date }): Promise<string> {
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({ credentials: options.credentials, region: options.region, service: "sts", sha256: Sha256 });
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: "https:",
      hostname,
      path: "/",
      query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
      headers: { host: hostname, "x-k8s-aws-id": options.clusterName },
    },
    { expiresIn: 60, signingDate: options.now },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString("base64url")}`;
}
