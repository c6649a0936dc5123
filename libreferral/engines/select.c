/* select.c — which engine a store's name selects (the engines: sqlite.c,
 * postgres.c). */
#include <string.h>

#include "core.h"

int engine_is_postgres(const char *where)
{
	return !strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11);
}
