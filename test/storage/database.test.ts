import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  isConnectionError,
  lockDataDir,
  openPGlite,
  openPostgres,
  type Database,
} from '../../src/db/database.js';
import { MIGRATIONS, migrate } from '../../src/db/migrate.js';
import { LaurelError } from '../../src/errors.js';
import {
  createTestSchema,
  describeEachDatabase,
  dropTestSchema,
  type OpenTestDatabase,
} from '../support/databases.js';

const LOCK_FILE = 'laurel.lock';

/** A database with no migrations applied yet, and how to get rid of it. */
async function openUnmigrated(
  name: 'pglite' | 'postgres',
): Promise<{ db: Database; open(): Promise<Database>; close(): Promise<void> }> {
  if (name === 'pglite') {
    const db = await openPGlite();
    return { db, open: async () => db, close: () => db.close() };
  }
  const url = process.env.DATABASE_URL!;
  const schema = await createTestSchema(url);
  const extra: Database[] = [];
  const db = await openPostgres({ url, schema, max: 2 });
  return {
    db,
    async open() {
      const other = await openPostgres({ url, schema, max: 2 });
      extra.push(other);
      return other;
    },
    async close() {
      for (const d of [db, ...extra]) await d.close();
      await dropTestSchema(url, schema);
    },
  };
}

const newestVersion = Math.max(...MIGRATIONS.map((m) => m.version));

describeEachDatabase('Migrations', (target) => {
  it('apply every migration once on a fresh database; a second run applies nothing', async () => {
    const fresh = await openUnmigrated(target.name);
    try {
      expect(await migrate(fresh.db)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(fresh.db)).toEqual([]);
      const rows = await fresh.db.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await fresh.close();
    }
  });

  it('leave the data alone on a second run', async () => {
    const opened: OpenTestDatabase = await target.open();
    try {
      await opened.db.query(`INSERT INTO retailers (id, name, created_at) VALUES ($1, 'Kept', now())`, [
        '00000000-0000-4000-8000-000000000001',
      ]);
      expect(await migrate(opened.db)).toEqual([]);
      const rows = await opened.db.query<{ name: string }>('SELECT name FROM retailers');
      expect(rows.map((r) => r.name)).toEqual(['Kept']);
    } finally {
      await opened.close();
    }
  });

  it('refuse a database migrated by a newer Laurel and change nothing', async () => {
    const opened = await target.open();
    try {
      await opened.db.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')`, [
        newestVersion + 1,
      ]);
      await expect(migrate(opened.db)).rejects.toThrow(/newer than this Laurel/);
      const rows = await opened.db.query<{ version: number }>('SELECT version FROM schema_migrations');
      expect(rows.map((r) => r.version).sort((a, b) => a - b)).toEqual([
        ...MIGRATIONS.map((m) => m.version),
        newestVersion + 1,
      ]);
    } finally {
      await opened.close();
    }
  });

  if (target.name === 'postgres') {
    it('run by two servers at once apply each migration exactly once', async () => {
      const fresh = await openUnmigrated('postgres');
      try {
        const other = await fresh.open();
        const [a, b] = await Promise.all([migrate(fresh.db), migrate(other)]);
        expect([...a, ...b]).toEqual(MIGRATIONS.map((m) => m.version));
        expect(a.length === 0 || b.length === 0).toBe(true);
      } finally {
        await fresh.close();
      }
    });
  }
});

