/** Reading configuration from environment variables, with errors that name the variable. */
import { readFileSync } from "node:fs";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type Env = Record<string, string | undefined>;

export function required(env: Env, name: string, pattern?: RegExp, expected?: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is not set; set it to ${expected ?? "a value"}.`);
  if (pattern && !pattern.test(value)) throw new ConfigError(`${name}=${JSON.stringify(value)} is malformed; expected ${expected ?? pattern.source}.`);
  return value;
}

export function optional(env: Env, name: string, fallback: string, pattern?: RegExp, expected?: string): string {
  const value = env[name]?.trim();
  if (!value) return fallback;
  if (pattern && !pattern.test(value)) throw new ConfigError(`${name}=${JSON.stringify(value)} is malformed; expected ${expected ?? pattern.source}.`);
  return value;
}

export function flag(env: Env, name: string, fallback = false): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (!value) return fallback;
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(env[name])} is malformed; expected true or false.`);
}

export function port(env: Env, name: string, fallback: number): number {
  const value = optional(env, name, String(fallback), /^\d{1,5}$/, "a TCP port number (1-65535)");
  const n = Number(value);
  if (n < 1 || n > 65535) throw new ConfigError(`${name}=${value} is malformed; expected a TCP port number (1-65535).`);
  return n;
}

export const HOSTED_ZONE_ID = /^(\/hostedzone\/)?[A-Z0-9]{1,32}$/;
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const HTTP_URL = /^https?:\/\/[^\s]+$/;

/**
 * MATTERMOST_ALERTS_HOOK_FILE names a file holding the webhook URL (the CronJobs mount their Secret
 * there, so the URL is never an environment variable); its content stands for
 * MATTERMOST_ALERTS_HOOK. Setting both is refused, as is an unreadable file.
 */
export function withHookFromFile(env: Env, read: (path: string) => string = (p) => readFileSync(p, "utf8")): Env {
  const path = env.MATTERMOST_ALERTS_HOOK_FILE;
  if (!path) return env;
  if (env.MATTERMOST_ALERTS_HOOK) {
    throw new ConfigError("MATTERMOST_ALERTS_HOOK and MATTERMOST_ALERTS_HOOK_FILE are both set; set only one (the file is what the CronJob mounts).");
  }
  let value: string;
  try {
    value = read(path).trim();
  } catch (err) {
    throw new ConfigError(`MATTERMOST_ALERTS_HOOK_FILE=${JSON.stringify(path)} cannot be read (${(err as Error).message}); check that the webhook Secret is mounted there.`);
  }
  return { ...env, MATTERMOST_ALERTS_HOOK: value };
}
