/*
 * verify.h — re-deriving closed periods and comparing them with what the
 * store froze (verify.c), for referral_verify() in lifecycle.c.
 */
#ifndef REFERRAL_VERIFY_H
#define REFERRAL_VERIFY_H

#include "core.h"

/* Re-derives `period` from the events with seq <= last_seq and compares:
 * 0, REFERRAL_EVERIFY with the first discrepancy, or a status. */
int verify_period(referral_store *st, int period, int64_t last_seq);

/* For every distributor: the payables of the closed periods plus the last
 * closing carry equal the exact sum of her lines. */
int verify_conservation(referral_store *st);

/* member_events, the cache of members' orders and shares a redeem's check
 * reads, holds exactly what the log says up to its mark. */
int verify_member_events(referral_store *st);

#endif
