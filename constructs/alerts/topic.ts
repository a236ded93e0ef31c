import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { Construct } from "constructs";
import { PlatformKey } from "../security/kms-key";

export interface AlertsTopicProps {
  /** Topic name, e.g. `prod-platform-alerts`; later layers find it by this name. */
  readonly topicName: string;
  readonly accountId: string;
  readonly keyDeletionWindowDays?: number;
}

/**
 * The environment's alert topic (CloudWatch alarms of every layer publish here; subscribe the
 * Mattermost webhook or a pager to it). Encrypted with a customer-managed key that CloudWatch
 * may use: alarms cannot publish to a topic under the AWS-managed SNS key.
 */
export class AlertsTopic extends Construct {
  readonly topic: SnsTopic;
  readonly arn: string;

  constructor(scope: Construct, id: string, props: AlertsTopicProps) {
    super(scope, id);
    const key = new PlatformKey(this, "key", {
      alias: `${props.topicName}-sns`,
      description: `Encryption of SNS topic ${props.topicName}`,
      servicePrincipals: ["cloudwatch.amazonaws.com", "events.amazonaws.com"],
      deletionWindowDays: props.keyDeletionWindowDays,
    });
    this.topic = new SnsTopic(this, "topic", { name: props.topicName, kmsMasterKeyId: key.arn });
    this.arn = this.topic.arn;
    new SnsTopicPolicy(this, "policy", {
      arn: this.topic.arn,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "AlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: this.topic.arn,
            Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
          },
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "sns:Publish",
            Resource: this.topic.arn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
  }
}
