import { costNanoUsd } from '../billing/cost.ts';
import type { GatewayError } from '../core/errors.ts';
import { toGatewayError } from '../core/errors.ts';
import type { StreamEvent, Usage } from '../core/ir.ts';
import type { PassthroughFrame } from '../providers/types.ts';
import type { RequestContext } from './context.ts';
import type { StreamMeter } from './meter.ts';
import type { Outcome, Served } from './outcome.ts';
import type { Recorder } from './record.ts';

/**
 * A stream the pipeline opened: its first frame already arrived (everything that can fail before the client
 * has a byte failed over), the rest comes as the route reads it. It meters every frame it hands out; an
 * upstream failure ends the frames and is kept (past the first byte there is no failover, the client gets an
 * error event). `finish` meters, records (durably) and returns what the route needs for its last frames, so
 * the record exists before the client's last byte, whether the stream completed, failed, was interrupted or
 * lost its client.
 */
export interface StreamEnd {
  usage: Usage;
  costNano: number;
  /** Why the stream ended badly, if it did and the client is still there to be told. */
  error: GatewayError | undefined;
}

export class MeteredStream<F, M extends 'ir' | 'passthrough'> {
  readonly mode: M;
  readonly served: Served;
  readonly #ctx: RequestContext;
  readonly #first: F;
  readonly #rest: AsyncIterator<F>;
  readonly #meter: StreamMeter;
  readonly #observe: (meter: StreamMeter, frame: F) => void;
  readonly #recorder: Recorder;
  readonly #release: () => void;
  #error: GatewayError | undefined;
  #finished = false;

  constructor(options: {
    mode: M;
    served: Served;
    ctx: RequestContext;
    first: F;
    rest: AsyncIterator<F>;
    meter: StreamMeter;
    observe: (meter: StreamMeter, frame: F) => void;
    recorder: Recorder;
    /** Ends the key's in-flight use (in-flight.ts) once the upstream is done with. */
    release?: () => void;
  }) {
    this.mode = options.mode;
    this.served = options.served;
    this.#ctx = options.ctx;
    this.#first = options.first;
    this.#rest = options.rest;
    this.#meter = options.meter;
    this.#observe = options.observe;
    this.#recorder = options.recorder;
    this.#release = options.release ?? (() => {});
  }

  /**
   * The frames, metered as they are handed out. Leaving the loop early (the client is gone) releases the
   * upstream; an upstream failure ends the loop normally and is reported by `finish`.
   */
  async *frames(): AsyncGenerator<F, void, undefined> {
    let frame = this.#first;
    let done = false;
    try {
      for (;;) {
        this.#observe(this.#meter, frame);
        yield frame;
        const next = await this.#rest.next();
        if (next.done) {
          done = true;
          return;
        }
        frame = next.value;
      }
    } catch (err) {
      done = true;
      this.#error = toGatewayError(err);
    } finally {
      if (!done) void this.#rest.return?.()?.catch(() => {});
      this.#release();
    }
  }

  /** The cost of a usage report on this stream's model, in nano-dollars (a protocol that shows it per frame). */
  costOf(usage: Usage): number {
    return costNanoUsd(usage, this.served.target.model.price);
  }

  /**
   * Meters and records the stream once it is over. `clientGone`: the client left (or the gateway ended the
   * stream itself, `interruption`, at shutdown). Resolves once the record is durable.
   */
  async finish(how: { clientGone: boolean; interruption?: GatewayError | undefined }): Promise<StreamEnd> {
    if (this.#finished) throw new Error('a stream is finished once');
    this.#finished = true;
    // A stream whose frames were never read (its client left at once) is done with its key too.
    this.#release();
    const outcome: Outcome = {
      decision: this.served.decision,
      target: this.served.target,
      attempts: this.served.attempts,
      costNano: 0,
      status: 200,
      errorCode: null,
      ttfbMs: this.served.ttfbMs,
    };
    let error: GatewayError | undefined;
    if (how.interruption) {
      // The gateway ended the stream: an error the client is told about, not a client that left.
      outcome.errorCode = how.interruption.code;
    } else if (how.clientGone) {
      outcome.status = 499;
    } else if (this.#error) {
      outcome.errorCode = this.#error.code;
      error = this.#error;
    }
    const usage = await this.#meter.final(this.#ctx.request, outcome.errorCode === null && outcome.status === 200);
    outcome.usage = usage;
    outcome.costNano = this.costOf(usage);
    await this.#recorder.record({
      start: this.#ctx,
      caller: this.#ctx.caller,
      requestedModel: this.#ctx.request.model,
      stream: true,
      outcome,
      ticket: this.#ctx.ticket,
      hold: this.#ctx.hold,
    });
    return { usage, costNano: outcome.costNano, error };
  }
}

export type PipelineStream = MeteredStream<StreamEvent, 'ir'> | MeteredStream<PassthroughFrame, 'passthrough'>;
