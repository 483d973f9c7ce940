// Create/upgrade the better-auth schema in DATABASE_URL using better-auth's
// programmatic migrator (the CLI requires Node 22). Prints "MIGRATED" on
// success and exits 0; prints the error and exits 1 on failure.
//
// With --check it changes nothing: it prints "UP_TO_DATE" and exits 0 when
// better-auth finds nothing to create or add, else lists what is missing and
// exits 2. Ironclad's tests use it to prove Django's schema satisfies better-auth.
import { getMigrations } from "better-auth/db/migration";
import { buildOptions, readConfig } from "./auth.mjs";

const checkOnly = process.argv.includes("--check");
const { options, pool } = buildOptions(readConfig({ requirePort: false }));
let code = 0;
try {
  const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(options);
  for (const t of toBeCreated) console.error(`create table ${t.table}`);
  for (const t of toBeAdded) console.error(`alter table ${t.table}: ${Object.keys(t.fields).join(", ")}`);
  if (checkOnly) {
    const upToDate = toBeCreated.length === 0 && toBeAdded.length === 0;
    process.stdout.write(upToDate ? "UP_TO_DATE\n" : "MIGRATIONS_NEEDED\n");
    code = upToDate ? 0 : 2;
  } else {
    await runMigrations();
    process.stdout.write("MIGRATED\n");
  }
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await pool.end().catch(() => {});
}
process.exitCode = code;
