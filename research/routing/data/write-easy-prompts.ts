/**
 * `node research/routing/data/write-easy-prompts.ts`: writes easy-prompts.jsonl, the realistic easy end of the
 * difficulty training data (issue 22): greetings, small talk, lookups, unit conversions, reformatting,
 * extraction, short translations, spelling and tiny rewrites. Written for this project (no external source;
 * same license as the repository). Each prompt is one of a few hundred hand-written templates filled from
 * hand-written lists, deterministically (a fixed seed), so the file is reproducible.
 */
import { writeFileSync } from 'node:fs';

let state = 20261207;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) | 0;
  return (state >>> 0) / 2 ** 32;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

const greetings = [
  'hi',
  'Hello!',
  'hey there',
  'good morning :)',
  'Hi, how are you?',
  'hello, are you there?',
  'thanks!',
  'Thank you so much, that helped.',
  'ok great',
  'cool, thanks',
  'yo',
  'Good evening! How is your day going?',
  "What's up?",
  'bye for now',
  'Nice, appreciate it!',
  'Can you hear me?',
  'who are you?',
  'What can you do?',
  'are you a bot?',
  'lol that was funny',
];
const countries = ['France', 'Japan', 'Canada', 'Australia', 'Brazil', 'Kenya', 'Norway', 'Egypt', 'Peru', 'Vietnam'];
const words = ['necessary', 'accommodate', 'rhythm', 'separate', 'definitely', 'embarrass', 'occurrence', 'receive'];
const things = ['a tomato', 'a whale', 'a bat', 'a peanut', 'a strawberry', 'glass', 'a penguin', 'a spider'];
const units: [string, string][] = [
  ['5 km', 'miles'],
  ['12 inches', 'centimeters'],
  ['100 Fahrenheit', 'Celsius'],
  ['3 cups', 'milliliters'],
  ['2.5 kg', 'pounds'],
  ['60 mph', 'km/h'],
  ['1 gallon', 'liters'],
  ['30 minutes', 'seconds'],
];
const languages = ['Spanish', 'French', 'German', 'Italian', 'Portuguese', 'Japanese', 'Dutch'];
const phrases = [
  'good morning',
  'where is the train station?',
  'thank you very much',
  'I would like a coffee, please',
  'see you tomorrow',
  'how much does this cost?',
  'happy birthday',
  'the meeting is at 3 pm',
  'I am allergic to nuts',
  'can I pay by card?',
];
const names = ['Maria Lopez', 'John Smith', 'Aiko Tanaka', 'Ravi Patel', 'Emma Brown', 'Lukas Weber', 'Chloe Martin'];
const cities = ['Lyon', 'Austin', 'Osaka', 'Leeds', 'Porto', 'Denver', 'Graz'];
const dates = ['March 3, 2024', '12/05/2023', '2024-11-19', 'next Tuesday', '5 June', 'Jan 9th'];
const emails = ['maria.l@example.com', 'j.smith@mail.test', 'aiko@company.example', 'ravi.p@example.org'];
const items = ['apples, milk, bread, eggs', 'pens; paper; stapler; tape', 'red, green, blue', 'cats dogs birds fish'];
const sentences = [
  'i has went to the store yesterday and buyed some apple',
  'their going to the park tomorow',
  'me and him was late to the meeting',
  'the report was wrote by the team last week',
  'can you send me the file asap thanks',
  "we recieved you're email and will reply soon",
  'This sentence has too many many words in it.',
  'its a nice day isnt it',
];
const lookups = [
  'What is the capital of {country}?',
  'What currency does {country} use?',
  'What language is spoken in {country}?',
  'How many days are in a leap year?',
  'What year did World War II end?',
  'Who wrote Romeo and Juliet?',
  'What is the boiling point of water in Celsius?',
  'How many continents are there?',
  'Is {thing} a fruit?',
  'Is {thing} a mammal?',
  'How do you spell {word}?',
  'What is the plural of "mouse"?',
  'What does ASAP stand for?',
  'What time zone is {city} in?',
  'What is 15% of 80?',
  'What is 12 times 7?',
  'Is 17 an odd number?',
  'What day of the week comes after Thursday?',
  'What is the chemical symbol for gold?',
  'How many ounces in a pound?',
  'What is the opposite of "generous"?',
  'Give me a synonym for "happy".',
  'Define the word "ephemeral".',
  'Who painted the Mona Lisa?',
  'What is the largest ocean?',
  'How many legs does a spider have?',
  'what is the square root of 144',
  'When is Christmas?',
  'What color do you get mixing blue and yellow?',
  'Which planet is closest to the sun?',
];
const tasks = [
  () => pick(greetings),
  () =>
    pick(lookups)
      .replace('{country}', pick(countries))
      .replace('{thing}', pick(things))
      .replace('{word}', pick(words))
      .replace('{city}', pick(cities)),
  () => {
    const [q, u] = pick(units);
    return pick([`Convert ${q} to ${u}.`, `How many ${u} is ${q}?`, `${q} in ${u}?`, `quick: ${q} to ${u}`]);
  },
  () => {
    const p = pick(phrases);
    const l = pick(languages);
    return pick([
      `Translate "${p}" into ${l}.`,
      `How do you say "${p}" in ${l}?`,
      `${l} for "${p}"?`,
      `Translate to ${l}: ${p}`,
    ]);
  },
  () => {
    const s = pick(sentences);
    return pick([
      `Fix the grammar: ${s}`,
      `Correct the spelling and grammar in this sentence: "${s}"`,
      `Can you proofread this? ${s}`,
      `Rewrite this more politely: ${s}`,
      `Make this sentence sound more formal: ${s}`,
    ]);
  },
  () => {
    const list = pick(items);
    return pick([
      `Sort this list alphabetically: ${list}`,
      `Turn this into a bulleted list: ${list}`,
      `Put these in a comma-separated list: ${list}`,
      `Convert to JSON array: ${list}`,
      `Count the items in this list: ${list}`,
      `Make this a numbered list:\n${list.replace(/[,;] ?/g, '\n')}`,
    ]);
  },
  () => {
    const n = pick(names);
    const e = pick(emails);
    const d = pick(dates);
    const c = pick(cities);
    const text = `Hi, this is ${n} from ${c}. I'd like to book a table for 4 on ${d}. You can reach me at ${e}.`;
    return pick([
      `Extract the name, date and email from this message: ${text}`,
      `From the text below, pull out the email address.\n\n${text}`,
      `What date is mentioned here? "${text}"`,
      `Give me the name and city as JSON: ${text}`,
      `Which city is the sender from? ${text}`,
    ]);
  },
  () => {
    const d = pick(dates);
    return pick([
      `Format this date as YYYY-MM-DD: ${d}`,
      `Write ${d} in words.`,
      `Change "${pick(names)}" to last name, first name.`,
      `Make this title case: ${pick(sentences)}`,
      `Convert to uppercase: ${pick(phrases)}`,
      `Remove the extra spaces:   ${pick(phrases)}   please`,
    ]);
  },
  () =>
    pick([
      `Summarize in one sentence: ${pick(sentences)}. ${pick(sentences)}.`,
      `Write a short thank-you note to ${pick(names)} for the flowers.`,
      `Give me a one-line birthday message for my friend ${pick(names).split(' ')[0]}.`,
      `Suggest a name for a ${pick(['cat', 'dog', 'goldfish', 'hamster', 'parrot'])}.`,
      `Write a subject line for an email saying I will be late on ${pick(dates)}.`,
      `Reply "yes" or "no": is ${pick(things)} edible?`,
      `Tell me a short joke about ${pick(['cats', 'coffee', 'Mondays', 'programmers', 'the weather'])}.`,
      `Give me 3 synonyms for "${pick(['big', 'fast', 'smart', 'quiet', 'pretty'])}".`,
      `Is "${pick(words)}" spelled correctly?`,
      `What rhymes with "${pick(['cat', 'moon', 'light', 'tree', 'blue'])}"?`,
    ]),
];

const seen = new Set<string>();
const rows: string[] = [];
for (let guard = 0; rows.length < 400 && guard < 20_000; guard++) {
  const prompt = pick(tasks)();
  if (seen.has(prompt)) continue;
  seen.add(prompt);
  rows.push(JSON.stringify({ id: `easy-${rows.length}`, prompt }));
}
writeFileSync(new URL('./easy-prompts.jsonl', import.meta.url), `${rows.join('\n')}\n`);
console.log(`wrote ${rows.length} easy prompts`);
