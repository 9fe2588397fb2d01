/**
 * A nullable JSON column's text as drizzle's json mode writes it (SQL NULL for null or absent),
 * for statements written in raw SQL. Its own module, apart from db.ts, whose migrations only
 * workerd can load.
 */
export const jsonColumn = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
