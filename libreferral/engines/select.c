/* select.c — which engine a store's name selects. */
#include <string.h>

#include "core.h"

int engine_is_postgres(const char *where)
{
	return !strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11);
}

int postgres_engine_new(referral_store *st, const char *where, int create, struct engine **out)
{
	(void)where;
	(void)create;
	*out = NULL;
	return st_fail(st, REFERRAL_EUSAGE, "this build has no PostgreSQL engine");
}
