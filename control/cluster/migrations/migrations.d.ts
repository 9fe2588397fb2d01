/** Types for drizzle-kit's generated `migrations.js` (durable-sqlite driver). */
declare const bundle: {
  journal: { entries: { idx: number; when: number; tag: string; breakpoints: boolean }[] };
  migrations: Record<string, string>;
};
export default bundle;
