import { GatewayError } from '../core/errors.ts';
import type { ChatRequest } from '../core/ir.ts';
import { clipped } from '../core/validation.ts';
import type { ProtocolCodec } from '../protocols/codec.ts';
import { openAIResponsesCodec, responsesCodec } from '../protocols/openai-responses/codec.ts';
import {
  conversationOf,
  outputMessages,
  parseResponsesRequest,
  prependHistory,
} from '../protocols/openai-responses/parse-responses-request.ts';
import type { ResponseStore } from './response-store.ts';

/**
 * A `POST /v1/responses` body of a tenant → the request the pipeline handles and the codec that answers it.
 * With storage off (`store` undefined) this is the plain codec, and `previous_response_id` is refused. With it
 * on, a `previous_response_id` is looked up among the tenant's stored responses and its conversation put
 * before the new input (after the new `instructions`), and the answer is stored when it has finished unless
 * the request says `store: false`. An id that is unknown, expired or another tenant's is the same 404.
 */
export async function prepareResponsesCall(
  body: unknown,
  tenantId: string,
  store: ResponseStore | undefined,
): Promise<{ request: ChatRequest; codec: ProtocolCodec }> {
  if (!store) return { request: parseResponsesRequest(body), codec: openAIResponsesCodec };
  const request = parseResponsesRequest(body, { storing: true });
  const raw = request.inbound.body;
  const previousId = typeof raw['previous_response_id'] === 'string' ? raw['previous_response_id'] : '';
  if (previousId) {
    const previous = await store.load(tenantId, previousId);
    if (!previous) throw responseNotFound(previousId, 'previous_response_id');
    // Only request.messages holds the history, not the inbound body: such a request is translated (below).
    prependHistory(request, previous.messages);
  }
  const storing = raw['store'] !== false;
  // The gateway reads this answer (to store it) or completed its conversation: it is translated, never passed
  // through to an upstream that would see neither the history nor keep the answer for us.
  if (storing || previousId) request.inbound.passthrough = false;
  const codec = responsesCodec({
    store: storing,
    previousResponseId: previousId || null,
    onFinished: storing
      ? (response) => {
          const conversation = conversationOf(request);
          // The output is translated with the write, off the answer's path.
          store.save(tenantId, String(response['id']), () => {
            const output = Array.isArray(response['output']) ? response['output'] : [];
            return { messages: [...conversation, ...outputMessages(output)], response };
          });
        }
      : undefined,
  });
  return { request, codec };
}

/** The one answer for an id that is unknown, expired or another tenant's: no oracle of what exists. */
export function responseNotFound(id: string, param?: string): GatewayError {
  return new GatewayError(
    'not_found',
    `No stored response with id ${clipped(id)} (unknown, expired, or not yours)`,
    param ? { param } : {},
  );
}
