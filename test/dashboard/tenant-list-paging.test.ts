import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { TENANT_PAGE } from '../../src/dashboard/admin/tenant-list-routes.ts';
import { TenancyRepository } from '../../src/tenancy/repository.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { seedManagedKeys } from '../helpers/seed-keys.ts';
import { adminFormLogin, getPage, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * `/admin/tenants` in pages (docs/dashboard.md): 1,200 seeded tenants (one creation time, so the order within it
 * is the id's) and a few created later, paged through with the Next links and back with Previous, each tenant
 * listed exactly once, in order; the search by id or name, paged too. The repository's keyset paging on both
 * databases underneath.
 */
const SEEDED = 1_200;

/** The tenants a page lists, in order, and its Previous / Next links (decoded). */
function parse(html: string): { ids: string[]; previous?: string; next?: string } {
  const ids = [...html.matchAll(/<tr data-tenant="([^"]+)">/g)].map((m) => m[1]!);
  const href = (rel: string) =>
    new RegExp(`rel="${rel}" href="([^"]+)"`).exec(html)?.[1]?.replaceAll('&amp;', '&') ?? undefined;
  const previous = href('prev');
  const next = href('next');
  return { ids, ...(previous ? { previous } : {}), ...(next ? { next } : {}) };
}

describe('/admin/tenants in pages', () => {
  let gw: TestGateway;
  let cookie: string;
  let all: string[];

  before(async () => {
    gw = await startTenancyGateway();
    await seedManagedKeys(gw.runtime.store.db, { keys: 0, tenants: SEEDED });
    const repo = gw.runtime.tenancy.repo;
    // Later ones, each with its own creation time: newest first, before the seeded ones.
    for (const id of ['later-a', 'later-b', 'later_c']) {
      await repo.createTenant({ id, name: `Later ${id}` });
      const t = await repo.getTenant(id);
      await gw.runtime.store.db
        .updateTable('tenant')
        .set({ created_at: t!.createdAt + 1_000 + id.charCodeAt(6) })
        .where('id', '=', id)
        .execute();
    }
    all = (await gw.runtime.store.db.selectFrom('tenant').select('id').execute()).map((r) => r.id);
    cookie = await adminFormLogin(gw);
  });
  after(() => gw?.close());

  /** Follows one kind of link from `start` until a page has none: each page's tenants, and the URLs visited. */
  const walk = async (start: string, direction: 'next' | 'previous') => {
    const pages: string[][] = [];
    const urls: string[] = [];
    let url: string | undefined = start;
    while (url) {
      const page = await getPage(gw, url, cookie);
      assert.equal(page.status, 200, url);
      const parsed = parse(page.html);
      pages.push(parsed.ids);
      urls.push(url);
      url = parsed[direction];
      assert.ok(pages.length <= all.length, 'the links end');
    }
    return { pages, urls };
  };

  test('Next through every page lists each tenant once, newest first; Previous walks back the same pages', async () => {
    assert.ok(all.length > SEEDED);
    const { pages, urls } = await walk('/admin/tenants', 'next');
    const listed = pages.flat();
    assert.equal(pages.length, Math.ceil(all.length / TENANT_PAGE));
    for (const page of pages.slice(0, -1)) assert.equal(page.length, TENANT_PAGE, 'full pages but the last');
    assert.equal(listed.length, all.length, 'as many rows as tenants');
    assert.equal(new Set(listed).size, listed.length, 'none twice');
    assert.deepEqual([...listed].sort(), [...all].sort(), 'every tenant');
    assert.deepEqual(listed.slice(0, 3), ['later_c', 'later-b', 'later-a'], 'newest first');
    // Within one creation time, by id (the seeded ones share one).
    const seeded = listed.filter((id) => id.startsWith('seed-t'));
    assert.deepEqual(seeded, [...seeded].sort());
    assert.equal(
      parse((await getPage(gw, '/admin/tenants', cookie)).html).previous,
      undefined,
      'no Previous on the first',
    );

    // From the last page back to the first: the same pages, in reverse.
    const back = await walk(urls.at(-1)!, 'previous');
    assert.deepEqual(back.pages.reverse(), pages);
    assert.equal(back.urls.length, pages.length);
  });

  test('the search finds a tenant by id or name, case-insensitive; its results are paged like the list', async () => {
    assert.deepEqual(parse((await getPage(gw, '/admin/tenants?q=seed-t1117', cookie)).html).ids, ['seed-t1117']);
    assert.deepEqual(parse((await getPage(gw, '/admin/tenants?q=SEED%201199', cookie)).html).ids, ['seed-t1199']);
    const one = await getPage(gw, '/admin/tenants?q=later_', cookie);
    assert.deepEqual(parse(one.html).ids, ['later_c'], 'LIKE wildcards in the text are literal');
    assert.match(one.html, /Tenants matching “later_”/);
    const none = await getPage(gw, `/admin/tenants?q=${encodeURIComponent('<b>x</b>')}`, cookie);
    assert.match(none.html, /No tenant matches/);
    assert.doesNotMatch(none.html, /<b>x<\/b>/, 'the search text is escaped');
    assert.match(none.html, /&lt;b&gt;x/);

    // seed-t1, seed-t10..19, seed-t100..199, seed-t1000..1199: 311 matches over 4 pages, the search kept in the links.
    const { pages, urls } = await walk('/admin/tenants?q=seed-t1', 'next');
    assert.ok(
      urls.slice(1).every((u) => u.includes('q=seed-t1&')),
      'the search kept in the links',
    );
    const found = pages.flat();
    assert.equal(pages.length, Math.ceil(311 / TENANT_PAGE));
    assert.equal(found.length, 311);
    assert.equal(new Set(found).size, 311);
    assert.ok(found.every((id) => id.startsWith('seed-t1')));
  });

  test('a malformed cursor is ignored: the first page', async () => {
    const page = await getPage(gw, '/admin/tenants?after=nonsense&before=.x', cookie);
    assert.equal(page.status, 200);
    assert.deepEqual(parse(page.html).ids.slice(0, 3), ['later_c', 'later-b', 'later-a']);
  });
});

forEachDatabase('tenant list paging', (suite) => {
  it('keyset pages after and before a cursor, with a search, in display order', async () => {
    const { store } = await suite.fresh();
    await seedManagedKeys(store.db, { keys: 0, tenants: 250 });
    const repo = new TenancyRepository(store.db);
    const everything = await repo.listTenants({ limit: 1_000 });
    assert.equal(everything.length, 250);
    const page1 = await repo.listTenants({ limit: 100 });
    const page2 = await repo.listTenants({ limit: 100, after: page1.at(-1)! });
    const page3 = await repo.listTenants({ limit: 100, after: page2.at(-1)! });
    assert.deepEqual(
      [...page1, ...page2, ...page3].map((t) => t.id),
      everything.map((t) => t.id),
    );
    assert.equal(page3.length, 50);
    const back2 = await repo.listTenants({ limit: 100, before: page3[0]! });
    assert.deepEqual(
      back2.map((t) => t.id),
      page2.map((t) => t.id),
      'the page before page 3 is page 2, in order',
    );
    const back1 = await repo.listTenants({ limit: 100, before: page2[0]! });
    assert.deepEqual(
      back1.map((t) => t.id),
      page1.map((t) => t.id),
    );
    assert.deepEqual(await repo.listTenants({ limit: 100, before: page1[0]! }), []);
    // Search: id or name, case-insensitive, wildcards literal.
    assert.deepEqual((await repo.listTenants({ q: 'SEED-T24' })).map((t) => t.id).sort(), [
      'seed-t24',
      'seed-t240',
      'seed-t241',
      'seed-t242',
      'seed-t243',
      'seed-t244',
      'seed-t245',
      'seed-t246',
      'seed-t247',
      'seed-t248',
      'seed-t249',
    ]);
    assert.deepEqual(
      (await repo.listTenants({ q: 'seed 7' })).map((t) => t.id).sort(),
      [
        'seed-t7',
        'seed-t70',
        'seed-t71',
        'seed-t72',
        'seed-t73',
        'seed-t74',
        'seed-t75',
        'seed-t76',
        'seed-t77',
        'seed-t78',
        'seed-t79',
      ],
      'by name (“Seed 7…”)',
    );
    assert.deepEqual(await repo.listTenants({ q: 'seed%t' }), [], '% is literal');
    const searched = await repo.listTenants({ q: 'seed-t1', limit: 50 });
    const rest = await repo.listTenants({ q: 'seed-t1', limit: 100, after: searched.at(-1)! });
    assert.equal(searched.length + rest.length, 1 + 10 + 100);
    assert.ok([...searched, ...rest].every((t) => t.id.startsWith('seed-t1')));
  });
});
