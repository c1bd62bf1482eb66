import type { GatewayError } from '../core/errors.ts';
import type { CIRCUIT_STATES } from '../ops/metrics.ts';
import type { ProviderKey, ProviderSpec } from '../providers/types.ts';

/**
 * Health of every provider key: a circuit breaker per key and the rotation that spreads load over a
 * provider's keys. All in memory, O(keys) per pick, no I/O.
 *
 * - closed: in rotation. `failureThreshold` consecutive provider-side failures (timeouts, 5xx, resets,
 *   429s) open it.
 * - open: skipped until `cooldownMs` has passed (or a 429's Retry-After, if longer); then half-open.
 * - half-open: exactly one request probes it; success closes the circuit, failure opens it again.
 * - rejected: the provider answered 401/403 (or "quota exhausted") for this key. It leaves rotation for
 *   `rejectedKeyRetryMs`, is logged and shown in metrics, then gets one probe like a half-open circuit.
 */
export type CircuitState = (typeof CIRCUIT_STATES)[number];

export interface HealthOptions {
  failureThreshold: number;
  cooldownMs: number;
  rejectedKeyRetryMs: number;
}

interface KeyState {
  provider: string;
  keyId: string;
  state: CircuitState;
  consecutiveFailures: number;
  /** When an open or rejected key may be probed again (ms epoch). */
  retryAt: number;
  probing: boolean;
  lastError: string | undefined;
}

export interface KeyHealthSnapshot {
  provider: string;
  keyId: string;
  state: CircuitState;
  consecutiveFailures: number;
  lastError: string | undefined;
}

export class ProviderHealth {
  private readonly states = new Map<string, KeyState>();
  private readonly cursor = new Map<string, number>();
  private readonly options: HealthOptions;
  private readonly now: () => number;
  /** Called when a key changes state (for logs and metrics). */
  onChange: ((snapshot: KeyHealthSnapshot) => void) | undefined;

  constructor(options: HealthOptions, now: () => number = Date.now) {
    this.options = options;
    this.now = now;
  }

  private stateOf(provider: string, keyId: string): KeyState {
    const id = `${provider}\u0000${keyId}`;
    let state = this.states.get(id);
    if (!state) {
      state = {
        provider,
        keyId,
        state: 'closed',
        consecutiveFailures: 0,
        retryAt: 0,
        probing: false,
        lastError: undefined,
      };
      this.states.set(id, state);
    }
    return state;
  }

  /**
   * The next usable key of a provider, round-robin, skipping `exclude` (keys this request already tried).
   * An open or rejected key whose wait is over is handed out as the single half-open probe.
   */
  pickKey(provider: ProviderSpec, exclude: ReadonlySet<string> = new Set()): ProviderKey | undefined {
    const keys = provider.keys;
    const start = this.cursor.get(provider.id) ?? 0;
    const now = this.now();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(start + i) % keys.length]!;
      if (exclude.has(key.id)) continue;
      const state = this.stateOf(provider.id, key.id);
      if (state.state === 'closed') {
        this.cursor.set(provider.id, (start + i + 1) % keys.length);
        return key;
      }
      if (now >= state.retryAt && !state.probing) {
        state.probing = true;
        if (state.state === 'open') this.transition(state, 'half-open');
        this.cursor.set(provider.id, (start + i + 1) % keys.length);
        return key;
      }
    }
    return undefined;
  }

  onSuccess(provider: string, keyId: string): void {
    const state = this.stateOf(provider, keyId);
    state.consecutiveFailures = 0;
    state.probing = false;
    state.lastError = undefined;
    if (state.state !== 'closed') this.transition(state, 'closed');
  }

  /** Records an attempt's failure. Errors that are the request's fault say nothing about the key. */
  onFailure(provider: string, keyId: string, error: GatewayError): void {
    const state = this.stateOf(provider, keyId);
    state.probing = false;
    if (error.keyRejected) {
      state.lastError = `${error.code} (upstream ${error.upstreamStatus ?? 'error'})`;
      state.retryAt = this.now() + this.options.rejectedKeyRetryMs;
      this.transition(state, 'rejected');
      return;
    }
    if (!error.failover || error.code === 'not_found' || error.code === 'context_length_exceeded') {
      // The provider answered sensibly; the request was the problem.
      state.consecutiveFailures = 0;
      if (state.state === 'half-open') this.transition(state, 'closed');
      return;
    }
    state.consecutiveFailures++;
    state.lastError = error.code;
    const wait = Math.max(this.options.cooldownMs, (error.retryAfter ?? 0) * 1000);
    if (
      state.state === 'half-open' ||
      state.state === 'rejected' ||
      state.consecutiveFailures >= this.options.failureThreshold
    ) {
      state.retryAt = this.now() + wait;
      this.transition(state, 'open');
    } else if (error.code === 'rate_limited' && error.retryAfter) {
      // A key told to wait is not offered before the wait is over, even below the threshold.
      state.retryAt = this.now() + error.retryAfter * 1000;
      this.transition(state, 'open');
    }
  }

  /** Returns a half-open probe slot without a verdict (the client went away mid-attempt). */
  release(provider: string, keyId: string): void {
    this.stateOf(provider, keyId).probing = false;
  }

  /** Forgets every key's history: all circuits closed (operators' "reset circuits"; tests). */
  reset(): void {
    for (const state of this.states.values()) {
      state.consecutiveFailures = 0;
      state.probing = false;
      state.retryAt = 0;
      state.lastError = undefined;
      this.transition(state, 'closed');
    }
  }

  snapshot(providers: Iterable<ProviderSpec>): KeyHealthSnapshot[] {
    const out: KeyHealthSnapshot[] = [];
    for (const provider of providers) {
      for (const key of provider.keys) {
        const s = this.stateOf(provider.id, key.id);
        const state = s.state === 'open' && this.now() >= s.retryAt ? 'half-open' : s.state;
        out.push({
          provider: s.provider,
          keyId: s.keyId,
          state,
          consecutiveFailures: s.consecutiveFailures,
          lastError: s.lastError,
        });
      }
    }
    return out;
  }

  private transition(state: KeyState, next: CircuitState): void {
    if (state.state === next) return;
    state.state = next;
    this.onChange?.({
      provider: state.provider,
      keyId: state.keyId,
      state: next,
      consecutiveFailures: state.consecutiveFailures,
      lastError: state.lastError,
    });
  }
}