describeEachDatabase('Transactions', (target) => {
  let opened: OpenTestDatabase;
  beforeAll(async () => {
    opened = await target.open();
  });
  afterAll(() => opened.close());

  const count = async (db: Pick<Database, 'query'>, name: string) =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM retailers WHERE name = $1', [name]))[0]!.n;
  const insert = (db: Pick<Database, 'query'>, id: string, name: string) =>
    db.query(`INSERT INTO retailers (id, name, created_at) VALUES ($1, $2, now())`, [id, name]);

  it('commit what the function did when it returns', async () => {
    const result = await opened.db.transaction(async (tx) => {
      await insert(tx, '00000000-0000-4000-8000-000000000010', 'committed');
      return 42;
    });
    expect(result).toBe(42);
    expect(await count(opened.db, 'committed')).toBe(1);
  });

  it('roll back everything when the function throws, and pass the error on', async () => {
    const boom = new Error('boom');
    await expect(
      opened.db.transaction(async (tx) => {
        await insert(tx, '00000000-0000-4000-8000-000000000011', 'rolled back');
        expect(await count(tx, 'rolled back')).toBe(1);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count(opened.db, 'rolled back')).toBe(0);
  });

  it('roll back after a failed statement, and the database keeps working', async () => {
    await expect(
      opened.db.transaction(async (tx) => {
        await insert(tx, '00000000-0000-4000-8000-000000000012', 'before the error');
        await insert(tx, '00000000-0000-4000-8000-000000000012', 'duplicate key');
      }),
    ).rejects.toThrow();
    expect(await count(opened.db, 'before the error')).toBe(0);
    // Every pooled connection is usable afterwards (none is left inside the aborted transaction).
    const rows = await Promise.all(
      Array.from({ length: 6 }, () => opened.db.query<{ one: number }>('SELECT 1 AS one')),
    );
    expect(rows.map((r) => r[0]!.one)).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

describe.runIf(process.env.DATABASE_URL)('A pooled statement outside a transaction [postgres]', () => {
  it('keeps its connection when PostgreSQL refuses it (bug: pool.query closed it, so every taken email cost the next caller a new connection)', async () => {
    const db = await openPostgres({ url: process.env.DATABASE_URL!, max: 1 });
    try {
      const pid = async () => (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
      const before = await pid();
      await expect(db.query('SELECT 1 / $1::int AS x', [0])).rejects.toMatchObject({ code: '22012' });
      expect(await pid()).toBe(before);
      expect(db.poolStats!().total).toBe(1);
    } finally {
      await db.close();
    }
  });
});

describe('isConnectionError', () => {
  it('recognises a refused connection to PostgreSQL, and not an SQL error', async () => {
    const port = await new Promise<number>((done) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => done(p));
      });
    });
    const refused = await openPostgres({ url: `postgres://laurel@127.0.0.1:${port}/laurel` }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isConnectionError(refused)).toBe(true);

    const db = await openPGlite();
    try {
      const sqlError = await db.query('SELECT * FROM no_such_table').then(
        () => null,
        (err: unknown) => err,
      );
      expect(sqlError).toBeInstanceOf(Error);
      expect(isConnectionError(sqlError)).toBe(false);
    } finally {
      await db.close();
    }
    expect(isConnectionError(new LaurelError('validation'))).toBe(false);
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('Data directory lock', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const releases: Array<() => void> = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'laurel-lock-'));
    dirs.push(d);
    return d;
  };
  const lock = (dir: string) => {
    const release = lockDataDir(dir);
    releases.push(release);
    return release;
  };
  /** The pid of a process that has exited. */
  const deadPid = () => {
    const r = spawnSync(process.execPath, ['-e', '']);
    expect(r.status).toBe(0);
    return r.pid!;
  };

  afterEach(() => {
    for (const r of releases.splice(0)) r();
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes the lock with its pid already in it, leaving nothing aside (bug: an empty lock could be read as stale)', () => {
    const dir = tempDir();
    lock(dir);
    expect(readFileSync(join(dir, 'laurel.lock'), 'utf8')).toBe(String(process.pid));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // A second process's attempt fails on the existing lock and leaves no file of its own behind.
    const other = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import('${resolve('dist/db/database.js')}').then(m => { try { m.lockDataDir(${JSON.stringify(dir)}); } catch (e) { console.log(e.message); } })`,
      ],
      { encoding: 'utf8' },
    );
    expect(other.stdout).toContain(`in use by another Laurel process (pid ${process.pid})`);
    expect(readdirSync(dir).sort()).toEqual(['laurel.lock']);
  });

  it('refuses a second lock on the same directory in this process, also through another path', () => {
    const dir = tempDir();
    const release = lock(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    expect(() => lockDataDir(dir)).toThrow(`data directory ${resolve(dir)} is already open`);
    const alias = join(tempDir(), 'alias');
    symlinkSync(dir, alias);
    expect(() => lockDataDir(alias)).toThrow(/is already open in this process/);
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lock(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });

  it('refuses a directory whose lock names a live process, naming the directory and the pid', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(child);
    await new Promise((done) => child.once('spawn', done));
    writeFileSync(join(dir, LOCK_FILE), String(child.pid));
    const err = (() => {
      try {
        lockDataDir(dir);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LaurelError);
    expect((err as Error).message).toBe(
      `data directory ${resolve(dir)} is in use by another Laurel process (pid ${child.pid}); stop it or use another --data-dir`,
    );
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(child.pid));
  });

  it('takes over a stale lock whose process is gone', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), String(deadPid()));
    lock(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
  });

  it('takes over a stale lock that names this process but that this process does not hold', () => {
    // After a container restart the new server often gets the pid the crashed one had (pid 1).
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), String(process.pid));
    lock(dir);
    expect(() => lockDataDir(dir)).toThrow(/already open in this process/);
  });

  it('takes over an unreadable lock file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), 'not a pid');
    lock(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
  });

  it('is held by an open embedded database and given back when it closes', async () => {
    const dir = tempDir();
    const db = await openPGlite(dir);
    try {
      await migrate(db);
      await expect(openPGlite(dir)).rejects.toThrow(/is already open in this process/);
      // The refused open did not take the lock away from the open database.
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
      await db.query(`INSERT INTO retailers (id, name, created_at) VALUES ($1, 'Persisted', now())`, [
        '00000000-0000-4000-8000-000000000020',
      ]);
    } finally {
      await db.close();
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await openPGlite(dir);
    try {
      expect(await migrate(again)).toEqual([]);
      const rows = await again.query<{ name: string }>('SELECT name FROM retailers');
      expect(rows.map((r) => r.name)).toEqual(['Persisted']);
    } finally {
      await again.close();
    }
  });
});
