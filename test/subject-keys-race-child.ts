// A process creating subject keys at the same moment as others (subject-keys-race.int.test.ts): waits for the start
// time, asks for every subject's key one by one, and prints `<subject> <key id> <key hex>` per line.
import type { SubjectKeyStore } from 'chronicle-es';
import { createPostgresKeyStore } from 'chronicle-es/postgres';
import { createSqliteKeyStore } from 'chronicle-es/sqlite';

const [kind, where, schema, startAt, count, prefix] = process.argv.slice(2);
const keys: SubjectKeyStore =
  kind === 'sqlite' ? createSqliteKeyStore({ path: where }) : createPostgresKeyStore({ connectionString: where, schema });
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const lines: string[] = [];
for (let i = 0; i < Number(count); i++) {
  const subject = `${prefix}${i}`;
  const key = (await keys.keysFor([subject])).get(subject);
  lines.push(`${subject} ${key?.id} ${Buffer.from(key?.key ?? []).toString('hex')}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
await keys.close();
