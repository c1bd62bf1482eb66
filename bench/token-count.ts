/**
 * What cutting text into pieces (src/tokens/token-pieces.ts) does to exact token counting: whether ordinary
 * text (the project's own docs, sources and lock file, minified JSON, prose in other scripts) still counts
 * exactly as it does whole, and how the cost of adversarial runs grows with their length (linear: the time
 * per MB stays flat). Run standalone: `node bench/token-count.ts [--max 256] [--whole]` (`--whole` also times
 * the tokenizer on whole runs, up to 40,000 characters: the quadratic cost the pieces avoid).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countTokens } from 'gpt-tokenizer';
import { MAX_PIECE_CHARS, tokenPieces } from '../src/tokens/token-pieces.ts';

const { values: args } = parseArgs({
  options: { max: { type: 'string' }, whole: { type: 'boolean', default: false } },
});
const maxChars = args.max ? Number(args.max) : MAX_PIECE_CHARS;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Special tokens are counted as the plain text they are, as the gateway does. */
const PLAIN = { disallowedSpecial: new Set<string>() };

function countInPieces(text: string): number {
  let total = 0;
  for (const piece of tokenPieces(text, maxChars)) total += countTokens(piece, PLAIN);
  return total;
}

function* files(dir: string, ext: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path, ext);
    else if (entry.name.endsWith(ext)) yield path;
  }
}

const OTHER_SCRIPTS = [
  '自然语言处理是人工智能的一个分支，它研究如何让计算机理解和生成人类语言。模型路由器根据请求的难度选择合适的模型，以降低成本并保持质量。',
  '東京は日本の首都であり、世界有数の大都市です。ゲートウェイは要求を受け取り、最適なモデルに転送します。',
  'Обработка естественного языка — это область искусственного интеллекта, изучающая взаимодействие компьютеров и людей.',
  'معالجة اللغة الطبيعية هي فرع من فروع الذكاء الاصطناعي يهتم بتفاعل الحاسوب مع اللغات البشرية.',
  'प्राकृतिक भाषा प्रसंस्करण कृत्रिम बुद्धिमत्ता की एक शाखा है जो कंप्यूटर और मानव भाषा के बीच संबंध का अध्ययन करती है।',
  'Xử lý ngôn ngữ tự nhiên là một nhánh của trí tuệ nhân tạo, nghiên cứu cách máy tính hiểu ngôn ngữ của con người. 🚀✨👩‍💻',
];

function exactness(): void {
  const corpus: Array<[string, string]> = [];
  for (const path of files(join(root, 'docs'), '.md')) corpus.push([relative(root, path), readFileSync(path, 'utf8')]);
  for (const path of files(join(root, 'src'), '.ts')) corpus.push([relative(root, path), readFileSync(path, 'utf8')]);
  const lock = readFileSync(join(root, 'package-lock.json'), 'utf8');
  corpus.push(['package-lock.json', lock], ['package-lock.json minified', JSON.stringify(JSON.parse(lock))]);
  corpus.push(['other scripts x40', OTHER_SCRIPTS.join('\n').repeat(40)]);
  corpus.push(['other scripts, no newlines x40', OTHER_SCRIPTS.join('').repeat(40)]);
  let chars = 0;
  let whole = 0;
  let pieces = 0;
  const differing: string[] = [];
  for (const [name, text] of corpus) {
    const a = countTokens(text, PLAIN);
    const b = countInPieces(text);
    chars += text.length;
    whole += a;
    pieces += b;
    if (a !== b) differing.push(`${name}: ${a} whole, ${b} in pieces`);
  }
  console.log(
    `exactness (max ${maxChars} chars a piece): ${corpus.length} texts, ${(chars / 1e6).toFixed(2)} M chars, ` +
      `${whole} tokens whole, ${pieces} in pieces, ${differing.length} text(s) differ`,
  );
  for (const line of differing) console.log(`  ${line}`);
}

/** A deterministic run of `length` characters drawn from `alphabet` (no piece repeats, so no cache helps). */
function randomRun(alphabet: readonly string[], length: number, seed = 1): string {
  let state = seed;
  const out: string[] = [];
  while (out.length < length) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    out.push(alphabet[state % alphabet.length]!);
  }
  return out.join('');
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => String.fromCodePoint(from + i));

/** Adversarial inputs: one character repeated (cheap for the tokenizer's word cache) and random draws (not). */
const RUNS: Array<[string, (length: number) => string]> = [
  ['"x" repeated', (n) => 'x'.repeat(n)],
  ['"!" repeated', (n) => '!'.repeat(n)],
  ['spaces', (n) => ' '.repeat(n)],
  ['"漢" repeated', (n) => '漢'.repeat(n)],
  ['random letters', (n) => randomRun([...'abcdefghijklmnopqrstuvwxyz'], n)],
  ['random capitals', (n) => randomRun([...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'], n)],
  ['random punctuation', (n) => randomRun([...'!"#$%&()*+,-./:;<=>?@[]^_`{|}~'], n)],
  ['random whitespace', (n) => randomRun([' ', '\t', '\n', '\r', '\u00a0'], n)],
  ['random digits', (n) => randomRun([...'0123456789'], n)],
  ['random CJK', (n) => randomRun(range(0x4e00, 20_000), n)],
  ['random emoji', (n) => randomRun(range(0x1f600, 80), n / 2)],
  ['random letter+mark', (n) => randomRun(['e\u0301', 'a\u0308', 'क\u093e', 'o\u0302'], n / 2)],
];

function timeIt(fn: () => number): { ms: number; tokens: number } {
  const started = performance.now();
  const tokens = fn();
  return { ms: performance.now() - started, tokens };
}

function linearity(): void {
  countInPieces('warm up the tokenizer');
  const sizes = [125_000, 250_000, 500_000, 1_000_000];
  console.log(`\nadversarial runs (UTF-16 units), in pieces of at most ${maxChars}: ms (tokens), then ms per M units`);
  console.log(`${'run'.padEnd(20)}${sizes.map((s) => `${s / 1000}k`.padStart(18)).join('')}   ms/M units`);
  for (const [name, make] of RUNS) {
    const cells: string[] = [];
    const perM: string[] = [];
    for (const size of sizes) {
      const text = make(size);
      const { ms, tokens } = timeIt(() => countInPieces(text));
      cells.push(`${ms.toFixed(0)} (${tokens})`.padStart(18));
      perM.push(((ms * 1e6) / size).toFixed(0));
    }
    console.log(`${name.padEnd(20)}${cells.join('')}   ${perM.join(' / ')}`);
  }
  const prose = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  const big = prose.repeat(Math.ceil(1_000_000 / prose.length)).slice(0, 1_000_000);
  const inPieces = timeIt(() => countInPieces(big));
  const asWhole = timeIt(() => countTokens(big, PLAIN));
  console.log(
    `ordinary prose, 1M chars: ${inPieces.ms.toFixed(0)} ms in pieces, ${asWhole.ms.toFixed(0)} ms whole ` +
      `(${inPieces.tokens} and ${asWhole.tokens} tokens)`,
  );
}

function wholeRuns(): void {
  console.log('\nwhole runs (no pieces), for comparison: ms');
  for (const [name, make] of RUNS) {
    const cells = [10_000, 20_000, 40_000].map((size) => {
      const text = make(size);
      return `${size / 1000}k ${timeIt(() => countTokens(text, PLAIN)).ms.toFixed(0)}`;
    });
    console.log(`${name.padEnd(20)}${cells.join('   ')}`);
  }
}

exactness();
linearity();
if (args.whole) wholeRuns();
