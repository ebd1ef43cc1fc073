// PLC directory with the in-memory DB (no DATABASE_URL) or Postgres (DATABASE_URL=postgres://...).
require('@did-plc/server/dist/bin.js')
