#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import { ConfigReloader } from '../config/reload.ts';
import { createRuntime } from '../server/runtime.ts';
import { CHANNELS_HELP, runChannelCommand } from './channel-commands.ts';
import { LEDGER_HELP, runLedgerCommand } from './ledger-commands.ts';
import { runTenancyCommand, TENANCY_HELP } from './tenancy-commands.ts';

/**
 * `modro start [--config modro.yaml] [--port N]`: starts the gateway (SQLite in ./data by default) and prints
 * how to call it. SIGTERM/SIGINT drain in-flight requests and flush usage records before exiting.
 */
const HELP = `Usage: modro <command> [options]

Commands:
  start            Start the gateway (default)
  worker           Run asynchronous executions only, beside gateways on the same database (docs/executions.md)
  check-config     Validate the configuration and print the catalog
  discover         List every configured provider's models once and print what discovery would add (changes
                   nothing); --refresh also tells running gateways (with redis:) to list theirs now
  tenants, keys, admin   Manage tenants, API keys and admin users (see below)
  channels         Manage channels: provider connections and their encrypted credentials (see below)
  ledger, plans    Balances, manual credits and debits, ledger verification, plans (docs/billing.md)
  help             Show this help

Options:
  -c, --config PATH   YAML configuration file (default: $MODRO_CONFIG, else ./modro.yaml if present)
  -p, --port N        Port to listen on (overrides server.port)

${TENANCY_HELP}
${CHANNELS_HELP}

${LEDGER_HELP}`;

async function main(): Promise<number> {
  const group = process.argv[2];
  if (group === 'tenants' || group === 'keys' || group === 'admin') return runTenancyCommand(process.argv.slice(2));
  if (group === 'channels') return runChannelCommand(process.argv.slice(2));
  if (group === 'ledger' || group === 'plans') return runLedgerCommand(process.argv.slice(2));
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
      // discover: also tell running gateways to list their providers now (through Redis).
      refresh: { type: 'boolean' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help || command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const { existsSync } = await import('node:fs');
  const path = values.config ?? process.env['MODRO_CONFIG'] ?? (existsSync('modro.yaml') ? 'modro.yaml' : undefined);
  const env = { ...process.env };
  if (values.port) env['MODRO__SERVER__PORT'] = values.port;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(path, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (command === 'check-config') {
    const { buildCatalog } = await import('../catalog/catalog.ts');
    const catalog = buildCatalog(config, env);
    for (const w of catalog.warnings) process.stdout.write(`warning: ${w}\n`);
    for (const m of catalog.models) {
      // Media models are priced per image, second or character (and some in tokens): their mode and prices.
      const line = m.mediaPrice
        ? `${m.id}\t${m.mode}\t${JSON.stringify(m.mediaPrice)}${m.price.input || m.price.output ? `\t$${m.price.input}/$${m.price.output} per Mtok` : ''}`
        : `${m.id}\trank ${m.qualityRank}\t$${m.price.input}/$${m.price.output} per Mtok\tctx ${m.contextWindow}`;
      process.stdout.write(`${line}\n`);
    }
    return 0;
  }
  if (command === 'discover') {
    const { runDiscover } = await import('./discover-command.ts');
    const code = await runDiscover(config, env, process.stdout);
    if (!values.refresh) return code;
    if (!config.redis) {
      process.stderr.write('modro: --refresh needs redis: in the configuration; use POST /admin/api/catalog/refresh\n');
      return 2;
    }
    const { noticeReplicas } = await import('./shared.ts');
    await noticeReplicas(config.redis, 'catalog-refresh', '1', process.stderr);
    process.stdout.write('Running gateways were told to list their providers now.\n');
    return code;
  }
  if (command === 'worker') return runWorker(config, env);
  if (command !== 'start') {
    process.stderr.write(`Unknown command '${command}'.\n\n${HELP}`);
    return 2;
  }
  const runtime = await createRuntime({ config, env });
  const url = await runtime.listen();
  // Before the banner: whoever reads it may signal at once (a supervisor, a test), and must reach shutdown.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    reloader?.close();
    runtime.logger.info({ signal }, 'signal received');
    runtime
      .shutdown()
      .then(() => process.exit(0))
      .catch((err) => {
        runtime.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  // Hot reload of the configuration file on SIGHUP and when the file changes (docs/configuration.md).
  const reloader = path
    ? new ConfigReloader({ path, env, logger: runtime.logger, apply: (next) => runtime.applyConfig(next) })
    : undefined;
  if (reloader) reloader.start();
  // SIGHUP's default action ends the process; without a file there is nothing to reload.
  else process.on('SIGHUP', () => runtime.logger.warn('SIGHUP: no configuration file to reload'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const key = runtime.generatedApiKey;
  const providers = [...runtime.catalog.providers.keys()].join(', ');
  process.stdout.write(
    [
      '',
      `Modro is listening on ${url}`,
      `  OpenAI base URL: ${url}/v1`,
      `  Providers: ${providers || 'none'}${runtime.catalog.providers.has('demo') ? ' (built-in demo: set OPENAI_API_KEY or another provider key for real models)' : ''}`,
      key
        ? `  API key (generated for this run; set MODRO_API_KEY or auth.keys to keep one): ${key}`
        : '  API key: the one in your configuration (auth.keys) or MODRO_API_KEY',
      config.tenancy.byok.enabled
        ? '  Bring-your-own-key: on (a caller may send its own provider key as the bearer token)'
        : `  Bring-your-own-key: off (a caller's own sk-… key gets 401); turn it on: MODRO__TENANCY__BYOK__ENABLED=true ./modro start (docs/tenancy.md)`,
      '',
      'Try it:',
      `  curl ${url}/v1/chat/completions -H "Authorization: Bearer ${key ?? '$MODRO_API_KEY'}" \\`,
      `    -H 'Content-Type: application/json' -d '{"model":"auto","messages":[{"role":"user","content":"Hello"}]}'`,
      '',
      'Or with the OpenAI SDK:',
      `  const client = new OpenAI({ baseURL: '${url}/v1', apiKey: '${key ?? process.env['MODRO_API_KEY'] ?? '<your key>'}' });`,
      `  await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'Hello' }] });`,
      '',
      'Dashboards:',
      '  Every successful response carries X-Client-Dashboard-Url, a signed link to the caller’s own dashboard.',
      `  Admin: ${url}/admin (user ${config.tenancy.admin.username}${runtime.tenancy.adminPasswordFile ? `; password generated into ${runtime.tenancy.adminPasswordFile}` : ''})`,
      '  Manage tenants and keys: ./modro tenants create acme && ./modro keys create --tenant acme',
      `  Self-service accounts: ${url}/console/signup${config.mail ? '' : ' (no mail server configured: verification and reset links are written to the log)'}`,
      '',
    ].join('\n'),
  );
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`modro: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

/** `modro worker`: claims and runs executions from the shared queue until SIGTERM/SIGINT; serves no HTTP. */
async function runWorker(config: ReturnType<typeof loadConfig>, env: NodeJS.ProcessEnv): Promise<number> {
  const runtime = await createRuntime({ config, env, role: 'worker' });
  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      runtime.logger.info({ signal }, 'signal received');
      runtime.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          runtime.logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  process.stdout.write(`Modro worker ${runtime.executions.worker.owner} is running executions\n`);
  return done;
}
