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
