import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { buildCatalog } from '../../../src/catalog/catalog.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { GatewayError } from '../../../src/core/errors.ts';
import { demoSpeechSeconds } from '../../../src/providers/demo/media.ts';
import { mediaRunners } from '../../../src/providers/media/index.ts';
import { closeCallContexts, testUpstreams } from '../../helpers/call-context.ts';
import { MemoryFiles, model, runContext } from './support.ts';

/** The demo provider's image and speech models on the zero-config default: deterministic, valid, free. */

/** Width, height and the first pixel of a truecolour PNG, read by parsing its chunks. */
function readPng(bytes: Uint8Array): { width: number; height: number; rgb: number[] } {
  const b = Buffer.from(bytes);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < b.length) {
    const length = b.readUInt32BE(offset);
    const type = b.toString('latin1', offset + 4, offset + 8);
    const data = b.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    }
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, height * (1 + width * 3));
  return { width, height, rgb: [...raw.subarray(1, 4)] };
}

describe('demo media models (zero configuration)', () => {
  const catalog = buildCatalog(parseConfig({}, {}), {});
  const [runner] = mediaRunners({ catalog, pool: testUpstreams });
  after(() => closeCallContexts());

  it('demo-image: a valid PNG of the size asked, its colour the hash of the prompt, the same every time, free', async () => {
    const files = new MemoryFiles();
    const input = { prompt: 'a lighthouse', size: '320x200', n: 2 };
    const first = await runner!.run(model('demo/demo-image', 'image'), input, runContext(files));
    const again = await runner!.run(model('demo/demo-image', 'image'), input, runContext(files));
    assert.equal(first.output.files?.length, 2);
    const [a, b] = await Promise.all(first.output.files!.map((id) => files.read('tenant-a', id)));
    const png = readPng(a!.bytes);
    assert.deepEqual([png.width, png.height], [320, 200]);
    const hash = createHash('sha256').update('a lighthouse').update(new Uint8Array(0)).update('0').digest();
    assert.deepEqual(png.rgb, [hash[0], hash[1], hash[2]]);
    assert.notDeepEqual(readPng(b!.bytes).rgb, png.rgb, 'each image of a run differs');
    const repeat = await files.read('tenant-a', again.output.files![0]!);
    assert.deepEqual(Buffer.from(repeat!.bytes), Buffer.from(a!.bytes));
    assert.equal(first.costNanoUsd, 0);
    assert.equal(runner!.estimateNanoUsd(model('demo/demo-image', 'image'), input), 0);
    assert.deepEqual(first.usage, { images: 2 });
  });

  it('demo-image edits: the input file changes the colour, so the walkthrough shows it was read', async () => {
    const files = new MemoryFiles();
    const plain = await runner!.run(model('demo/demo-image', 'image'), { prompt: 'x' }, runContext(files));
    const upload = await files.read('tenant-a', plain.output.files![0]!);
    const image = await files.upload('tenant-a', upload!.bytes, 'image/png');
    const edited = await runner!.run(model('demo/demo-image', 'image'), { prompt: 'x', image }, runContext(files));
    const before = readPng((await files.read('tenant-a', plain.output.files![0]!))!.bytes);
    const after = readPng((await files.read('tenant-a', edited.output.files![0]!))!.bytes);
    assert.deepEqual([after.width, after.height], [256, 256]);
    assert.notDeepEqual(after.rgb, before.rgb);
  });

  it('demo-speech: a valid 8 kHz mono WAV, half a second per ten characters; demo models make no video', async () => {
    const files = new MemoryFiles();
    const text = 'Welcome to Modro. This is the demo voice.';
    const result = await runner!.run(
      model('demo/demo-speech', 'speech'),
      { input: text, voice: 'alloy' },
      runContext(files),
    );
    const wav = Buffer.from((await files.read('tenant-a', result.output.files![0]!))!.bytes);
    assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
    assert.equal(wav.toString('latin1', 8, 12), 'WAVE');
    assert.equal(wav.readUInt32LE(24), 8000);
    assert.equal(wav.readUInt32LE(40), demoSpeechSeconds(text) * 8000 * 2);
    assert.equal(demoSpeechSeconds(text), 2.5);
    assert.equal(result.costNanoUsd, 0);
    assert.deepEqual(result.usage, { characters: text.length });
    assert.throws(
      () => runner!.validate(model('demo/demo-image', 'video'), { prompt: 'x' }),
      (err: GatewayError) => err.code === 'invalid_request' && err.param === 'model',
    );
  });
});
