#!/usr/bin/env node
/**
 * The one entry point: `parley serve [--roles api,ws,worker]`, `parley migrate` and `parley admin grant|revoke <username>`.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, parseRoles, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startParley } from './app.js';
import { openSqlDatabase } from './platform/sql/index.js';
import { migrate } from './platform/sql/migrator.js';
import { UsersRepository } from './modules/users/users.repository.js';

const USAGE = `usage: parley <command> [options]

commands:
  serve [--roles api,ws,worker]   run the server (roles default to $ROLES, or all three)
  migrate                         apply pending database migrations and exit
  admin grant <username>          make a user a deployment administrator (reports, deleting any message, deactivating accounts)
  admin revoke <username>         take the administrator flag away

configuration is read from the environment and ./.env; see the README.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { roles: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.error(USAGE);
    return command || values.help ? 0 : 2;
  }

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.LOG_LEVEL);

  if (command === 'migrate') {
    const db = await openSqlDatabase(config, logger);
    try {
      const applied = await migrate(db, logger);
      logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
    } finally {
      await db.close();
    }
    return 0;
  }

  if (command === 'admin') {
    const [, action, username] = positionals;
    if ((action !== 'grant' && action !== 'revoke') || !username) {
      console.error(USAGE);
      return 2;
    }
    const db = await openSqlDatabase(config, logger);
    try {
      await migrate(db, logger);
      if (!(await new UsersRepository(db).setAdmin(username, action === 'grant'))) {
        console.error(`no user named "${username}"`);
        return 1;
      }
      console.error(`${username} is ${action === 'grant' ? 'now' : 'no longer'} an administrator`);
    } finally {
      await db.close();
    }
    return 0;
  }

  if (command === 'serve') {
    let roles = config.ROLES;
    if (values.roles !== undefined) {
      try {
        roles = parseRoles(values.roles);
      } catch (err) {
        console.error(`--roles: ${(err as Error).message}`);
        return 2;
      }
    }
    const parley = await startParley(config, { roles, logger: logger.child({ roles: roles.join(',') }) });
    let signals = 0;
    const shutdown = (signal: string) => {
      signals += 1;
      if (signals > 1) process.exit(1); // a second Ctrl-C means "now"
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error('graceful shutdown timed out');
        process.exit(1);
      }, config.SHUTDOWN_GRACE * 1000 + 5000);
      timer.unref();
      parley.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    return -1; // keep running
  }

  console.error(`unknown command "${command}"\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
