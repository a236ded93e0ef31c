/**
 * The alerts forwarder against moto (Secrets Manager, through the real AWS SDK) and a local
 * Mattermost webhook stand-in on 127.0.0.1; plus the SNS subscription its stack makes.
 */
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { formatRecord } from "../../lambdas/alerts-forwarder/format";
import { makeHandler } from "../../lambdas/alerts-forwarder/index";
import { WebhookReceiver } from "../support/kube-api";
import { clientOptions, startMoto, type Moto } from "../support/moto";
import { environment, resourcesOf, synthEnvironment, synthShipped } from "../support/synth";

const alarm = (state: string) => ({
  Sns: {
    Subject: `${state}: "prod-dns-registration-errors" in US East (N. Virginia)`,
    TopicArn: "arn:aws:sns:us-east-1:111111111111:prod-platform-alerts",
    Message: JSON.stringify({
      AlarmName: "prod-dns-registration-errors",
      AlarmDescription: "The DNS-registration Lambda failed; Prometheus federation targets may be stale",
      AlarmArn: "arn:aws:cloudwatch:us-east-1:111111111111:alarm:prod-dns-registration-errors",
      NewStateValue: state,
      OldStateValue: state === "OK" ? "ALARM" : "OK",
      NewStateReason: "Threshold Crossed: 1 datapoint [2.0] was greater than or equal to the threshold (1.0).",
    }),
  },
});

describe("the alerts forwarder", () => {
  let moto: Moto;
  let secrets: SecretsManagerClient;
  const hook = new WebhookReceiver();
  const quiet = () => undefined;

  beforeAll(async () => {
    moto = await startMoto();
    secrets = new SecretsManagerClient(clientOptions(moto));
    await hook.start();
    await secrets.send(new CreateSecretCommand({ Name: "prod/alerts", SecretString: JSON.stringify({ url: hook.url }) }));
    await secrets.send(new CreateSecretCommand({ Name: "prod/empty-alerts", SecretString: " " }));
  });
  afterAll(async () => {
    await hook.stop();
    await moto?.stop();
  });

  it("posts a CloudWatch alarm to the webhook named by its secret, coloured by state, with the reason and a console link", async () => {
    hook.posts.length = 0;
    const handler = makeHandler({ secrets, fetch, env: { ALERTS_SECRET_ID: "prod/alerts", ENVIRONMENT_NAME: "prod" }, log: quiet });
    await expect(handler({ Records: [alarm("ALARM"), alarm("OK")] })).resolves.toEqual({ posted: 2 });
    expect(hook.posts).toHaveLength(2);
    const [firing, resolved] = hook.posts.map((p) => p.attachments[0]);
    expect(firing).toMatchObject({ title: "[ALARM] prod-dns-registration-errors", color: "#D24B4E", text: expect.stringMatching(/^The DNS-registration Lambda failed/) });
    expect(firing.title_link).toBe("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/prod-dns-registration-errors");
    expect(firing.fields).toEqual(expect.arrayContaining([{ short: true, title: "Environment", value: "prod" }, expect.objectContaining({ title: "Reason" })]));
    expect(resolved).toMatchObject({ title: "[OK] prod-dns-registration-errors", color: "#3DB887" });
  });

  it("posts any other notification as text instead of dropping it", () => {
    expect(formatRecord({ Sns: { Subject: "Hello", Message: "not json" } }, "prod")).toEqual({ username: "AWS notifications", text: "**Hello**\nnot json\n_(prod, from SNS)_" });
  });

  it("fails the invocation (so Lambda retries, then keeps the event) when the webhook refuses, the secret is empty, or none is named", async () => {
    hook.status = 500;
    const failing = makeHandler({ secrets, fetch, env: { ALERTS_SECRET_ID: "prod/alerts" }, log: quiet });
    await expect(failing({ Records: [alarm("ALARM")] })).rejects.toThrow(/the webhook answered HTTP 500/);
    hook.status = 200;
    await expect(failing({ Records: [alarm("ALARM")] })).resolves.toEqual({ posted: 1 }); // nothing cached from the failure
    await expect(makeHandler({ secrets, fetch, env: { ALERTS_SECRET_ID: "prod/empty-alerts" }, log: quiet })({ Records: [alarm("ALARM")] })).rejects.toThrow(/holds no webhook URL; fill it/);
    await expect(makeHandler({ secrets, fetch, env: {}, log: quiet })({ Records: [alarm("ALARM")] })).rejects.toThrow(/ALERTS_SECRET_ID is not set/);
  });

  it("is subscribed to the alert topic, invocable by that topic only, with an encrypted dead-letter queue", () => {
    const stack = synthShipped("prod").json["prod-cluster"];
    const [sub] = resourcesOf(stack, "aws_sns_topic_subscription");
    expect(sub).toMatchObject({ protocol: "lambda", topic_arn: expect.stringMatching(/^\$\{aws_sns_topic\.alerts_topic_[0-9A-F]+\.arn\}$/), endpoint: expect.stringMatching(/^\$\{aws_lambda_function\.alerts-forwarder_function_[0-9A-F]+\.arn\}$/) });
    const permission = resourcesOf(stack, "aws_lambda_permission").find((p) => p.principal === "sns.amazonaws.com");
    expect(permission.source_arn).toBe(sub.topic_arn);
    const fn = resourcesOf(stack, "aws_lambda_function").find((f) => f.function_name === "prod-alerts-forwarder");
    expect(fn.environment.variables).toEqual({ ALERTS_SECRET_ID: "prod/cnc/mattermost-alerts-webhook", ENVIRONMENT_NAME: "prod" });
    const dlq = resourcesOf(stack, "aws_sqs_queue").find((q) => q.name === "prod-alerts-forwarder-dlq");
    expect(dlq.kms_master_key_id).toMatch(/^\$\{aws_kms_key\./);
  });

  it("also delivers the us-east-1 health-check topic of an environment elsewhere, whose key lives beside it in us-east-1", () => {
    const env = environment("prod", (raw: any) => {
      raw.region = "eu-west-1";
      raw.network.azs = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
      for (const w of raw.workloads ?? []) delete w.azs;
      if (raw.deployRunner?.connectionArn) raw.deployRunner.connectionArn = raw.deployRunner.connectionArn.replace("us-east-1", "eu-west-1");
    });
    const stack = synthEnvironment(env).json["prod-route53"];
    const [sub] = resourcesOf(stack, "aws_sns_topic_subscription");
    expect(sub).toMatchObject({ provider: "aws.us_east_1", protocol: "lambda", endpoint: "arn:aws:lambda:eu-west-1:111111111111:function:prod-alerts-forwarder" });
    const permission = resourcesOf(stack, "aws_lambda_permission")[0];
    expect(permission).toMatchObject({ principal: "sns.amazonaws.com", function_name: sub.endpoint, source_arn: sub.topic_arn });
    expect(permission.provider).toBeUndefined();
    const key = resourcesOf(stack, "aws_kms_key").find((k) => String(k.description).startsWith("Health-check"));
    expect(key.provider).toBe("aws.us_east_1");
  });
});
