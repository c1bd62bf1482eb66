/**
 * Server-sent event framing. A payload with line breaks (an upstream event sent as several `data:` lines,
 * which the parser joined with `\n`) becomes one `data:` line per line, as the SSE specification frames it, so
 * the client rebuilds the same payload; a raw break inside one line would cut the event. Single-line payloads
 * (every frame the gateway serialises itself) pass untouched after one scan.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function sseData(payload: string): string {
  return `data: ${dataField(payload)}\n\n`;
}

export function sseEvent(name: string, payload: string): string {
  return `event: ${name}\ndata: ${dataField(payload)}\n\n`;
}

function dataField(payload: string): string {
  return LINE_BREAK.test(payload) ? payload.replace(LINE_BREAKS, '\ndata: ') : payload;
}

const LINE_BREAK = /[\r\n]/;
const LINE_BREAKS = /\r\n|\r|\n/g;
