/** The password file reader node-postgres itself uses (PGPASSFILE, else ~/.pgpass), as libpq reads it. */
declare module "pgpass" {
  function pgPass(
    connection: { host?: string; port?: number | string; database?: string; user?: string },
    callback: (password: string | undefined) => void,
  ): void;
  export = pgPass;
}
