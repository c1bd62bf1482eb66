import { GatewayError } from '../../core/errors.ts';
import type { GeminiFunctionCall } from './gemini-api-types.ts';

type PartialArg = NonNullable<GeminiFunctionCall['partialArgs']>[number];

/**
 * Rebuilds a function call's arguments from streamed `partialArgs` (Vertex's streamFunctionCallArguments,
 * which recorded Gemini 3 streams show): each piece names a JSON path (RFC 9535 subset: `$`, `.name`,
 * `['name']`, `[n]`) and a value; string values arrive in slices that are appended. Arguments are assembled
 * whole because IR tool-call events carry argument text, and slices of values at arbitrary paths cannot be
 * turned into a valid left-to-right JSON text before the call is complete.
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/function-calling#streaming-function-call-arguments
 */
export class PartialArgsAssembler {
  private readonly root: Record<string, unknown> = {};
  private readonly label: string;

  constructor(label: string) {
    this.label = label;
  }

  apply(arg: PartialArg): void {
    const path = parseJsonPath(arg.jsonPath ?? '', this.label);
    if (path.length === 0) return;
    let container: Record<string, unknown> | unknown[] = this.root;
    for (let i = 0; i < path.length - 1; i++) {
      const key = path[i]!;
      const nextIsIndex = typeof path[i + 1] === 'number';
      let child = get(container, key);
      if (child === null || typeof child !== 'object') {
        child = nextIsIndex ? [] : {};
        set(container, key, child);
      }
      container = child as Record<string, unknown> | unknown[];
    }
    const leaf = path.at(-1)!;
    if (arg.stringValue !== undefined) {
      const current = get(container, leaf);
      set(container, leaf, typeof current === 'string' ? current + arg.stringValue : arg.stringValue);
    } else if (arg.numberValue !== undefined) {
      set(container, leaf, arg.numberValue);
    } else if (arg.boolValue !== undefined) {
      set(container, leaf, arg.boolValue);
    } else if (arg.nullValue !== undefined) {
      set(container, leaf, null);
    }
  }

  /** The arguments assembled so far. */
  value(): Record<string, unknown> {
    return this.root;
  }
}

function get(container: Record<string, unknown> | unknown[], key: string | number): unknown {
  if (Array.isArray(container)) return typeof key === 'number' ? container[key] : undefined;
  return Object.hasOwn(container, key) ? container[key as string] : undefined;
}

function set(container: Record<string, unknown> | unknown[], key: string | number, value: unknown): void {
  if (Array.isArray(container)) {
    if (typeof key !== 'number') return;
    while (container.length < key) container.push(null);
    container[key] = value;
    return;
  }
  // Own data property, so a key such as `__proto__` stays an ordinary key.
  Object.defineProperty(container, String(key), { value, writable: true, enumerable: true, configurable: true });
}

const SEGMENT = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;

export function parseJsonPath(path: string, label: string): Array<string | number> {
  if (!path.startsWith('$')) throw malformed(label);
  const segments: Array<string | number> = [];
  SEGMENT.lastIndex = 1;
  while (SEGMENT.lastIndex < path.length) {
    const match = SEGMENT.exec(path);
    if (!match) throw malformed(label);
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else segments.push((match[3] ?? match[4]!).replace(/\\(.)/g, '$1'));
  }
  return segments;
}

function malformed(label: string): GatewayError {
  return new GatewayError('provider_unavailable', `Upstream ${label} sent a function call argument with a bad path`);
}
