/**
 * What cutting text into pieces (src/router/token-pieces.ts) does to exact token counting: whether ordinary
 * text (the project's own docs, sources and lock file, minified JSON, prose in other scripts) still counts
 * exactly as it does whole, and how the cost of adversarial runs grows with their length (linear: the time
 * per MB stays flat). Run standalone: `node bench/token-count.ts [--max 256] [--whole]` (`--whole` also times
 * the tokenizer on whole runs, up to 40,000 characters: the quadratic cost the pieces avoid).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countTokens } from 'gpt-tokenizer';
import { MAX_PIECE_CHARS, tokenPieces } from '../src/router/token-pieces.ts';

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

const RUNS: Array<[string, string]> = [
  ['letters "x"', 'x'],
  ['capitals "X"', 'X'],
  ['punctuation "!"', '!'],
  ['mixed punctuation', '!?#%&*+-=<>~^|'],
  ['spaces', ' '],
  ['tabs and newlines', '\t\n\t '],
  ['digits', '7'],
  ['CJK', '漢'],
  ['emoji (pairs)', '😀'],
  ['letter + mark', 'é'],
  ['minified JSON', '{"a":[1,2,{"b":"c"}],"d":"e"}'],
];

function timeIt(fn: () => number): { ms: number; tokens: number } {
  const started = performance.now();
  const tokens = fn();
  return { ms: performance.now() - started, tokens };
}

function linearity(): void {
  countInPieces('warm up the tokenizer');
  const sizes = [125_000, 250_000, 500_000, 1_000_000];
  console.log(`\nadversarial runs, counted in pieces of at most ${maxChars} chars: ms (tokens), then ms per M chars`);
  console.log(`${'run'.padEnd(20)}${sizes.map((s) => `${s / 1000}k`.padStart(18)).join('')}   ms/M chars`);
  for (const [name, unit] of RUNS) {
    const cells: string[] = [];
    const perM: string[] = [];
    for (const size of sizes) {
      const text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
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
  for (const [name, unit] of RUNS.slice(0, 8)) {
    const cells = [10_000, 20_000, 40_000].map((size) => {
      const text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
      return `${size / 1000}k ${timeIt(() => countTokens(text, PLAIN)).ms.toFixed(0)}`;
    });
    console.log(`${name.padEnd(20)}${cells.join('   ')}`);
  }
}

statSync(root);
exactness();
linearity();
if (args.whole) wholeRuns();
