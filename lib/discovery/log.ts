/** One JSON object per line on stdout/stderr: what CloudWatch Logs and Kubernetes log shippers parse best. */
export type Level = "debug" | "info" | "warn" | "error";
export type Logger = (level: Level, message: string, fields?: Record<string, unknown>) => void;

export function jsonLogger(service: string, write: (line: string, level: Level) => void = defaultWrite): Logger {
  return (level, message, fields = {}) => write(JSON.stringify({ time: new Date().toISOString(), level, service, message, ...fields }), level);
}

function defaultWrite(line: string, level: Level): void {
  (level === "error" || level === "warn" ? process.stderr : process.stdout).write(`${line}\n`);
}

/** Error text for logs and alerts, without stack noise. */
export function errorText(err: unknown): string {
  // @kubernetes/client-node's ApiException carries the HTTP code and a Status body.
  const api = err as { code?: unknown; body?: unknown };
  if (err instanceof Error && typeof api.code === "number" && api.body !== undefined) {
    let detail = "";
    try {
      const body = typeof api.body === "string" ? JSON.parse(api.body) : api.body;
      detail = (body as { message?: string })?.message ?? "";
    } catch {
      detail = String(api.body).slice(0, 200);
    }
    return `Kubernetes API answered HTTP ${api.code}${detail ? `: ${detail}` : ""}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
