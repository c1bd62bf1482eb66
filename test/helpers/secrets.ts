/**
 * Searching text (responses, metrics, log lines, database rows, files) for secrets: the whole secret and long
 * pieces of it, since a key cut by a message length limit or partly masked still gives most of it away.
 */

/** The whole secret, and its pieces that no masking (first 8 / last 4 shown) or clipping leaves intact. */
function piecesOf(secret: string): string[] {
  return [secret, secret.slice(4, 24), secret.slice(-20)];
}

/** The secrets of which `text` holds a piece, each named by its first 7 characters (for assertion messages). */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets
    .filter((secret) => piecesOf(secret).some((piece) => text.includes(piece)))
    .map((s) => `${s.slice(0, 7)}…`);
}
