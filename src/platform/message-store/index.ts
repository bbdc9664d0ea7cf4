import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { SqlDatabase } from '../sql/index.js';
import type { MessageStore } from './message-store.port.js';

/** Chooses the message store once at boot: MongoDB when MONGODB_URL is set, else the SQL database. */
export async function openMessageStore(config: Config, sql: SqlDatabase, logger: Logger): Promise<MessageStore> {
  if (config.MONGODB_URL) {
    // Imported only when configured, so the embedded profile never loads the driver.
    const { MongoMessageStore } = await import('./message-store.mongo.js');
    // Its change marks live in the SQL database (exact sync cursors: see the store's comment).
    return MongoMessageStore.open(config.MONGODB_URL, config.MONGODB_DATABASE, logger, sql);
  }
  const { SqlMessageStore } = await import('./message-store.sql.js');
  return new SqlMessageStore(sql);
}

export type { MessageStore, StoredMessage, NewMessage, MessageChange, MessageSearch, MessageChangeRow } from './message-store.port.js';
