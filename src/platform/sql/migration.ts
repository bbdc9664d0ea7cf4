/** One versioned schema change. Append only: never edit a migration that has shipped. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
