import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { validateChatCompletion, validateChatCompletionChunk } from '../helpers/openai-schema.ts';

/**
 * With no configuration the gateway serves the built-in demo provider: routing, streaming, tools and cost
 * are visible on the first call. This also exercises the translated (IR → OpenAI) rendering path.
 */
describe('demo provider (zero configuration) and operations endpoints', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({});
  });
  after(async () => {
    await gw.close();
  });

  test('each tier routes to its demo model with its own price', async () => {
    const seen = new Map<string, string>();
    for (const tier of ['utility', 'fast', 'deep']) {
      const { data, response } = await gw.client.chat.completions
        .create({ model: tier, messages: [{ role: 'user', content: 'hello' }] })
        .withResponse();
      assert.ok(validateChatCompletion(data).ok, validateChatCompletion(data).errors);
      assert.match(data.choices[0]!.message.content!, /demo provider/);
      seen.set(tier, `${response.headers.get('x-model-router-model')} ${response.headers.get('x-model-router-cost')}`);
    }
    assert.match(seen.get('utility')!, /^demo\/demo-utility /);
    assert.match(seen.get('fast')!, /^demo\/demo-fast /);
    assert.match(seen.get('deep')!, /^demo\/demo-deep /);
    const costs = [...seen.values()].map((v) => Number(v.split(' ')[1]));
    assert.ok(costs[0]! < costs[1]! && costs[1]! < costs[2]!, `costs rise with the tier: ${costs}`);
  });

  test('presets move a tier to a cheaper or better model', async () => {
    const model = async (name: string) =>
      (
        await gw.client.chat.completions
          .create({ model: name, messages: [{ role: 'user', content: 'x' }] })
          .withResponse()
      ).response.headers.get('x-model-router-model');
    assert.equal(await model('fast:cheapest'), 'demo/demo-utility');
    assert.equal(await model('fast:balanced'), 'demo/demo-fast');
    assert.equal(await model('fast:quality'), 'demo/demo-deep');
  });

  test('streamed demo answers are valid OpenAI chunks with tool calls and a priced usage chunk', async () => {
    const stream = await gw.client.chat.completions.create({
      model: 'auto',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'please call lookup' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup',
            parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
          },
        },
      ],
    });
    const args: string[] = [];
    let finish: string | null = null;
    let cost = 0;
    for await (const chunk of stream) {
      const check = validateChatCompletionChunk(chunk);
      assert.ok(check.ok, check.errors);
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) args.push(call.function?.arguments ?? '');
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) cost = (chunk.usage as unknown as { cost: number }).cost;
    }
    assert.deepEqual(JSON.parse(args.join('')), { q: 'demo' });
    assert.equal(finish, 'tool_calls');
    assert.ok(cost > 0);
  });

  test('healthz, readyz and Prometheus metrics', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { status: string; models: number };
    assert.equal(ready.status, 'ready');
    assert.equal(ready.models, 6); // three chat models, demo-embed, demo-image and demo-speech
    await gw.client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'x' }] });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(
      text,
      /modro_requests_total\{protocol="openai-chat",tier="fast",provider="demo",model="demo\/demo-fast",status="200",code=""\} \d+/,
    );
    assert.match(text, /modro_request_duration_seconds_bucket/);
    assert.match(text, /modro_circuit_state\{provider="demo",key="demo#local",state="closed"\} 1/);
    assert.match(text, /modro_tokens_total\{provider="demo",model="demo\/demo-fast",kind="output"\} \d+/);
  });

  test('the event-loop delay metric shows a stall of the loop, then starts a new window', async () => {
    await fetch(`${gw.url}/metrics`); // starts a fresh window
    // The gateway runs in this process: block its loop for 150 ms (twice, with a turn of the loop between).
    for (let i = 0; i < 2; i++) {
      const until = performance.now() + 150;
      while (performance.now() < until) {}
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const max = (text: string) => Number(/^modro_event_loop_delay_seconds\{quantile="max"\} (\S+)$/m.exec(text)?.[1]);
    const first = max(await (await fetch(`${gw.url}/metrics`)).text());
    assert.ok(first >= 0.12 && first < 5, `max delay after a 150 ms stall: ${first} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = max(await (await fetch(`${gw.url}/metrics`)).text());
    assert.ok(second < 0.12, `the next window does not carry the old stall: ${second} s`);
  });

  test('the API key never appears in logs', async () => {
    await gw.post('/v1/chat/completions', '{bad json', { authorization: `Bearer ${TEST_API_KEY}` });
    assert.ok(gw.logs.every((line) => !line.includes(TEST_API_KEY)));
  });
});
