/** Reading configuration from environment variables, with errors that name the variable. */
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
