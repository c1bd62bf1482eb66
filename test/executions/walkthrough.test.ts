import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { Webhook } from 'standardwebhooks';
import type { TestGateway } from '../helpers/gateway.ts';
import { adminClient, createTenantWithKey, startTenancyGateway } from '../tenancy/helpers.ts';
import { type Receiver, startReceiver } from '../webhooks/receiver.ts';

/**
 * docs/executions.md, "Walkthrough: an image, a webhook, the result", step by step against the demo provider
 * (no provider configured): upload an image with the official SDK, run `demo-image` on it with a webhook, verify
 * the webhook with the Standard Webhooks package, download the output by its `file_…` id. The demo colours the
 * output by the prompt and the input, so an edit of another input gives other bytes.
 */
const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let gw: TestGateway;
let receiver: Receiver;
let client: OpenAI;

before(async () => {
  receiver = await startReceiver({ behaviour: 204 });
  gw = await startTenancyGateway({
    logging: { level: 'warn' },
    executions: { pollMs: 100 },
    webhooks: { allowPrivateNetworks: true, pollMs: 50 },
  });
  const { key } = await createTenantWithKey(await adminClient(gw), { id: 'walker' });
  client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
});
after(async () => {
  await gw?.close();
  await receiver?.stop();
});

test('upload an image, run the demo image model on it, receive the signed webhook, download the result', async () => {
  const upload = await client.files.create({
    file: await toFile(ONE_PIXEL_PNG, 'photo.png', { type: 'image/png' }),
    purpose: 'execution_input' as 'user_data',
  });
  assert.match(upload.id, /^file_[0-9a-f-]{36}$/);

  const submitted = await client.post<{ id: string; status: string }>('/executions', {
    body: { model: 'demo-image', input: { prompt: 'make it blue', image: upload.id }, webhook_url: receiver.url },
  });
  assert.equal(submitted.status, 'PENDING');

  const got = (await receiver.waitFor(1, 20_000))[0]!;
  const { secret } = await client.get<{ secret: string }>('/webhooks/secret');
  const event = new Webhook(secret).verify(got.body, got.headers) as {
    type: string;
    data: { id: string; status: string; output: { files: string[] } };
  };
  assert.equal(event.type, 'execution.completed');
  assert.equal(event.data.id, submitted.id);
  assert.equal(event.data.status, 'COMPLETED');
  const [output] = event.data.output.files;
  assert.match(output!, /^file_[0-9a-f-]{36}$/);
  assert.notEqual(output, upload.id);

  const content = Buffer.from(await (await client.files.content(output!)).arrayBuffer());
  assert.deepEqual([...content.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  const meta = await client.files.retrieve(output!);
  assert.equal(meta.bytes, content.length);

  // The polled view says the same, and a tampered webhook body fails verification.
  const polled = await client.get<{ status: string; output: { files: string[] } }>(`/executions/${submitted.id}`);
  assert.equal(polled.status, 'COMPLETED');
  assert.deepEqual(polled.output.files, [output]);
  assert.throws(() => new Webhook(secret).verify(got.body.replace('COMPLETED', 'FAILED'), got.headers));
});
