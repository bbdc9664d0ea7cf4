import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SqlDatabase } from '../sql/index.js';
import type { MessageStore } from './message-store.port.js';

/** Chooses the message store once at boot: MongoDB when MONGODB_URL is set, else the SQL database. */
export async function openMessageStore(config: Config, sql: SqlDatabase, _logger: Logger): Promise<MessageStore> {
  if (config.MONGODB_URL) throw new Error('MONGODB_URL: the MongoDB message store is not available in this build');
  const { SqlMessageStore } = await import('./message-store.sql.js');
  return new SqlMessageStore(sql);
}

export type { MessageStore, StoredMessage, NewMessage, MessageChange } from './message-store.port.js';
