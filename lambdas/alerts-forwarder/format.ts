/**
 * SNS messages -> Mattermost posts. CloudWatch alarm notifications (JSON with AlarmName,
 * NewStateValue, ...) become one attachment coloured by state with the reason, the alarm's
 * description and a console link; any other message is posted as text, never dropped.
 */
export interface SnsRecord {
  Sns: { Subject?: string | null; Message: string; TopicArn?: string; Timestamp?: string };
}

interface CloudWatchAlarm {
  AlarmName: string;
  AlarmDescription?: string | null;
  NewStateValue: "ALARM" | "OK" | "INSUFFICIENT_DATA" | string;
  OldStateValue?: string;
  NewStateReason?: string;
  Region?: string;
  AlarmArn?: string;
  StateChangeTime?: string;
}

export interface MattermostPost {
  username: string;
  text?: string;
  attachments?: { color: string; title: string; title_link?: string; text?: string; fields: { short: boolean; title: string; value: string }[]; fallback: string }[];
}

const COLORS: Record<string, string> = { ALARM: "#D24B4E", OK: "#3DB887", INSUFFICIENT_DATA: "#8D96A5" };

function asAlarm(message: string): CloudWatchAlarm | undefined {
  try {
    const parsed = JSON.parse(message) as Partial<CloudWatchAlarm>;
    return typeof parsed?.AlarmName === "string" && typeof parsed.NewStateValue === "string" ? (parsed as CloudWatchAlarm) : undefined;
  } catch {
    return undefined;
  }
}

/** The console page of an alarm (its ARN names the region). */
function consoleLink(alarm: CloudWatchAlarm): string | undefined {
  const region = alarm.AlarmArn?.split(":")[3];
  if (!region) return undefined;
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(alarm.AlarmName)}`;
}

export function formatRecord(record: SnsRecord, environment: string): MattermostPost {
  const alarm = asAlarm(record.Sns.Message);
  if (!alarm) {
    const subject = record.Sns.Subject ? `**${record.Sns.Subject}**\n` : "";
    return { username: "AWS notifications", text: `${subject}${record.Sns.Message}\n_(${environment}, from ${record.Sns.TopicArn ?? "SNS"})_` };
  }
  const title = `[${alarm.NewStateValue}] ${alarm.AlarmName}`;
  const fields = [
    { short: true, title: "Environment", value: environment },
    { short: true, title: "State", value: `${alarm.OldStateValue ?? "?"} -> ${alarm.NewStateValue}` },
    ...(alarm.NewStateReason ? [{ short: false, title: "Reason", value: alarm.NewStateReason }] : []),
  ];
  return {
    username: "CloudWatch",
    attachments: [
      {
        color: COLORS[alarm.NewStateValue] ?? COLORS.INSUFFICIENT_DATA,
        title,
        title_link: consoleLink(alarm),
        text: alarm.AlarmDescription ?? undefined,
        fields,
        fallback: `${title} (${environment}): ${alarm.NewStateReason ?? ""}`.trim(),
      },
    ],
  };
}
