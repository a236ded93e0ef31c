import type { PolicyStatement } from "../eks/irsa-role";

/**
 * What every function here needs besides its own work: its stack key (encrypted settings and
 * dead letters), network interfaces in the VPC (AWSLambdaVPCAccessExecutionRole's set: ENI
 * actions have no resource-level permissions), its own log group, its dead-letter queue, X-Ray.
 */
export function functionBaselineStatements(props: { stackKeyArn: string; logGroupArn: string; deadLetterArn: string }): PolicyStatement[] {
  return [
    { Sid: "UseTheStackKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: props.stackKeyArn },
    {
      Sid: "VpcNetworkInterfaces",
      Effect: "Allow",
      Action: ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
      Resource: "*",
    },
    { Sid: "WriteLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: `${props.logGroupArn}:*` },
    { Sid: "DeadLetters", Effect: "Allow", Action: "sqs:SendMessage", Resource: props.deadLetterArn },
    { Sid: "Tracing", Effect: "Allow", Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: "*" },
  ];
}
