/**
 * Removes anything that looks like a credential from text that may reach a client or a log line
 * (upstream error messages echo keys: "Incorrect API key provided: sk-abc...xyz").
 */
const SECRET_PATTERNS: RegExp[] = [
  /\b(sk|pk|rk|gsk|xai|csk|key|api|AIza|AKIA|ASIA|mdr|modro)[-_A-Za-z0-9]{6,}[*.]*[A-Za-z0-9]*/g,
  /\bBearer\s+[^\s"']+/gi,
  /\b[A-Za-z0-9_-]{32,}\b/g,
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]');
  return out;
}

/**
 * An upstream message made safe and short enough to show a client. `secret` is the key the request used: it
 * is removed wherever it appears, whatever it looks like (the patterns above miss keys without a known
 * prefix and under 32 characters, such as a self-hosted server's token or a prefixless provider key).
 */
export function safeUpstreamMessage(text: unknown, secret?: string, max = 300): string | undefined {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const exact = secret ? text.split(secret).join('[redacted]') : text;
  const clean = redactSecrets(exact.trim());
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
