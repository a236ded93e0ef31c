import { prune } from "../../scripts/lib/tf-json";

const stack = {
  terraform: { required_providers: { aws: { source: "aws" }, helm: { source: "helm" } } },
  provider: { aws: [{ region: "us-east-1" }], helm: [{ kubernetes: { host: "${data.aws_eks_cluster.c.endpoint}" } }] },
  data: { aws_eks_cluster: { c: { name: "x" } } },
  resource: {
    aws_s3_bucket: { metrics: { bucket: "m" } },
    helm_release: { thanos: { name: "thanos", values: ["${aws_s3_bucket.metrics.bucket}"] } },
    aws_route53_record: { thanos: { records: ["${helm_release.thanos.metadata[0].name}"] }, other: { depends_on: ["aws_s3_bucket.metrics"] } },
    aws_sns_topic: { later: { depends_on: ["aws_route53_record.thanos"] } },
  },
  output: { url: { value: "${aws_route53_record.thanos.fqdn}" }, bucket: { value: "${aws_s3_bucket.metrics.arn}" } },
};

describe("holding back what cannot be checked here", () => {
  const result = prune(stack as any, (_a, type) => (type.startsWith("helm_") ? "no helm provider" : undefined), (p) => p === "helm");

  it("removes the chosen resources and everything that depends on them, transitively, saying why", () => {
    expect(result.heldBack).toEqual([
      { address: "aws_route53_record.thanos", reason: "depends on held-back helm_release.thanos" },
      { address: "aws_sns_topic.later", reason: "depends on held-back aws_route53_record.thanos" },
      { address: "helm_release.thanos", reason: "no helm provider" },
    ]);
    expect(result.kept.sort()).toEqual(["aws_route53_record.other", "aws_s3_bucket.metrics"]);
  });

  it("drops outputs that read held-back items and the providers nobody can install", () => {
    expect(result.droppedOutputs).toEqual(["url"]);
    expect(Object.keys(result.json.output!)).toEqual(["bucket"]);
    expect(Object.keys(result.json.provider!)).toEqual(["aws"]);
    expect(Object.keys(result.json.terraform!.required_providers!)).toEqual(["aws"]);
  });

  it("leaves the input untouched", () => {
    expect(Object.keys(stack.resource.helm_release)).toEqual(["thanos"]);
  });
});
