import type { ChatRequest, Message } from '../../src/core/ir.ts';

export function chat(text: string, extra: Partial<ChatRequest> = {}, before: Message[] = []): ChatRequest {
  return {
    model: 'auto',
    messages: [...before, { role: 'user', content: [{ type: 'text', text }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
    ...extra,
  };
}

/** A varied set of prompts: chat, maths, code, multiple choice, long text, empty. */
export const SAMPLE_PROMPTS: readonly string[] = [
  'Hello!',
  'What is the capital of France?',
  'Write a haiku about spring.',
  'Janet has 3 apples. She buys 5 times as many pears as apples, then gives away 40% of the fruit. How many are left?',
  'Prove that the square root of 2 is irrational, then find all integer solutions of x^2 - 2y^2 = 1.',
  'Implement a function in Python that finds the longest common subsequence of two strings.',
  'Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:',
  'Summarize the following text in one sentence:\n' + 'The quick brown fox jumps over the lazy dog. '.repeat(200),
  '```ts\nconst x: number = 1;\nfunction f(a) { return a * 2; }\n```\nWhy does this fail to type-check?',
  'Translate "good morning" into Spanish, French and German.',
  'Explain the difference between TCP and UDP to a ten-year-old.',
  '',
];
