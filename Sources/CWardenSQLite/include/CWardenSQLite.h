#ifndef CWARDEN_SQLITE_H
#define CWARDEN_SQLITE_H

/// Keeps SQLite's statement journals in memory in small chunks (sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
/// a variadic call Swift cannot make). Must run before SQLite initializes, that is before the process opens its
/// first database. Returns SQLite's result code: 0 (SQLITE_OK) when it took.
int warden_sqlite_keep_statement_journals_in_memory(void);

#endif
