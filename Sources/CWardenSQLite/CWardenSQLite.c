#include "CWardenSQLite.h"

#include <sqlite3.h>

int warden_sqlite_keep_statement_journals_in_memory(void) {
    return sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}
