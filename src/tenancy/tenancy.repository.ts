import type { Queryable } from '../db/database.js';

export interface RetailerRow {
  id: string;
  name: string;
  created_at: Date;
}

export interface AppRow {
  api_key: string;
  retailer_id: string;
  name: string;
  secret_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

export interface AdminTokenRow {
  id: string;
  retailer_id: string;
  name: string;
  secret_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

export async function insertRetailer(db: Queryable, r: RetailerRow): Promise<void> {
  await db.query('INSERT INTO retailers (id, name, created_at) VALUES ($1, $2, $3)', [
    r.id,
    r.name,
    r.created_at,
  ]);
}

export async function findRetailer(db: Queryable, id: string): Promise<RetailerRow | undefined> {
  const rows = await db.query<RetailerRow>('SELECT id, name, created_at FROM retailers WHERE id = $1', [id]);
  return rows[0];
}

export async function countRetailers(db: Queryable): Promise<number> {
  const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM retailers');
  return rows[0]!.n;
}

export async function insertApp(db: Queryable, a: Omit<AppRow, 'revoked_at'>): Promise<void> {
  await db.query(
    'INSERT INTO apps (api_key, retailer_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
    [a.api_key, a.retailer_id, a.name, a.secret_hash, a.created_at],
  );
}

export async function findActiveApp(db: Queryable, apiKey: string): Promise<AppRow | undefined> {
  const rows = await db.query<AppRow>(
    'SELECT api_key, retailer_id, name, secret_hash, created_at, revoked_at FROM apps WHERE api_key = $1 AND revoked_at IS NULL',
    [apiKey],
  );
  return rows[0];
}

export async function insertAdminToken(db: Queryable, t: Omit<AdminTokenRow, 'revoked_at'>): Promise<void> {
  await db.query(
    'INSERT INTO admin_tokens (id, retailer_id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
    [t.id, t.retailer_id, t.name, t.secret_hash, t.created_at],
  );
}

export async function findActiveAdminToken(db: Queryable, id: string): Promise<AdminTokenRow | undefined> {
  const rows = await db.query<AdminTokenRow>(
    'SELECT id, retailer_id, name, secret_hash, created_at, revoked_at FROM admin_tokens WHERE id = $1 AND revoked_at IS NULL',
    [id],
  );
  return rows[0];
}

export interface RetailerListRow extends RetailerRow {
  apps: number;
  admin_tokens: number;
}

/** Every retailer, oldest first, with its counts of active apps and admin tokens. */
export async function listRetailers(db: Queryable): Promise<RetailerListRow[]> {
  return db.query<RetailerListRow>(
    `SELECT r.id, r.name, r.created_at,
       (SELECT count(*)::int FROM apps a WHERE a.retailer_id = r.id AND a.revoked_at IS NULL) AS apps,
       (SELECT count(*)::int FROM admin_tokens t WHERE t.retailer_id = r.id AND t.revoked_at IS NULL) AS admin_tokens
     FROM retailers r ORDER BY r.created_at, r.id`,
  );
}

/** The apps of one retailer (or all), revoked ones included, oldest first; never their hashes. */
export async function listApps(db: Queryable, retailerId?: string): Promise<Omit<AppRow, 'secret_hash'>[]> {
  return db.query(
    `SELECT api_key, retailer_id, name, created_at, revoked_at FROM apps
     WHERE $1::uuid IS NULL OR retailer_id = $1::uuid ORDER BY created_at, api_key`,
    [retailerId ?? null],
  );
}

/** The admin tokens of one retailer (or all), revoked ones included, oldest first; never their hashes. */
export async function listAdminTokens(
  db: Queryable,
  retailerId?: string,
): Promise<Omit<AdminTokenRow, 'secret_hash'>[]> {
  return db.query(
    `SELECT id, retailer_id, name, created_at, revoked_at FROM admin_tokens
     WHERE $1::uuid IS NULL OR retailer_id = $1::uuid ORDER BY created_at, id`,
    [retailerId ?? null],
  );
}

/** Marks an app revoked at `now` unless it already is; answers the row as it is afterwards. */
export async function revokeAppRow(
  db: Queryable,
  apiKey: string,
  now: Date,
): Promise<{ row: Omit<AppRow, 'secret_hash'>; revoked: boolean } | undefined> {
  const changed = await db.query<Omit<AppRow, 'secret_hash'>>(
    `UPDATE apps SET revoked_at = $2 WHERE api_key = $1 AND revoked_at IS NULL
     RETURNING api_key, retailer_id, name, created_at, revoked_at`,
    [apiKey, now],
  );
  if (changed[0]) return { row: changed[0], revoked: true };
  const rows = await db.query<Omit<AppRow, 'secret_hash'>>(
    'SELECT api_key, retailer_id, name, created_at, revoked_at FROM apps WHERE api_key = $1',
    [apiKey],
  );
  return rows[0] && { row: rows[0], revoked: false };
}

/** Marks an admin token revoked at `now` unless it already is; answers the row as it is afterwards. */
export async function revokeAdminTokenRow(
  db: Queryable,
  id: string,
  now: Date,
): Promise<{ row: Omit<AdminTokenRow, 'secret_hash'>; revoked: boolean } | undefined> {
  const changed = await db.query<Omit<AdminTokenRow, 'secret_hash'>>(
    `UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
     RETURNING id, retailer_id, name, created_at, revoked_at`,
    [id, now],
  );
  if (changed[0]) return { row: changed[0], revoked: true };
  const rows = await db.query<Omit<AdminTokenRow, 'secret_hash'>>(
    'SELECT id, retailer_id, name, created_at, revoked_at FROM admin_tokens WHERE id = $1',
    [id],
  );
  return rows[0] && { row: rows[0], revoked: false };
}
